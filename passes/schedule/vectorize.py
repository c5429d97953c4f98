"""Vectorize the innermost loop: kind ``vectorized``, printed ``#pragma omp simd`` on the CPU.

``omp simd`` promises gcc that iterations may run concurrently in SIMD lanes, so it is only
legal when the iterations are independent (``passes.dependence.loop_dependence``, z3), or when the
only thing carried between them is a scalar reduction (``s = s + e``, ``s = max(s, e)``, with
``s`` read nowhere else in the loop), declared with a ``reduction`` annotation. A SIMD reduction
adds in another order: for a floating-point ``+`` or ``*`` that reassociation changes the rounded
result, so it needs the explicit parameter ``reassociate=True`` (the search may choose it;
verification then checks the result against the tolerance). ``max``/``min`` and integer
reductions are exact in any order.

The reduction clause must reach the compiler: the C printer of this revision prints
``#pragma omp simd`` without clauses, which would make a reduction a race between lanes. Until
it prints ``reduction(...)`` on simd loops (probed at run time, see ``printer_prints_simd_
reduction``), reductions are refused with that reason.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any, Union

from passes import ir
from passes.dependence import loop_dependence
from passes.printer import print_function
from passes.schedule.base import (
    ParamDecl,
    Site,
    TunablePass,
    affine_problem,
    assigned_scalars,
    find_loop,
    loop_infos,
    replace_loop,
)

_OPS = {"+": "+", "*": "*", "&": "&", "|": "|", "^": "^"}
_CALL_OPS = {"max": "max", "min": "min"}


class Vectorize(TunablePass):
    name = "vectorize"

    def sites(self, fn: ir.Function) -> list[Site]:
        out = []
        for info in loop_infos(fn):
            loop = info.loop
            if loop.kind != ir.SERIAL or affine_problem(loop) or _has_inner_loop(loop):
                continue
            carried = assigned_scalars(loop) - ir.declared_names(loop)
            params = (ParamDecl("reassociate", (False, True), "allow a float SIMD reduction"),) \
                if carried else ()
            out.append(Site(loop.var, params))
        return out

    def rewrite(self, fn: ir.Function, params: dict[str, Any]) -> ir.Function:
        loop = find_loop(fn, params.get("loop")).loop
        reassociate = bool(params.get("reassociate", False))
        if loop.kind != ir.SERIAL:
            raise ir.NotApplicable(f"vectorize: loop '{loop.var}' is {loop.kind}")
        why = affine_problem(loop)
        if why:
            raise ir.NotApplicable(f"vectorize: {why}")
        if _has_inner_loop(loop):
            raise ir.NotApplicable(f"vectorize: loop '{loop.var}' is not innermost")
        verdict = loop_dependence(loop)
        annotations = loop.annotations
        if not verdict.parallel:
            reductions = _reductions(loop)
            if isinstance(reductions, str):
                raise ir.NotApplicable(f"vectorize: {verdict.reason}; {reductions}")
            verdict = loop_dependence(loop, outer_private=frozenset(reductions))
            if not verdict.parallel:
                raise ir.NotApplicable(f"vectorize: {verdict.reason}")
            ops = set(reductions.values())
            if len(ops) != 1:
                raise ir.NotApplicable(f"vectorize: reductions with different operators {sorted(ops)}")
            op = ops.pop()
            floats = [n for n in reductions if ir.is_float(_dtype_of(fn, n))]
            if floats and op in ("+", "*") and not reassociate:
                raise ir.NotApplicable(f"vectorize: a SIMD reduction would reassociate the float '{op}' "
                                       f"into {floats[0]!r} (pass reassociate=True to allow it)")
            if not printer_prints_simd_reduction():
                raise ir.NotApplicable("vectorize: the C printer does not print reduction clauses on "
                                       "'#pragma omp simd' loops")
            annotations += (("reduction", f"{op}:{','.join(sorted(reductions))}"),)
        return replace_loop(fn, loop.var, replace(loop, kind=ir.VECTORIZED, annotations=annotations))


def _has_inner_loop(loop: ir.For) -> bool:
    return any(isinstance(n, (ir.For, ir.While)) for s in loop.body for n in ir.walk(s))


def _reductions(loop: ir.For) -> Union[dict[str, str], str]:
    """Scalar -> reduction operator, for every scalar the loop carries; or why it is not one."""
    carried = assigned_scalars(loop) - ir.declared_names(loop)
    out: dict[str, str] = {}
    for name in sorted(carried):
        assigns = [n for n in ir.walk(loop) if isinstance(n, ir.Assign) and n.name == name]
        if len(assigns) != 1:
            return f"scalar '{name}' is assigned {len(assigns)} times"
        op = _reduction_op(name, assigns[0].value)
        if op is None:
            return f"scalar '{name}' is not updated as a reduction"
        reads = sum(1 for s in loop.body for n in ir.walk(s) if isinstance(n, ir.Var) and n.name == name)
        if reads != 1:
            return f"scalar '{name}' is read outside its reduction"
        out[name] = op
    return out


def _reduction_op(name: str, value: ir.Expr) -> Union[str, None]:
    if isinstance(value, ir.BinOp) and value.op in _OPS:
        a, b = value.a, value.b
    elif isinstance(value, ir.Call) and value.name in _CALL_OPS and len(value.args) == 2:
        a, b = value.args
    else:
        return None
    for x, other in ((a, b), (b, a)):
        if isinstance(x, ir.Var) and x.name == name and name not in ir.free_vars(other):
            return _OPS.get(value.op, "") if isinstance(value, ir.BinOp) else _CALL_OPS[value.name]
    return None


def _dtype_of(fn: ir.Function, name: str) -> str:
    for n in ir.walk(fn):
        if isinstance(n, ir.Decl) and n.name == name:
            return n.dtype
    for p in fn.params:
        if p.name == name:
            return p.dtype
    return "f32"  # unknown: assume the worst (a float)


@functools.lru_cache(maxsize=1)
def printer_prints_simd_reduction() -> bool:
    """Does the C printer write the ``reduction`` annotation of a vectorized loop?"""
    s = ir.Var("s", "f32")
    loop = ir.For("i", ir.Const(0), ir.Const(4), ir.Const(1),
                  (ir.Assign("s", ir.BinOp("+", s, ir.Const(1.0, "f32"))),),
                  kind=ir.VECTORIZED, annotations=(("reduction", "+:s"),))
    probe = ir.Function("probe", (), (ir.Decl("s", "f32", (), ir.Const(0.0, "f32")), loop))
    return "reduction(+:s)" in print_function(probe, "cpu")
