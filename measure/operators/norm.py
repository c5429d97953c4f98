"""Corpus references: normalisations (batchnorm, rmsnorm, instancenorm) and the gated MLP (see
``registry`` for the calling convention). layernorm lives in ``basic`` with the starter set.

All compute in float64 and cast to the input dtype at the end. The normalisations use the biased
variance (divide by the count, as PyTorch does when it normalises); ``eps`` is a reference param
that kernels write as a literal of the same value.
"""

from __future__ import annotations

import numpy as np

from measure.operators.registry import Arrays, Dims, OperatorError, Params, _f64, _get, operator


def _normalise(xf: np.ndarray, axes: tuple[int, ...], eps: float) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps)`` with mean and biased variance over ``axes``."""
    mean = xf.mean(axis=axes, keepdims=True)
    var = ((xf - mean) ** 2).mean(axis=axes, keepdims=True)
    return (xf - mean) / np.sqrt(var + eps)


def _nchw_affine(op: str, inputs: Arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, gamma, beta = _get(inputs, op, "x", "gamma", "beta")
    if x.ndim != 4:
        raise OperatorError(f"{op}: x must be N,C,H,W; got shape {x.shape}")
    c = x.shape[1]
    if gamma.size != c or beta.size != c:
        raise OperatorError(f"{op}: gamma and beta must have C = {c} elements; got {gamma.size} "
                            f"and {beta.size}")
    return x, _f64(gamma).reshape(1, c, 1, 1), _f64(beta).reshape(1, c, 1, 1)


@operator("batchnorm")
def batchnorm(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Batch normalisation with batch statistics (training mode), NCHW.

    Each channel ``c`` is normalised with the mean and biased variance of ``x[:, c, :, :]``
    (over N, H and W), then scaled and shifted: ``y = (x - mean_c) / sqrt(var_c + eps) *
    gamma[c] + beta[c]``. Args: ``x`` (N, C, H, W), ``gamma`` and ``beta`` (C), ``y`` (output,
    same shape as x). Params: ``eps`` (default 1e-5). Running statistics are not updated.
    """
    x, g, b = _nchw_affine("batchnorm", inputs)
    eps = float(params.get("eps", 1e-5))
    y = _normalise(_f64(x), (0, 2, 3), eps) * g + b
    return {"y": y.astype(x.dtype)}


@operator("instancenorm")
def instancenorm(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Instance normalisation, NCHW: each (n, c) plane is normalised over its H x W values.

    ``y = (x - mean_nc) / sqrt(var_nc + eps) * gamma[c] + beta[c]`` (biased variance). Args:
    ``x`` (N, C, H, W), ``gamma`` and ``beta`` (C), ``y`` (output, same shape as x). Params:
    ``eps`` (default 1e-5).
    """
    x, g, b = _nchw_affine("instancenorm", inputs)
    eps = float(params.get("eps", 1e-5))
    y = _normalise(_f64(x), (2, 3), eps) * g + b
    return {"y": y.astype(x.dtype)}


@operator("rmsnorm")
def rmsnorm(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """RMS normalisation over the last dim: ``y = x / sqrt(mean(x^2) + eps) * weight``.

    No centring and no bias (as in T5 and LLaMA). Args: ``x`` (rows x cols), ``weight`` (cols),
    ``y`` (output, same shape as x). Params: ``eps`` (default 1e-6).
    """
    x, weight = _get(inputs, "rmsnorm", "x", "weight")
    if weight.size != x.shape[-1]:
        raise OperatorError(f"rmsnorm: weight must have {x.shape[-1]} elements; got {weight.size}")
    eps = float(params.get("eps", 1e-6))
    xf = _f64(x)
    ms = (xf * xf).mean(axis=-1, keepdims=True)
    y = xf / np.sqrt(ms + eps) * _f64(weight).reshape(-1)
    return {"y": y.astype(x.dtype)}


@operator("gated_mlp")
def gated_mlp(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Gated MLP (SwiGLU feed-forward): ``h = silu(x W1^T) * (x W3^T)``, ``out = h W2^T``.

    ``silu(z) = z / (1 + exp(-z))``. Args: ``x`` (T x D), ``W1`` and ``W3`` (H x D, rows are
    output features as in ``nn.Linear``), ``W2`` (D x H); outputs ``h`` (T x H, the gated hidden
    activations, returned so that a kernel's intermediate is checked too) and ``out`` (T x D).
    """
    x, w1, w3, w2 = _get(inputs, "gated_mlp", "x", "W1", "W3", "W2")
    if x.ndim != 2 or w1.ndim != 2 or w3.shape != w1.shape or w2.shape != w1.shape[::-1] \
            or x.shape[1] != w1.shape[1]:
        raise OperatorError(f"gated_mlp: x must be T x D, W1 and W3 H x D, W2 D x H; got "
                            f"{x.shape}, {w1.shape}, {w3.shape}, {w2.shape}")
    xf = _f64(x)
    a = xf @ _f64(w1).T
    g = xf @ _f64(w3).T
    h = a / (1.0 + np.exp(-a)) * g
    out = h @ _f64(w2).T
    return {"h": h.astype(x.dtype), "out": out.astype(x.dtype)}
