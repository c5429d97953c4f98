"""WMMA end to end: front end, CUDA printer, lowering (passes/wmma.py) and the translation pipeline.

Two kernels, both m16n16k16 on half inputs with one warp per 16x16 output tile:
- ``GEMM_CU``: fp32 accumulator, A and B row-major straight from global memory (the corpus
  ``gemm_f16`` operator is the reference);
- ``NT_CU``: bare names after ``using namespace nvcuda::wmma``, A staged through shared memory by
  the lanes of the warp (so the warp rendezvous of ``load_matrix_sync`` matters after lowering),
  B column-major, a half accumulator loaded column-major from D and stored column-major (a
  reference registered here).
Each is verified untranslated (CUDA emulator, or the GPU where there is one), and translated
cuda->cpu (run natively) and cuda->hip (HIP emulator), against its numpy reference.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from measure.operators import OPERATORS
from measure.operators.registry import operator
from measure.platforms import get_platform
from measure.spec import KernelSpec, parse_spec
from measure.toolchain import find_nvcc, nvidia_gpu
from passes import ir
from passes.frontend import parse_module
from passes.printer import print_module
from passes.translate import translate
from passes.wmma import FragmentType, has_wmma, lower_wmma

GEMM_CU = """\
// fp16 GEMM on tensor cores: C = A @ B, one warp per 16x16 tile, 2 warps per block.
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

#define TILE 16

__global__ void gemm_f16(const half* __restrict__ A, const half* __restrict__ B, float* __restrict__ C,
                         int M, int N, int K) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) / warpSize;
    int tiles_n = N / TILE;
    int tm = warp / tiles_n;
    int tn = warp % tiles_n;
    if (tm * TILE >= M) {
        return;
    }
    wmma::fragment<wmma::matrix_a, TILE, TILE, TILE, half, wmma::row_major> a;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, half, wmma::row_major> b;
    nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> acc;
    wmma::fill_fragment(acc, 0.0f);
    for (int k = 0; k < K; k += TILE) {
        wmma::load_matrix_sync(a, A + tm * TILE * K + k, K);
        wmma::load_matrix_sync(b, &B[k * N + tn * TILE], N);
        wmma::mma_sync(acc, a, b, acc);
    }
    nvcuda::wmma::store_matrix_sync(C + tm * TILE * N + tn * TILE, acc, N, nvcuda::wmma::mem_row_major);
}
"""

NT_CU = """\
// Ct = (A @ Bt^T + Dt^T)^T in half: A (M x K) staged in shared memory, B column-major (Bt is
// N x K), a half accumulator loaded column-major from Dt (N x M) and stored column-major.
#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda::wmma;

