from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cost_model import features as F
from measure.spec import load_spec, spec_path_for
from passes import ir
from passes.frontend import parse_module

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted(ROOT.glob("kernels/*/*.c")) + sorted(ROOT.glob("kernels/*/*.cu"))


def _value(vector: np.ndarray, name: str) -> float:
    return float(vector[F.feature_index(name)])


def _parse(path: Path) -> ir.Module:
    return parse_module(path.read_text(), "cpu" if path.suffix == ".c" else "cuda")


def _kernel(src: str, platform: str = "cpu") -> ir.Function:
    return parse_module(src, platform).kernels()[0]


def _with_kind(fn: ir.Function, var: str, kind: str, annotations: tuple = ()) -> ir.Function:
    def mark(n: ir.Node) -> ir.Node:
        if isinstance(n, ir.For) and n.var == var:
            return replace(n, kind=kind, annotations=annotations)
        return n

    out: ir.Function = ir.transform(fn, mark)
    return out


GEMM = ROOT / "kernels/gemm/gemm.c"


def test_names_are_unique_and_layout_fixed() -> None:
    assert len(set(F.FEATURE_NAMES)) == F.N_FEATURES
    assert all(f"pass_{p}" in F.FEATURE_NAMES for p in F.KNOWN_PASSES)


def test_corpus_kernels_give_fixed_length_finite_vectors() -> None:
    assert len(CORPUS) > 40
    for path in CORPUS:
        module = _parse(path)
        dims = load_spec(spec_path_for(path)).scalar_values()
        vectors = [F.extract(module, dims), F.extract(module)]
        vectors += [F.extract(fn, dims, passes=("loop_recovery", "x")) for fn in module.functions]
        for v in vectors:
            assert v.shape == (F.N_FEATURES,), path
            assert v.dtype == np.float64
            assert np.isfinite(v).all(), (path, F.describe(v))
        assert _value(vectors[0], "n_functions") >= 1


def test_gemm_features_by_hand() -> None:
    fn = _parse(GEMM).kernels()[0]
    dims = {"M": 100, "N": 72, "K": 130}
    v = F.extract(fn, dims)
    assert _value(v, "n_loops") == 4 and _value(v, "max_depth") == 3
    # the deepest nest is i (M) / k (K) / j (N)
    assert _value(v, "log2_extent_outer_0") == pytest.approx(math.log2(101))
    assert _value(v, "log2_extent_outer_1") == pytest.approx(math.log2(131))
    assert _value(v, "log2_extent_inner_0") == pytest.approx(math.log2(73))
    assert _value(v, "log2_iters_deepest_nest") == pytest.approx(math.log2(1 + 100 * 130 * 72))
    # innermost body: C = C + a * B: loads C and B, stores C, one mul and one add
    assert (_value(v, "inner_loads"), _value(v, "inner_stores"), _value(v, "inner_flops")) == (2, 1, 2)
    assert _value(v, "log2_total_flops") == pytest.approx(math.log2(1 + 2 * 100 * 130 * 72))
    assert _value(v, "frac_stride1") == 1.0  # every access in a loop is unit-stride or invariant-free
    # innermost level touches a row of C and a row of B: 2 * N floats
    assert _value(v, "log2_footprint_l1") == pytest.approx(math.log2(1 + 2 * 72 * 4))
    # the whole kernel touches A, B and C once each
    assert _value(v, "log2_footprint_all") == pytest.approx(math.log2(1 + 4 * (100 * 130 + 130 * 72 + 100 * 72)))
    assert _value(v, "n_parallel_loops") == 1
    assert _value(v, "log2_parallel_extent") == pytest.approx(math.log2(101))


def test_bigger_dims_increase_iterations_and_footprint() -> None:
    fn = _parse(GEMM).kernels()[0]
    small = F.extract(fn, {"M": 64, "N": 64, "K": 64})
    big = F.extract(fn, {"M": 64, "N": 64, "K": 256})
    assert _value(big, "log2_iters_total") > _value(small, "log2_iters_total")
    assert _value(big, "log2_footprint_all") > _value(small, "log2_footprint_all")
    assert _value(big, "log2_footprint_l1") == _value(small, "log2_footprint_l1")  # N unchanged


