"""Adversarial translations: awkward but legal kernels, broken kernels and unsupported constructs.

Every legal kernel under ``adversarial/`` is first verified on its own platform (so a failure
below is the translation's fault, not the kernel's), then translated with
``passes.translate.translate`` and verified on the target against a hand-written C reference
(``[reference] source``) or a corpus operator. CUDA/HIP results must have *run*: mode
``emulated`` here (``device`` for CUDA on a machine with an NVIDIA GPU), never just ``compiled``.

Broken kernels (an out-of-bounds write, an endless loop, a wrong result) must come back as a
failed ``Verdict`` with a reason, before and after translation, without taking the test run down.
Unsupported constructs must raise ``ir.UnsupportedConstruct`` naming the construct and its line.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Union

import pytest

from measure.platforms import Verdict, get_platform
from measure.sandbox import Limits
from measure.spec import KernelSpec, load_spec, parse_spec, platform_of, spec_path_for
from measure.toolchain import find_nvcc, nvidia_gpu
from passes import ir
from passes.translate import Translation, launch_plan, translate

HERE = Path(__file__).resolve().parent / "adversarial"
REPO = Path(__file__).resolve().parents[2]
# Small limits for the kernels that are meant to hang: a timeout must come quickly.
HANG_LIMITS = Limits(cpu_seconds=2, wall_seconds=5)


@cache
def _has_gpu() -> bool:
    return find_nvcc() is not None and nvidia_gpu() is not None


def expected_mode(platform: str) -> str:
    """How a run on ``platform`` is verified on this machine: CUDA/HIP must really run."""
    if platform == "cpu" or (platform == "cuda" and _has_gpu()):
        return "device"
    return "emulated"


def load(name: str) -> tuple[str, KernelSpec, str]:
    path = HERE / name
    return path.read_text(), load_spec(spec_path_for(path)), platform_of(path)


def verify_source(name: str, limits: Union[Limits, None] = None) -> Verdict:
    """Verify an adversarial kernel on its own platform, launched as its spec/file says."""
    text, spec, platform = load(name)
    if platform == "cpu":
        return get_platform(platform).verify(text, spec, limits=limits)
    plan = launch_plan(text, platform, spec)
    return get_platform(platform).verify(text, spec, geometry=plan.geometry,
                                         launcher=plan.launcher, limits=limits)


def translate_and_verify(name: str, target: str,
                         limits: Union[Limits, None] = None) -> tuple[Translation, Verdict]:
    """Translate ``name`` to ``target`` and verify it there, with the spec that the CLI would
    write beside it (same arguments and reference; the new entry; no [launch] when the result
    is C or brings its own launcher)."""
    text, spec, platform = load(name)
    t = translate(text, platform, target, spec)
    assert t.source_platform == platform and t.target_platform == target
    new_spec = replace(spec, entry=t.entry)
    if target == "cpu" or t.launcher is not None:
        new_spec = replace(new_spec, launch=None)
    return t, get_platform(target).verify(t.text, new_spec, launcher=t.launcher, limits=limits)


# ------------------------------------------------------------------------------ legal kernels

# CUDA sources: non-affine and indirect indexing, descending / from-1 / strided loops, extents
# that do not divide the block, shared-memory and warp-shuffle reductions, atomics, barriers in
# loops, early-return guards (barrier-free body; uniform per block before barriers), in-place.
GPU_SOURCES = [
    "sqmod.cu",        # y[i] = 2 x[(i*i) % n], n = 1000 with 256-thread blocks
    "gather.cu",       # y[i] = x[idx[i]]
    "rowscan.cu",      # descending suffix sum, then j = 1; j < cols; j += 3
    "add2d.cu",        # 37 x 29 with 16x16 blocks, transposed read
    "blocksum.cu",     # shared-memory tree reduction, barrier inside the halving loop
    "warpsum.cu",      # __shfl_down_sync reduction
    "warpxor.cu",      # __shfl_xor_sync butterfly (max)
    "atomicsum.cu",    # atomicAdd of every element into one inout int
    "atomicblock.cu",  # atomicAdd into __shared__, then one global atomicAdd per block
    "tiledgemm.cu",    # k-tiles with two __syncthreads per iteration, 19 x 23 x 21
    "guardrelu.cu",    # if (i >= n) return; before a barrier-free body
    "rowsum.cu",       # if (blockIdx.x >= rows) return; before barriers (2 spare blocks)
    "inplace.cu",      # x[i] = 2 x[i] on one inout buffer
    "shadow.cu",       # sibling scopes reuse a name around a warp shuffle
    "wrow.cu",         # one warp per row: a shuffle inside a loop with warp-uniform bounds
]

# C sources: the same shapes of code on the CPU, plus dependences that must stay sequential,
# OpenMP reductions and AVX-512 with a scalar remainder loop.
C_NAMES = [
    "sqmod.c",     # non-affine read index
    "gather.c",    # indirect read index, under omp parallel for
    "rowscan.c",   # independent rows, descending loop carrying a dependence inside
    "add2d.c",     # 2-D nest, 37 x 29
    "rowsum.c",    # reduction loop inside an OpenMP parallel loop
    "inplace.c",   # x[i] *= 2 on one inout buffer
    "recur.c",     # a[i] = a[i-1] + b[i]: must not be parallelised
    "prefix.c",    # prefix sum through a carried scalar
    "axpb.c",      # AVX-512 FMA with a scalar remainder loop
    "strided.c",   # from 1 with stride 3 reading what the previous nest wrote; descending by 2
    "ompsum.c",    # #pragma omp parallel for reduction(+:s)
    "dot.c",       # AVX-512 dot product, 'i + 16 <= n' vector loop, 'for (; i < n; i++)' tail
    "dotv.c",      # AVX-512 dot product, _mm512_reduce_add_ps into out[0], tail adds to out[0]
    "dot16.c",     # AVX-512 dot product, reduced into a scalar that the tail loop continues
]
C_SOURCES = list(C_NAMES)


@pytest.mark.parametrize("name", GPU_SOURCES + C_NAMES)
def test_adversarial_kernel_is_correct_on_its_own_platform(name: str) -> None:
    """The kernels themselves (and their references) are right; otherwise the tests below
    would prove nothing."""
    v = verify_source(name)
    assert v.ok, f"{name}: {v.reason}"
    assert v.mode == expected_mode(platform_of(HERE / name))


@pytest.mark.parametrize("target", ["cpu", "hip"])
@pytest.mark.parametrize("name", GPU_SOURCES)
def test_gpu_kernel_translates_and_verifies(name: str, target: str) -> None:
    t, v = translate_and_verify(name, target)
    assert v.ok, f"{name} -> {target}: {v.reason}\n{t.text}"
    assert v.mode == expected_mode(target), v.reason
    if target == "cpu":
        assert "loop_recovery" in t.passes
        assert not any(isinstance(n, (ir.Builtin, ir.Sync)) for n in ir.walk(t.module)), t.text


@pytest.mark.parametrize("target", ["cuda", "hip"])
@pytest.mark.parametrize("name", C_SOURCES)
def test_c_kernel_translates_and_verifies(name: str, target: str) -> None:
    t, v = translate_and_verify(name, target)
    assert v.ok, f"{name} -> {target}: {v.reason}\n{t.text}"
    assert v.mode == expected_mode(target), v.reason
    assert t.launcher is not None and f"{t.launcher}(" in t.text
    assert not any(isinstance(n, ir.Call) and n.name.startswith("_mm") for n in ir.walk(t.module))


@pytest.mark.parametrize("name, buffer", [("recur.c", "a"), ("prefix.c", "y")])
def test_loop_carried_dependence_is_not_parallelised(name: str, buffer: str) -> None:
    """The dependent loop must survive as a sequential loop inside a kernel: mapping its
    iterations to threads would race (and the emulator, running threads in order, might not
    notice)."""
    text, spec, _ = load(name)
    t = translate(text, "cpu", "cuda", spec)
    kernels = [f for f in t.module.functions if f.kind == ir.KERNEL]
    assert kernels
    loops = [n for f in kernels for n in ir.walk(f)
             if isinstance(n, ir.For) and n.var == "i" and buffer in ir.buffers_written(n)]
    assert loops, f"no sequential loop over 'i' writes {buffer!r}:\n{t.text}"


def test_warp_shuffles_keep_32_lane_segments_on_hip() -> None:
    """HIP wavefronts have 64 lanes: a CUDA warp reduction must still reduce over 32."""
    t, v = translate_and_verify("warpsum.cu", "hip")
    assert v.ok, v.reason
    shuffles = [n for n in ir.walk(t.module) if isinstance(n, ir.Call) and n.name.startswith("__shfl")]
    assert shuffles and all(len(s.args) == 4 and s.args[3] == ir.Const(32, "i32") for s in shuffles)


# ------------------------------------------------------------------------------ broken kernels


@pytest.mark.parametrize("target", ["source", "cpu", "hip"])
def test_wrong_result_is_reported(target: str) -> None:
    """relu that returns negatives unchanged: a mismatch, on CUDA and after translation."""
    if target == "source":
        v, mode = verify_source("wrongrelu.cu"), expected_mode("cuda")
    else:
        v, mode = translate_and_verify("wrongrelu.cu", target)[1], expected_mode(target)
    assert not v.ok and v.mode == mode
    assert "differ" in v.reason and v.comparison is not None and v.comparison.args["y"].mismatches > 0


@pytest.mark.parametrize("target", ["source", "cuda", "hip"])
def test_out_of_bounds_write_is_reported(target: str) -> None:
    """A C kernel that writes y[n]: the guard page after the buffer turns it into a crash."""
    if target == "cuda" and _has_gpu():
        pytest.skip("a real GPU does not fault on a 4-byte overrun inside its allocation granule")
    if target == "source":
        v, mode = verify_source("oob.c"), "device"
    else:
        v, mode = translate_and_verify("oob.c", target)[1], expected_mode(target)
    assert not v.ok and v.mode == mode
    assert re.search(r"out-of-bounds|invalid memory access|illegal memory access", v.reason), v.reason


@pytest.mark.parametrize("target", ["source", "cpu"])
def test_endless_loop_times_out(target: str) -> None:
    start = time.monotonic()
    if target == "source":
        v, mode = verify_source("hang.cu", HANG_LIMITS), expected_mode("cuda")
    else:
        v, mode = translate_and_verify("hang.cu", target, HANG_LIMITS)[1], expected_mode(target)
    assert not v.ok and v.mode == mode
    assert "timed out" in v.reason, v.reason
    assert time.monotonic() - start < 60  # a build and one limited run, not a hang


# ------------------------------------------------------------------------------ unsupported

# (source platform, source with "// <-" on the line(s) the error may name, pattern of the name)
UNSUPPORTED: dict[str, tuple[str, str, str]] = {
    "struct-cuda": ("cuda", """\
