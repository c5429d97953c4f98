"""GPU and CPU parallelisation: what gets bound or marked parallel, and what must not be."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import tomli_w

from measure.platforms import get_platform
from measure.spec import parse_spec
from passes import ir
from passes.cpu_parallel import parallelise_cpu
from passes.frontend import parse_module
from passes.gpu_parallel import parallelise_gpu
from passes.printer import print_module

GEMM = """
void gemm(const float* A, const float* B, float* C, int M, int N, int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0.0f;
            for (int k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
            C[i * N + j] = s;
        }
}
"""

SCAN = """
void scan(const float* x, float* y, int n) {
    y[0] = x[0];
    for (int i = 1; i < n; i++) y[i] = y[i - 1] + x[i];
}
"""


def test_gemm_binds_two_axes_with_guards() -> None:
    module = parse_module(GEMM, "cpu")
    result = parallelise_gpu(module.function("gemm"), module, "cuda")
    kernel = result.module.function("gemm")
    builtins = {n.name for n in ir.walk(kernel) if isinstance(n, ir.Builtin)}
    assert {"blockIdx.x", "blockIdx.y", "threadIdx.x", "threadIdx.y"} <= builtins
    text = print_module(result.module, "cuda")
    assert "if (i < M && j < N)" in text
    # an empty extent still launches one block: a grid of 0 blocks is a launch error
    assert "gemm<<<dim3(N > 0 ? (N + 15) / 16 : 1, M > 0 ? (M + 15) / 16 : 1), dim3(16, 16)>>>" in text
    # the reduction over k stays a sequential loop inside the thread
    assert "for (int k = 0; k < K; k++)" in text


def test_dependent_loop_stays_sequential_and_verifies(tmp_path: Path) -> None:
    module = parse_module(SCAN, "cpu")
    result = parallelise_gpu(module.function("scan"), module, "cuda")
    assert any("one thread" in n for n in result.notes), result.notes
    spec_dict = {
        "entry": "scan", "dims": {"N": 300},
        "args": [{"name": "x", "dtype": "f32", "shape": ["N"], "role": "input"},
                 {"name": "y", "dtype": "f32", "shape": ["N"], "role": "output"},
                 {"name": "n", "dtype": "i32", "role": "scalar", "value": "N"}],
        "reference": {"source": "scan.c"}}
    (tmp_path / "scan.c").write_text(SCAN)
    ref_spec = {**spec_dict, "reference": {"operator": "relu"}}  # only its args matter here
    (tmp_path / "scan.c.toml").write_text(tomli_w.dumps(ref_spec))
    spec = replace(parse_spec(spec_dict, path=tmp_path / "scan.cu.toml"), entry=result.kernels[0])
    verdict = get_platform("cuda").verify(print_module(result.module, "cuda"), spec,
                                          launcher=result.launcher)
    assert verdict.ok and verdict.mode in ("emulated", "device"), verdict.reason


def test_cpu_parallel_marks_outer_independent_loop() -> None:
    fn = parse_module(GEMM, "cpu").function("gemm")
    out, notes = parallelise_cpu(fn, num_threads=2)
    outer = next(s for s in out.body if isinstance(s, ir.For))
    assert outer.kind == ir.PARALLEL and outer.annotation("num_threads") == 2
    inner = next(s for s in outer.body if isinstance(s, ir.For))
    assert inner.kind == ir.SERIAL  # no nested parallel region
    assert "parallel for" in print_module(ir.Module((out,), "cpu"), "cpu")


def test_cpu_parallel_refuses_a_scan() -> None:
    fn = parse_module(SCAN, "cpu").function("scan")
    with pytest.raises(ir.NotApplicable, match="'y'"):
        parallelise_cpu(fn)
