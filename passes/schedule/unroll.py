"""Unroll a loop, two ways (parameter ``mode``):

- ``pragma``: mark the loop ``unrolled`` with ``("unroll", factor)``; the C printer writes
  ``#pragma GCC unroll factor`` and gcc does the rest (remainders included).
- ``explicit``: rewrite it. With F = factor * step and ``end = bound - (bound - init) % F``::

      int i_end = bound - (bound - init) % F;          // a constant when the bounds are
      for (i = init; i < i_end; i += F) { body(i); body(i + step); ... body(i + (factor-1)*step); }
      for (i_r = i_end; i_r < bound; i_r += step) body(i_r);   // the remainder, if any

  ``end`` is right for every sign: when ``bound <= init`` both loops run zero times (C's
  truncating ``%`` makes ``end <= init`` and ``end >= bound``). Copies get fresh names for what
  they declare. Iterations run in the original order, so no dependence check is needed; the
  header must be invariant, the loop must not be left by ``break``/``continue``/``return``, and
  the variable must be signed (``bound - init`` of an unsigned empty loop wraps around).
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
    exits_loop,
    find_loop,
    fresh_copy,
    fresh_name,
    header_problem,
    int_param,
    loop_infos,
    replace_loop,
)

FACTORS = (2, 4, 8, 16)
MODES = ("pragma", "explicit")


class Unroll(TunablePass):
    name = "unroll"

    def __init__(self, factors: tuple[int, ...] = FACTORS):
        self.factors = factors

    def sites(self, fn: ir.Function) -> list[Site]:
        out = []
        for info in loop_infos(fn):
            loop = info.loop
            if loop.kind != ir.SERIAL or affine_problem(loop):
                continue
            trip = const_trip(loop)
            factors = tuple(f for f in self.factors if trip is None or f <= trip)
            if factors:
                out.append(Site(loop.var, (ParamDecl("factor", factors), ParamDecl("mode", MODES))))
        return out

    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        loop = find_loop(fn, params.get("loop")).loop
        factor = int_param(params, "factor", lo=2)
        mode = params.get("mode", "pragma")
        if loop.kind != ir.SERIAL:
            raise ir.NotApplicable(f"unroll: loop '{loop.var}' is {loop.kind}")
        if mode == "pragma":
            return replace_loop(fn, loop.var, replace(loop, kind=ir.UNROLLED,
                                                      annotations=loop.annotations + (("unroll", factor),)))
        if mode != "explicit":
            raise ValueError(f"unroll mode must be one of {MODES}, got {mode!r}")
        why = affine_problem(loop) or header_problem(loop, loop)
        if why:
            raise ir.NotApplicable(f"unroll: {why}")
        exit_kind = exits_loop(loop.body)
        if exit_kind:
            raise ir.NotApplicable(f"unroll: the body of '{loop.var}' contains a {exit_kind}")
        if not loop.var_dtype.startswith("i"):
            raise ir.NotApplicable(f"unroll: loop variable '{loop.var}' is {loop.var_dtype}, not signed")
        step = loop.step
        assert isinstance(step, ir.Const)
        s = int(step.value)
        chunk = ir.Const(factor * s, step.dtype)
        used = all_names(fn)
        var = ir.Var(loop.var, loop.var_dtype)
        out: list[ir.Stmt] = []
        trip = const_trip(loop)
        end: ir.Expr
        if trip is not None:
            assert isinstance(loop.init, ir.Const)
            end = ir.Const(int(loop.init.value) + (trip // factor) * factor * s, loop.var_dtype)
            remainder = trip % factor
        else:
            end_name = fresh_name(f"{loop.var}_end", used)
            extent = loop.bound if isinstance(loop.init, ir.Const) and loop.init.value == 0 else \
                ir.BinOp("-", loop.bound, loop.init)
            out.append(ir.Decl(end_name, loop.var_dtype, (),
                               ir.BinOp("-", loop.bound, ir.BinOp("%", extent, chunk))))
            end = ir.Var(end_name, loop.var_dtype)
            remainder = -1
        if trip is not None and trip < factor:
            raise ir.NotApplicable(f"unroll: factor {factor} > the {trip} iterations of '{loop.var}'")
        body: list[ir.Stmt] = list(loop.body)
        for u in range(1, factor):
            shifted = fresh_copy(loop.body, used)
            body += [ir.substitute(st, {loop.var: var + ir.Const(u * s, step.dtype)}) for st in shifted]
        out.append(replace(loop, bound=end, step=chunk, body=tuple(body)))
        if remainder != 0:
            rvar = fresh_name(f"{loop.var}_r", used)
            rbody = tuple(ir.substitute(st, {loop.var: ir.Var(rvar, loop.var_dtype)})
                          for st in fresh_copy(loop.body, used))
            out.append(replace(loop, var=rvar, init=end, body=rbody))
        return replace_loop(fn, loop.var, tuple(out))