struct Pair { float a; float b; };  // <-
__global__ void k(const float* x, float* y, int n) {
    int i = threadIdx.x;
    struct Pair p;
    p.a = x[i];
    if (i < n) y[i] = p.a;
}
""", r"\bstruct\b"),
    "struct-c": ("cpu", """\
// a pair of floats
struct Pair { float a; float b; };  // <-
void k(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) {
        y[i] = x[i];
    }
}
""", r"\bstruct\b"),
    "goto-forward": ("cpu", """\
void k(const float* x, float* y, int n) {
    for (int i = 0; i < n; i++) {
        if (x[i] < 0.0f) goto skip;  // <-
        y[i] = x[i];
    }
skip:  // <-
    return;
}
""", r"\bgoto\b|\blabel\b"),
    "goto-backward": ("cpu", """\
void k(const float* x, float* y, int n) {
    int i = 0;
again:  // <-
    y[i] = x[i];
    i++;
    if (i < n) goto again;  // <-
}
""", r"\bgoto\b|\blabel\b"),
    "switch": ("cuda", """\
__global__ void k(const float* x, float* y, int n) {
    int i = threadIdx.x;
    if (i >= n) return;
    switch (i % 3) {  // <-
    case 0: y[i] = x[i]; break;
    default: y[i] = 0.0f;
    }
}
""", r"\bswitch\b"),
    "function-pointer-local": ("cpu", """\
