"""Every starter kernel translates and verifies in every direction among cpu, cuda and hip.

CUDA and HIP results run in the CPU emulator of their programming model (mode ``emulated``), or
on a real GPU where one is present (mode ``device``). HIP sources are the project's own CUDA ->
HIP translations, so hip -> cpu and hip -> cuda start from real HIP text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from measure.platforms import get_platform
from measure.spec import KernelSpec, load_spec
from passes.translate import launch_plan, translate

ROOT = Path(__file__).resolve().parents[2]
OPS = ["relu", "softmax", "gemm", "conv2d_nhwc", "layernorm", "maxpool2d_nhwc", "gemm_u8s8"]
SUFFIX = {"cpu": "c", "cuda": "cu"}
RAN = ("device", "emulated")


def _source(op: str, platform: str) -> tuple[str, KernelSpec]:
    path = ROOT / "kernels" / op / f"{op}.{SUFFIX[platform]}"
    return path.read_text(), load_spec(path.with_name(path.name + ".toml"))


def _check(text: str, target: str, spec: KernelSpec, launcher: str | None) -> None:
    verdict = get_platform(target).verify(text, spec, launcher=launcher)
    assert verdict.ok, f"{target}: {verdict.reason}\n{text}"
    assert verdict.mode in RAN, f"{target} result was only {verdict.mode}: {verdict.reason}"


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("source,target", [("cuda", "cpu"), ("cpu", "cuda"), ("cpu", "hip"),
                                           ("cuda", "hip")])
def test_direct_directions(op: str, source: str, target: str) -> None:
    text, spec = _source(op, source)
    t = translate(text, source, target, spec)
    out_spec = spec if target != "cpu" and t.launcher is None else _without_launch(spec, t.entry)
    _check(t.text, target, out_spec, t.launcher)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_from_hip(op: str, target: str) -> None:
    text, spec = _source(op, "cuda")
    hip = translate(text, "cuda", "hip", spec)
    hip_spec = spec if hip.launcher is None else _without_launch(spec, hip.entry)
    plan = launch_plan(hip.text, "hip", hip_spec)
    assert plan.geometry is not None or plan.launcher is not None
    t = translate(hip.text, "hip", target, hip_spec)
    out_spec = hip_spec if target != "cpu" and t.launcher is None else _without_launch(hip_spec, t.entry)
    _check(t.text, target, out_spec, t.launcher)


def _without_launch(spec: KernelSpec, entry: str) -> KernelSpec:
    from dataclasses import replace

    return replace(spec, entry=entry, launch=None)
