"""Static types of IR expressions, with C's usual arithmetic conversions.

Why: the IR stores a dtype only where the source states one (variables, constants, casts, calls,
buffers). Printers need the type of a temporary they introduce, and intrinsics such as ``__dp4a``
change meaning with the signedness of their operands, so the rules live in one place.
"""

from __future__ import annotations

from typing import Mapping

from passes import ir

_RANK = {"bool": 0, "i8": 1, "u8": 1, "i16": 2, "u16": 2, "i32": 3, "u32": 3, "i64": 4, "u64": 4}
_FLOAT_RANK = {"f16": 1, "bf16": 1, "f32": 2, "f64": 3}

COMPARISONS = ("<", "<=", ">", ">=", "==", "!=", "&&", "||")


def promote(a: str, b: str) -> str:
    """The common type of a binary arithmetic operation (C rules; vector types pass through)."""
    if a == b:
        return _integer_promote(a) if a in _RANK else a
    if ir.is_vector(a) or ir.is_vector(b):
        return a if ir.is_vector(a) else b
    if a in _FLOAT_RANK or b in _FLOAT_RANK:
        fa, fb = _FLOAT_RANK.get(a, 0), _FLOAT_RANK.get(b, 0)
        return a if fa >= fb else b
    a, b = _integer_promote(a), _integer_promote(b)
    if a == b:
        return a
    ra, rb = _RANK.get(a, 3), _RANK.get(b, 3)
    if ra != rb:
        wide, narrow = (a, b) if ra > rb else (b, a)
        # a signed wider type holds every unsigned narrower value
        return wide
    return a if a.startswith("u") else b  # same rank: unsigned wins


def _integer_promote(t: str) -> str:
    return "i32" if t in ("bool", "i8", "u8", "i16", "u16") else t


def dtype_of(expr: ir.Expr, env: Mapping[str, str]) -> str:
    """dtype of ``expr``; ``env`` maps variable and buffer names to their (element) dtype."""
    if isinstance(expr, ir.Const):
        return expr.dtype
    if isinstance(expr, ir.Var):
        return env.get(expr.name, expr.dtype)
    if isinstance(expr, ir.Builtin):
        return "i32" if expr.name == "warpSize" else "u32"
    if isinstance(expr, ir.Load):
        return expr.view or env.get(expr.buffer, "f32")
    if isinstance(expr, ir.AddressOf):
        return "ptr:" + env.get(expr.buffer, "f32")
    if isinstance(expr, ir.Cast):
        return expr.dtype
    if isinstance(expr, ir.Call):
        return expr.dtype
    if isinstance(expr, ir.UnOp):
        if expr.op == "!":
            return "i32"
        return _integer_promote(dtype_of(expr.a, env))
    if isinstance(expr, ir.Select):
        return promote(dtype_of(expr.a, env), dtype_of(expr.b, env))
    if isinstance(expr, ir.BinOp):
        if expr.op in COMPARISONS:
            return "i32"
        if expr.op in ("<<", ">>"):
            return _integer_promote(dtype_of(expr.a, env))
        return promote(dtype_of(expr.a, env), dtype_of(expr.b, env))
    raise TypeError(f"not an expression: {expr!r}")


def type_env(fn: ir.Function) -> dict[str, str]:
    """Names declared in ``fn`` (params, locals, loop variables) -> dtype. Names are assumed
    unique within a function, which the front end guarantees by renaming shadowed locals."""
    env = {p.name: p.dtype for p in fn.params}
    for node in ir.walk(fn):
        if isinstance(node, ir.Decl):
            env[node.name] = node.dtype
        elif isinstance(node, ir.For):
            env[node.var] = node.var_dtype
    return env
