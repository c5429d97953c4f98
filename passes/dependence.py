"""Dependence analysis: may two iterations of a loop touch the same memory?

For a candidate loop we collect every memory access in its body together with what constrains
it: the index expression (with pure local definitions substituted in), the enclosing guards and
the ranges of the inner loops. For each pair of accesses to one buffer, at least one of them a
write, we ask z3 whether two *different* iterations of the candidate loop can reach the same
element. "unsat" proves independence; "sat" or "unknown" (time-out, non-linear trouble) is
treated as a dependence. Integer arithmetic is modelled exactly as mathematical integers with C's
truncating division; overflow is not modelled (as in every polyhedral tool).

Scalars assigned in the body but declared outside it carry values between iterations (a
reduction) and make the loop sequential; arrays declared inside the body are private.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Union

import z3

from passes import ir
from passes.mathfuncs import MATH_FUNCS

SOLVER_TIMEOUT_MS = 2000


@dataclass
class _LoopCtx:
    var: str
    init: ir.Expr
    bound: ir.Expr
    step: ir.Expr
    affine: bool


@dataclass
class Access:
    buffer: str
    indices: tuple[ir.Expr, ...]
    write: bool
    guards: tuple[ir.Expr, ...]
    loops: tuple[_LoopCtx, ...]
    extent: int = 1  # elements touched from the index on (vector intrinsics)
    opaque: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Verdict:
    parallel: bool
    reason: str


_Z3_LOCK = threading.Lock()  # z3's default context is shared and not thread-safe


def loop_dependence(loop: ir.For, outer_private: frozenset[str] = frozenset()) -> Verdict:
    """Decide whether the iterations of ``loop`` are independent."""
    with _Z3_LOCK:
        return _loop_dependence(loop, outer_private)


def _loop_dependence(loop: ir.For, outer_private: frozenset[str]) -> Verdict:
    if not loop.is_affine():
        return Verdict(False, f"loop '{loop.var}' is not of the form var < bound; var += c")
    declared_inside = ir.declared_names(loop)
    for n in ir.walk(loop):
        if isinstance(n, ir.Assign) and n.name not in declared_inside and n.name not in outer_private:
            return Verdict(False, f"scalar '{n.name}' is carried across iterations of '{loop.var}'")
        if isinstance(n, (ir.Sync, ir.Return, ir.Break)):
            return Verdict(False, f"'{type(n).__name__}' inside loop '{loop.var}'")
        if isinstance(n, ir.Call) and n.name not in MATH_FUNCS and not n.name.startswith("_mm"):
            if any(isinstance(a, ir.AddressOf) for a in n.args) or n.name.startswith(("atomic", "__")):
                return Verdict(False, f"call of '{n.name}' with unknown effects in loop '{loop.var}'")
    collector = _Collector(declared_inside)
    collector.visit_body(loop.body, {}, (), ())
    accesses = collector.accesses
    by_buffer: dict[str, list[Access]] = {}
    for a in accesses:
        by_buffer.setdefault(a.buffer, []).append(a)
    for buf, accs in by_buffer.items():
        writes = [a for a in accs if a.write]
        for w in writes:
            for other in accs:
                conflict = _may_conflict(loop, w, other, frozenset(declared_inside))
                if conflict is not None:
                    kind = "write/write" if other.write else "write/read"
                    return Verdict(False, f"{kind} on '{buf}' may cross iterations of "
                                          f"'{loop.var}' ({conflict})")
    return Verdict(True, f"no two iterations of '{loop.var}' touch the same element (z3)")


class _Collector:
    """Walks a loop body, substituting pure local definitions into indices."""

    def __init__(self, private: set[str]):
        self.private = private
        self.accesses: list[Access] = []
        self.opaque_counter = itertools.count()

    def visit_body(self, stmts: tuple[ir.Stmt, ...], env: dict[str, ir.Expr],
                   guards: tuple[ir.Expr, ...], loops: tuple[_LoopCtx, ...]) -> None:
        env = dict(env)
        assigned = {n.name for s in stmts for n in ir.walk(s) if isinstance(n, ir.Assign)}
        for s in stmts:
            self.visit(s, env, guards, loops, assigned)

    def visit(self, s: ir.Stmt, env: dict[str, ir.Expr], guards: tuple[ir.Expr, ...],
              loops: tuple[_LoopCtx, ...], assigned: set[str]) -> None:
        for e in _exprs_of(s):
            self.reads(e, env, guards, loops)
        if isinstance(s, ir.Decl):
            if isinstance(s.init, ir.Expr) and not s.shape and s.name not in assigned and _pure(s.init):
                env[s.name] = ir.substitute(s.init, env)
        elif isinstance(s, ir.Store):
            if s.buffer not in self.private:
                self.accesses.append(Access(
                    s.buffer, tuple(ir.substitute(i, env) for i in s.indices), True, guards, loops))
        elif isinstance(s, ir.ExprStmt) and isinstance(s.expr, ir.Call):
            for a in s.expr.args:
                if isinstance(a, ir.AddressOf) and a.buffer not in self.private and "store" in s.expr.name:
                    self.accesses.append(Access(
                        a.buffer, tuple(ir.substitute(i, env) for i in a.indices), True, guards, loops,
                        extent=64))
        elif isinstance(s, ir.For):
            ctx = _LoopCtx(s.var, ir.substitute(s.init, env), ir.substitute(s.bound, env),
                           ir.substitute(s.step, env), s.is_affine())
            self.visit_body(s.body, env, guards, loops + (ctx,))
        elif isinstance(s, ir.While):
            self.visit_body(s.body, env, guards, loops + (_LoopCtx("__while", ir.Const(0), ir.Const(0),
                                                                   ir.Const(1), False),))
        elif isinstance(s, ir.If):
            c = ir.substitute(s.cond, env)
            self.visit_body(s.then, env, guards + (c,), loops)
            self.visit_body(s.orelse, env, guards + (ir.UnOp("!", c),), loops)

    def reads(self, e: ir.Expr, env: dict[str, ir.Expr], guards: tuple[ir.Expr, ...],
              loops: tuple[_LoopCtx, ...]) -> None:
        for n in ir.walk(e):
            if isinstance(n, (ir.Load, ir.AddressOf)) and n.buffer not in self.private:
                self.accesses.append(Access(
                    n.buffer, tuple(ir.substitute(i, env) for i in n.indices), False, guards, loops,
                    extent=64 if isinstance(n, ir.AddressOf) else 1))


def _exprs_of(s: ir.Stmt) -> list[ir.Expr]:
    if isinstance(s, ir.For):
        return [s.init, s.bound, s.step]
    if isinstance(s, (ir.If,)):
        return [s.cond]
    if isinstance(s, ir.While):
        return [s.cond]
    if isinstance(s, ir.Decl):
        if isinstance(s.init, ir.Expr):
            return [s.init]
        return list(s.init or ())
    if isinstance(s, ir.Store):
        return [s.value, *s.indices]
    if isinstance(s, ir.Assign):
        return [s.value]
    if isinstance(s, ir.ExprStmt):
        return [s.expr]
    if isinstance(s, ir.Return) and s.value is not None:
        return [s.value]
    return []


def _pure(e: ir.Expr) -> bool:
    return not any(isinstance(n, (ir.Load, ir.AddressOf)) or
                   (isinstance(n, ir.Call) and n.name not in MATH_FUNCS) for n in ir.walk(e))


# ------------------------------------------------------------------------------------- z3


class _Z3:
    """IR -> z3 terms. Names in ``local`` (declared inside the loop) get one symbol per
    iteration instance, since their values may differ between the two iterations compared."""

    def __init__(self, local: frozenset[str] = frozenset()) -> None:
        self.params: dict[str, Any] = {}
        self.fresh = itertools.count()
        self.local = local
        self.tag = ""

    def sym(self, name: str) -> Any:
        if name not in self.params:
            self.params[name] = z3.Int(name)
        return self.params[name]

    def conv(self, e: ir.Expr, rename: dict[str, Any]) -> Any:
        if isinstance(e, ir.Const):
            if isinstance(e.value, float):
                raise _NotAffine("floating constant")
            return z3.IntVal(int(e.value))
        if isinstance(e, ir.Var):
            if e.name in rename:
                return rename[e.name]
            if e.name in self.local:
                return self.sym(f"{e.name}__{self.tag}")
            return self.sym(e.name)
        if isinstance(e, ir.Builtin):
            return self.sym(e.name.replace(".", "_"))
        if isinstance(e, ir.Cast):
            if ir.is_float(e.dtype):
                raise _NotAffine("float cast")
            return self.conv(e.a, rename)
        if isinstance(e, ir.BinOp):
            a, b = self.conv(e.a, rename), self.conv(e.b, rename)
            op = e.op
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op == "*":
                return a * b
            if op == "/":
                return z3.If(a * b >= 0, z3.Abs(a) / z3.Abs(b), -(z3.Abs(a) / z3.Abs(b)))
            if op == "%":
                return a - b * z3.If(a * b >= 0, z3.Abs(a) / z3.Abs(b), -(z3.Abs(a) / z3.Abs(b)))
            if op in ("<", "<=", ">", ">=", "==", "!="):
                cmp = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b, "==": a == b, "!=": a != b}[op]
                return z3.If(cmp, z3.IntVal(1), z3.IntVal(0))
            if op in ("&&", "||"):
                pa, pb = a != 0, b != 0
                return z3.If(z3.And(pa, pb) if op == "&&" else z3.Or(pa, pb), z3.IntVal(1), z3.IntVal(0))
            if op == "<<" and isinstance(e.b, ir.Const):
                return a * (2 ** int(e.b.value))
            if op == ">>" and isinstance(e.b, ir.Const):
                return a / (2 ** int(e.b.value))
            raise _NotAffine(f"operator {op}")
        if isinstance(e, ir.UnOp):
            a = self.conv(e.a, rename)
            if e.op == "-":
                return -a
            if e.op == "!":
                return z3.If(a == 0, z3.IntVal(1), z3.IntVal(0))
            raise _NotAffine(f"operator {e.op}")
        if isinstance(e, ir.Select):
            return z3.If(self.conv(e.cond, rename) != 0, self.conv(e.a, rename), self.conv(e.b, rename))
        if isinstance(e, ir.Call) and e.name in ("min", "max") and len(e.args) == 2:
            a, b = self.conv(e.args[0], rename), self.conv(e.args[1], rename)
            return z3.If(a < b, a, b) if e.name == "min" else z3.If(a > b, a, b)
        # memory reads and anything else: an unknown value, different for every instance
        return z3.Int(f"opaque_{next(self.fresh)}")


class _NotAffine(Exception):
    pass


def _may_conflict(loop: ir.For, w: Access, other: Access,
                  local: frozenset[str] = frozenset()) -> Union[str, None]:
    """``None`` when z3 proves that no two different iterations of ``loop`` make ``w`` and
    ``other`` touch one element; otherwise a short description of why not."""
    if len(w.indices) != len(other.indices):
        return "accesses of different rank"
    tr = _Z3(local)
    solver = z3.Solver()
    solver.set("timeout", SOLVER_TIMEOUT_MS)
    iters = []
    try:
        for tag, acc in (("1", w), ("2", other)):
            tr.tag = tag
            rename: dict[str, Any] = {}
            it = z3.Int(f"{loop.var}__{tag}")
            rename[loop.var] = it
            iters.append(it)
            solver.add(it >= tr.conv(loop.init, {}), it < tr.conv(loop.bound, {}))
            step = int(loop.step.value) if isinstance(loop.step, ir.Const) else 1
            if step > 1:
                solver.add((it - tr.conv(loop.init, {})) % step == 0)
            for ctx in acc.loops:
                v = z3.Int(f"{ctx.var}__{tag}")
                if ctx.affine:
                    solver.add(v >= tr.conv(ctx.init, rename), v < tr.conv(ctx.bound, rename))
                rename[ctx.var] = v
            for g in acc.guards:
                try:
                    solver.add(tr.conv(g, rename) != 0)
                except _NotAffine:
                    pass  # a guard we cannot model only loses precision
            idx = [tr.conv(i, rename) for i in acc.indices]
            if tag == "1":
                first = idx
                first_extent = acc.extent
            else:
                for d, (a, b) in enumerate(zip(first, idx)):
                    if d == len(idx) - 1 and (first_extent > 1 or acc.extent > 1):
                        solver.add(a < b + acc.extent, b < a + first_extent)
                    else:
                        solver.add(a == b)
    except _NotAffine as exc:
        return f"index not analysable: {exc}"
    solver.add(iters[0] != iters[1])
    result = solver.check()
    if result == z3.unsat:
        return None
    if result == z3.unknown:
        return "the solver could not decide"
    return "z3 found two iterations that collide"