__global__ void wmma_nt(const half* A, const half* Bt, const half* Dt, half* Ct, int M, int N, int K) {
    __shared__ half As[2][256];
    int w = threadIdx.y;
    int lane = threadIdx.x;
    int tile = blockIdx.x * 2 + w;
    int tm = tile / (N / 16);
    int tn = tile % (N / 16);
    if (tm * 16 >= M) {
        return;
    }
    fragment<matrix_a, 16, 16, 16, half, row_major> a;
    fragment<matrix_b, 16, 16, 16, half, col_major> b;
    fragment<accumulator, 16, 16, 16, half> acc;
    load_matrix_sync(acc, Dt + tn * 16 * M + tm * 16, M, mem_col_major);
    for (int k = 0; k < K; k += 16) {
        for (int e = lane; e < 256; e += 32) {
            As[w][e] = A[(tm * 16 + e / 16) * K + k + e % 16];
        }
        load_matrix_sync(a, &As[w][0], 16);
        load_matrix_sync(b, Bt + tn * 16 * K + k, K);
        mma_sync(acc, a, b, acc);
        __syncwarp();
    }
    store_matrix_sync(Ct + tn * 16 * M + tm * 16, acc, M, mem_col_major);
}
"""

GEMM_SPEC = """
entry = "gemm_f16"
[dims]
M = 32
N = 48
K = 64
[[args]]
name = "A"
dtype = "f16"
shape = ["M", "K"]
role = "input"
range = [-1.0, 1.0]
[[args]]
name = "B"
dtype = "f16"
shape = ["K", "N"]
role = "input"
range = [-1.0, 1.0]
[[args]]
name = "C"
dtype = "f32"
shape = ["M", "N"]
role = "output"
[[args]]
name = "M"
dtype = "i32"
role = "scalar"
value = "M"
[[args]]
name = "N"
dtype = "i32"
role = "scalar"
value = "N"
[[args]]
name = "K"
dtype = "i32"
role = "scalar"
value = "K"
[launch]
grid = ["(M / 16) * (N / 16) / 2", 1, 1]
block = [64, 1, 1]
[reference]
operator = "gemm_f16"
[tolerance]
rtol = 1e-4
atol = 1e-4
"""

NT_OP = "test_wmma_nt_f16"
NT_SPEC = f"""
entry = "wmma_nt"
[dims]
M = 32
N = 48
K = 64
[[args]]
name = "A"
dtype = "f16"
shape = ["M", "K"]
role = "input"
range = [-1.0, 1.0]
[[args]]
name = "Bt"
dtype = "f16"
shape = ["N", "K"]
role = "input"
range = [-1.0, 1.0]
[[args]]
name = "Dt"
dtype = "f16"
shape = ["N", "M"]
role = "input"
range = [-1.0, 1.0]
[[args]]
name = "Ct"
dtype = "f16"
shape = ["N", "M"]
role = "output"
[[args]]
name = "M"
dtype = "i32"
role = "scalar"
value = "M"
[[args]]
name = "N"
dtype = "i32"
role = "scalar"
value = "N"
[[args]]
name = "K"
dtype = "i32"
role = "scalar"
value = "K"
[launch]
grid = ["(M / 16) * (N / 16) / 2", 1, 1]
block = [32, 2, 1]
[reference]
operator = "{NT_OP}"
[tolerance]
rtol = 2e-3
atol = 2e-3
"""


def _nt_reference(inputs: dict[str, np.ndarray], dims: dict[str, int],
                  params: dict[str, Any]) -> dict[str, np.ndarray]:
    a, bt, dt = (np.asarray(inputs[n], np.float64) for n in ("A", "Bt", "Dt"))
    return {"Ct": (a @ bt.T + dt.T).T.astype(np.float16)}


if NT_OP not in OPERATORS:
    operator(NT_OP)(_nt_reference)

KERNELS = {"gemm_f16": (GEMM_CU, GEMM_SPEC), "wmma_nt": (NT_CU, NT_SPEC)}


def spec_of(name: str) -> KernelSpec:
    return parse_spec(tomllib.loads(KERNELS[name][1]))


@cache
def _has_gpu() -> bool:
    return find_nvcc() is not None and nvidia_gpu() is not None


def raises(src: str, construct: str, line: int, platform: str = "cuda") -> ir.UnsupportedConstruct:
    with pytest.raises(ir.UnsupportedConstruct) as info:
        parse_module(src, platform)
    assert construct in str(info.value), info.value
    assert info.value.line == line, info.value
    return info.value


# ------------------------------------------------------------------------------ front end


def test_parse_ir_form() -> None:
    fn = parse_module(GEMM_CU, "cuda").function("gemm_f16")
    decls = {s.name: s for s in fn.body if isinstance(s, ir.Decl)}
    assert decls["a"].dtype == "wmma:matrix_a:16x16x16:f16:row_major"
    assert decls["b"].dtype == "wmma:matrix_b:16x16x16:f16:row_major"
    assert decls["acc"].dtype == "wmma:accumulator:16x16x16:f32"
    calls = [n for n in ir.walk(fn) if isinstance(n, ir.Call) and n.name.startswith("wmma::")]
    assert [c.name for c in calls] == ["wmma::fill_fragment", "wmma::load_matrix_sync",
                                       "wmma::load_matrix_sync", "wmma::mma_sync",
                                       "wmma::store_matrix_sync"]
    load_a, store = calls[1], calls[4]
    assert isinstance(load_a.args[1], ir.AddressOf) and load_a.args[1].buffer == "A"
    assert isinstance(store.args[0], ir.AddressOf) and store.args[0].buffer == "C"
    assert store.args[3] == ir.Var("wmma::mem_row_major")
    acc = FragmentType.parse(decls["acc"].dtype)
    assert (acc.use, acc.rows, acc.cols, acc.elem, acc.layout) == ("accumulator", 16, 16, "f32", None)
    assert FragmentType.parse(decls["b"].dtype).dtype == decls["b"].dtype


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_round_trip(name: str) -> None:
    """parse -> print -> parse gives the same IR, and printing is then stable."""
    first = parse_module(KERNELS[name][0], "cuda")
    text = print_module(first, "cuda")
    assert "#include <mma.h>" in text and "using namespace nvcuda;" in text
    second = parse_module(text, "cuda")
    for f, g in zip(first.functions, second.functions, strict=True):
        assert (f.name, f.params, f.body) == (g.name, g.params, g.body)
    assert print_module(second, "cuda") == text


def test_spellings_and_function_level_using() -> None:
    src = """#include <mma.h>
