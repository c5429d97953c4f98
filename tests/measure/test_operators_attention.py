"""The attention references (mha, gqa, deformable_attention) against slow explicit-loop
formulations on tiny sizes, and against identities that hold whatever the implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from measure.operators import OPERATORS, OperatorError

RNG_SEED = 4321


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _attention_loops(q: np.ndarray, k: np.ndarray, v: np.ndarray, kv_head_of: list[int],
                     causal: bool = False) -> np.ndarray:
    """Scaled dot-product attention written out with Python scalars (math.exp, explicit sums)."""
    b_, hq, s, d = q.shape
    out = np.zeros(q.shape, dtype=np.float64)
    for b in range(b_):
        for h in range(hq):
            g = kv_head_of[h]
            for i in range(s):
                keys = range(i + 1) if causal else range(s)
                scores = []
                for j in keys:
                    dot = 0.0
                    for c in range(d):
                        dot += float(q[b, h, i, c]) * float(k[b, g, j, c])
                    scores.append(dot / math.sqrt(d))
                m = max(scores)
                e = [math.exp(x - m) for x in scores]
                total = sum(e)
                for c in range(d):
                    acc = 0.0
                    for j, ej in zip(keys, e):
                        acc += ej / total * float(v[b, g, j, c])
                    out[b, h, i, c] = acc
    return out


# --------------------------------------------------------------------------------------------
# mha


@pytest.mark.parametrize("causal", [False, True])
def test_mha_loops(rng: np.random.Generator, causal: bool) -> None:
    q, k, v = (rng.uniform(-2, 2, size=(2, 3, 5, 4)).astype(np.float32) for _ in range(3))
    o = OPERATORS["mha"]({"q": q, "k": k, "v": v}, {}, {"causal": causal})["o"]
    assert o.shape == q.shape and o.dtype == np.float32
    np.testing.assert_allclose(o, _attention_loops(q, k, v, [0, 1, 2], causal), rtol=1e-6, atol=1e-7)


def test_mha_identities(rng: np.random.Generator) -> None:
    q, k, v = (rng.standard_normal((1, 2, 6, 3)) for _ in range(3))
    mha = OPERATORS["mha"]
    o = mha({"q": q, "k": k, "v": v}, {}, {})["o"]
    # permuting the keys together with their values changes nothing
    perm = rng.permutation(6)
    o_perm = mha({"q": q, "k": k[:, :, perm], "v": v[:, :, perm]}, {}, {})["o"]
    np.testing.assert_allclose(o_perm, o, rtol=1e-12, atol=1e-12)
    # identical keys: uniform attention, every output row is the mean of the value rows
    k_same = np.broadcast_to(k[:, :, :1], k.shape)
    o_mean = mha({"q": q, "k": k_same, "v": v}, {}, {})["o"]
    np.testing.assert_allclose(o_mean, np.broadcast_to(v.mean(axis=2, keepdims=True), v.shape), atol=1e-12)
    # outputs are convex combinations of the value rows
    assert (o <= v.max(axis=2, keepdims=True) + 1e-12).all()
    assert (o >= v.min(axis=2, keepdims=True) - 1e-12).all()
    # stable for huge scores (a naive exp would overflow to inf/nan)
    o_big = mha({"q": q * 1e3, "k": k * 1e3, "v": v}, {}, {})["o"]
    assert np.isfinite(o_big).all()
    # causal: the first query row sees only the first key
    o_causal = mha({"q": q, "k": k, "v": v}, {}, {"causal": True})["o"]
    np.testing.assert_allclose(o_causal[:, :, 0], v[:, :, 0], atol=1e-12)


def test_mha_rejects_bad_inputs(rng: np.random.Generator) -> None:
    q = rng.standard_normal((1, 2, 3, 4))
    with pytest.raises(OperatorError, match="same heads"):
        OPERATORS["mha"]({"q": q, "k": q[:, :1], "v": q[:, :1]}, {}, {})
    with pytest.raises(OperatorError, match="causal"):
        OPERATORS["mha"]({"q": q, "k": q, "v": q}, {}, {"causal": 1})
    with pytest.raises(OperatorError, match="q, k, v"):
        OPERATORS["mha"]({"q": q}, {}, {})


# --------------------------------------------------------------------------------------------
# gqa


def test_gqa_loops(rng: np.random.Generator) -> None:
    q = rng.uniform(-2, 2, size=(2, 6, 5, 3)).astype(np.float32)
    k, v = (rng.uniform(-2, 2, size=(2, 2, 5, 3)).astype(np.float32) for _ in range(2))
    o = OPERATORS["gqa"]({"q": q, "k": k, "v": v}, {}, {})["o"]
    assert o.shape == q.shape and o.dtype == np.float32
    # query heads 0, 1, 2 share kv head 0; 3, 4, 5 share kv head 1
    np.testing.assert_allclose(o, _attention_loops(q, k, v, [0, 0, 0, 1, 1, 1]), rtol=1e-6, atol=1e-7)


def test_gqa_identities(rng: np.random.Generator) -> None:
    q = rng.standard_normal((2, 4, 7, 5))
    k, v = (rng.standard_normal((2, 2, 7, 5)) for _ in range(2))
    # gqa is mha on k and v with each kv head repeated for its group
    o = OPERATORS["gqa"]({"q": q, "k": k, "v": v}, {}, {"causal": True})["o"]
    kr, vr = np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1)
    np.testing.assert_allclose(o, OPERATORS["mha"]({"q": q, "k": kr, "v": vr}, {}, {"causal": True})["o"],
                               atol=1e-12)
    # as many kv heads as query heads: plain mha
    o_full = OPERATORS["gqa"]({"q": q, "k": kr, "v": vr}, {}, {})["o"]
    np.testing.assert_allclose(o_full, OPERATORS["mha"]({"q": q, "k": kr, "v": vr}, {}, {})["o"], atol=1e-12)


def test_gqa_rejects_uneven_groups(rng: np.random.Generator) -> None:
    q = rng.standard_normal((1, 5, 3, 2))
    k = rng.standard_normal((1, 2, 3, 2))
    with pytest.raises(OperatorError, match="multiple"):
        OPERATORS["gqa"]({"q": q, "k": k, "v": k}, {}, {})


# --------------------------------------------------------------------------------------------
# deformable attention


def _bilinear_loops(img: np.ndarray, x: float, y: float) -> list[float]:
    """Zero-padded bilinear sampling of ``img`` ([H, W, D]) at normalised (x, y), scalar code:
    pixel (i, j) has its centre at ((j + 0.5) / W, (i + 0.5) / H)."""
    hgt, wid, d = img.shape
    h = y * hgt - 0.5
    w = x * wid - 0.5
    i0, j0 = math.floor(h), math.floor(w)
    out = [0.0] * d
    for i in (i0, i0 + 1):
        for j in (j0, j0 + 1):
            if 0 <= i < hgt and 0 <= j < wid:
                weight = (1.0 - abs(h - i)) * (1.0 - abs(w - j))
                for c in range(d):
                    out[c] += weight * float(img[i, j, c])
    return out


def _deformable_loops(value: np.ndarray, loc: np.ndarray, weight: np.ndarray, hgt: int, wid: int) -> np.ndarray:
    b_, nq, nh, npt, _ = loc.shape
    d = value.shape[3]
    out = np.zeros((b_, nq, nh * d))
    for b in range(b_):
        for n in range(nh):
            img = value[b, :, n, :].reshape(hgt, wid, d)
            for qi in range(nq):
                for p in range(npt):
                    s = _bilinear_loops(img, float(loc[b, qi, n, p, 0]), float(loc[b, qi, n, p, 1]))
                    for c in range(d):
                        out[b, qi, n * d + c] += float(weight[b, qi, n, p]) * s[c]
    return out


def _deformable(value: np.ndarray, loc: np.ndarray, weight: np.ndarray, hgt: int, wid: int) -> np.ndarray:
    res = OPERATORS["deformable_attention"](
        {"value": value, "sampling_loc": loc, "attn_weight": weight}, {"H": hgt, "W": wid}, {})
    return res["output"]


def test_deformable_attention_loops(rng: np.random.Generator) -> None:
    hgt, wid, b, nq, nh, npt, d = 4, 5, 2, 3, 2, 3, 3
    value = rng.uniform(-1, 1, size=(b, hgt * wid, nh, d)).astype(np.float32)
    loc = rng.uniform(-0.3, 1.3, size=(b, nq, nh, npt, 2)).astype(np.float32)
    weight = rng.uniform(0, 1, size=(b, nq, nh, npt)).astype(np.float32)
    out = _deformable(value, loc, weight, hgt, wid)
    assert out.shape == (b, nq, nh * d) and out.dtype == np.float32
    np.testing.assert_allclose(out, _deformable_loops(value, loc, weight, hgt, wid), rtol=1e-6, atol=1e-6)


def test_deformable_attention_identities(rng: np.random.Generator) -> None:
    hgt, wid, d = 3, 4, 2
    value = rng.standard_normal((1, hgt * wid, 1, d))
    img = value[0, :, 0, :].reshape(hgt, wid, d)
    one = np.ones((1, 1, 1, 1))
    # a point on a pixel centre reads that pixel exactly
    for i in range(hgt):
        for j in range(wid):
            loc = np.array([(j + 0.5) / wid, (i + 0.5) / hgt]).reshape(1, 1, 1, 1, 2)
            np.testing.assert_allclose(_deformable(value, loc, one, hgt, wid)[0, 0], img[i, j], atol=1e-12)
    # halfway between two horizontal neighbours: their mean
    loc = np.array([2.0 / wid, 1.5 / hgt]).reshape(1, 1, 1, 1, 2)
    np.testing.assert_allclose(_deformable(value, loc, one, hgt, wid)[0, 0], (img[1, 1] + img[1, 2]) / 2,
                               atol=1e-12)
    # on the border (x = 0): half of the edge pixel, the other half is zero padding
    loc = np.array([0.0, 0.5 / hgt]).reshape(1, 1, 1, 1, 2)
    np.testing.assert_allclose(_deformable(value, loc, one, hgt, wid)[0, 0], img[0, 0] / 2, atol=1e-12)
    # a whole pixel or more outside: zero
    for x, y in ((-0.5 / wid, 0.5), (1.0 + 0.5 / wid, 0.5), (0.5, -1.0), (0.5, 1.0 + 0.5 / hgt)):
        loc = np.array([x, y]).reshape(1, 1, 1, 1, 2)
        np.testing.assert_allclose(_deformable(value, loc, one, hgt, wid)[0, 0], 0.0, atol=1e-12)
    # linear in the attention weights; a constant map inside the centres gives the weight sum
    const = np.full((1, hgt * wid, 2, d), 3.0)
    loc = np.stack([rng.uniform(0.5 / wid, 1 - 0.5 / wid, size=(1, 5, 2, 4)),
                    rng.uniform(0.5 / hgt, 1 - 0.5 / hgt, size=(1, 5, 2, 4))], axis=-1)
    w = rng.uniform(0, 1, size=(1, 5, 2, 4))
    out = _deformable(const, loc, w, hgt, wid).reshape(1, 5, 2, d)
    np.testing.assert_allclose(out, 3.0 * np.repeat(w.sum(axis=-1)[..., None], d, axis=-1), atol=1e-12)
    v2 = rng.standard_normal((1, hgt * wid, 2, d))
    np.testing.assert_allclose(_deformable(v2, loc, 2 * w, hgt, wid), 2 * _deformable(v2, loc, w, hgt, wid),
                               atol=1e-12)


def test_deformable_attention_matches_grid_sample(rng: np.random.Generator) -> None:
    """The documented convention is PyTorch's ``grid_sample(align_corners=False)`` on 2 * loc - 1."""
    torch = pytest.importorskip("torch")
    hgt, wid, d = 5, 7, 3
    value = rng.standard_normal((1, hgt * wid, 1, d))
    loc = rng.uniform(-0.2, 1.2, size=(1, 6, 1, 1, 2))
    one = np.ones((1, 6, 1, 1))
    img = torch.tensor(value[0, :, 0, :].reshape(hgt, wid, d).transpose(2, 0, 1)[None])
    grid = torch.tensor(2 * loc[0, :, 0, 0, :].reshape(1, 1, 6, 2) - 1)
    ref = torch.nn.functional.grid_sample(img, grid, mode="bilinear", padding_mode="zeros",
                                          align_corners=False)[0, :, 0, :].numpy().T
    np.testing.assert_allclose(_deformable(value, loc, one, hgt, wid)[0], ref, atol=1e-12)


def test_deformable_attention_rejects_bad_shapes(rng: np.random.Generator) -> None:
    value = rng.standard_normal((1, 12, 1, 2))
    loc = rng.uniform(0, 1, size=(1, 2, 1, 3, 2))
    w = np.ones((1, 2, 1, 3))
    with pytest.raises(OperatorError, match="H\\*W"):
        _deformable(value, loc, w, 3, 5)
    with pytest.raises(OperatorError, match="attn_weight"):
        _deformable(value, loc, w[..., :2], 3, 4)
    with pytest.raises(OperatorError, match="dims H and W"):
        OPERATORS["deformable_attention"]({"value": value, "sampling_loc": loc, "attn_weight": w}, {}, {})
