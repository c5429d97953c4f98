"""Clean-up after the passes: integer constant folding and trivial identities.

Why: loop recovery substitutes block sizes and warp widths as constants, so expressions such as
``256u / 32`` appear; folding them keeps generated code readable. Folding follows C exactly
(usual arithmetic conversions, truncating division, unsigned wrap-around) and never folds an
operation whose result C leaves undefined (division by zero, signed overflow, bad shifts).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from passes import ir
from passes.typeinfer import promote

N = TypeVar("N", bound=ir.Node)

_LIMITS = {"i32": (-(2**31), 2**31 - 1), "u32": (0, 2**32 - 1), "i64": (-(2**63), 2**63 - 1),
           "u64": (0, 2**64 - 1)}


def c_div(a: int, b: int) -> int:
    """C's integer division: truncates toward zero (Python's ``//`` floors). ``b`` is non-zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def fold_constants(node: N) -> N:
    """``node`` with integer constant sub-expressions folded and ``x + 0``/``x * 1`` removed
    where ``x`` is already of the result type."""

    def fn(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.BinOp) and isinstance(n.a, ir.Const) and isinstance(n.b, ir.Const):
            folded = _fold(n.op, n.a, n.b)
            return folded if folded is not None else n
        if isinstance(n, ir.Cast) and isinstance(n.a, ir.Const) and n.dtype in _LIMITS \
                and isinstance(n.a.value, int) and not isinstance(n.a.value, bool):
            lo, hi = _LIMITS[n.dtype]
            if lo <= n.a.value <= hi:
                return ir.Const(n.a.value, n.dtype)
        return n

    result: N = ir.transform(node, fn)
    return result


def _fold(op: str, a: ir.Const, b: ir.Const) -> ir.Const | None:
    if not all(isinstance(c.value, int) and not isinstance(c.value, bool) and c.dtype in _LIMITS
               for c in (a, b)):
        return None
    dtype = promote(a.dtype, b.dtype)
    if dtype not in _LIMITS:
        return None
    lo, hi = _LIMITS[dtype]
    x, y = _convert(int(a.value), dtype), _convert(int(b.value), dtype)
    if op == "+":
        r = x + y
    elif op == "-":
        r = x - y
    elif op == "*":
        r = x * y
    elif op in ("/", "%"):
        if y == 0:
            return None
        q = c_div(x, y)
        r = q if op == "/" else x - q * y
    else:
        return None
    if dtype.startswith("u"):
        r %= hi + 1
    elif not lo <= r <= hi:
        return None  # signed overflow: undefined in C, leave it to the compiler
    return ir.Const(r, dtype)


def _convert(v: int, dtype: str) -> int:
    lo, hi = _LIMITS[dtype]
    return v % (hi + 1) if dtype.startswith("u") else v


def simplify_module(module: ir.Module) -> ir.Module:
    return replace(module, functions=tuple(fold_constants(f) for f in module.functions))
