"""Corpus references: attention operators (see ``registry`` for the calling convention).

- ``mha``: scaled dot-product attention per (batch, head) on already projected q, k, v.
- ``gqa``: the same with fewer key/value heads than query heads (grouped-query attention).
- ``deformable_attention``: single-scale deformable attention (Deformable DETR's sampling core).
"""

from __future__ import annotations

import numpy as np

from measure.operators.registry import (
    Arrays,
    Dims,
    OperatorError,
    Params,
    _f64,
    _get,
    operator,
)


def _bool_param(params: Params, key: str, op: str) -> bool:
    value = params.get(key, False)
    if not isinstance(value, (bool, np.bool_)):
        raise OperatorError(f"operator {op!r}: param {key!r} must be true or false, got {value!r}")
    return bool(value)


def _sdpa(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> np.ndarray:
    """``softmax(q k^T / sqrt(D)) v`` over the last two axes, float64, stable (row max subtracted)."""
    d = q.shape[-1]
    scores = np.einsum("...id,...jd->...ij", q, k) / np.sqrt(float(d))
    if causal:
        s = scores.shape[-1]
        scores = np.where(np.tril(np.ones((s, s), dtype=bool)), scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p /= p.sum(axis=-1, keepdims=True)
    return np.einsum("...ij,...jd->...id", p, v)


def _check_qkv(op: str, q: np.ndarray, k: np.ndarray, v: np.ndarray) -> None:
    if q.ndim != 4 or k.ndim != 4 or v.shape != k.shape:
        raise OperatorError(f"{op}: q must be [B, Hq, S, D] and k, v [B, Hkv, S, D] (same shape); "
                            f"got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise OperatorError(f"{op}: q and k must agree on B, S and D; got {q.shape} and {k.shape}")




@operator("mha")
def mha(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Multi-head scaled dot-product attention on projected inputs, no mask by default.

    Args: ``q``, ``k``, ``v`` (inputs, [B, H, S, D]), ``o`` (output, [B, H, S, D]) with
    ``o[b, h] = softmax(q[b, h] k[b, h]^T / sqrt(D)) v[b, h]`` (softmax over the key axis).
    Params: ``causal`` (default false): query row i attends to keys 0..i only.
    """
    q, k, v = _get(inputs, "mha", "q", "k", "v")
    _check_qkv("mha", q, k, v)
    if q.shape[1] != k.shape[1]:
        raise OperatorError(f"mha: q, k, v must have the same heads; got {q.shape} and {k.shape}")
    o = _sdpa(_f64(q), _f64(k), _f64(v), _bool_param(params, "causal", "mha"))
    return {"o": o.astype(q.dtype)}


@operator("gqa")
def gqa(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Grouped-query attention: ``Hq`` query heads share ``Hkv`` key/value heads.

    Args: ``q`` (input, [B, Hq, S, D]), ``k`` and ``v`` (inputs, [B, Hkv, S, D]), ``o`` (output,
    [B, Hq, S, D]). ``Hq`` is a multiple of ``Hkv``; query head ``h`` reads kv head
    ``h // (Hq // Hkv)`` (consecutive query heads form a group, as in Llama). Then as ``mha``,
    including the ``causal`` param.
    """
    q, k, v = _get(inputs, "gqa", "q", "k", "v")
    _check_qkv("gqa", q, k, v)
    hq, hkv = q.shape[1], k.shape[1]
    if hkv == 0 or hq % hkv != 0:
        raise OperatorError(f"gqa: the query heads ({hq}) must be a multiple of the kv heads ({hkv})")
    group = hq // hkv
    kf = np.repeat(_f64(k), group, axis=1)  # kv head of query head h is h // group
    vf = np.repeat(_f64(v), group, axis=1)
    o = _sdpa(_f64(q), kf, vf, _bool_param(params, "causal", "gqa"))
    return {"o": o.astype(q.dtype)}


def bilinear_zero_pad(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``img`` ([H, W, ...]) at normalised points (``x``, ``y``, any equal shapes).

    The convention of ``grid_sample(..., align_corners=False, padding_mode="zeros")`` on [0, 1]
    coordinates, which is also Deformable DETR's: pixel (row i, column j) has its centre at
    ``x = (j + 0.5) / W``, ``y = (i + 0.5) / H``, so a point maps to the continuous pixel position
    ``w = x * W - 0.5``, ``h = y * H - 0.5``; the four pixels around it (``floor`` and
    ``floor + 1``) are blended with the bilinear weights, and a pixel outside the image reads as 0.
    Returns an array of shape ``x.shape + img.shape[2:]``.
    """
    hgt, wid = img.shape[0], img.shape[1]
    h = y * hgt - 0.5
    w = x * wid - 0.5
    h0 = np.floor(h)
    w0 = np.floor(w)
    lh = h - h0
    lw = w - w0
    out = np.zeros(x.shape + img.shape[2:], dtype=np.float64)
    for dh, wh in ((0, 1.0 - lh), (1, lh)):
        for dw, ww in ((0, 1.0 - lw), (1, lw)):
            hi = (h0 + dh).astype(np.int64)
            wi = (w0 + dw).astype(np.int64)
            inside = (hi >= 0) & (hi < hgt) & (wi >= 0) & (wi < wid)
            px = img[np.clip(hi, 0, hgt - 1), np.clip(wi, 0, wid - 1)]
            weight = np.where(inside, wh * ww, 0.0)
            out += weight.reshape(weight.shape + (1,) * (img.ndim - 2)) * px
    return out


@operator("deformable_attention")
def deformable_attention(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Single-scale deformable attention (the sampling core of Deformable DETR's MSDeformAttn).

    Args: ``value`` (input, [B, H*W, NH, D]: a feature map of H rows and W columns flattened
    row-major, NH heads of D channels), ``sampling_loc`` (input, [B, Q, NH, P, 2]: per query, head
    and sampling point an (x, y) pair in normalised [0, 1] coordinates, x along W, y along H;
    points outside [0, 1] are allowed and read zeros beyond the border), ``attn_weight`` (input,
    [B, Q, NH, P], already softmaxed by the caller; used as given), ``output`` (output,
    [B, Q, NH*D]) with ``output[b, q, n*D + d] = sum_p attn_weight[b, q, n, p] *
    bilinear(value[b, :, n, d] as H x W, sampling_loc[b, q, n, p])``.

    The sampling convention is :func:`bilinear_zero_pad` (``grid_sample`` with
    ``align_corners=False`` and zero padding): the point (x, y) sits at pixel position
    ``(x * W - 0.5, y * H - 0.5)``. H and W come from the dims ``H`` and ``W``.
    """
    value, loc, weight = _get(inputs, "deformable_attention", "value", "sampling_loc", "attn_weight")
    if "H" not in dims or "W" not in dims:
        raise OperatorError("deformable_attention: the spec needs dims H and W (value holds H*W pixels)")
    hgt, wid = int(dims["H"]), int(dims["W"])
    if value.ndim != 4 or value.shape[1] != hgt * wid:
        raise OperatorError(f"deformable_attention: value must be [B, H*W, NH, D] with H*W = "
                            f"{hgt * wid}; got {value.shape}")
    b, _, nh, d = value.shape
    if loc.ndim != 5 or loc.shape[0] != b or loc.shape[2] != nh or loc.shape[4] != 2:
        raise OperatorError(f"deformable_attention: sampling_loc must be [B, Q, NH, P, 2]; got {loc.shape}")
    nq, npt = loc.shape[1], loc.shape[3]
    if weight.shape != (b, nq, nh, npt):
        raise OperatorError(f"deformable_attention: attn_weight must be [B, Q, NH, P] = "
                            f"{(b, nq, nh, npt)}; got {weight.shape}")
    vf = _f64(value)
    lf = _f64(loc)
    wf = _f64(weight)
    out = np.zeros((b, nq, nh, d), dtype=np.float64)
    for bi in range(b):
        for n in range(nh):
            img = vf[bi, :, n, :].reshape(hgt, wid, d)
            samples = bilinear_zero_pad(img, lf[bi, :, n, :, 0], lf[bi, :, n, :, 1])  # [Q, P, D]
            out[bi, :, n, :] = np.einsum("qp,qpd->qd", wf[bi, :, n, :], samples)
    return {"output": out.reshape(b, nq, nh * d).astype(value.dtype)}
