"""z3 dependence analysis: proofs of independence and the dependences it must not miss."""

from __future__ import annotations

import pytest

from passes import ir
from passes.dependence import loop_dependence
from passes.frontend import parse_module


def _outer_loop(body: str, params: str = "const float* x, float* y, float* a, const int* idx, int n, int m") -> ir.For:
    fn = parse_module(f"void k({params}) {{ {body} }}", "cpu").function("k")
    loops = [s for s in fn.body if isinstance(s, ir.For)]
    return loops[0]


@pytest.mark.parametrize("body", [
    "for (int i = 0; i < n; i++) y[i] = x[i] * 2.0f;",
    "for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) y[i * m + j] = x[j * n + i];",
    "for (int i = 0; i < n; i += 2) a[i] = a[i + 1];",           # even writes, odd reads
    "for (int i = 1; i < n; i++) { float t = x[i]; y[i] = t * t; }",
    "for (int i = 0; i < n; i++) { if (i < m) y[i] = 1.0f; else y[i] = 2.0f; }",
    "for (int i = 0; i < n; i++) { float s = 0.0f; for (int j = 0; j < m; j++) s += x[i * m + j]; y[i] = s; }",
])
def test_independent_loops_are_proved(body: str) -> None:
    verdict = loop_dependence(_outer_loop(body))
    assert verdict.parallel, verdict.reason


@pytest.mark.parametrize("body,why", [
    ("for (int i = 1; i < n; i++) a[i] = a[i - 1] + x[i];", "a"),
    ("for (int i = 0; i < n; i++) a[i] = a[i + 1];", "a"),
    ("for (int i = 0; i < n; i++) y[idx[i]] = x[i];", "y"),           # scatter: unknown targets
    ("for (int i = 0; i < n; i++) y[0] += x[i];", "y"),               # reduction into memory
    ("for (int i = 0; i < n; i++) y[(i * i) % m] = x[i];", "y"),      # non-affine, collides
    ("for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) y[i + j] = x[j];", "y"),
])
def test_dependences_are_found(body: str, why: str) -> None:
    verdict = loop_dependence(_outer_loop(body))
    assert not verdict.parallel
    assert f"'{why}'" in verdict.reason


def test_scalar_reduction_is_carried() -> None:
    fn = parse_module("void k(const float* x, float* y, int n) { float s = 0.0f; "
                      "for (int i = 0; i < n; i++) s += x[i]; y[0] = s; }", "cpu").function("k")
    loop = next(s for s in fn.body if isinstance(s, ir.For))
    verdict = loop_dependence(loop)
    assert not verdict.parallel and "'s'" in verdict.reason


def test_loop_local_variable_differs_between_iterations() -> None:
    # j is computed from memory inside the loop; treating it as one shared symbol would
    # wrongly prove y[j + i] independent.
    loop = _outer_loop("for (int i = 0; i < n; i++) { int j = idx[i]; y[j + i] = x[i]; }")
    assert not loop_dependence(loop).parallel