float twice(float v) { return 2.0f * v; }
void k(const float* x, float* y, int n) {
    float (*f)(float) = twice;  // <-
    for (int i = 0; i < n; i++) {
        y[i] = f(x[i]);
    }
}
""", r"function pointer"),
    "function-pointer-param": ("cpu", """\

void k(const float* x, float* y, int n, float (*f)(float)) {  // <-
    for (int i = 0; i < n; i++) y[i] = f(x[i]);
}
""", r"function pointer"),
    "barrier-in-changing-branch": ("cuda", """\
__global__ void k(const float* x, float* y, int n) {
    __shared__ float buf[128];
    int i = threadIdx.x;
    int t = i;
    buf[i] = x[i];
    if (t < 64) {  // <-
        t = t + 64;
        __syncthreads();  // <-
        buf[i] += buf[t];
    }
    if (i < n) y[i] = buf[i];
}
""", r"barrier.*branch"),
    "barrier-in-thread-dependent-loop": ("cuda", """\
__global__ void k(const float* x, float* y, int n) {
    __shared__ float buf[128];
    int i = threadIdx.x;
    buf[i] = x[i];
    for (int j = 0; j < i; j++) {  // <-
        __syncthreads();  // <-
        buf[i] += 1.0f;
    }
    if (i < n) y[i] = buf[i];
}
""", r"barrier.*loop"),
    "barrier-in-while": ("cuda", """\
