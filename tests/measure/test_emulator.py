"""Tests of the CUDA/HIP CPU emulator: real CUDA programs built with g++ and checked against numpy.

The programs live in ``emulator_cases/``; where nvcc is installed they are also compiled with
``nvcc -arch=sm_80 -c`` so the tests provably use only real CUDA.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from measure.emulator import compile_command, header_dir, prepare_source

CASES = Path(__file__).parent / "emulator_cases"
CUDA_CASES = sorted(p.name for p in CASES.glob("*.cu"))


def build(name: str, tmp_path: Path) -> Path:
    """Prepare and compile one case program; returns the executable."""
    src = CASES / name
    platform = "hip" if src.suffix == ".cpp" else "cuda"
    cpp = tmp_path / f"{src.stem}.emu.cpp"
    cpp.write_text(prepare_source(src.read_text(), platform))
    exe = tmp_path / src.stem
    cmd = compile_command(cpp, exe, platform) + ["-I", str(CASES)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return exe


def run(exe: Path, *args: object, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(exe), *map(str, args)], cwd=exe.parent, capture_output=True, text=True, timeout=timeout
    )


def run_ok(exe: Path, *args: object) -> str:
    res = run(exe, *args)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


# ---- the rewrite ----------------------------------------------------------------------------------


def test_prepare_source_rewrites_includes_and_launches() -> None:
    src = """#include <cuda_runtime.h>
