"""Reorder (interchange / permute) a perfectly nested band of loops.

A band is a loop whose body is one loop, whose body is one loop... down to the band's depth.
Scalar declarations between band loops (``for k { float a = A[i*K+k]; for j ... }``) do not
break the band when they can sink to the innermost body: a never-assigned scalar whose
initialiser reads no memory the band writes and no scalar the band assigns has the same value
wherever it is evaluated inside its loop. Sinking them is what lets the corpus GEMM's k/j band
(with ``a`` hoisted by hand) be interchanged; gcc hoists them back out where it can.

Legality (``passes.schedule.ordering``): no two conflicting access instances may change their
relative order. This is the exact condition for the permutation, and it is the documented rule
for floating-point accumulations: an accumulation into memory, ``C[i][j] += A[i][k] * B[k][j]``,
keeps the order of each element's additions under any permutation that keeps ``k`` increasing
for fixed ``(i, j)`` (all of them here: i-j-k <-> i-k-j is legal); an accumulation into a scalar
declared outside the band (``s += A[i][j]`` with ``i`` and ``j`` swapped) would add in another
order and is refused (no silent float reassociation). Loop headers must be invariant in the band,
and a loop whose bounds use another band loop's variable (``i`` in ``[i_o, min(i_o+F, n))``)
must stay inside it. Loops that move must be serial (a parallel or vectorized loop's
independence was proven in its current place).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import z3

from passes import ir
from passes.mathfuncs import MATH_FUNCS
from passes.schedule.base import (
    ParamDecl,
    Site,
    TunablePass,
    affine_problem,
    assigned_scalars,
    find_loop,
    header_problem,
    loop_infos,
    replace_loop,
)
from passes.schedule.ordering import collect, find_flip, lex_less

MAX_DEPTH = 4  # 4! = 24 orders per band; deeper bands are permuted in their first 4 loops


def band(loop: ir.For, max_depth: int = MAX_DEPTH) -> tuple[list[ir.For], list[ir.Decl]]:
    """The perfect band starting at ``loop`` (at most ``max_depth`` loops) and the scalar
    declarations that sink to its innermost body."""
    loops, decls = [loop], []
    written = ir.buffers_written(loop)
    assigned = assigned_scalars(loop)
    cur = loop
    while len(loops) < max_depth:
        inner = [s for s in cur.body if isinstance(s, ir.For)]
        rest = [s for s in cur.body if not isinstance(s, ir.For)]
        if len(inner) != 1 or not all(_sinkable(s, written, assigned) for s in rest):
            break
        if cur.body.index(inner[0]) != len(cur.body) - 1:
            break  # a declaration after the inner loop cannot sink into it
        header_vars = ir.free_vars(inner[0].init) | ir.free_vars(inner[0].bound) | ir.free_vars(inner[0].step)
        if any(isinstance(s, ir.Decl) and s.name in header_vars for s in rest):
            break
        decls += [s for s in rest if isinstance(s, ir.Decl)]
        cur = inner[0]
        loops.append(cur)
    return loops, decls


def _sinkable(s: ir.Stmt, written: set[str], assigned: set[str]) -> bool:
    if not (isinstance(s, ir.Decl) and not s.shape and isinstance(s.init, ir.Expr)):
        return False
    if s.name in assigned or ir.free_vars(s.init) & assigned:
        return False
    for n in ir.walk(s.init):
        if isinstance(n, (ir.Load, ir.AddressOf)) and n.buffer in written:
            return False
        if isinstance(n, ir.Call) and n.name not in MATH_FUNCS:
            return False
    return True


class Reorder(TunablePass):
    name = "reorder"

    def sites(self, fn: ir.Function) -> list[Site]:
        out = []
        for info in loop_infos(fn):
            loops, _ = band(info.loop)
            if len(loops) < 2:
                continue
            names = [lp.var for lp in loops]
            orders = tuple(p for p in itertools.permutations(names) if list(p) != names)
            out.append(Site(info.loop.var, (ParamDecl("order", orders, "loop variables, outermost first"),)))
        return out

    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        top = find_loop(fn, params.get("loop")).loop
        order = params.get("order")
        if not isinstance(order, (tuple, list)) or not all(isinstance(v, str) for v in order):
            raise ValueError(f"parameter 'order' must be a sequence of loop variables, got {order!r}")
        loops, decls = band(top, max_depth=len(order))
        names = [lp.var for lp in loops]
        if sorted(order) != sorted(names):
            raise ir.NotApplicable(f"reorder: {list(order)} is not a permutation of the perfect band "
                                   f"{names} at '{top.var}'")
        if list(order) == names:
            raise ir.NotApplicable("reorder: the order is unchanged")
        by_var = {lp.var: lp for lp in loops}
        for lp in loops:
            why = affine_problem(lp) or header_problem(lp, top)
            if why:
                raise ir.NotApplicable(f"reorder: {why}")
            if lp.kind != ir.SERIAL and order.index(lp.var) != names.index(lp.var):
                raise ir.NotApplicable(f"reorder: loop '{lp.var}' is {lp.kind} and would move")
        for pos, var in enumerate(order):
            lp = by_var[var]
            uses = ir.free_vars(lp.init) | ir.free_vars(lp.bound) | ir.free_vars(lp.step)
            inside = set(order[pos + 1:])
            if uses & inside:
                raise ir.NotApplicable(f"reorder: the bounds of '{var}' use '{sorted(uses & inside)[0]}',"
                                       " which would be inside it")
        accesses, local = collect((top,), top)
        orig = list(names)
        new = list(order)

        def flipped(x: dict[str, Any], y: dict[str, Any]) -> Any:
            return z3.And(lex_less([x[v] for v in orig], [y[v] for v in orig]),
                          lex_less([y[v] for v in new], [x[v] for v in new]))

        why = find_flip(accesses, accesses, flipped, local)
        if why is not None:
            raise ir.NotApplicable(f"reorder to {new}: a dependence would be reversed ({why})")
        body: tuple[ir.Stmt, ...] = tuple(decls) + loops[-1].body
        for var in reversed(new):
            body = (replace(by_var[var], body=body),)
        return replace_loop(fn, top.var, body[0])
