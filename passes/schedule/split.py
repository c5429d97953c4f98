"""Split (strip-mine) a loop: ``for i`` -> ``for i_o`` (step factor*step) x ``for i`` (a chunk).

Remainder handling, and why this one: the inner loop runs ``i = i_o; i < min(i_o + F, bound)``
(F = factor * step). The last chunk is simply shorter, so

- the nest stays *perfect* (``i_o { i { body } }``): a later reorder can tile it (split i and j,
  then reorder to i_o, j_o, i, j), which a separate remainder loop would prevent;
- the body is not copied (no renaming, no code growth) and no guard runs per iteration (a guard
  ``if (i < n)`` inside a constant-trip loop blocks gcc's vectoriser on stores);
- the inner loop keeps the original variable name, so the body is untouched.

When the bounds are constants and F divides the extent, the inner bound is just ``i_o + F`` (a
constant trip count, which helps gcc unroll and vectorise). Iterations run in exactly the same
order as before, so no dependence check is needed; only the header must be invariant.

Kinds: a parallel loop stays parallel on its outer (chunk) loop; a vectorized one stays
vectorized on its inner loop; unrolled and GPU-bound loops are refused.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from passes import ir
from passes.schedule.base import (
    ParamDecl,
    Site,
    TunablePass,
    affine_problem,
    all_names,
    const_trip,
    find_loop,
    fresh_name,
    header_problem,
    int_param,
    loop_infos,
    replace_loop,
)

FACTORS = (2, 4, 8, 16, 32, 64)


class Split(TunablePass):
    name = "split"

    def __init__(self, factors: tuple[int, ...] = FACTORS):
        self.factors = factors

    def sites(self, fn: ir.Function) -> list[Site]:
        out = []
        for info in loop_infos(fn):
            loop = info.loop
            if affine_problem(loop) or loop.kind not in (ir.SERIAL, ir.PARALLEL, ir.VECTORIZED):
                continue
            trip = const_trip(loop)
            factors = tuple(f for f in self.factors if trip is None or f < trip)
            if factors:
                out.append(Site(loop.var, (ParamDecl("factor", factors, "iterations per chunk"),)))
        return out

    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        loop = find_loop(fn, params.get("loop")).loop
        factor = int_param(params, "factor", lo=2)
        why = affine_problem(loop) or header_problem(loop, loop)
        if why:
            raise ir.NotApplicable(f"split: {why}")
        if loop.kind not in (ir.SERIAL, ir.PARALLEL, ir.VECTORIZED):
            raise ir.NotApplicable(f"split: loop '{loop.var}' is {loop.kind}")
        trip = const_trip(loop)
        if trip is not None and factor >= trip:
            raise ir.NotApplicable(f"split: factor {factor} >= the {trip} iterations of '{loop.var}'")
        step = loop.step
        assert isinstance(step, ir.Const)
        chunk = ir.Const(factor * int(step.value), step.dtype)
        outer_var = fresh_name(f"{loop.var}_o", all_names(fn))
        ov = ir.Var(outer_var, loop.var_dtype)
        end = ov + chunk
        if trip is None or trip % factor != 0:
            end = ir.Call("min", (end, loop.bound), loop.var_dtype)
        inner_kind = ir.VECTORIZED if loop.kind == ir.VECTORIZED else ir.SERIAL
        inner = replace(loop, init=ov, bound=end, kind=inner_kind,
                        annotations=loop.annotations if inner_kind == ir.VECTORIZED else ())
        outer_kind = ir.PARALLEL if loop.kind == ir.PARALLEL else ir.SERIAL
        outer = replace(loop, var=outer_var, step=chunk, body=(inner,), kind=outer_kind,
                        annotations=loop.annotations if outer_kind == ir.PARALLEL else ())
        return replace_loop(fn, loop.var, outer)