#include "cuda_fp16.h"
#include <vector>
template <typename T> __global__ void k(T* a, int n) { a[n] = 0; }
__global__ void __launch_bounds__(256, 2) g(float* a) {
  __shared__ float t[16][17], u[4];
  extern __shared__ float dyn[];
  a[0] = t[0][0] + u[0] + dyn[0];
}
void host(float* d, cudaStream_t s) {
  k<float><<<dim3(2, 2), 64, 128, s>>>(d,
      3);
  g<<<1, 32>>>(d);
}
"""
    out = prepare_source(src, "cuda")
    body = out.split("#line 1\n", 1)[1]
    assert body.count("\n") == src.count("\n")  # line numbers of the user's code are kept
    assert "<<<" not in out
    includes = re.findall(r"^#include (.*)$", body, re.M)
    assert includes == ["<vector>"]
    assert '#include "cuda_emu.h"' in out and "EMU_PLATFORM_HIP" not in out
    assert 'LaunchCfg(__FILE__, __LINE__, "k<float>", dim3(2, 2), 64, 128, s)' in out
    assert "{ k<float>(emu_a_...); }, d,\n      3)" in out
    assert "{ EMU_LAUNCH_BOUNDS(256, 2);" in out
    assert "EMU_NOTE_SHARED(t); EMU_NOTE_SHARED(u);" in out
    assert "float (*const dyn) = static_cast<float (*)>(::emu::dyn_shared_ptr());" in out


def test_prepare_source_hip_launch_and_platform() -> None:
    src = "#include <hip/hip_runtime.h>\nvoid h(float* d) { hipLaunchKernelGGL(k, dim3(1), dim3(64), 0, 0, d, 4); }\n"
    out = prepare_source(src, "hip")
    assert "#define EMU_PLATFORM_HIP 1" in out
    assert 'LaunchCfg(__FILE__, __LINE__, "k", dim3(1), dim3(64), 0, 0), [&](auto&&... emu_a_) { k(emu_a_...); }, d, 4)' in out
    with pytest.raises(ValueError):
        prepare_source(src, "bang")


def test_compile_command() -> None:
    cmd = compile_command(Path("a.cpp"), Path("a.out"), "hip")
    assert cmd[0] == "g++" and "-std=c++17" in cmd and "-O2" in cmd and "-DEMU_PLATFORM_HIP=1" in cmd
    assert cmd[cmd.index("-I") + 1] == str(header_dir()) and (header_dir() / "cuda_emu.h").is_file()
    assert "-DEMU_PLATFORM_HIP=1" not in compile_command(Path("a.cpp"), Path("a.out"), "cuda")


# ---- programs -------------------------------------------------------------------------------------


def test_vector_add_grid_stride(tmp_path: Path) -> None:
    exe = build("vadd.cu", tmp_path)
    rng = np.random.default_rng(1)
    n = 1000
    a, b = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    a.tofile(tmp_path / "a.bin")
    b.tofile(tmp_path / "b.bin")
    out = run_ok(exe, n)
    np.testing.assert_array_equal(np.fromfile(tmp_path / "c.bin", np.float32), a + b)
    assert float(re.search(r"elapsed_ms (\S+)", out).group(1)) >= 0.0  # type: ignore[union-attr]


def _gemm(tmp_path: Path, exe: Path, m: int, n: int, k: int) -> float:
    rng = np.random.default_rng(m * n * k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    a.tofile(tmp_path / "a.bin")
    b.tofile(tmp_path / "b.bin")
    start = time.perf_counter()
    run_ok(exe, m, n, k)
    elapsed = time.perf_counter() - start
    c = np.fromfile(tmp_path / "c.bin", np.float32).reshape(m, n)
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4)
    return elapsed


def test_tiled_gemm_sizes_not_multiple_of_tile(tmp_path: Path) -> None:
    exe = build("gemm_tiled.cu", tmp_path)
    _gemm(tmp_path, exe, 37, 29, 45)


def test_tiled_gemm_128_is_fast(tmp_path: Path) -> None:
    exe = build("gemm_tiled.cu", tmp_path)
    assert _gemm(tmp_path, exe, 128, 128, 128) < 2.0  # 64 blocks x 256 threads x 16 barriers


def test_tree_and_warp_shuffle_reductions(tmp_path: Path) -> None:
    exe = build("reduce_tree.cu", tmp_path)
    n = 1024
    x = np.random.default_rng(2).integers(-8, 8, n).astype(np.float32)  # exact sums in float
    x.tofile(tmp_path / "x.bin")
    run_ok(exe, n)

    def load(name: str) -> np.ndarray:
        return np.fromfile(tmp_path / name, np.float32)

    np.testing.assert_array_equal(load("partial.bin"), x.reshape(-1, 256).sum(axis=1))
    warps = x.reshape(-1, 32)
    np.testing.assert_array_equal(load("warp.bin"), warps.sum(axis=1))
    np.testing.assert_array_equal(load("all.bin"), np.repeat(warps.sum(axis=1), 32))
    np.testing.assert_array_equal(load("scan.bin"), np.cumsum(warps, axis=1).ravel())
    np.testing.assert_array_equal(load("bcast.bin"), np.repeat(x.reshape(-1, 16)[:, 3], 16))


def test_atomic_histograms(tmp_path: Path) -> None:
    exe = build("histogram.cu", tmp_path)
    n = 3000
    x = np.random.default_rng(3).integers(0, 1000, n).astype(np.int32)
    x.tofile(tmp_path / "x.bin")
    out = run_ok(exe, n)
    h = np.fromfile(tmp_path / "h.bin", np.uint32).reshape(2, 64)
    expected = np.bincount(x % 64, minlength=64)
    np.testing.assert_array_equal(h[0], expected)
    np.testing.assert_array_equal(h[1], expected)
    assert f"fsum {n * 0.5:.1f}" in out


def test_dynamic_shared_memory(tmp_path: Path) -> None:
    exe = build("dyn_shared.cu", tmp_path)
    block, blocks = 96, 4
    x = np.random.default_rng(4).standard_normal(block * blocks).astype(np.float32)
    x.tofile(tmp_path / "x.bin")
    run_ok(exe, block, blocks)
    y = np.fromfile(tmp_path / "y.bin", np.float32)
    np.testing.assert_array_equal(y, x.reshape(blocks, block)[:, ::-1].ravel())
    t = np.fromfile(tmp_path / "t.bin", np.float32)
    np.testing.assert_array_equal(t, x.reshape(-1, 8, 8).transpose(0, 2, 1).ravel())
    pos = np.fromfile(tmp_path / "pos.bin", np.int32)
    np.testing.assert_array_equal(pos, (x.reshape(blocks, block) > 0).sum(axis=1))


def test_wmma_fp16_gemm(tmp_path: Path) -> None:
    exe = build("wmma_gemm.cu", tmp_path)
    m, n, k = 32, 48, 64
    rng = np.random.default_rng(5)
    a = rng.standard_normal((m, k)).astype(np.float16)
    bt = rng.standard_normal((n, k)).astype(np.float16)  # B column-major = B^T row-major
    a.tofile(tmp_path / "a.bin")
    bt.tofile(tmp_path / "b.bin")
    run_ok(exe, m, n, k)
    c = np.fromfile(tmp_path / "c.bin", np.float32).reshape(m, n)
    ref = 2.0 * (a.astype(np.float64) @ bt.astype(np.float64).T)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-3)


def test_dp4a_and_half(tmp_path: Path) -> None:
    exe = build("dp4a_half.cu", tmp_path)
    rng = np.random.default_rng(6)
    n = 200
    a, b, c = (rng.integers(-(2**31), 2**31, n, dtype=np.int64).astype(np.int32) for _ in range(3))
    special = np.array([1.0009765625, 65504.0, 65520.0, 1e-8, 2.0**-24 * 1.5, -0.0, 3.14159, 6e-5], np.float32)
    x = np.concatenate([special, rng.standard_normal(n - len(special)).astype(np.float32) * 100])
    y = rng.standard_normal(n).astype(np.float32)
    for name, arr in {"a": a, "b": b, "c": c, "x": x, "y": y}.items():
        arr.tofile(tmp_path / f"{name}.bin")
    run_ok(exe, n)
    sa, sb = a.view(np.int8).reshape(n, 4).astype(np.int64), b.view(np.int8).reshape(n, 4).astype(np.int64)
    ua, ub = a.view(np.uint8).reshape(n, 4).astype(np.int64), b.view(np.uint8).reshape(n, 4).astype(np.int64)
    signed = ((sa * sb).sum(axis=1) + c) % 2**32
    unsigned = ((ua * ub).sum(axis=1) + c.view(np.uint32)) % 2**32
    np.testing.assert_array_equal(np.fromfile(tmp_path / "s.bin", np.uint32), signed.astype(np.uint32))
    np.testing.assert_array_equal(np.fromfile(tmp_path / "u.bin", np.uint32), unsigned.astype(np.uint32))

    def half(name: str) -> np.ndarray:
        return np.fromfile(tmp_path / name, np.float16)

    with np.errstate(over="ignore", invalid="ignore"):  # 65520 rounds to inf on purpose
        hx, hy = x.astype(np.float16), y.astype(np.float16)
        fma = (hx.astype(np.float64) * hy + hx).astype(np.float16)  # exact in double, one rounding
    np.testing.assert_array_equal(half("h.bin").view(np.uint16), hx.view(np.uint16))
    np.testing.assert_array_equal(np.fromfile(tmp_path / "back.bin", np.float32), hx.astype(np.float32))
    np.testing.assert_array_equal(half("sum.bin"), hx + hy)
    np.testing.assert_array_equal(half("prod.bin"), hx * hy)
    np.testing.assert_array_equal(half("fma.bin"), fma)


def test_launch_errors_like_cuda(tmp_path: Path) -> None:
    exe = build("launch_errors.cu", tmp_path)
    res = run(exe)
    assert res.returncode == 0, res.stderr
    lines = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert lines["bounded128"] == "0 no error"
    assert lines["bounded256"] == "701 too many resources requested for launch"
    assert lines["threads2048"] == "9 invalid configuration argument"
    assert lines["sync"] == "9"  # the failed launch also shows at cudaDeviceSynchronize
    assert lines["blockz65"].startswith("9 ") and lines["grid0"].startswith("9 ")
    assert lines["shared56k"] == "1 invalid argument"
    assert lines["shared40k"] == "0 no error" and lines["after"] == "0 no error"
    # the failed launches did not run: value0 stays 0 after the 256-thread launch, 41 only at the end
    assert res.stdout.count("value0 0") == 1 and "value0 41" in res.stdout and "value127 128" in res.stdout
    assert "__launch_bounds__(128)" in res.stderr


def test_out_of_bounds_write_segfaults(tmp_path: Path) -> None:
    exe = build("faults.cu", tmp_path)
    res = run(exe, "oob")
    assert res.returncode == -signal.SIGSEGV
    assert "invalid memory access" in res.stderr and "thread (100,0,0)" in res.stderr
    assert "finished" not in res.stdout


@pytest.mark.parametrize("mode", ["deadlock", "shfl_deadlock"])
def test_deadlock_is_reported_not_hung(tmp_path: Path, mode: str) -> None:
    exe = build("faults.cu", tmp_path)
    res = run(exe, mode, timeout=20)
    assert res.returncode == 3
    assert "emulator: deadlock" in res.stderr and "finished" not in res.stdout


def test_unwritten_device_memory_is_poisoned(tmp_path: Path) -> None:
    exe = build("faults.cu", tmp_path)
    out = run_ok(exe, "poison")
    assert "nan" in out.split("poison", 1)[1].lower()


def test_warp_edge_cases(tmp_path: Path) -> None:
    exe = build("warp_edges.cu", tmp_path)
    out = run_ok(exe)
    vals = {tuple(m.group(1, 2)): m.group(3) for m in re.finditer(r"(\w+) (\d+) (\S+)", out)}
    for t in range(40):
        lane, size = t % 32, 32 if t < 32 else 8
        expected = t + 4 if lane + 4 < size else t  # out of range / missing lane: own value
        assert float(vals["down", str(t)]) == expected
        if lane < 16:
            assert float(vals["xor", str(t)]) == t ^ 1
    assert [int(vals["mask", str(i)], 16) for i in range(6)] == [0xFFFFFFFF, 0xFF, 0xFFFF, 0xFF, 2, 2]


def test_hip_wavefront_64(tmp_path: Path) -> None:
    exe = build("hip_warp64.cpp", tmp_path)
    out = run_ok(exe)
    assert "warpSize 64" in out
    x = (np.arange(256) % 17 - 3).astype(np.float32).reshape(4, 64)
    for w in range(4):  # the ballot tests threadIdx.x % 3; 2 waves per 128-thread block
        expected_ballot = sum(1 << i for i in range(64) if (i + 64 * (w % 2)) % 3 == 0)
        assert f"sum {w} {x[w].sum():.1f} ballot {expected_ballot:x}" in out


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
@pytest.mark.parametrize("name", CUDA_CASES)
def test_cases_are_real_cuda(tmp_path: Path, name: str) -> None:
    cmd = ["nvcc", "-arch=sm_80", "-I", str(CASES), "-c", str(CASES / name), "-o", str(tmp_path / "x.o")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


HIP_DIVERGED = """#include <hip/hip_runtime.h>
#include <cstdio>
// Lanes 0..31 of a 64-lane wavefront reduce with 32-wide shuffles while lanes 32..63 have
// already gone on to the barrier: on AMD hardware the inactive lanes simply do not take part.
__global__ void k(float* out) {
    __shared__ float s[64];
    float v = (float)threadIdx.x;
    if (threadIdx.x < 32) {
        for (int off = 16; off > 0; off >>= 1) v += __shfl_xor(v, off, 32);
        s[threadIdx.x] = v;
    }
    __syncthreads();
    if (threadIdx.x == 0) out[0] = s[0];
}
int main() {
    float* d; hipMalloc(&d, sizeof(float));
    hipLaunchKernelGGL(k, dim3(1), dim3(64), 0, 0, d);
    float h = 0; hipMemcpy(&h, d, sizeof(float), hipMemcpyDeviceToHost);
    if (hipDeviceSynchronize() != hipSuccess) return 5;
    printf("%g\\n", h);
    return 0;
}
"""


def test_hip_collective_in_diverged_wavefront_completes(tmp_path: Path) -> None:
    cpp = tmp_path / "div.cpp"
    cpp.write_text(prepare_source(HIP_DIVERGED, "hip"))
    exe = tmp_path / "div"
    res = subprocess.run(compile_command(cpp, exe, "hip"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = run_ok(exe)
    assert float(out) == sum(range(32))


def test_cuda_full_mask_shuffle_with_lanes_at_a_barrier_is_a_deadlock(tmp_path: Path) -> None:
    # the same program in CUDA (full mask, lanes missing) is undefined: the emulator reports it
    src = HIP_DIVERGED.replace("<hip/hip_runtime.h>", "<cuda_runtime.h>").replace(
        "__shfl_xor(v, off, 32)", "__shfl_xor_sync(0xffffffffu, v, off, 32)").replace(
        "if (threadIdx.x < 32)", "if (threadIdx.x < 16)").replace(
        "hipMalloc", "cudaMalloc").replace("hipLaunchKernelGGL(k, dim3(1), dim3(64), 0, 0, d)",
                                           "k<<<1, 64>>>(d)").replace(
        "hipMemcpyDeviceToHost", "cudaMemcpyDeviceToHost").replace("hipMemcpy", "cudaMemcpy").replace(
        "hipDeviceSynchronize() != hipSuccess", "cudaDeviceSynchronize() != cudaSuccess")
    cpp = tmp_path / "div.cpp"
    cpp.write_text(prepare_source(src, "cuda"))
    exe = tmp_path / "div"
    res = subprocess.run(compile_command(cpp, exe, "cuda"), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    r = run(exe)
    assert r.returncode != 0 and "deadlock" in r.stderr
