"""Tunable schedule passes: every legal transformation verifies on the CPU, illegal ones are
refused with a reason, and random sequences drawn from ``space()`` only produce correct programs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from measure.platforms import get_platform
from measure.spec import KernelSpec, load_spec
from passes import ir
from passes.frontend import parse_module
from passes.names import uniquify
from passes.printer import print_module
from passes.schedule import PASSES, apply_sequence
from passes.schedule.base import loop_infos
from passes.schedule.vectorize import printer_prints_simd_reduction

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ("gemm", "softmax")


def load(kernel: str) -> tuple[ir.Module, ir.Function, KernelSpec]:
    module = parse_module((ROOT / "kernels" / kernel / f"{kernel}.c").read_text(), "cpu")
    spec = load_spec(ROOT / "kernels" / kernel / f"{kernel}.c.toml")
    return module, uniquify(module.function(spec.entry)), spec


def from_source(text: str, entry: str) -> tuple[ir.Module, ir.Function]:
    module = parse_module(text, "cpu")
    return module, uniquify(module.function(entry))


def assert_verifies(module: ir.Module, fn: ir.Function, spec: KernelSpec) -> str:
    text = print_module(module.with_function(fn), "cpu")
    verdict = get_platform("cpu").verify(text, spec)
    assert verdict.ok and verdict.mode == "device", f"{verdict.reason}\n{text}"
    return text


def loop(fn: ir.Function, var: str) -> ir.For:
    return next(i.loop for i in loop_infos(fn) if i.loop.var == var)


# ------------------------------------------------------------------------------------- split


@pytest.mark.parametrize("kernel,var,factor", [
    ("gemm", "i", 8), ("gemm", "j", 16), ("gemm", "k", 3), ("gemm", "j_1", 32), ("gemm", "k", 64),
    ("softmax", "r", 4), ("softmax", "c", 64), ("softmax", "c_1", 7), ("softmax", "c_2", 16)])
def test_split_corpus_verifies(kernel: str, var: str, factor: int) -> None:
    module, fn, spec = load(kernel)
    out = PASSES["split"].apply(fn, {"loop": var, "factor": factor})
    outer = loop(out, f"{var}_o")
    assert outer.step == ir.Const(factor) and outer.body == (loop(out, var),)
    if loop(fn, var).kind == ir.PARALLEL:  # the chunk loop keeps the pragma
        assert outer.kind == ir.PARALLEL and loop(out, var).kind == ir.SERIAL
    text = assert_verifies(module, out, spec)
    assert f"min_i32({var}_o + {factor}" in text  # symbolic extents: the last chunk is shorter


RELU_CONST = """
void relu(const float* x, float* y, int n) {
    for (int i = 0; i < EXTENT; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
"""


@pytest.mark.parametrize("extent,factor", [(1024, 16), (10007, 16), (10007, 64)])
def test_split_constant_extent_keeps_the_remainder(extent: int, factor: int) -> None:
    module, fn = from_source(RELU_CONST.replace("EXTENT", str(extent)), "relu")
    spec = load_spec(ROOT / "kernels/relu/relu.c.toml").with_dims(N=extent)
    out = PASSES["split"].apply(fn, {"loop": "i", "factor": factor})
    text = assert_verifies(module, out, spec)
    # a dividing factor gives a constant trip count; otherwise the last chunk stops at the extent
    assert ("min_i32" in text) == (extent % factor != 0), text
    sites = PASSES["split"].space(fn)
    assert all(f < extent for s in sites for p in s.params for f in p.choices)
    with pytest.raises(ir.NotApplicable, match="factor"):
        PASSES["split"].apply(fn, {"loop": "i", "factor": 2 * extent})


# ----------------------------------------------------------------------------------- reorder


def test_reorder_corpus_gemm_band_verifies() -> None:
    module, fn, spec = load("gemm")
    sites = {s.loop: s for s in PASSES["reorder"].space(fn)}
    assert set(sites) == {"k"}  # the k/j band, with 'float a = A[..]' sunk into it
    out = PASSES["reorder"].apply(fn, {"loop": "k", "order": ("j_1", "k")})
    j = loop(out, "j_1")
    assert loop(out, "k") in j.body and isinstance(loop(out, "k").body[0], ir.Decl)
    assert_verifies(module, out, spec)


NAIVE_GEMM = """
void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            C[i * N + j] = 0.0f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            for (int k = 0; k < K; k++)
                C[i * N + j] += A[i * K + k] * B[k * N + j];
}
"""


@pytest.mark.parametrize("order", [("i_1", "k", "j_1"), ("k", "i_1", "j_1"), ("j_1", "k", "i_1"),
                                   ("k", "j_1", "i_1")])
def test_reorder_memory_accumulation_keeps_each_elements_order(order: tuple[str, ...]) -> None:
    # every permutation keeps k increasing for each C[i][j]: all are legal, and exact
    module, fn = from_source(NAIVE_GEMM, "gemm")
    _, _, spec = load("gemm")
    out = PASSES["reorder"].apply(fn, {"loop": "i_1", "order": order})
    assert [lp.var for lp in ir.walk(out) if isinstance(lp, ir.For)][2:] == list(order)
    assert_verifies(module, out, spec)


def test_reorder_refuses_a_reversed_dependence() -> None:
    _, fn = from_source("""
void wave(float* A, int n, int m) {
    for (int i = 1; i < n; i++)
        for (int j = 0; j < m - 1; j++)
            A[i * m + j] = A[(i - 1) * m + j + 1] + 1.0f;
}""", "wave")
    with pytest.raises(ir.NotApplicable, match="dependence would be reversed.*'A'"):
        PASSES["reorder"].apply(fn, {"loop": "i", "order": ("j", "i")})


def test_reorder_refuses_float_reassociation_of_a_scalar() -> None:
    _, fn = from_source("""
void total(const float* x, float* out, int n, int m) {
    float s = 0.0f;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++)
            s += x[i * m + j];
    out[0] = s;
}""", "total")
    with pytest.raises(ir.NotApplicable, match="scalar 's'"):
        PASSES["reorder"].apply(fn, {"loop": "i", "order": ("j", "i")})


def test_reorder_keeps_split_loops_inside_their_chunk_loop() -> None:
    module, fn = from_source(NAIVE_GEMM, "gemm")
    _, _, spec = load("gemm")
    tiled = apply_sequence(fn, [("split", {"loop": "j_1", "factor": 16}),
                                ("reorder", {"loop": "i_1", "order": ("j_1_o", "i_1", "k", "j_1")})])
    assert_verifies(module, tiled, spec)
    with pytest.raises(ir.NotApplicable, match="bounds of 'j_1' use 'j_1_o'"):
        PASSES["reorder"].apply(tiled, {"loop": "j_1_o", "order": ("j_1", "i_1", "k", "j_1_o")})


# -------------------------------------------------------------------------------------- fuse

TWO_LOOPS = """
void relu(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) y[i] = x[i];
    for (int i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}
