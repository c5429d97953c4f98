"""Vendor baselines: every PyTorch implementation computes what its numpy reference computes (on
each corpus spec's small shapes, compared as ``verify`` compares a kernel), and the measuring
process follows the native protocol (pinned cores, thread counts, >= 5 samples, median, IQR)
and reports an ``Unavailable`` instead of raising."""

from __future__ import annotations

import importlib.util
import os
import statistics
from pathlib import Path

import numpy as np
import pytest

import measure.baselines as baselines
from measure.baselines import BaselineTiming, Unavailable, time_numpy, time_vendor
from measure.baselines.runner import adaptive_samples, relative_spread
from measure.compare import compare
from measure.inputs import make_inputs
from measure.platforms import reference_outputs
from measure.spec import KernelSpec, load_spec
from measure.timing import TimingOptions

KERNELS = Path(__file__).resolve().parents[2] / "kernels"
CORPUS = sorted(p.name for p in KERNELS.iterdir() if (p / f"{p.name}.c.toml").exists())
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed: pip install torch==2.13.0 "
                                                       "(the bench extra) to check the vendor baselines")
FAST = TimingOptions(warmup=1, min_repeat_ms=2.0, repeats=5, attempts=1)


def _spec(op: str) -> KernelSpec:
    return load_spec(KERNELS / op / f"{op}.c.toml")


# --------------------------------------------------------------------------------------------
# the torch implementations compute the reference


@needs_torch
def test_every_corpus_operator_has_a_torch_implementation() -> None:
    from measure.baselines.torch_ops import TORCH_OPS

    assert len(CORPUS) >= 40
    assert sorted(TORCH_OPS) == CORPUS


@needs_torch
@pytest.mark.parametrize("op", CORPUS)
def test_torch_matches_numpy_reference(op: str) -> None:
    from measure.baselines.torch_ops import setup_op, to_numpy

    spec = _spec(op)
    for shape in ("default", "small"):
        s = spec.with_shape(shape)
        inputs = make_inputs(s, seed=3)
        expected = reference_outputs(s, inputs)
        assert not isinstance(expected, str), expected
        run = setup_op(op, s, inputs)
        assert not isinstance(run, str), run
        got = to_numpy(s, run())
        assert set(got) == set(expected)
        cmp = compare(s, got, expected)
        assert cmp.ok, f"{op} at {shape}: {cmp.reason}"


@needs_torch
@pytest.mark.parametrize("op", ["gemm_u8s8", "gemv_u8s8", "bmm_u8s8", "conv2d_u8s8"])
def test_quantised_offset_trick_is_exact_at_the_extremes(op: str) -> None:
    """All-255 activations times all -128 (then all 127) weights: the largest sums, where an
    offset or a wrap-around error would show; results must be exact int32."""
    from measure.baselines.torch_ops import setup_op, to_numpy

    spec = _spec(op)
    for wval in (-128, 127):
        inputs = {}
        for a in spec.args:
            if a.is_buffer and a.is_input:
                fill = 255 if a.dtype == "u8" else wval
                inputs[a.name] = np.full(spec.size_of(a), fill, dtype=np.uint8 if a.dtype == "u8" else np.int8)
        expected = reference_outputs(spec, inputs)
        assert not isinstance(expected, str)
        run = setup_op(op, spec, inputs)
        assert not isinstance(run, str)
        got = to_numpy(spec, run())
        for name, exp in expected.items():
            assert got[name].dtype == np.int32
            np.testing.assert_array_equal(got[name], exp)


@needs_torch
@pytest.mark.parametrize("op", ["conv2d_nhwc", "depthwise_conv2d", "maxpool2d_nhwc"])
def test_nhwc_ops_return_nhwc_without_a_copy(op: str) -> None:
    """The channels_last choice: the NHWC result is a permuted view of a channels_last result,
    contiguous in NHWC order, so no layout conversion is hidden in (or missing from) the time."""
    from measure.baselines.torch_ops import setup_op

    spec = _spec(op)
    run = setup_op(op, spec, make_inputs(spec))
    assert not isinstance(run, str)
    (out,) = run().values()
    assert out.is_contiguous()


@needs_torch
def test_setup_of_an_operator_without_torch_implementation_says_which() -> None:
    from measure.baselines.torch_ops import setup_op

    reason = setup_op("no_such_op", _spec("relu"), {})
    assert isinstance(reason, str) and "no_such_op" in reason


# --------------------------------------------------------------------------------------------
# the protocol


