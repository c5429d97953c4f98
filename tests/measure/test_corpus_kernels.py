"""Every corpus kernel verifies on its own platform at its default shape: C natively, CUDA in
the emulator (and through nvcc's compile check where nvcc is installed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from measure.platforms import get_platform
from measure.spec import load_spec, platform_of
from passes.translate import launch_plan

ROOT = Path(__file__).resolve().parents[2]
KERNELS = sorted(p for p in (ROOT / "kernels").glob("*/*") if p.suffix in (".c", ".cu"))


def test_the_corpus_covers_the_design_list() -> None:
    ops = {p.parent.name for p in KERNELS}
    design = {"add", "sub", "sign", "sin", "relu", "gelu", "sigmoid", "softmax", "sum", "mean", "max",
              "min", "gemm", "gemv", "bmm", "dense", "conv1d", "conv2d_nhwc", "conv2d_nchw",
              "depthwise_conv2d", "batchnorm", "layernorm", "rmsnorm", "instancenorm", "avgpool2d",
              "maxpool2d_nhwc", "minpool2d", "sumpool2d", "gather", "scatter", "transpose", "concat",
              "mha", "gqa", "gated_mlp", "deformable_attention",
              "gemm_u8s8", "gemv_u8s8", "bmm_u8s8", "conv2d_u8s8", "gemm_f16", "bmm_f16"}
    assert design <= ops, f"missing: {sorted(design - ops)}"
    for op in ops:
        assert {p.suffix for p in KERNELS if p.parent.name == op} == {".c", ".cu"}, op


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_kernel_verifies_on_its_platform(kernel: Path) -> None:
    spec = load_spec(kernel.with_name(kernel.name + ".toml"))
    assert len(spec.shape_names()) >= 3, "each operator has three or more shapes"
    platform = platform_of(kernel)
    text = kernel.read_text()
    plan = launch_plan(text, platform, spec) if platform != "cpu" else None
    verdict = get_platform(platform).verify(
        text, spec, geometry=plan.geometry if plan else None, launcher=plan.launcher if plan else None)
    assert verdict.ok, verdict.reason
    assert verdict.mode in ("device", "emulated"), verdict.mode
