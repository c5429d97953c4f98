"""Corpus references: convolution and pooling (see ``registry`` for the calling convention).

Layouts, since the operator names do not all carry one:

| operator | input | weight | output |
|---|---|---|---|
| ``conv1d`` | N, C, L | F, C, K | N, F, OL |
| ``conv2d_nchw`` | N, C, H, W | F, C, KH, KW | N, F, OH, OW |
| ``depthwise_conv2d`` | N, H, W, C (NHWC) | KH, KW, C | N, OH, OW, C |
| ``conv2d_u8s8`` | N, H, W, C (u8) | F, KH, KW, C (i8) | N, OH, OW, F (i32) |
| ``avgpool2d``, ``sumpool2d`` | N, C, H, W (NCHW) | | N, C, OH, OW |
| ``minpool2d`` | N, H, W, C (NHWC, like ``maxpool2d_nhwc``) | | N, OH, OW, C |

Convolutions are cross-correlations (as in deep learning) with params ``stride`` (default 1) and
``padding`` (default 0; padded positions read as zero), ``O = (I + 2 * padding - K) // stride + 1``
per spatial dim. Pools take ``window`` (default 2) and ``stride`` (default = window), no padding:
windows that would cross the bottom or right edge are dropped, ``O = (I - window) // stride + 1``.
``avgpool2d`` divides every window sum by the full window size ``window_h * window_w``.
Float references compute in float64; ``conv2d_u8s8`` accumulates exactly in int64.
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
    _int_param,
    _pair_param,
    operator,
)


def _out_size(size: int, k: int, stride: int, pad: int, op: str) -> int:
    if stride < 1:
        raise OperatorError(f"{op}: stride must be at least 1, got {stride}")
    out = (size + 2 * pad - k) // stride + 1
    if out < 1:
        raise OperatorError(f"{op}: a window of {k} does not fit in {size} (+ 2 * {pad} padding)")
    return out


def _taps_2d(x: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int,
             axes: tuple[int, int]) -> list[tuple[int, int, np.ndarray]]:
    """Every filter tap ``(r, s)`` with the strided view of ``x`` it multiplies (spatial dims at
    ``axes``): output position (i, j) reads ``x[.., i * sh + r, j * sw + s, ..]``."""
    taps = []
    for r in range(kh):
        for s in range(kw):
            index: list[slice] = [slice(None)] * x.ndim
            index[axes[0]] = slice(r, r + sh * (oh - 1) + 1, sh)
            index[axes[1]] = slice(s, s + sw * (ow - 1) + 1, sw)
            taps.append((r, s, x[tuple(index)]))
    return taps


def _pool_geometry(x: np.ndarray, params: Params, op: str, axes: tuple[int, int]
                   ) -> tuple[int, int, int, int, int, int]:
    if x.ndim != 4:
        raise OperatorError(f"{op}: input must be 4-D; got shape {x.shape}")
    kh, kw = _pair_param(params, "window", 2, op)
    sh, sw = _pair_param(params, "stride", 0, op) if "stride" in params else (kh, kw)
    oh = _out_size(x.shape[axes[0]], kh, sh, 0, op)
    ow = _out_size(x.shape[axes[1]], kw, sw, 0, op)
    return kh, kw, sh, sw, oh, ow


# --------------------------------------------------------------------------------------------
# convolutions


@operator("conv1d")
def conv1d(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """1-D convolution: ``output[n, f, o] = sum_{c, k} input[n, c, o * stride - pad + k] * weight[f, c, k]``.

    Args: ``input`` (N, C, L), ``weight`` (F, C, K), ``output`` (N, F, OL) with
    ``OL = (L + 2 * padding - K) // stride + 1``. Params: ``stride`` (1), ``padding`` (0).
    """
    x, w = _get(inputs, "conv1d", "input", "weight")
    if x.ndim != 3 or w.ndim != 3 or x.shape[1] != w.shape[1]:
        raise OperatorError(f"conv1d: input must be N,C,L and weight F,C,K; got {x.shape} and {w.shape}")
    stride = _int_param(params, "stride", 1, "conv1d")
    pad = _int_param(params, "padding", 0, "conv1d")
    k = w.shape[2]
    ol = _out_size(x.shape[2], k, stride, pad, "conv1d")
    xp = np.pad(_f64(x), ((0, 0), (0, 0), (pad, pad)))
    wf = _f64(w)
    out = np.zeros((x.shape[0], w.shape[0], ol), dtype=np.float64)
    for t in range(k):
        patch = xp[:, :, t: t + stride * (ol - 1) + 1: stride]  # N, C, OL
        out += np.einsum("ncl,fc->nfl", patch, wf[:, :, t])
    return {"output": out.astype(x.dtype)}


@operator("conv2d_nchw")
def conv2d_nchw(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """2-D convolution, NCHW input, OIHW weight, NCHW output.

    Args: ``input`` (N, C, H, W), ``weight`` (F, C, KH, KW), ``output`` (N, F, OH, OW). Params:
    ``stride`` and ``padding`` (int or [h, w]; defaults 1 and 0).
    """
    x, w = _get(inputs, "conv2d_nchw", "input", "weight")
    if x.ndim != 4 or w.ndim != 4 or x.shape[1] != w.shape[1]:
        raise OperatorError(f"conv2d_nchw: input must be N,C,H,W and weight F,C,KH,KW; got "
                            f"{x.shape} and {w.shape}")
    sh, sw = _pair_param(params, "stride", 1, "conv2d_nchw")
    ph, pw = _pair_param(params, "padding", 0, "conv2d_nchw")
    kh, kw = w.shape[2], w.shape[3]
    oh = _out_size(x.shape[2], kh, sh, ph, "conv2d_nchw")
    ow = _out_size(x.shape[3], kw, sw, pw, "conv2d_nchw")
    xp = np.pad(_f64(x), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    wf = _f64(w)
    out = np.zeros((x.shape[0], w.shape[0], oh, ow), dtype=np.float64)
    for r, s, patch in _taps_2d(xp, kh, kw, sh, sw, oh, ow, (2, 3)):
        out += np.einsum("nchw,fc->nfhw", patch, wf[:, :, r, s])
    return {"output": out.astype(x.dtype)}


@operator("depthwise_conv2d")
def depthwise_conv2d(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Depthwise 2-D convolution, NHWC: each channel is convolved with its own filter.

    ``output[n, i, j, c] = sum_{r, s} input[n, i * stride - pad + r, j * stride - pad + s, c] *
    weight[r, s, c]``. Args: ``input`` (N, H, W, C), ``weight`` (KH, KW, C; the corpus kernels
    use 3 x 3), ``output`` (N, OH, OW, C). Params: ``stride`` (1) and ``padding`` (0).
    """
    x, w = _get(inputs, "depthwise_conv2d", "input", "weight")
    if x.ndim != 4 or w.ndim != 3 or x.shape[3] != w.shape[2]:
        raise OperatorError(f"depthwise_conv2d: input must be N,H,W,C and weight KH,KW,C; got "
                            f"{x.shape} and {w.shape}")
    sh, sw = _pair_param(params, "stride", 1, "depthwise_conv2d")
    ph, pw = _pair_param(params, "padding", 0, "depthwise_conv2d")
    kh, kw = w.shape[0], w.shape[1]
    oh = _out_size(x.shape[1], kh, sh, ph, "depthwise_conv2d")
    ow = _out_size(x.shape[2], kw, sw, pw, "depthwise_conv2d")
    xp = np.pad(_f64(x), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    wf = _f64(w)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]), dtype=np.float64)
    for r, s, patch in _taps_2d(xp, kh, kw, sh, sw, oh, ow, (1, 2)):
        out += patch * wf[r, s]
    return {"output": out.astype(x.dtype)}


