"""Run a loop's iterations on OpenMP threads (``#pragma omp parallel for num_threads(n)``).

Legality is cpu_parallel's: ``passes.dependence.loop_dependence`` (z3) must prove the iterations
independent, or the loop carries the ``independent`` annotation of loop recovery (CUDA blocks are
unordered). A scalar carried between iterations (a reduction) is refused: an OpenMP reduction of
floats would reassociate them. Parallel regions are not nested: the loop must not be inside a
parallel loop nor contain one. On a loop that is already parallel the pass only changes
``num_threads`` (and refuses when it would not change).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from passes import ir
from passes.dependence import loop_dependence
from passes.schedule.base import (
    ParamDecl,
    Site,
    TunablePass,
    affine_problem,
    find_loop,
    int_param,
    loop_infos,
    replace_loop,
)


def default_threads() -> tuple[int, ...]:
    """Powers of two up to the number of cores, and the number of cores (at least 2)."""
    cores = max(2, os.cpu_count() or 2)
    counts = {cores}
    n = 2
    while n < cores:
        counts.add(n)
        n *= 2
    return tuple(sorted(counts))


class Parallel(TunablePass):
    name = "parallel"

    def __init__(self, threads: tuple[int, ...] = ()):
        self.threads = threads or default_threads()

    def sites(self, fn: ir.Function) -> list[Site]:
        out = []
        for info in loop_infos(fn):
            if self._structural(info.loop, info.ancestors) is None:
                out.append(Site(info.loop.var, (ParamDecl("num_threads", self.threads),)))
        return out

    @staticmethod
    def _structural(loop: ir.For, ancestors: tuple[ir.For, ...]) -> Any:
        if affine_problem(loop):
            return affine_problem(loop)
        if loop.kind not in (ir.SERIAL, ir.PARALLEL):
            return f"loop '{loop.var}' is {loop.kind}"
        if any(a.kind == ir.PARALLEL for a in ancestors):
            return f"loop '{loop.var}' is inside a parallel loop (no nested parallelism)"
        if loop.kind == ir.SERIAL and any(
                isinstance(n, ir.For) and n.kind == ir.PARALLEL for s in loop.body for n in ir.walk(s)):
            return f"loop '{loop.var}' contains a parallel loop (no nested parallelism)"
        return None

    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        info = find_loop(fn, params.get("loop"))
        loop = info.loop
        threads = int_param(params, "num_threads", lo=1)
        why = self._structural(loop, info.ancestors)
        if why:
            raise ir.NotApplicable(f"parallel: {why}")
        kept = tuple(a for a in loop.annotations if a[0] != "num_threads")
        if loop.kind == ir.PARALLEL:
            if loop.annotation("num_threads") == threads:
                raise ir.NotApplicable(f"parallel: loop '{loop.var}' already runs on {threads} threads")
            if "num_threads(" in str(loop.annotation("omp") or ""):
                raise ir.NotApplicable(f"parallel: the pragma of '{loop.var}' fixes num_threads")
            return replace_loop(fn, loop.var, replace(loop, annotations=kept + (("num_threads", threads),)))
        verdict = loop_dependence(loop)
        if not verdict.parallel and not loop.annotation("independent"):
            raise ir.NotApplicable(f"parallel: {verdict.reason}")
        kept = tuple(a for a in kept if a[0] != "omp")
        return replace_loop(fn, loop.var, replace(loop, kind=ir.PARALLEL,
                                                  annotations=kept + (("num_threads", threads),)))
