"""verify() on adversarial kernels: every way to fail is a Verdict with a reason, never an exception."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from measure import operators
from measure.driver import c_driver, cuda_driver
from measure.platforms import PLATFORMS, get_platform, reference_outputs
from measure.sandbox import GiB, Limits, MiB
from measure.spec import KernelSpec, parse_spec
from measure.toolchain import find_nvcc, nvidia_gpu

SPEC: dict[str, Any] = {
    "entry": "scale", "dims": {"N": 300},
    "args": [
        {"name": "x", "dtype": "f32", "shape": ["N"], "role": "input"},
        {"name": "y", "dtype": "f32", "shape": ["N"], "role": "output"},
        {"name": "a", "dtype": "f32", "role": "scalar", "value": "3"},
        {"name": "n", "dtype": "i32", "role": "scalar", "value": "N"},
    ],
    "launch": {"grid": ["(N + 127) / 128"], "block": [128]},
    "reference": {"operator": "test_scale"},
}
GOOD_C = ("void scale(const float *x, float *y, float a, int n) {\n"
          "  for (int i = 0; i < n; i++) y[i] = a * x[i]; }\n")
GOOD_CU = ("__global__ void scale(const float *x, float *y, float a, int n) {\n"
           "  int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] = a * x[i]; }\n")
HEAD = "#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
BAD_C = {
    "segfault": ("crash", "void scale(const float *x, float *y, float a, int n) { *(volatile int *)8 = 1; }"),
    "hang": ("timeout", "void scale(const float *x, float *y, float a, int n) {\n"
             "  for (volatile int i = 0;; i++); }"),
    "malloc100g": ("memory", "void scale(const float *x, float *y, float a, int n) {\n"
                   "  float *volatile t = malloc(100UL << 30); t[5] = a; y[0] = t[5]; free(t); }"),
    "oob": ("crash", "void scale(const float *x, float *y, float a, int n) {\n"
            "  for (int i = 0; i <= n; i++) y[i] = a * (i < n ? x[i] : 0.f); }"),
    "printf": ("output", "void scale(const float *x, float *y, float a, int n) {\n"
               "  for (long i = 0; i < 100000000; i++) printf(\"%ld: noise noise noise\\n\", i); }"),
    "bigfile": ("output", "void scale(const float *x, float *y, float a, int n) {\n"
                "  static char buf[1 << 20]; FILE *f = fopen(\"junk\", \"wb\");\n"
                "  for (int i = 0; i < 64; i++) fwrite(buf, 1, sizeof buf, f); fclose(f); }"),
    "wrong": ("differ", "void scale(const float *x, float *y, float a, int n) {\n"
              "  for (int i = 0; i < n; i++) y[i] = a * x[i] + (i == 77); }"),
    "unwritten": ("never written", "void scale(const float *x, float *y, float a, int n) {\n"
                  "  for (int i = 0; i < n - 1; i++) y[i] = a * x[i]; }"),
    "syntax": ("rejected", "void scale(const float *x, float *y, float a, int n) { y[0] = }"),
}


def _scale(inputs: dict[str, Any], dims: dict[str, int], params: dict[str, Any]) -> dict[str, np.ndarray]:
    return {"y": (inputs["x"].astype(np.float64) * float(inputs["a"])).astype(np.float32)}


@pytest.fixture(autouse=True)
def scale_operator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(operators.OPERATORS, "test_scale", _scale)


@pytest.fixture
def spec() -> KernelSpec:
    return parse_spec(SPEC)


def test_registry() -> None:
    assert set(PLATFORMS) == {"cpu", "cuda", "hip"} and get_platform("cpu") is PLATFORMS["cpu"]
    with pytest.raises(KeyError, match="known"):
        get_platform("bang9")


def test_correct_c_kernel_verifies(spec: KernelSpec, tmp_path: Path) -> None:
    v = get_platform("cpu").verify(HEAD + GOOD_C, spec, workdir=tmp_path)
    assert v.ok and v.mode == "device", v.reason
    assert v.max_abs_error == 0.0 and v.details["toolchain"]["gcc"].startswith("gcc")
    assert (tmp_path / "candidate" / "run" / "x.bin").stat().st_size == 300 * 4


@pytest.mark.parametrize("case", sorted(BAD_C))
def test_adversarial_c_kernels_fail_with_reason(case: str, spec: KernelSpec, tmp_path: Path) -> None:
    expect, body = BAD_C[case]
    limits = Limits(cpu_seconds=2, wall_seconds=3, memory_bytes=2 * GiB, output_bytes=256 * 1024,
                    file_bytes=8 * MiB)
    v = get_platform("cpu").verify(HEAD + body, spec, workdir=tmp_path, limits=limits)
    assert not v.ok
    words = {"crash": "crashed", "timeout": "timed out", "memory": "out of memory",
             "output": "output limit"}
    assert words.get(expect, expect) in v.reason, v.reason
    if case in ("segfault", "oob"):
        assert "out-of-bounds" in v.reason
    if case == "wrong":
        assert v.comparison is not None and v.comparison.args["y"].first_index == 77


def test_reference_source_kernel(tmp_path: Path) -> None:
    """A candidate checked against another kernel (with its own spec) run on the same inputs."""
    ref_spec = {**SPEC, "entry": "ref_scale", "reference": {"operator": "test_scale"}}
    (tmp_path / "ref.c").write_text(GOOD_C.replace("scale(", "ref_scale("))
    (tmp_path / "ref.c.toml").write_text(_toml(ref_spec))
    cand = {**SPEC, "reference": {"source": "ref.c"}}
    spec = parse_spec(cand, path=tmp_path / "cand.c.toml")
    v = get_platform("cpu").verify(GOOD_C, spec, workdir=tmp_path / "w1")
    assert v.ok and v.mode == "device", v.reason
    bad = get_platform("cpu").verify(GOOD_C.replace("a * x[i]", "x[i] + a"), spec, workdir=tmp_path / "w2")
    assert not bad.ok and "differ" in bad.reason


def test_reference_operator_missing(spec: KernelSpec) -> None:
    v = get_platform("cpu").verify(GOOD_C, replace(spec, operator="no_such_op"))
    assert not v.ok and "no_such_op" in v.reason


def test_reference_outputs_reshape(spec: KernelSpec) -> None:
    ref = reference_outputs(spec, {"x": np.arange(300, dtype=np.float32)})
    assert isinstance(ref, dict) and ref["y"][10] == 30.0


def test_cuda_without_geometry_or_launcher(spec: KernelSpec) -> None:
    v = get_platform("cuda").verify(GOOD_CU, replace(spec, launch=None))
    assert not v.ok and v.mode == "none" and "no launch geometry" in v.reason


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc is not installed")
def test_cuda_rejected_by_nvcc(spec: KernelSpec) -> None:
    v = get_platform("cuda").verify(GOOD_CU.replace("y[i] =", "yy[i] ="), spec)
    assert not v.ok and "nvcc" in v.reason and "undefined" in v.reason


def _emulator_ready() -> bool:
    try:
        from measure.emulator import compile_command, prepare_source  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _emulator_ready(), reason="measure/emulator has not landed")
def test_cuda_emulated_correct_and_wrong(spec: KernelSpec) -> None:
    good = get_platform("cuda").verify(GOOD_CU, spec)
    assert good.ok and good.mode in ("emulated", "device"), good.reason
    if find_nvcc() is not None:
        assert good.details["vendor_compiler"] == "compiled"
    wrong = get_platform("cuda").verify(GOOD_CU.replace("if (i < n)", "if (i < n - 5)"), spec)
    assert not wrong.ok and "never written" in wrong.reason


@pytest.mark.skipif(not _emulator_ready(), reason="measure/emulator has not landed")
def test_cuda_emulated_out_of_bounds(spec: KernelSpec) -> None:
    v = get_platform("cuda").verify(GOOD_CU.replace("if (i < n)", "if (i < n + 64)"), spec)
    assert not v.ok and "crashed" in v.reason


def test_drivers_mention_every_argument(spec: KernelSpec) -> None:
    c = c_driver(spec)
    assert 'at_read("x"' in c and 'at_write("y"' in c and "scale(b_x, b_y, ((float)0x1.8" in c
    cu = cuda_driver(spec, (3, 1, 1), (128, 1, 1))
    assert "scale<<<dim3(3, 1, 1), dim3(128, 1, 1)>>>(d_x, d_y" in cu and "cudaDeviceSynchronize" in cu
    hip = cuda_driver(spec, None, None, launcher="launch_scale", platform="hip")
    assert "hipMalloc" in hip and "launch_scale(d_x, d_y" in hip and "hip/hip_runtime.h" in hip


def _toml(d: dict[str, Any]) -> str:
    """A tiny TOML writer for the specs above (strings, ints, lists, tables, arrays of tables)."""
    def val(v: Any) -> str:
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return str(v)

    lines = [f"{k} = {val(v)}" for k, v in d.items() if not isinstance(v, (dict, list)) or
             (isinstance(v, list) and not (v and isinstance(v[0], dict)))]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    for a in d["args"]:
        lines.append("[[args]]")
        lines += [f"{kk} = {val(vv)}" for kk, vv in a.items()]
    return "\n".join(lines) + "\n"


LAUNCHER = ("void launch_scale(const float *x, float *y, float a, int n) {\n"
            "  scale<<<(n + 63) / 64, 64>>>(x, y, a, n); }\n")


@pytest.mark.skipif(find_nvcc() is None, reason="nvcc is not installed")
def test_cuda_host_launcher_accepted_by_nvcc(spec: KernelSpec) -> None:
    v = get_platform("cuda").verify(GOOD_CU + LAUNCHER, replace(spec, launch=None), launcher="launch_scale")
    assert v.details["vendor_compiler"] == "compiled", v.reason
    assert v.ok and v.mode in ("compiled", "emulated", "device"), v.reason


@pytest.mark.gpu
@pytest.mark.skipif(nvidia_gpu() is None or find_nvcc() is None, reason="needs a real NVIDIA GPU")
def test_cuda_on_device(spec: KernelSpec) -> None:
    good = get_platform("cuda").verify(GOOD_CU, spec)
    assert good.ok and good.mode == "device", good.reason
    wrong = get_platform("cuda").verify(GOOD_CU.replace("a * x[i]", "a + x[i]"), spec)
    assert not wrong.ok and wrong.mode == "device" and "differ" in wrong.reason


@pytest.mark.skipif(not _emulator_ready(), reason="measure/emulator has not landed")
def test_hip_emulated(spec: KernelSpec) -> None:
    src = "#include <hip/hip_runtime.h>\n" + GOOD_CU
    v = get_platform("hip").verify(src, spec)
    assert v.ok and v.mode == "emulated", v.reason
    assert v.details["vendor_compiler"] in ("compiled", "hipcc missing")