@operator("conv2d_u8s8")
def conv2d_u8s8(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Quantised 2-D convolution, exact: u8 NHWC activations x s8 weights -> s32.

    Args: ``input`` (uint8, N, H, W, C), ``weight`` (int8, F, KH, KW, C: the channel dim is
    innermost in both, which is what VNNI ``vpdpbusd`` and ``__dp4a`` consume), ``output``
    (int32, N, OH, OW, F). Params: ``stride`` (1) and ``padding`` (0; padded activations are 0).
    The sum cannot overflow int32 while KH * KW * C < 2^31 / (255 * 128).
    """
    x, w = _get(inputs, "conv2d_u8s8", "input", "weight")
    if x.ndim != 4 or w.ndim != 4 or x.shape[3] != w.shape[3]:
        raise OperatorError(f"conv2d_u8s8: input must be N,H,W,C and weight F,KH,KW,C; got "
                            f"{x.shape} and {w.shape}")
    sh, sw = _pair_param(params, "stride", 1, "conv2d_u8s8")
    ph, pw = _pair_param(params, "padding", 0, "conv2d_u8s8")
    kh, kw = w.shape[1], w.shape[2]
    oh = _out_size(x.shape[1], kh, sh, ph, "conv2d_u8s8")
    ow = _out_size(x.shape[2], kw, sw, pw, "conv2d_u8s8")
    xp = np.pad(x.astype(np.int64), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    wi = w.astype(np.int64)
    out = np.zeros((x.shape[0], oh, ow, w.shape[0]), dtype=np.int64)
    for r, s, patch in _taps_2d(xp, kh, kw, sh, sw, oh, ow, (1, 2)):
        out += patch @ wi[:, r, s, :].T
    return {"output": out.astype(np.int32)}


# --------------------------------------------------------------------------------------------
# pooling


def _window_sum_nchw(x: np.ndarray, params: Params, op: str) -> tuple[np.ndarray, int]:
    kh, kw, sh, sw, oh, ow = _pool_geometry(x, params, op, (2, 3))
    out = np.zeros((x.shape[0], x.shape[1], oh, ow), dtype=np.float64)
    for _, _, patch in _taps_2d(_f64(x), kh, kw, sh, sw, oh, ow, (2, 3)):
        out += patch
    return out, kh * kw


@operator("sumpool2d")
def sumpool2d(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Sum pooling over H and W, NCHW, no padding.

    Args: ``input`` (N, C, H, W), ``output`` (N, C, OH, OW) with ``OH = (H - window) // stride
    + 1``. Params: ``window`` (int or [h, w], default 2) and ``stride`` (default = window).
    """
    (x,) = _get(inputs, "sumpool2d", "input")
    out, _ = _window_sum_nchw(x, params, "sumpool2d")
    return {"output": out.astype(x.dtype)}


@operator("avgpool2d")
def avgpool2d(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Average pooling over H and W, NCHW, no padding: each window sum divided by its size.

    Args and params as ``sumpool2d``: ``input`` (N, C, H, W), ``output`` (N, C, OH, OW),
    ``window`` (default 2), ``stride`` (default = window).
    """
    (x,) = _get(inputs, "avgpool2d", "input")
    out, size = _window_sum_nchw(x, params, "avgpool2d")
    return {"output": (out / size).astype(x.dtype)}


@operator("minpool2d")
def minpool2d(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Min pooling over H and W, NHWC (the layout of ``maxpool2d_nhwc``), no padding.

    Args: ``input`` (N, H, W, C), ``output`` (N, OH, OW, C). Params: ``window`` (int or [h, w],
    default 2) and ``stride`` (default = window).
    """
    (x,) = _get(inputs, "minpool2d", "input")
    kh, kw, sh, sw, oh, ow = _pool_geometry(x, params, "minpool2d", (1, 2))
    out = np.full((x.shape[0], oh, ow, x.shape[3]), np.inf, dtype=np.float64)
    for _, _, patch in _taps_2d(_f64(x), kh, kw, sh, sw, oh, ow, (1, 2)):
        out = np.minimum(out, patch)
    return {"output": out.astype(x.dtype)}
