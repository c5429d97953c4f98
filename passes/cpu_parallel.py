"""CPU parallelisation: run independent loops with OpenMP.

Legality comes from ``passes.dependence`` (z3). Loops produced by loop recovery over CUDA blocks
carry the annotation ``independent``: blocks of a kernel are unordered by the programming model,
so a correct kernel has no dependence between them. We still run the analysis and record which
argument justified the pragma.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Union

from passes import ir
from passes.dependence import loop_dependence


def parallelise_cpu(fn: ir.Function, num_threads: Union[int, None] = None) -> tuple[ir.Function, list[str]]:
    """Mark the outermost independent loop of every loop nest ``parallel``.

    Returns the new function and one line per decision. Raises ``NotApplicable`` when no loop
    can be parallelised (with the reasons)."""
    notes: list[str] = []
    found = False

    def visit(stmts: tuple[ir.Stmt, ...], inside_parallel: bool) -> tuple[ir.Stmt, ...]:
        nonlocal found
        out: list[ir.Stmt] = []
        for s in stmts:
            if isinstance(s, ir.For) and not inside_parallel:
                if s.kind == ir.PARALLEL:
                    found = True
                    out.append(s)
                    continue
                verdict = loop_dependence(s)
                why = verdict.reason
                ok = verdict.parallel
                if not ok and s.annotation("independent"):
                    ok, why = True, f"{s.annotation('independent')} (analysis: {verdict.reason})"
                if ok:
                    found = True
                    notes.append(f"parallel loop '{s.var}': {why}")
                    annotations = tuple(a for a in s.annotations if a[0] != "omp")
                    if num_threads:
                        annotations += (("num_threads", num_threads),)
                    out.append(replace(s, kind=ir.PARALLEL, annotations=annotations,
                                       body=visit(s.body, True)))
                    continue
                notes.append(f"loop '{s.var}' stays serial: {why}")
                out.append(replace(s, body=visit(s.body, inside_parallel)))
            elif isinstance(s, ir.If):
                out.append(replace(s, then=visit(s.then, inside_parallel),
                                   orelse=visit(s.orelse, inside_parallel)))
            else:
                out.append(s)
        return tuple(out)

    body = visit(fn.body, False)
    if not found:
        raise ir.NotApplicable("no loop is provably independent: " + "; ".join(notes))
    return replace(fn, body=body), notes