def test_adaptive_samples_grows_inner_and_flushes_before_each_sample() -> None:
    calls: list[str] = []
    per_call = 1e-4

    def sample(inner: int) -> float:
        calls.append(f"sample{inner}")
        return inner * per_call

    inner, samples = adaptive_samples(lambda: calls.append("call"), sample, lambda: calls.append("sync"),
                                      warmup=2, min_repeat_ms=5.0, repeats=6,
                                      flush=lambda r: calls.append(f"flush{r}"))
    assert calls[:3] == ["call", "call", "sync"]
    assert inner * per_call >= 5e-3 and inner < 1000
    assert samples == pytest.approx([per_call] * 6)
    tail = calls[-12:]
    assert tail[0::2] == [f"flush{r}" for r in range(6)] and all(c == f"sample{inner}" for c in tail[1::2])


def test_relative_spread_is_iqr_over_median() -> None:
    assert relative_spread([1.0, 1.0, 1.0, 1.0, 1.0]) == 0.0
    assert relative_spread([1.0, 2.0, 3.0, 4.0, 5.0]) == pytest.approx(2.0 / 3.0)


# --------------------------------------------------------------------------------------------
# measuring in a separate process


def _check_timing(r: object, op: str, library: str) -> BaselineTiming:
    assert isinstance(r, BaselineTiming), r
    assert r.ok and r.op == op and r.verified
    assert r.library.startswith(library)
    assert len(r.samples_s) == 5 and all(s > 0 for s in r.samples_s)
    assert r.median_s == statistics.median(r.samples_s)
    assert 0 < r.median_s < 0.05 and r.inner >= 1 and r.spread >= 0
    assert r.cores == FAST.pinned_cores()
    return r


@needs_torch
def test_time_vendor_gemm_and_relu() -> None:
    g = _check_timing(time_vendor("gemm", _spec("gemm").with_shape("small"), 1, FAST), "gemm", "torch 2.")
    assert "oneDNN" in g.library and "MKL" in g.library
    assert g.details["torch_threads"] == 1
    assert g.details["env_threads"]["OMP_NUM_THREADS"] == "1"
    assert g.details["env_threads"]["MKL_NUM_THREADS"] == "1"
    r = _check_timing(time_vendor("relu", _spec("relu"), 1, FAST), "relu", "torch 2.")
    assert r.inner > 1  # a 10k-element relu is far below 2 ms


def test_time_numpy_gemm_and_relu() -> None:
    _check_timing(time_numpy("gemm", _spec("gemm").with_shape("small"), 1, FAST), "gemm", "numpy ")
    _check_timing(time_numpy("relu", _spec("relu"), 1, FAST), "relu", "numpy ")


@needs_torch
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin two threads")
def test_the_measuring_process_honours_the_thread_count() -> None:
    r = time_vendor("relu", _spec("relu").with_shape("small"), 2, FAST)
    assert isinstance(r, BaselineTiming), r
    assert r.threads == 2 and r.details["torch_threads"] == 2
    assert all(v == "2" for v in r.details["env_threads"].values())
    assert r.cores == tuple(sorted(os.sched_getaffinity(0))[-2:])


def test_unknown_operator_is_unavailable() -> None:
    for r in (time_vendor("no_such_op", _spec("relu")), time_numpy("no_such_op", _spec("relu"))):
        assert isinstance(r, Unavailable) and not r.ok
        assert "no_such_op" in r.reason


def test_spec_of_another_operator_is_unavailable() -> None:
    r = time_vendor("gemm", _spec("relu"))
    assert isinstance(r, Unavailable) and "relu" in r.reason


def test_missing_torch_is_unavailable_not_an_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(baselines.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    r = time_vendor("gemm", _spec("gemm"))
    assert isinstance(r, Unavailable) and "torch" in r.reason and "2.13.0" in r.reason


@needs_torch
def test_cuda_without_a_device_is_unavailable() -> None:
    import torch

    if torch.cuda.is_available():
        r = time_vendor("gemm", _spec("gemm"), 1, FAST, device="cuda")
        assert isinstance(r, BaselineTiming) and r.library.startswith("torch") and "cuBLAS" in r.library
    else:
        r = time_vendor("gemm", _spec("gemm"), 1, FAST, device="cuda")
        assert r == Unavailable("no CUDA device", "gemm", "cuda")
    assert isinstance(time_vendor("gemm", _spec("gemm"), device="tpu"), Unavailable)
