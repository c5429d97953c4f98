"""Loop recovery: CUDA kernels become sequential C that computes the same thing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from measure.operators import OPERATORS
from measure.platforms import get_platform
from measure.spec import parse_spec
from passes import ir
from passes.frontend import parse_module
from passes.loop_recovery import Geometry, eliminate_returns, recover_loops
from passes.printer import print_module
from passes.translate import translate


def _block_sums(inputs: dict[str, np.ndarray], dims: dict[str, int], params: dict[str, Any]) -> dict[str, np.ndarray]:
    x = inputs["x"].astype(np.float64)
    b = int(params["block"])
    n = x.size
    nblocks = (n + b - 1) // b
    padded = np.zeros(nblocks * b)
    padded[:n] = x
    return {"out": padded.reshape(nblocks, b).sum(axis=1).astype(np.float32)}


OPERATORS.setdefault("test_block_sums", _block_sums)

SPEC = {
    "entry": "block_sum", "dims": {"N": 1000, "NB": 4},
    "args": [
        {"name": "x", "dtype": "f32", "shape": ["N"], "role": "input"},
        {"name": "out", "dtype": "f32", "shape": ["NB"], "role": "output"},
        {"name": "n", "dtype": "i32", "role": "scalar", "value": "N"},
    ],
    "launch": {"grid": ["NB"], "block": [256]},
    "reference": {"operator": "test_block_sums", "params": {"block": 256}},
}

TREE = """
__global__ void block_sum(const float* x, float* out, int n) {
    __shared__ float s[256];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    s[threadIdx.x] = i < n ? x[i] : 0.0f;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (threadIdx.x < stride) s[threadIdx.x] += s[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[blockIdx.x] = s[0];
}
"""

SHUFFLE = """
__device__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffff, v, off);
    return v;
}
__global__ void block_sum(const float* x, float* out, int n) {
    __shared__ float part[8];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : 0.0f;
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
    __syncthreads();
    if (threadIdx.x < 32) {
        float w = threadIdx.x < 8 ? part[threadIdx.x] : 0.0f;
        w = warp_sum(w);
        if (threadIdx.x == 0) out[blockIdx.x] = w;
    }
}
"""

ATOMIC = """
__global__ void block_sum(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    if (threadIdx.x == 0) out[blockIdx.x] = 0.0f;
    __syncthreads();
    atomicAdd(&out[blockIdx.x], x[i]);
}
"""


@pytest.mark.parametrize("source", [TREE, SHUFFLE, ATOMIC], ids=["tree", "shuffle", "atomic"])
def test_reductions_across_threads_verify_on_cpu(source: str) -> None:
    spec = parse_spec(SPEC)
    t = translate(source, "cuda", "cpu", spec)
    assert "__syncthreads" not in t.text and "threadIdx" not in t.text
    verdict = get_platform("cpu").verify(t.text, spec)
    assert verdict.ok, verdict.reason + "\n" + t.text


def test_emulated_source_agrees_with_reference() -> None:
    # the same reference passes for the untranslated CUDA kernels: the test is not vacuous
    verdict = get_platform("cuda").verify(TREE, parse_spec(SPEC))
    assert verdict.ok and verdict.mode in ("emulated", "device"), verdict.reason


def test_wrong_translation_would_be_caught() -> None:
    # dropping the barrier's meaning (one fused thread loop) changes the result: reading
    # s[tid + stride] before the other thread wrote it. Build that wrong program by hand.
    spec = parse_spec(SPEC)
    wrong = TREE.replace("__syncthreads();", "")
    t = translate(wrong, "cuda", "cpu", spec)
    verdict = get_platform("cpu").verify(t.text, spec)
    assert not verdict.ok


def test_barrier_in_thread_dependent_loop_is_rejected() -> None:
    src = """__global__ void k(float* y, int n) {
        for (int i = threadIdx.x; i < n; i += 32) { y[i] = 1.0f; __syncthreads(); }
    }"""
    module = parse_module(src, "cuda")
    geo = Geometry((ir.Const(1), ir.Const(1), ir.Const(1)), (32, 1, 1))
    with pytest.raises(ir.UnsupportedConstruct, match="barrier"):
        recover_loops(module.function("k"), module, geo)


def test_recovered_code_has_no_gpu_constructs_and_prints_as_c() -> None:
    module = parse_module(TREE, "cuda")
    geo = Geometry((ir.Var("n", "i32"), ir.Const(1), ir.Const(1)), (256, 1, 1))
    fn = recover_loops(module.function("block_sum"), module, geo)
    assert not any(isinstance(n, (ir.Builtin, ir.Sync)) for n in ir.walk(fn))
    text = print_module(ir.Module((fn,), "cpu"), "cpu")
    assert "for (unsigned int tx = 0u; tx < 256u; tx++)" in text


def test_early_return_becomes_a_guard() -> None:
    body = [ir.If(ir.BinOp(">=", ir.Var("i"), ir.Var("n")), (ir.Return(),)),
            ir.Store("y", (ir.Var("i"),), ir.Const(1.0, "f32"))]
    out = eliminate_returns(body, 1, {"i": "i32", "n": "i32"})
    assert out == [ir.If(ir.BinOp("<", ir.Var("i"), ir.Var("n")),
                         (ir.Store("y", (ir.Var("i"),), ir.Const(1.0, "f32")),))]


def test_float_guard_is_not_flipped() -> None:
    # !(a >= b) differs from a < b when a is NaN
    cond = ir.BinOp(">=", ir.Var("a", "f32"), ir.Const(0.0, "f32"))
    out = eliminate_returns([ir.If(cond, (ir.Return(),)), ir.Store("y", (ir.Const(0),), ir.Var("a", "f32"))],
                            1, {"a": "f32"})
    assert isinstance(out[0], ir.If) and out[0].cond == ir.UnOp("!", cond)