__global__ void k(const half* A, half* C) {
    using namespace nvcuda;
    nvcuda::wmma::fragment<wmma::accumulator, 16, 16, 16, half> c;
    wmma::load_matrix_sync(c, A, 16, wmma::mem_col_major);
    wmma::store_matrix_sync(C, c, 16, nvcuda::wmma::mem_row_major);
}
"""
    fn = parse_module(src, "cuda").function("k")
    assert fn.body[0] == ir.Decl("c", "wmma:accumulator:16x16x16:f16")
    # without any using directive, only the fully qualified spelling is known
    exc = raises(src.replace("    using namespace nvcuda;\n", ""), "wmma::accumulator", 3)
    assert "using namespace nvcuda" in exc.detail


@pytest.mark.parametrize("snippet, construct, line", [
    ("wmma::fragment<wmma::matrix_a, 32, 8, 16, half, wmma::row_major> a;", "only m16n16k16", 4),
    ("wmma::fragment<wmma::matrix_a, 16, 16, 16, float, wmma::row_major> a;", "only f16", 4),
    ("wmma::fragment<wmma::accumulator, 16, 16, 16, int> c;", "only f32 or f16", 4),
    ("wmma::fragment<wmma::matrix_a, 16, 16, 16, half> a;", "without a layout", 4),
    ("wmma::fragment<wmma::accumulator, 16, 16, 16, float> c[2];", "array of WMMA fragment", 4),
    ("wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;\n"
     "    wmma::fill_fragment(c, 0.0f);\n    c.x[0] = 1.0f;", "element access to WMMA fragment", 6),
    ("wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;\n"
     "    wmma::load_matrix_sync(c, A, 16, wmma::mem_row_major);", "f16 memory with a f32 fragment", 5),
    ("wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;\n"
     "    wmma::store_matrix_sync(C, a, 16, wmma::mem_row_major);", "store_matrix_sync of a matrix_a", 5),
    ("wmma::fragment<wmma::matrix_a, 16, 16, 16, half, wmma::row_major> a;\n"
     "    wmma::load_matrix_sync(a, A, 16, wmma::mem_row_major);", "expects 3 arguments", 5),
    ("float v = 0.0f;\n    wmma::fill_fragment(v, 0.0f);", "not a fragment variable", 5),
    ("wmma::bmma_sync(0);", "WMMA function 'bmma_sync'", 4),
])
def test_rejected(snippet: str, construct: str, line: int) -> None:
    src = ("#include <mma.h>\nusing namespace nvcuda;\n__global__ void k(const half* A, float* C) {\n"
           f"    {snippet}\n}}\n")
    exc = raises(src, construct, line)
    assert "unsupported construct" in str(exc)


def test_using_rejected_elsewhere() -> None:
    raises("using namespace std;\n__global__ void k(float* x) {}\n", "using namespace std", 1)
    raises("using namespace nvcuda;\n__global__ void k(float* x) {}\n", "in hip code", 1, "hip")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_nvcc_accepts_printed_kernels(tmp_path: Path) -> None:
    for name, (src, _) in KERNELS.items():
        path = tmp_path / f"{name}.cu"
        path.write_text(print_module(parse_module(src, "cuda"), "cuda"))
        proc = subprocess.run(["nvcc", "-arch=sm_80", "-c", "-o", str(tmp_path / f"{name}.o"), str(path)],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr + "\n" + path.read_text()


# ------------------------------------------------------------------------------ lowering


def test_lowering_shape() -> None:
    fn = lower_wmma(parse_module(GEMM_CU, "cuda").function("gemm_f16"))
    assert not has_wmma(fn)
    arrays = {n.name: n for n in ir.walk(fn) if isinstance(n, ir.Decl) and n.shape}
    assert arrays["a"] == ir.Decl("a", "f16", (16, 16), scope=ir.LOCAL)
    assert arrays["acc"] == ir.Decl("acc", "f32", (16, 16), scope=ir.LOCAL)
    # loads of read-only inputs and a store nothing reads need no warp rendezvous
    assert not any(isinstance(n, ir.Sync) for n in ir.walk(fn))
    nt = lower_wmma(parse_module(NT_CU, "cuda").function("wmma_nt"))
    loop = next(s for s in ir.walk(nt) if isinstance(s, ir.For) and s.var == "k")
    kinds = [type(s).__name__ for s in loop.body]
    # lanes wrote As element by element: the warp meets before the fragment load reads it
    assert kinds == ["For", "Sync", "For", "For", "Decl", "For", "Sync"] or \
        kinds[:3] == ["For", "Sync", "For"], kinds


def test_lowering_not_applicable() -> None:
    fn = parse_module("__global__ void k(float* x) { x[0] = 1.0f; }\n", "cuda").function("k")
    with pytest.raises(ir.NotApplicable, match="no WMMA"):
        lower_wmma(fn)


def test_cuda_to_cuda_keeps_wmma() -> None:
    t = translate(GEMM_CU, "cuda", "cuda", spec_of("gemm_f16"))
    assert "wmma_lowering" not in t.passes
    assert "wmma::mma_sync(acc, a, b, acc);" in t.text


# ------------------------------------------------------------------------------ verified runs


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_untranslated_kernel_verifies(name: str) -> None:
    verdict = get_platform("cuda").verify(KERNELS[name][0], spec_of(name))
    assert verdict.ok, verdict.reason
    assert verdict.mode == ("device" if _has_gpu() else "emulated")


@pytest.mark.parametrize("target", ["cpu", "hip"])
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_translated_kernel_verifies(name: str, target: str) -> None:
    spec = spec_of(name)
    t = translate(KERNELS[name][0], "cuda", target, spec)
    assert t.passes[0] == "wmma_lowering"
    if target == "cpu":
        assert t.passes.index("wmma_lowering") < t.passes.index("loop_recovery")
    assert "wmma" not in t.text.replace("wmma_", "")
    new_spec = replace(spec, entry=t.entry)
    if target == "cpu" or t.launcher is not None:
        new_spec = replace(new_spec, launch=None)
    verdict = get_platform(target).verify(t.text, new_spec, launcher=t.launcher)
    assert verdict.ok, verdict.reason + "\n" + t.text
    assert verdict.mode == ("device" if target == "cpu" else "emulated")
