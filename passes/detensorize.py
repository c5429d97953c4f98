"""Detensorisation: rewrite vector intrinsics into scalar loops over lanes.

Why: a CPU kernel written with AVX-512 intrinsics expresses its parallelism in registers that a
GPU (or another ISA) does not have. Before such a kernel can be re-parallelised for another
platform, every intrinsic must become plain scalar code that later passes can analyse, split
and bind. The meaning of each intrinsic comes from ``passes/intrinsics.py`` (checked against the
hardware), so this pass only has to place the templates: vector variables become their storage
arrays (``m512`` -> ``f32[16]``, ``m512i`` -> ``u8[64]`` read through views, masks -> unsigned
scalars), nested intrinsic calls get temporaries, and each intrinsic becomes a lane loop of kind
``vectorized`` (a hint for printers; the loop stays semantically serial) or, for scalar GPU
intrinsics such as ``__dp4a``, an inline expression.

Legality: ``ir.NotApplicable`` when there is no intrinsic call; ``ir.UnsupportedConstruct`` for
an intrinsic missing from the table, for vector values in places that have no array meaning
(vector parameters, arrays of vectors, vectors under ``?:``), and for intrinsic calls in loop
headers or ``while`` conditions (evaluated repeatedly, so they cannot be hoisted).
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Sequence

from passes import ir, typeinfer
from passes.intrinsics import (
    MASK_STORAGE,
    VECTOR_STORAGE,
    ArrayOperand,
    Intrinsic,
    Operand,
    PointerOperand,
    ScalarOperand,
    VarOut,
    is_intrinsic_name,
    resolve,
    storage,
)

__all__ = ["detensorize", "detensorize_module", "has_intrinsics"]

_X86_HEADERS = ("immintrin.h", "x86intrin.h", "<immintrin.h>", "<x86intrin.h>")


def _is_intrinsic_call(node: ir.Node) -> bool:
    return isinstance(node, ir.Call) and is_intrinsic_name(node.name)


def has_intrinsics(node: ir.Node) -> bool:
    """True when ``node`` contains an intrinsic call (anything the table knows or an ``_mm*``)."""
    return any(_is_intrinsic_call(n) for n in ir.walk(node))


class _Detensorizer:
    """Rewrites one function; holds its type environment and the fresh-name supply."""

    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.env = typeinfer.type_env(fn)
        # the types the rewritten program sees: masks are unsigned scalars
        self.senv = {k: MASK_STORAGE.get(v, v) for k, v in self.env.items()}
        self.shapes = {n.name: n.shape for n in ir.walk(fn) if isinstance(n, ir.Decl)}
        self.pointers = {p.name for p in fn.params if p.pointer}
        self.used = set(self.env) | {n.name for n in ir.walk(fn) if isinstance(n, ir.Var)}
        self.lane_var = self.fresh("_l")

    def fresh(self, prefix: str) -> str:
        k = 0
        while f"{prefix}{k}" in self.used:
            k += 1
        name = f"{prefix}{k}"
        self.used.add(name)
        return name

    def unsupported(self, construct: str, detail: str = "") -> ir.UnsupportedConstruct:
        return ir.UnsupportedConstruct(construct, self.fn.line, detail)

    def resolve(self, call: ir.Call) -> Intrinsic:
        try:
            return resolve(call, self.senv)
        except ir.UnsupportedConstruct as e:
            raise self.unsupported(e.construct, e.detail) from None

    def addressable(self, name: str) -> bool:
        """A name that denotes an address by itself: a pointer parameter or a 1-D local array."""
        return name in self.pointers or len(self.shapes.get(name, ())) == 1

    def is_vector_name(self, name: str) -> bool:
        return self.env.get(name, "") in VECTOR_STORAGE

    # ---------------------------------------------------------------- statements

    def block(self, stmts: Sequence[ir.Stmt]) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for s in stmts:
            out.extend(self.stmt(s))
        return tuple(out)

    def stmt(self, s: ir.Stmt) -> list[ir.Stmt]:
        pre: list[ir.Stmt] = []
        if isinstance(s, ir.Decl):
            return self.decl(s)
        if isinstance(s, ir.Assign):
            if self.is_vector_name(s.name):
                return self.assign_vector(s.name, s.value)
            value = self.expr(s.value, pre)
            return pre + [ir.Assign(s.name, value)]
        if isinstance(s, ir.Store):
            indices = tuple(self.expr(i, pre) for i in s.indices)
            value = self.expr(s.value, pre)
            return pre + [replace(s, indices=indices, value=value)]
        if isinstance(s, ir.ExprStmt):
            return self.expr_stmt(s)
        if isinstance(s, ir.For):
            if any(has_intrinsics(e) for e in (s.init, s.bound, s.step)):
                raise self.unsupported("intrinsic call in a loop header")
            return [replace(s, body=self.block(s.body))]
        if isinstance(s, ir.While):
            if has_intrinsics(s.cond):
                raise self.unsupported("intrinsic call in a while condition")
            return [replace(s, body=self.block(s.body))]
        if isinstance(s, ir.If):
            cond = self.expr(s.cond, pre)
            return pre + [ir.If(cond, self.block(s.then), self.block(s.orelse))]
        if isinstance(s, ir.Return) and s.value is not None:
            value = self.expr(s.value, pre)
            return pre + [ir.Return(value)]
        return [s]

    def decl(self, s: ir.Decl) -> list[ir.Stmt]:
        pre: list[ir.Stmt] = []
        if s.dtype in VECTOR_STORAGE:
            if s.shape:
                raise self.unsupported("array of vectors", s.name)
            elem, shape = storage(s.dtype)
            decl = ir.Decl(s.name, elem, shape, scope=ir.LOCAL)
            if s.init is None:
                return [decl]
            if not isinstance(s.init, ir.Expr):
                raise self.unsupported("vector initialiser list", s.name)
            return [decl] + self.assign_vector(s.name, s.init)
        dtype = MASK_STORAGE.get(s.dtype, s.dtype)
        init: Any = s.init
        if isinstance(init, ir.Expr):
            init = self.expr(init, pre)
        elif isinstance(init, tuple):
            init = tuple(self.expr(x, pre) for x in init)
        return pre + [replace(s, dtype=dtype, init=init)]

    def expr_stmt(self, s: ir.ExprStmt) -> list[ir.Stmt]:
        pre: list[ir.Stmt] = []
        call = s.expr
        if not (isinstance(call, ir.Call) and _is_intrinsic_call(call)):
            return pre + [ir.ExprStmt(self.expr(call, pre))]
        intr = self.resolve(call)
        ops = self.operands(call, intr, pre)
        if intr.result == "void":
            return pre + list(intr.expand(ops, None, self.lane_var))
        # a value computed and discarded: still computed, since a load may fault like the source
        return pre + self.into_temp(intr, ops)

    def assign_vector(self, name: str, value: ir.Expr) -> list[ir.Stmt]:
        """Statements that set vector variable ``name`` (already declared) to ``value``."""
        elem, (n,) = storage(self.env[name])
        pre: list[ir.Stmt] = []
        if isinstance(value, ir.Call) and _is_intrinsic_call(value):
            intr = self.resolve(value)
            if intr.result not in VECTOR_STORAGE:
                raise self.unsupported(f"{intr.source_name} assigned to a vector")
            ops = self.operands(value, intr, pre)
            # lane-wise templates read every operand lane before writing that lane, so the
            # destination may be one of the operands (acc = fmadd(a, b, acc))
            assert intr.kind == "lanewise"
            return pre + list(intr.expand(ops, ArrayOperand(name, elem), self.lane_var))
        if isinstance(value, ir.Var) and self.is_vector_name(value.name):
            lane = ir.Var(self.lane_var)
            src_elem, _ = storage(self.env[value.name])
            copy = ir.Store(name, (lane,), ir.Load(value.name, (lane,)))
            if src_elem != elem:
                raise self.unsupported("assignment between different vector types", name)
            return [ir.For(self.lane_var, ir.Const(0), ir.Const(n), ir.Const(1), (copy,), kind=ir.VECTORIZED)]
        raise self.unsupported(f"vector expression {type(value).__name__}", name)

    def into_temp(self, intr: Intrinsic, ops: Sequence[Operand]) -> list[ir.Stmt]:
        """Declares a temporary for the result of ``intr`` and computes it there."""
        elem, shape = storage(intr.result)
        if shape:
            tmp = self.fresh("_v")
            self.env[tmp] = intr.result
            return [ir.Decl(tmp, elem, shape, scope=ir.LOCAL), *intr.expand(ops, ArrayOperand(tmp, elem),
                                                                             self.lane_var)]
        tmp = self.fresh("_s")
        self.env[tmp] = self.senv[tmp] = elem
        return [ir.Decl(tmp, elem), *intr.expand(ops, VarOut(tmp, elem), self.lane_var)]

    # ---------------------------------------------------------------- operands and expressions

    def operands(self, call: ir.Call, intr: Intrinsic, pre: list[ir.Stmt]) -> list[Operand]:
        if len(call.args) != len(intr.params):
            raise self.unsupported(f"intrinsic {call.name}", f"{len(call.args)} operands")
        return [self.operand(a, p, pre) for a, p in zip(call.args, intr.params)]

    def operand(self, arg: ir.Expr, param: str, pre: list[ir.Stmt]) -> Operand:
        if param.startswith("ptr:"):
            if isinstance(arg, ir.AddressOf):
                buffer, indices = arg.buffer, tuple(self.expr(i, pre) for i in arg.indices)
            elif isinstance(arg, ir.Var) and self.addressable(arg.name):
                buffer, indices = arg.name, (ir.Const(0),)
            else:
                raise self.unsupported("pointer operand", type(arg).__name__)
            elem = self.env.get(buffer, "")
            if elem not in ir.SCALAR_DTYPES:
                raise self.unsupported("pointer operand", f"{buffer} of type {elem or 'unknown'}")
            try:
                return _checked_pointer(PointerOperand(buffer, indices, elem))
            except ir.UnsupportedConstruct as e:
                raise self.unsupported(e.construct) from None
        if param in VECTOR_STORAGE:
            if isinstance(arg, ir.Var) and self.is_vector_name(arg.name):
                return ArrayOperand(arg.name, storage(self.env[arg.name])[0])
            if isinstance(arg, ir.Call) and _is_intrinsic_call(arg):
                intr = self.resolve(arg)
                if intr.result not in VECTOR_STORAGE:
                    raise self.unsupported(f"{intr.source_name} as a vector operand")
                ops = self.operands(arg, intr, pre)
                stmts = self.into_temp(intr, ops)
                pre.extend(stmts)
                decl = stmts[0]
                assert isinstance(decl, ir.Decl)
                return ArrayOperand(decl.name, decl.dtype)
            raise self.unsupported("vector operand", type(arg).__name__)
        value = self.expr(arg, pre)
        if param == "imm":
            return ScalarOperand(value)
        target = storage(param)[0]
        if typeinfer.dtype_of(value, self.senv) != target:
            value = ir.Cast(target, value)
        return ScalarOperand(value)

    def expr(self, e: ir.Expr, pre: list[ir.Stmt]) -> ir.Expr:
        """``e`` with intrinsic calls computed into temporaries (appended to ``pre``)."""
        if isinstance(e, ir.Call) and _is_intrinsic_call(e):
            intr = self.resolve(e)
            if intr.result in VECTOR_STORAGE or intr.result == "void":
                raise self.unsupported(f"{intr.source_name} used as a scalar value")
            ops = self.operands(e, intr, pre)
            if intr.kind == "scalar" and intr.scalar is not None:
                return intr.scalar(ops)
            stmts = self.into_temp(intr, ops)
            pre.extend(stmts)
            decl = stmts[0]
            assert isinstance(decl, ir.Decl)
            return ir.Var(decl.name, decl.dtype)
        if isinstance(e, ir.Var):
            if self.is_vector_name(e.name):
                raise self.unsupported("vector variable used as a scalar", e.name)
            return ir.Var(e.name, MASK_STORAGE.get(e.dtype, e.dtype))
        if isinstance(e, ir.Cast):
            return ir.Cast(MASK_STORAGE.get(e.dtype, e.dtype), self.expr(e.a, pre))
        lazy = _lazy_operands(e)
        changes: dict[str, Any] = {}
        for f in fields(e):  # type: ignore[arg-type]
            old = getattr(e, f.name)
            if isinstance(old, ir.Expr):
                sub: list[ir.Stmt] = []
                new = self.expr(old, sub)
                if sub and f.name in lazy:
                    raise self.unsupported("intrinsic call under a conditional operator")
                pre.extend(sub)
                if new is not old:
                    changes[f.name] = new
            elif isinstance(old, tuple) and old and all(isinstance(x, ir.Expr) for x in old):
                changes[f.name] = tuple(self.expr(x, pre) for x in old)
        return replace(e, **changes) if changes else e  # type: ignore[type-var]


def _lazy_operands(e: ir.Expr) -> tuple[str, ...]:
    """Fields of ``e`` that C evaluates only conditionally (hoisting a call out of them is wrong)."""
    if isinstance(e, ir.Select):
        return ("a", "b")
    if isinstance(e, ir.BinOp) and e.op in ("&&", "||"):
        return ("b",)
    return ()


def _checked_pointer(op: PointerOperand) -> PointerOperand:
    op.lane(ir.Const(0), op.elem)  # raises for element types that cannot be addressed
    return op


def _check_clean(fn: ir.Function) -> None:
    """The result must hold no intrinsic and no vector or mask type (an internal invariant)."""
    for n in ir.walk(fn):
        if _is_intrinsic_call(n):
            raise AssertionError(f"detensorize left {n}")
        dtype = getattr(n, "dtype", None)
        if isinstance(dtype, str) and ir.is_vector(dtype):
            raise AssertionError(f"detensorize left a {dtype} in {n}")


def detensorize(fn: ir.Function) -> ir.Function:
    """``fn`` with every intrinsic replaced by scalar code (see the module docstring)."""
    if not has_intrinsics(fn):
        raise ir.NotApplicable("no intrinsic calls to detensorise")
    if fn.ret_dtype in VECTOR_STORAGE or fn.ret_dtype in MASK_STORAGE:
        raise ir.UnsupportedConstruct(f"function returning {fn.ret_dtype}", fn.line)
    params = []
    for p in fn.params:
        if p.dtype in VECTOR_STORAGE:
            raise ir.UnsupportedConstruct(f"vector parameter {p.name}", fn.line)
        params.append(replace(p, dtype=MASK_STORAGE.get(p.dtype, p.dtype)))
    body = _Detensorizer(fn).block(fn.body)
    out = replace(fn, params=tuple(params), body=body)
    _check_clean(out)
    return out


def detensorize_module(module: ir.Module) -> ir.Module:
    """Detensorises every function that uses intrinsics; ``NotApplicable`` when none does."""
    if not any(has_intrinsics(f) for f in module.functions):
        raise ir.NotApplicable("no intrinsic calls to detensorise")
    funcs = tuple(detensorize(f) if has_intrinsics(f) else f for f in module.functions)
    includes = tuple(i for i in module.includes if i not in _X86_HEADERS)
    return replace(module, functions=funcs, includes=includes)
