"""The norm-family references (batchnorm, instancenorm, rmsnorm, gated_mlp) against slow
explicit-loop transcriptions of their definitions on tiny sizes, and against identities that hold
whatever the implementation (normalised statistics, scale invariance, batchnorm of one image is
instancenorm, a gated MLP is linear in W3 and W2)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from measure.operators import OPERATORS, OperatorError

RNG_SEED = 4321
KERNELS = Path(__file__).resolve().parents[2] / "kernels"
OPS = ("batchnorm", "instancenorm", "rmsnorm", "gated_mlp")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _nchw(rng: np.random.Generator, n: int, c: int, h: int, w: int) -> dict[str, np.ndarray]:
    return {"x": rng.uniform(-3, 5, size=(n, c, h, w)).astype(np.float32),
            "gamma": rng.uniform(0.5, 1.5, size=c).astype(np.float32),
            "beta": rng.uniform(-0.5, 0.5, size=c).astype(np.float32)}


def test_norm_operators_registered() -> None:
    assert set(OPS) <= set(OPERATORS)


# --------------------------------------------------------------------------------------------
# batchnorm


def test_batchnorm_loops(rng: np.random.Generator) -> None:
    n, c, h, w = 2, 3, 3, 5
    inp = _nchw(rng, n, c, h, w)
    y = OPERATORS["batchnorm"](inp, {}, {"eps": 1e-3})["y"]
    assert y.shape == (n, c, h, w) and y.dtype == np.float32
    x = inp["x"]
    for ch in range(c):
        vals = [float(x[i, ch, p, q]) for i in range(n) for p in range(h) for q in range(w)]
        mean = sum(vals) / len(vals)
        var = sum((v - mean) ** 2 for v in vals) / len(vals)
        for i in range(n):
            for p in range(h):
                for q in range(w):
                    want = (float(x[i, ch, p, q]) - mean) / math.sqrt(var + 1e-3) \
                        * float(inp["gamma"][ch]) + float(inp["beta"][ch])
                    assert y[i, ch, p, q] == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_batchnorm_channels_have_beta_mean_and_gamma_std(rng: np.random.Generator) -> None:
    inp = {k: v.astype(np.float64) for k, v in _nchw(rng, 4, 5, 6, 7).items()}
    y = OPERATORS["batchnorm"](inp, {}, {"eps": 0.0})["y"]
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), inp["beta"], atol=1e-12)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), inp["gamma"], rtol=1e-12)


def test_batchnorm_of_one_image_is_instancenorm(rng: np.random.Generator) -> None:
    inp = _nchw(rng, 1, 4, 5, 3)
    bn = OPERATORS["batchnorm"](inp, {}, {})["y"]
    inorm = OPERATORS["instancenorm"](inp, {}, {})["y"]
    np.testing.assert_array_equal(bn, inorm)


def test_batchnorm_rejects_bad_shapes(rng: np.random.Generator) -> None:
    inp = _nchw(rng, 1, 3, 2, 2)
    with pytest.raises(OperatorError, match="N,C,H,W"):
        OPERATORS["batchnorm"]({**inp, "x": inp["x"].reshape(3, 4)}, {}, {})
    with pytest.raises(OperatorError, match="gamma and beta"):
        OPERATORS["batchnorm"]({**inp, "gamma": inp["gamma"][:2]}, {}, {})
    with pytest.raises(OperatorError, match="x, gamma, beta"):
        OPERATORS["batchnorm"]({"x": inp["x"]}, {}, {})


# --------------------------------------------------------------------------------------------
# instancenorm


def test_instancenorm_loops(rng: np.random.Generator) -> None:
    n, c, h, w = 3, 2, 1, 3
    inp = _nchw(rng, n, c, h, w)
    y = OPERATORS["instancenorm"](inp, {}, {})["y"]
    assert y.shape == (n, c, h, w) and y.dtype == np.float32
    x = inp["x"]
    for i in range(n):
        for ch in range(c):
            vals = [float(x[i, ch, p, q]) for p in range(h) for q in range(w)]
            mean = sum(vals) / len(vals)
            var = sum((v - mean) ** 2 for v in vals) / len(vals)
            for p in range(h):
                for q in range(w):
                    want = (float(x[i, ch, p, q]) - mean) / math.sqrt(var + 1e-5) \
                        * float(inp["gamma"][ch]) + float(inp["beta"][ch])
                    assert y[i, ch, p, q] == pytest.approx(want, rel=1e-6, abs=1e-6)


def test_instancenorm_is_batchnorm_image_by_image(rng: np.random.Generator) -> None:
    inp = _nchw(rng, 3, 4, 5, 6)
    y = OPERATORS["instancenorm"](inp, {}, {})["y"]
    for i in range(3):
        one = OPERATORS["batchnorm"]({**inp, "x": inp["x"][i: i + 1]}, {}, {})["y"]
        np.testing.assert_array_equal(y[i: i + 1], one)


def test_instancenorm_constant_plane_gives_beta(rng: np.random.Generator) -> None:
    inp = _nchw(rng, 2, 3, 4, 4)
    inp["x"] = np.full_like(inp["x"], 2.5)
    y = OPERATORS["instancenorm"](inp, {}, {})["y"]
    np.testing.assert_allclose(y, np.broadcast_to(inp["beta"].reshape(1, 3, 1, 1), y.shape), atol=1e-7)


# --------------------------------------------------------------------------------------------
# rmsnorm


def test_rmsnorm_loops(rng: np.random.Generator) -> None:
    rows, cols = 4, 7
    x = rng.uniform(-3, 3, size=(rows, cols)).astype(np.float32)
    weight = rng.uniform(0.5, 1.5, size=cols).astype(np.float32)
    y = OPERATORS["rmsnorm"]({"x": x, "weight": weight}, {}, {})["y"]
    assert y.shape == (rows, cols) and y.dtype == np.float32
    for r in range(rows):
        ms = sum(float(v) ** 2 for v in x[r]) / cols
        for c in range(cols):
            want = float(x[r, c]) / math.sqrt(ms + 1e-6) * float(weight[c])
            assert y[r, c] == pytest.approx(want, rel=1e-6)


def test_rmsnorm_unit_rms_and_scale_invariance(rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, 33))
    ones = np.ones(33)
    y = OPERATORS["rmsnorm"]({"x": x, "weight": ones}, {}, {"eps": 0.0})["y"]
    np.testing.assert_allclose((y * y).mean(axis=-1), 1.0, rtol=1e-12)
    y7 = OPERATORS["rmsnorm"]({"x": 7.0 * x, "weight": ones}, {}, {"eps": 0.0})["y"]
    np.testing.assert_allclose(y7, y, rtol=1e-12)


def test_rmsnorm_single_column_is_sign_times_weight() -> None:
    x = np.array([[2.0], [-0.5], [3.0]], dtype=np.float32)
    y = OPERATORS["rmsnorm"]({"x": x, "weight": np.array([0.75], dtype=np.float32)}, {}, {"eps": 0.0})["y"]
    np.testing.assert_allclose(y.ravel(), [0.75, -0.75, 0.75], rtol=1e-7)


def test_rmsnorm_rejects_wrong_weight(rng: np.random.Generator) -> None:
    with pytest.raises(OperatorError, match="weight"):
        OPERATORS["rmsnorm"]({"x": rng.standard_normal((2, 5)), "weight": np.ones(4)}, {}, {})


# --------------------------------------------------------------------------------------------
# gated_mlp


def _mlp_inputs(rng: np.random.Generator, t: int, d: int, h: int, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    return {"x": rng.uniform(-1, 1, size=(t, d)).astype(dtype),
            "W1": rng.uniform(-0.5, 0.5, size=(h, d)).astype(dtype),
            "W3": rng.uniform(-0.5, 0.5, size=(h, d)).astype(dtype),
            "W2": rng.uniform(-0.5, 0.5, size=(d, h)).astype(dtype)}


def test_gated_mlp_loops(rng: np.random.Generator) -> None:
    t, d, h = 2, 3, 5
    inp = _mlp_inputs(rng, t, d, h)
    res = OPERATORS["gated_mlp"](inp, {}, {})
    assert res["h"].shape == (t, h) and res["out"].shape == (t, d)
    assert res["h"].dtype == np.float32 and res["out"].dtype == np.float32
    x, w1, w3, w2 = (inp[k].astype(float) for k in ("x", "W1", "W3", "W2"))
    for i in range(t):
        hid = []
        for j in range(h):
            a = sum(x[i, k] * w1[j, k] for k in range(d))
            g = sum(x[i, k] * w3[j, k] for k in range(d))
            hid.append(a / (1.0 + math.exp(-a)) * g)
            assert res["h"][i, j] == pytest.approx(hid[j], rel=1e-6, abs=1e-7)
        for o in range(d):
            want = sum(hid[j] * w2[o, j] for j in range(h))
            assert res["out"][i, o] == pytest.approx(want, rel=1e-6, abs=1e-7)


def test_gated_mlp_linear_in_w3_and_w2(rng: np.random.Generator) -> None:
    inp = _mlp_inputs(rng, 4, 6, 9, np.float64)
    base = OPERATORS["gated_mlp"](inp, {}, {})
    scaled = OPERATORS["gated_mlp"]({**inp, "W3": -3.0 * inp["W3"], "W2": 0.5 * inp["W2"]}, {}, {})
    np.testing.assert_allclose(scaled["h"], -3.0 * base["h"], rtol=1e-12)
    np.testing.assert_allclose(scaled["out"], -1.5 * base["out"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(base["out"], base["h"] @ inp["W2"].T, rtol=1e-12, atol=1e-15)


def test_gated_mlp_silu_limits() -> None:
    # W3 = W1 gives h = silu(a) * a: about a^2 for large a, about 0 for very negative a.
    x = np.array([[1.0]])
    w1 = np.array([[40.0], [-40.0], [0.0]])
    res = OPERATORS["gated_mlp"]({"x": x, "W1": w1, "W3": w1, "W2": np.ones((1, 3))}, {}, {})
    np.testing.assert_allclose(res["h"].ravel(), [1600.0, 0.0, 0.0], atol=1e-10)


def test_gated_mlp_rejects_bad_shapes(rng: np.random.Generator) -> None:
    inp = _mlp_inputs(rng, 2, 3, 4)
    with pytest.raises(OperatorError, match="H x D"):
        OPERATORS["gated_mlp"]({**inp, "W2": inp["W1"]}, {}, {})


# --------------------------------------------------------------------------------------------
# the specs of this family: three shapes or more, every shape accepted by the reference


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("suffix", (".c", ".cu"))
def test_norm_specs_run_their_reference_at_every_shape(op: str, suffix: str) -> None:
    from measure.inputs import make_inputs, numpy_dtype, scalar_inputs
    from measure.spec import load_spec

    spec = load_spec(KERNELS / op / f"{op}{suffix}.toml")
    assert spec.operator == op
    assert {"default", "small", "large"} <= set(spec.shape_names())
    for name in spec.shape_names():
        s = spec.with_shape(name)
        flat = make_inputs(s, seed=0)
        inputs: dict[str, Any] = {k: a.reshape(s.shape_of(s.arg(k))) for k, a in flat.items()}
        inputs.update(scalar_inputs(s))
        outs = OPERATORS[op](inputs, dict(s.dims), dict(s.operator_params))
        for a in s.args:
            if a.is_output:
                assert outs[a.name].size == s.size_of(a), (name, a.name)
                assert outs[a.name].dtype == numpy_dtype(a.dtype)
                assert np.all(np.isfinite(outs[a.name])), (name, a.name)