"""


def test_fuse_adjacent_loops_verifies() -> None:
    module, fn = from_source(TWO_LOOPS, "relu")
    spec = load_spec(ROOT / "kernels/relu/relu.c.toml")
    assert [s.loop for s in PASSES["fuse"].space(fn)] == ["i"]
    out = PASSES["fuse"].apply(fn, {"loop": "i"})
    assert len([n for n in ir.walk(out) if isinstance(n, ir.For)]) == 1
    assert_verifies(module, out, spec)


def test_fuse_refuses_reading_what_a_later_iteration_writes() -> None:
    _, fn = from_source(TWO_LOOPS.replace("y[i] > 0.0f ? y[i] : 0.0f", "y[i] + y[i + 1]")
                        .replace("i < n; i++) y[i] = y", "i < n - 1; i++) y[i] = y")
                        .replace("i < n; i++) y[i] = x", "i < n - 1; i++) y[i] = x"), "relu")
    with pytest.raises(ir.NotApplicable, match="'y'"):
        PASSES["fuse"].apply(fn, {"loop": "i"})


def test_fuse_refuses_a_scalar_carried_into_the_second_loop() -> None:
    _, fn = from_source("""
void f(const float* x, float* y, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += x[i];
    for (int i = 0; i < n; i++) y[i] = x[i] / s;
}""", "f")
    with pytest.raises(ir.NotApplicable, match="scalar 's'"):
        PASSES["fuse"].apply(fn, {"loop": "i"})


def test_fuse_refuses_different_bounds_on_the_corpus() -> None:
    _, fn, _ = load("softmax")
    assert PASSES["fuse"].space(fn) == []
    with pytest.raises(ir.NotApplicable, match="different bounds|not followed"):
        PASSES["fuse"].apply(fn, {"loop": "c_1"})


# ------------------------------------------------------------------------------------ unroll


@pytest.mark.parametrize("kernel,var,factor,mode", [
    ("gemm", "k", 4, "explicit"), ("gemm", "j_1", 8, "explicit"), ("gemm", "j", 3, "explicit"),
    ("gemm", "k", 4, "pragma"), ("softmax", "c", 4, "explicit"), ("softmax", "c_1", 8, "explicit"),
    ("softmax", "c_2", 16, "pragma")])
def test_unroll_corpus_verifies(kernel: str, var: str, factor: int, mode: str) -> None:
    module, fn, spec = load(kernel)
    out = PASSES["unroll"].apply(fn, {"loop": var, "factor": factor, "mode": mode})
    text = assert_verifies(module, out, spec)
    if mode == "pragma":
        assert f"#pragma GCC unroll {factor}" in text
    else:
        assert f"{var}_r" in text and f"{var} += {factor}" in text  # main loop and remainder loop


def test_unroll_explicit_constant_trip_has_no_remainder_when_it_divides() -> None:
    module, fn = from_source(RELU_CONST.replace("EXTENT", "1024"), "relu")
    spec = load_spec(ROOT / "kernels/relu/relu.c.toml").with_dims(N=1024)
    out = PASSES["unroll"].apply(fn, {"loop": "i", "factor": 4, "mode": "explicit"})
    assert len([n for n in ir.walk(out) if isinstance(n, ir.For)]) == 1
    assert_verifies(module, out, spec)


def test_unroll_refuses_a_loop_left_by_break() -> None:
    _, fn = from_source("""
