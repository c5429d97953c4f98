"""References of the starter set: relu, softmax, layernorm, gemm, gemm_u8s8, conv2d_nhwc,
maxpool2d_nhwc (see ``registry`` for the calling convention)."""

from __future__ import annotations

import numpy as np

from measure.operators.registry import (
    Arrays,
    Dims,
    OperatorError,
    Params,
    _f64,
    _get,
    _pair_param,
    operator,
)


@operator("relu")
def relu(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y = max(x, 0)``. Args: ``x`` (input), ``y`` (output, same dtype and size)."""
    (x,) = _get(inputs, "relu", "x")
    return {"y": np.maximum(_f64(x), 0.0).astype(x.dtype)}


# --------------------------------------------------------------------------------------------
# row-wise reductions


@operator("softmax")
def softmax(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Softmax over the last dim. Args: ``x`` (input, rows x cols), ``y`` (output, same shape).

    Subtracting the row max is how every kernel computes it (to avoid overflow); doing it here
    too keeps the reference finite for any input range the spec allows.
    """
    (x,) = _get(inputs, "softmax", "x")
    xf = _f64(x)
    e = np.exp(xf - xf.max(axis=-1, keepdims=True))
    return {"y": (e / e.sum(axis=-1, keepdims=True)).astype(x.dtype)}


@operator("layernorm")
def layernorm(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Layer normalisation over the last dim with the biased variance (as PyTorch does).

    Args: ``x`` (input, rows x cols), ``gamma`` and ``beta`` (inputs, cols), ``y`` (output,
    same shape as x). Params: ``eps`` (default 1e-5). Kernels receive eps as a literal of the
    same value; the param exists so a spec with another eps stays checkable.
    """
    x, gamma, beta = _get(inputs, "layernorm", "x", "gamma", "beta")
    eps = float(params.get("eps", 1e-5))
    xf = _f64(x)
    mean = xf.mean(axis=-1, keepdims=True)
    var = ((xf - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (xf - mean) / np.sqrt(var + eps) * _f64(gamma).reshape(-1) + _f64(beta).reshape(-1)
    return {"y": y.astype(x.dtype)}


# --------------------------------------------------------------------------------------------
# matrix products


@operator("gemm")
def gemm(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``C = A @ B``, row-major. Args: ``A`` (M x K), ``B`` (K x N), ``C`` (output, M x N)."""
    a, b = _get(inputs, "gemm", "A", "B")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise OperatorError(f"gemm: A must be M x K and B K x N; got {a.shape} and {b.shape}")
    return {"C": (_f64(a) @ _f64(b)).astype(a.dtype)}


@operator("gemm_u8s8")
def gemm_u8s8(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Quantised GEMM, exact: ``C[i, j] = sum_k A[i, k] * B[j, k]``.

    Args: ``A`` (uint8, M x K), ``B`` (int8, N x K: B is stored transposed so that a row of A and
    a row of B are both contiguous, which is what VNNI ``vpdpbusd`` and ``__dp4a`` consume),
    ``C`` (int32 output, M x N). The sum cannot overflow int32 for K < 2^31 / (255 * 128).
    """
    a, b = _get(inputs, "gemm_u8s8", "A", "B")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise OperatorError(f"gemm_u8s8: A must be M x K and B N x K; got {a.shape} and {b.shape}")
    c = a.astype(np.int64) @ b.astype(np.int64).T
    return {"C": c.astype(np.int32)}


# --------------------------------------------------------------------------------------------
# convolution and pooling (NHWC)


@operator("conv2d_nhwc")
def conv2d_nhwc(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """2-D convolution (cross-correlation, as in deep learning), NHWC input, HWIO weight.

    Args: ``input`` (N, H, W, C), ``weight`` (KH, KW, C, F), ``output`` (N, OH, OW, F) with
    ``OH = (H + 2*pad - KH) // stride + 1`` (and the same for W). Params: ``stride`` and
    ``padding`` (int or [h, w]; defaults 1 and 0); padded positions read as zero.
    """
    x, w = _get(inputs, "conv2d_nhwc", "input", "weight")
    if x.ndim != 4 or w.ndim != 4 or x.shape[3] != w.shape[2]:
        raise OperatorError(f"conv2d_nhwc: input must be N,H,W,C and weight KH,KW,C,F; got "
                            f"{x.shape} and {w.shape}")
    sh, sw = _pair_param(params, "stride", 1, "conv2d_nhwc")
    ph, pw = _pair_param(params, "padding", 0, "conv2d_nhwc")
    n, h, wd, _ = x.shape
    kh, kw, _, f = w.shape
    oh = (h + 2 * ph - kh) // sh + 1
    ow = (wd + 2 * pw - kw) // sw + 1
    xp = np.pad(_f64(x), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    wf = _f64(w)
    out = np.zeros((n, oh, ow, f), dtype=np.float64)
    # One tensordot per filter tap: KH*KW small GEMMs, exact in float64 and fast enough.
    for r in range(kh):
        for s in range(kw):
            patch = xp[:, r: r + sh * (oh - 1) + 1: sh, s: s + sw * (ow - 1) + 1: sw, :]
            out += np.tensordot(patch, wf[r, s], axes=([3], [0]))
    return {"output": out.astype(x.dtype)}


@operator("maxpool2d_nhwc")
def maxpool2d_nhwc(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Max pooling over H and W, NHWC, no padding (windows that would cross the edge are dropped).

    Args: ``input`` (N, H, W, C), ``output`` (N, OH, OW, C) with ``OH = (H - window) // stride
    + 1``. Params: ``window`` (int or [h, w], default 2) and ``stride`` (default = window).
    """
    (x,) = _get(inputs, "maxpool2d_nhwc", "input")
    if x.ndim != 4:
        raise OperatorError(f"maxpool2d_nhwc: input must be N,H,W,C; got shape {x.shape}")
    kh, kw = _pair_param(params, "window", 2, "maxpool2d_nhwc")
    sh, sw = _pair_param(params, "stride", 0, "maxpool2d_nhwc") if "stride" in params else (kh, kw)
    n, h, w, c = x.shape
    oh = (h - kh) // sh + 1
    ow = (w - kw) // sw + 1
    xf = _f64(x)
    out = np.full((n, oh, ow, c), -np.inf, dtype=np.float64)
    for r in range(kh):
        for s in range(kw):
            out = np.maximum(out, xf[:, r: r + sh * (oh - 1) + 1: sh, s: s + sw * (ow - 1) + 1: sw, :])
    return {"output": out.astype(x.dtype)}