def test_loop_kinds_show_in_their_slots() -> None:
    fn = _parse(GEMM).kernels()[0]
    serial = _with_kind(fn, "i", ir.SERIAL)
    v0 = F.extract(serial, {"M": 50, "N": 40, "K": 30})
    assert _value(v0, "n_parallel_loops") == 0 and _value(v0, "log2_parallel_extent") == 0
    par = _with_kind(serial, "i", ir.PARALLEL, (("omp", "parallel for"), ("num_threads", 2)))
    v1 = F.extract(par, {"M": 50, "N": 40, "K": 30})
    assert _value(v1, "n_parallel_loops") == 1
    assert _value(v1, "log2_parallel_extent") == pytest.approx(math.log2(51))
    assert _value(v1, "log2_num_threads") == pytest.approx(math.log2(3))
    vec = F.extract(_with_kind(serial, "j", ir.VECTORIZED), {"M": 50, "N": 40, "K": 30})
    assert _value(vec, "n_vectorized_loops") == 2  # both j loops are named j
    assert _value(vec, "log2_vectorized_extent") == pytest.approx(math.log2(41))
    assert _value(vec, "innermost_kind_vectorized") == 1
    unrolled = F.extract(_with_kind(serial, "k", ir.UNROLLED, (("unroll", 4),)), {"M": 50, "N": 40, "K": 30})
    assert _value(unrolled, "n_unrolled_loops") == 1
    assert _value(unrolled, "log2_max_unroll") == pytest.approx(math.log2(5))
    full = F.extract(_with_kind(serial, "k", ir.UNROLLED, (("unroll", 0),)), {"M": 50, "N": 40, "K": 30})
    assert _value(full, "log2_max_unroll") == pytest.approx(math.log2(31))  # full unroll = extent


def test_collapse_multiplies_the_parallel_extent() -> None:
    src = """void f(float* y, int n, int m) {
    #pragma omp parallel for collapse(2)
    for (int i = 0; i < n; i += 1) { for (int j = 0; j < m; j += 1) { y[i * m + j] = 1.0f; } } }"""
    v = F.extract(_kernel(src), {"n": 10, "m": 20})
    assert _value(v, "omp_collapse") == 2
    assert _value(v, "log2_parallel_extent") == pytest.approx(math.log2(201))


def test_stride_classes() -> None:
    template = "void f(const float* a, float* b, int n) {{ for (int i = 0; i < n; i += 1) {{ " \
               "for (int j = 0; j < n; j += 1) {{ b[i * n + j] = a[{}]; }} }} }}"
    unit = F.extract(_kernel(template.format("i * n + j")), {"n": 64})
    transposed = F.extract(_kernel(template.format("j * n + i")), {"n": 64})
    assert _value(unit, "frac_stride1") == 1.0 and _value(unit, "frac_strided") == 0.0
    assert _value(transposed, "frac_stride1") == 0.5 and _value(transposed, "frac_strided") == 0.5
    invariant = F.extract(_kernel(template.format("i")), {"n": 64})
    assert _value(invariant, "frac_invariant") == 0.5


def test_tiling_shrinks_the_inner_footprint() -> None:
    plain = """void f(const float* a, float* b, int n) {
      for (int i = 0; i < n; i += 1) { for (int j = 0; j < n; j += 1) { b[i] = b[i] + a[j * n + i]; } } }"""
    tiled = """void f(const float* a, float* b, int n) {
      for (int jo = 0; jo < n; jo += 16) { for (int i = 0; i < n; i += 1) {
        for (int j = jo; j < jo + 16; j += 1) { b[i] = b[i] + a[j * n + i]; } } } }"""
    dims = {"n": 512}
    p, t = F.extract(_kernel(plain), dims), F.extract(_kernel(tiled), dims)
    assert _value(t, "log2_footprint_l2") < _value(p, "log2_footprint_l2")
    # the tile loop's bound depends on jo, so the whole nest still covers all of a
    assert _value(t, "log2_footprint_all") == pytest.approx(_value(p, "log2_footprint_all"))
    assert _value(t, "log2_iters_total") == pytest.approx(_value(p, "log2_iters_total"))