void f(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) { if (x[i] < 0.0f) break; y[i] = x[i]; }
}""", "f")
    with pytest.raises(ir.NotApplicable, match="break"):
        PASSES["unroll"].apply(fn, {"loop": "i", "factor": 2, "mode": "explicit"})


# --------------------------------------------------------------------------------- vectorize


@pytest.mark.parametrize("kernel,var", [("gemm", "j"), ("gemm", "j_1"), ("softmax", "c_2")])
def test_vectorize_independent_loops_verifies(kernel: str, var: str) -> None:
    module, fn, spec = load(kernel)
    out = PASSES["vectorize"].apply(fn, {"loop": var})
    assert "#pragma omp simd" in assert_verifies(module, out, spec)


def test_vectorize_refuses_outer_loops_and_silent_float_reassociation() -> None:
    _, fn, _ = load("softmax")
    assert {s.loop for s in PASSES["vectorize"].space(fn)} == {"c", "c_1", "c_2"}
    with pytest.raises(ir.NotApplicable, match="is parallel"):
        PASSES["vectorize"].apply(fn, {"loop": "r"})
    with pytest.raises(ir.NotApplicable, match="not innermost"):
        PASSES["vectorize"].apply(from_source(NAIVE_GEMM, "gemm")[1], {"loop": "j_1"})
    with pytest.raises(ir.NotApplicable, match="reassociate the float"):
        PASSES["vectorize"].apply(fn, {"loop": "c_1", "reassociate": False})


def test_vectorize_reduction_needs_the_printer_clause() -> None:
    module, fn, spec = load("softmax")
    if not printer_prints_simd_reduction():
        with pytest.raises(ir.NotApplicable, match="does not print reduction"):
            PASSES["vectorize"].apply(fn, {"loop": "c"})  # max: exact, but the clause is lost
        return
    for var, extra in (("c", {}), ("c_1", {"reassociate": True})):
        out = PASSES["vectorize"].apply(fn, {"loop": var, **extra})
        assert "reduction(" in assert_verifies(module, out, spec)


# ---------------------------------------------------------------------------------- parallel

SCAN = """
void scan(const float* x, float* y, int n) {
    y[0] = x[0];
    for (int i = 1; i < n; i++) y[i] = y[i - 1] + x[i];
}
"""


@pytest.mark.parametrize("kernel,var,threads", [("gemm", "i", 2), ("softmax", "r", 3)])
def test_parallel_corpus_verifies(kernel: str, var: str, threads: int) -> None:
    module, fn, spec = load(kernel)
    out = PASSES["parallel"].apply(fn, {"loop": var, "num_threads": threads})
    assert f"num_threads({threads})" in assert_verifies(module, out, spec)
    with pytest.raises(ir.NotApplicable, match="already runs"):
        PASSES["parallel"].apply(out, {"loop": var, "num_threads": threads})


def test_parallel_on_a_serial_nest_and_refusals() -> None:
    module, fn = from_source(NAIVE_GEMM, "gemm")
    _, _, spec = load("gemm")
    out = PASSES["parallel"].apply(fn, {"loop": "i_1", "num_threads": 2})
    assert_verifies(module, out, spec)
    with pytest.raises(ir.NotApplicable, match="inside a parallel loop"):
        PASSES["parallel"].apply(out, {"loop": "j_1", "num_threads": 2})
    with pytest.raises(ir.NotApplicable, match="write/read on 'y'"):
        PASSES["parallel"].apply(from_source(SCAN, "scan")[1], {"loop": "i", "num_threads": 2})
    with pytest.raises(ir.NotApplicable, match="write/read on .C. may cross iterations of .k."):
        PASSES["parallel"].apply(fn, {"loop": "k", "num_threads": 2})  # k carries C[i][j] (z3)


# ------------------------------------------------------------------------------ the contract


def test_space_lists_sites_and_apply_accepts_indices() -> None:
    _, fn, _ = load("gemm")
    for p in PASSES.values():
        for site in p.space(fn):
            for cfg in site.configs():
                assert cfg["loop"] == site.loop and set(cfg) == {"loop", *(d.name for d in site.params)}
    by_index = PASSES["split"].apply(fn, {"loop": 2, "factor": 4})  # loops: i, j, k, j_1
    assert by_index == PASSES["split"].apply(fn, {"loop": "k", "factor": 4})
    with pytest.raises(ir.NotApplicable, match="no loop"):
        PASSES["split"].apply(fn, {"loop": "zz", "factor": 4})
    with pytest.raises(ir.NotApplicable, match=r"step 1 \(vectorize"):
        apply_sequence(fn, [("split", {"loop": "k", "factor": 4}), ("vectorize", {"loop": "k_o"})])


@pytest.mark.parametrize("kernel", CORPUS)
def test_random_sequences_only_produce_verified_programs(kernel: str) -> None:
    module, fn0, spec = load(kernel)
    rng = random.Random(20261124 + len(kernel))
    seen: set[str] = set()
    applied = refused = 0
    for _ in range(8):
        fn = fn0
        steps = 0
        for _attempt in range(12):
            if steps == 3:
                break
            name = rng.choice(sorted(PASSES))
            sites = PASSES[name].space(fn)
            if not sites:
                continue
            params = rng.choice(sites).sample(rng)
            try:
                out = PASSES[name].apply(fn, params)
            except ir.NotApplicable as exc:
                assert str(exc), "a refusal must say why"
                refused += 1
                continue
            assert out != fn
            fn, steps = out, steps + 1
            applied += 1
            text = print_module(module.with_function(fn), "cpu")
            if text not in seen:
                seen.add(text)
                verdict = get_platform("cpu").verify(text, spec)
                assert verdict.ok and verdict.mode == "device", f"{verdict.reason}\n{text}"
    print(f"{kernel}: {applied} applied, {refused} refused, {len(seen)} distinct programs verified")
    assert applied >= 12 and len(seen) >= 10, (applied, refused, len(seen))