__global__ void k(const float* x, float* y, int n) {
    __shared__ float buf[128];
    int i = threadIdx.x;
    buf[i] = x[i];
    int t = i;
    while (t > 0) {  // <-
        __syncthreads();  // <-
        t = t / 2;
    }
    if (i < n) y[i] = buf[i];
}
""", r"barrier.*while"),
}

UNSUPPORTED_SPEC = parse_spec({
    "entry": "k", "dims": {"N": 100},
    "args": [{"name": "x", "dtype": "f32", "shape": ["N"], "role": "input"},
             {"name": "y", "dtype": "f32", "shape": ["N"], "role": "output"},
             {"name": "n", "dtype": "i32", "role": "scalar", "value": "N"}],
    "launch": {"grid": [1], "block": [128]},
    "reference": {"operator": "relu"},
})


def _unsupported_error(case: str) -> ir.UnsupportedConstruct:
    platform, source, _ = UNSUPPORTED[case]
    target = "cpu" if platform != "cpu" else "cuda"
    with pytest.raises(ir.UnsupportedConstruct) as info:
        translate(source, platform, target, UNSUPPORTED_SPEC)
    return info.value


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_construct_is_named(case: str) -> None:
    exc = _unsupported_error(case)
    assert re.search(UNSUPPORTED[case][2], str(exc)), str(exc)
    assert re.search(r"\bline \d+\b", str(exc)) and exc.line > 0, str(exc)


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_construct_names_its_line(case: str) -> None:
    exc = _unsupported_error(case)
    marked = [i for i, line in enumerate(UNSUPPORTED[case][1].splitlines(), 1) if "// <-" in line]
    assert marked
    assert any(re.search(rf"\bline {n}\b", str(exc)) for n in marked), (marked, str(exc))


# ------------------------------------------------------------------------------ regression


def test_scalar_declared_then_assigned_translates() -> None:
    """C89 style: 'float s; s = 0.0f;' before a reduction loop. Minimal form of dotv.c."""
    source = """\
void f(const float* x, float* out, int n) {
    float s;
    s = 0.0f;
    for (int i = 0; i < n; i++) {
        s += x[i];
    }
    out[0] = s;
}
"""
    _, spec, _ = load("ompsum.c")  # x, out[1], n: out[0] = sum(x)
    spec = replace(spec, entry="f")
    t = translate(source, "cpu", "cuda", spec)
    v = get_platform("cuda").verify(t.text, replace(spec, entry=t.entry), launcher=t.launcher)
    assert v.ok and v.mode == expected_mode("cuda"), f"{v.reason}\n{t.text}"


# ------------------------------------------------------------------------------ CLI


def _autotune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autotune.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300)


def test_cli_translate_then_verify(tmp_path: Path) -> None:
    out = tmp_path / "out.c"
    r = _autotune("translate", str(HERE / "sqmod.cu"), "--to", "cpu", "-o", str(out), cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.is_file() and (tmp_path / "out.c.toml").is_file()
    assert "sqmod" in out.read_text() and "VERIFIED" in r.stdout
    written = load_spec(tmp_path / "out.c.toml")
    assert written.entry == "sqmod" and written.launch is None
    # the reference path was rewritten relative to the output, so verify works from anywhere
    r = _autotune("verify", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED (device" in r.stdout


def test_cli_reports_a_wrong_kernel(tmp_path: Path) -> None:
    r = _autotune("translate", str(HERE / "wrongrelu.cu"), "--to", "cpu", "-o",
                  str(tmp_path / "w.c"), cwd=REPO)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "NOT VERIFIED" in r.stderr and "differ" in r.stderr


def test_cli_reports_an_unsupported_construct(tmp_path: Path) -> None:
    kernel = tmp_path / "k.c"
    kernel.write_text(UNSUPPORTED["goto-forward"][1].replace("void k(", "void sqmod("))  # entry
    r = _autotune("translate", str(kernel), "--to", "cuda", "--spec", str(HERE / "sqmod.toml"),
                  "-o", str(tmp_path / "k.cu"), cwd=REPO)
    assert r.returncode == 3, r.stdout + r.stderr
    assert re.search(r"goto.*line 3", r.stderr), r.stderr
    assert not (tmp_path / "k.cu").exists()