def test_local_definitions_are_substituted_and_bounds_evaluated() -> None:
    src = """void f(const float* x, float* y, int rows, int cols) {
      for (int r = 0; r < rows; r += 1) { int base = r * cols; int half = cols / 2;
        for (int c = 0; c < half; c += 1) { y[base + c] = x[base + 2 * c]; } } }"""
    v = F.extract(_kernel(src), {"rows": 8, "cols": 100})
    assert _value(v, "log2_extent_inner_0") == pytest.approx(math.log2(51))
    assert _value(v, "frac_stride1") == 0.5 and _value(v, "frac_strided") == 0.5


def test_shift_loops_and_gpu_features() -> None:
    src = """__global__ void k(const float* x, float* y, int n) {
      __shared__ float buf[256];
      int t = threadIdx.x;
      buf[t] = x[blockIdx.x * blockDim.x + t];
      __syncthreads();
      for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s) { buf[t] = buf[t] + buf[t + s]; }
        __syncthreads();
      }
      if (t == 0) { y[blockIdx.x] = buf[0]; } }"""
    fn = _kernel(src, "cuda")
    v = F.extract(fn, {"n": 1000, "blockDim.x": 256, "gridDim.x": 4})
    assert _value(v, "log2_extent_outer_0") == pytest.approx(math.log2(1 + 8))  # 128, 64, ..., 1
    assert _value(v, "n_syncs") == 2
    assert _value(v, "log2_shared_bytes") == pytest.approx(math.log2(1 + 1024))
    assert _value(v, "log2_threads_per_block") == pytest.approx(math.log2(257))
    assert _value(v, "log2_grid_blocks") == pytest.approx(math.log2(5))
    assert _value(v, "frac_gpu_coalesced") == 1.0


def test_intrinsics_are_counted() -> None:
    path = ROOT / "kernels/gemm_u8s8/gemm_u8s8.c"
    v = F.extract(_parse(path), load_spec(spec_path_for(path)).scalar_values())
    assert _value(v, "n_vnni_calls") == 1
    assert _value(v, "n_avx512_calls") >= 4
    assert _value(v, "max_vector_bits") == 512
    assert _value(v, "log2_intrinsic_ops") > 0
    plain = F.extract(_parse(GEMM))
    assert _value(plain, "n_intrinsic_calls") == 0


def test_bag_of_passes() -> None:
    fn = _parse(GEMM).kernels()[0]
    v = F.extract(fn, passes=("loop_recovery", "split(i, 32)", "Vectorise", "split", "my_new_pass"))
    assert _value(v, "n_passes") == 5
    assert _value(v, "pass_split") == 2
    assert _value(v, "pass_vectorize") == 1
    assert _value(v, "pass_loop_recovery") == 1
    hashed = [_value(v, f"pass_hash_{i}") for i in range(F.PASS_HASH_BUCKETS)]
    assert sum(hashed) == 1
    assert np.array_equal(F.extract(fn, passes=("my_new_pass",)), F.extract(fn, passes=("my_new_pass",)))


def test_unevaluable_bounds_use_defaults() -> None:
    src = """void f(const int* idx, float* y, int n) {
      for (int i = 0; i < idx[0]; i += 1) { y[i] = 0.0f; }
      int k = 0; while (k < n) { y[k] = 1.0f; k = k + 1; } }"""
    v = F.extract(_kernel(src))
    assert _value(v, "log2_extent_outer_0") == pytest.approx(math.log2(1 + F.DEFAULT_TRIPS))
    assert _value(v, "n_while") == 1
    assert np.isfinite(v).all()


@pytest.mark.parametrize("name", ["gemm", "softmax", "conv2d_nhwc", "gemm_u8s8"])
def test_translated_candidates(name: str) -> None:
    """The features of what the translation pipeline produces (the tuner's actual candidates)."""
    from passes.translate import translate

    for suffix, source, target in ((".cu", "cuda", "cpu"), (".c", "cpu", "cuda")):
        path = ROOT / "kernels" / name / f"{name}{suffix}"
        spec = load_spec(spec_path_for(path))
        result = translate(path.read_text(), source, target, spec)
        v = F.extract(result.module, spec.scalar_values(), result.passes)
        assert v.shape == (F.N_FEATURES,) and np.isfinite(v).all()
        assert _value(v, "n_passes") == len(result.passes)
        if target == "cpu":
            assert _value(v, "pass_loop_recovery") == 1
            assert _value(v, "n_builtin_uses") == 0  # loop recovery removed the thread indices
        else:
            assert _value(v, "pass_gpu_parallel") == 1
