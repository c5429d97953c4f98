"""Fuse two adjacent loops with identical headers: ``for i {A}; for i' {B}`` -> ``for i {A; B}``.

Legality: before fusion every instance of A runs before every instance of B; after it, B at
iteration y runs before A at iteration x exactly when y < x. So fusion is legal iff no access of
A at x conflicts with an access of B at y < x (``passes.schedule.ordering``, z3; scalars count as
one-element buffers, so ``for {s += ..}; for {.. s ..}`` is refused). Both loops must be serial,
their headers invariant, and neither may be left by ``break``/``continue``/``return`` (a break
in A would now also stop B).

Only statement neighbours are fused; statements between two loops would have to be moved first
(the corpus softmax's loops are separated by the declarations that depend on the loop before).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from passes import ir
from passes.schedule.base import (
    Site,
    TunablePass,
    exits_loop,
    find_loop,
    header_problem,
    loop_infos,
    map_blocks,
)
from passes.schedule.ordering import collect, find_flip


def _same_header(a: ir.For, b: ir.For) -> bool:
    return (a.init, a.bound, a.step, a.cmp, a.update, a.var_dtype) == \
        (b.init, b.bound, b.step, b.cmp, b.update, b.var_dtype)


class Fuse(TunablePass):
    name = "fuse"

    def sites(self, fn: ir.Function) -> list[Site]:
        out = []
        for info in loop_infos(fn):
            nxt = info.block[info.position + 1] if info.position + 1 < len(info.block) else None
            if isinstance(nxt, ir.For) and _same_header(info.loop, nxt) and \
                    info.loop.kind == nxt.kind == ir.SERIAL:
                out.append(Site(info.loop.var, (), note=f"with the next loop '{nxt.var}'"))
        return out

    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        info = find_loop(fn, params.get("loop"))
        first = info.loop
        second = info.block[info.position + 1] if info.position + 1 < len(info.block) else None
        if not isinstance(second, ir.For):
            raise ir.NotApplicable(f"fuse: loop '{first.var}' is not followed by a loop")
        if not _same_header(first, second):
            raise ir.NotApplicable(f"fuse: loops '{first.var}' and '{second.var}' have different bounds")
        if not first.kind == second.kind == ir.SERIAL:
            raise ir.NotApplicable("fuse: both loops must be serial")
        region = ir.If(ir.Const(True, "bool"), (first, second))
        for lp in (first, second):
            why = header_problem(lp, region)
            if why:
                raise ir.NotApplicable(f"fuse: {why}")
            exit_kind = exits_loop(lp.body)
            if exit_kind:
                raise ir.NotApplicable(f"fuse: the body of '{lp.var}' contains a {exit_kind}")
        acc1, local = collect((first,), region)
        acc2, _ = collect((second,), region)
        why = find_flip(acc1, acc2, lambda x, y: y[second.var] < x[first.var], local)
        if why is not None:
            raise ir.NotApplicable(f"fuse '{first.var}' with '{second.var}': an iteration of the second "
                                   f"loop would run before an earlier-numbered one of the first it "
                                   f"depends on ({why})")
        var = ir.Var(first.var, first.var_dtype)
        fused = replace(first, body=first.body + tuple(
            ir.substitute(s, {second.var: var}) for s in second.body))

        def block(stmts: tuple[ir.Stmt, ...]) -> tuple[ir.Stmt, ...]:
            for k in range(len(stmts) - 1):
                a, b = stmts[k], stmts[k + 1]
                if isinstance(a, ir.For) and isinstance(b, ir.For) and a.var == first.var \
                        and b.var == second.var:
                    return stmts[:k] + (fused,) + stmts[k + 2:]
            return stmts

        return map_blocks(fn, block)
