"""Does a transformation flip the order of two conflicting memory accesses?

Why a query of its own: ``passes.dependence.loop_dependence`` answers "are the iterations of one
loop independent", which is what parallel and vectorize need. Reorder and fuse keep most
dependences and only need to know that none is *reversed*. The exact condition is: for every
pair of access instances X, Y to the same element (at least one a write), if X ran before Y in
the original program, X still runs before Y after the transformation. We ask z3 for a
counter-example: two instances that touch one element, ordered one way before and the other way
after. ``unsat`` proves legality; ``sat`` or ``unknown`` refuses.

Scalar accumulators (a scalar declared outside the region and assigned inside it, such as
``s = s + x``) are modelled as a buffer with one element, so that every two instances conflict:
reordering loops around ``s += A[i][j]`` changes the order of the additions and, for floating
point, the rounded result. We refuse it instead of accepting float reassociation silently.
An accumulation through memory (``C[i][j] += A[i][k] * B[k][j]``) is handled by the same rule
with its real index: moving ``k`` outward of ``j`` keeps, for each element ``C[i][j]``, the
additions in increasing ``k`` order, so it is legal; any order that ran two ``k`` of one element
backwards would be refused.

Reuses the access collector and the IR -> z3 translation of ``passes.dependence`` (one model of
C integer arithmetic for all the analyses).
"""

from __future__ import annotations

from typing import Any, Callable, Union

import z3

from passes import ir
from passes.dependence import _Z3, _Z3_LOCK, SOLVER_TIMEOUT_MS, Access, _Collector, _NotAffine

Instance = dict[str, Any]  # loop variable -> z3 term of one access instance
Order = Callable[[Instance, Instance], Any]  # z3 condition on (X, Y)


class _Accesses(_Collector):
    """The dependence collector, plus scalar accumulators as one-element buffers ``$name``."""

    def __init__(self, private: set[str], scalars: set[str]):
        super().__init__(private)
        self.scalars = scalars

    def visit(self, s: ir.Stmt, env: dict[str, ir.Expr], guards: tuple[ir.Expr, ...],
              loops: tuple[Any, ...], assigned: set[str]) -> None:
        super().visit(s, env, guards, loops, assigned)
        if isinstance(s, ir.Assign) and s.name in self.scalars:
            self.accesses.append(Access("$" + s.name, (), True, guards, loops))

    def reads(self, e: ir.Expr, env: dict[str, ir.Expr], guards: tuple[ir.Expr, ...],
              loops: tuple[Any, ...]) -> None:
        super().reads(e, env, guards, loops)
        for n in ir.walk(e):
            if isinstance(n, ir.Var) and n.name in self.scalars:
                self.accesses.append(Access("$" + n.name, (), False, guards, loops))


def collect(stmts: tuple[ir.Stmt, ...], region: ir.Node) -> tuple[list[Access], frozenset[str]]:
    """Accesses of ``stmts`` (loop contexts included) and the names private to ``region``."""
    local = ir.declared_names(region)
    scalars = {n.name for n in ir.walk(region) if isinstance(n, ir.Assign)} - local
    c = _Accesses(local, scalars)
    c.visit_body(stmts, {}, (), ())
    return c.accesses, frozenset(local)


def lex_less(xs: list[Any], ys: list[Any]) -> Any:
    """``xs`` before ``ys`` in lexicographic order."""
    terms = []
    for k in range(len(xs)):
        terms.append(z3.And(*[xs[m] == ys[m] for m in range(k)], xs[k] < ys[k]))
    return z3.Or(*terms) if terms else z3.BoolVal(False)


def find_flip(first: list[Access], second: list[Access], order: Order,
              local: frozenset[str]) -> Union[str, None]:
    """A description of two conflicting instances X (of ``first``) and Y (of ``second``) for
    which ``order(X, Y)`` can hold, or ``None`` when z3 proves there are none."""
    with _Z3_LOCK:
        for a in first:
            for b in second:
                if a.buffer != b.buffer or not (a.write or b.write):
                    continue
                why = _pair(a, b, order, local)
                if why is not None:
                    kind = "write/write" if a.write and b.write else "write/read"
                    what = f"scalar '{a.buffer[1:]}'" if a.buffer.startswith("$") else f"'{a.buffer}'"
                    return f"{kind} on {what}: {why}"
    return None


def _pair(a: Access, b: Access, order: Order, local: frozenset[str]) -> Union[str, None]:
    if len(a.indices) != len(b.indices):
        return "accesses of different rank"
    tr = _Z3(local)
    solver = z3.Solver()
    solver.set("timeout", SOLVER_TIMEOUT_MS)
    try:
        inst = []
        idx = []
        for tag, acc in (("1", a), ("2", b)):
            tr.tag = tag
            rename: Instance = {}
            for ctx in acc.loops:
                v = z3.Int(f"{ctx.var}__{tag}")
                if ctx.affine:
                    lo = tr.conv(ctx.init, rename)
                    solver.add(v >= lo, v < tr.conv(ctx.bound, rename))
                    if isinstance(ctx.step, ir.Const) and int(ctx.step.value) > 1:
                        solver.add((v - lo) % int(ctx.step.value) == 0)
                rename[ctx.var] = v
            for g in acc.guards:
                try:
                    solver.add(tr.conv(g, rename) != 0)
                except _NotAffine:
                    pass  # a guard we cannot model only loses precision
            idx.append([tr.conv(i, rename) for i in acc.indices])
            inst.append(rename)
        for d, (x, y) in enumerate(zip(idx[0], idx[1])):
            if d == len(idx[0]) - 1 and (a.extent > 1 or b.extent > 1):
                solver.add(x < y + b.extent, y < x + a.extent)
            else:
                solver.add(x == y)
        solver.add(order(inst[0], inst[1]))
    except _NotAffine as exc:
        return f"index not analysable: {exc}"
    except KeyError as exc:
        return f"access outside loop {exc} (a loop header reads memory)"
    result = solver.check()
    if result == z3.unsat:
        return None
    if result == z3.unknown:
        return "the solver could not decide"
    return "z3 found two instances whose order would be reversed"
