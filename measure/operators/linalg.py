"""Corpus references: linalg operators (see ``registry`` for the calling convention).

gemv, bmm and dense in fp32; u8 x s8 -> s32 gemv and bmm (exact, int64 accumulation); gemm and
bmm on fp16 inputs with an fp32 output. The fp16 references compute in float64 from the same
f16 values the kernel reads, so the only difference left is the kernel's fp32 accumulation.
"""

from __future__ import annotations

import numpy as np

from measure.operators.registry import Arrays, Dims, OperatorError, Params, _f64, _get, operator


def _check_batched(op: str, a: np.ndarray, b: np.ndarray, b_transposed: bool) -> None:
    """A is [batch, M, K]; B is [batch, K, N], or [batch, N, K] when ``b_transposed``."""
    kb = b.shape[2] if b_transposed else (b.shape[1] if b.ndim == 3 else -1)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != kb:
        want = "batch x N x K" if b_transposed else "batch x K x N"
        raise OperatorError(f"{op}: A must be batch x M x K and B {want}; got {a.shape} and {b.shape}")


# --------------------------------------------------------------------------------------------
# fp32


@operator("gemv")
def gemv(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y = A @ x``. Args: ``A`` (M x K, row-major), ``x`` (K), ``y`` (output, M)."""
    a, x = _get(inputs, "gemv", "A", "x")
    x = x.reshape(-1)
    if a.ndim != 2 or a.shape[1] != x.shape[0]:
        raise OperatorError(f"gemv: A must be M x K and x of length K; got {a.shape} and {x.shape}")
    return {"y": (_f64(a) @ _f64(x)).astype(a.dtype)}


@operator("bmm")
def bmm(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Batched GEMM ``C[b] = A[b] @ B[b]``. Args: ``A`` (batch x M x K), ``B`` (batch x K x N),
    ``C`` (output, batch x M x N); all row-major and contiguous."""
    a, b = _get(inputs, "bmm", "A", "B")
    _check_batched("bmm", a, b, b_transposed=False)
    return {"C": np.matmul(_f64(a), _f64(b)).astype(a.dtype)}


@operator("dense")
def dense(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Fully connected layer ``y = x @ W^T + b`` (as torch.nn.Linear stores W).

    Args: ``x`` (M x K), ``W`` (N x K: one row of weights per output feature), ``b`` (N),
    ``y`` (output, M x N).
    """
    x, w, bias = _get(inputs, "dense", "x", "W", "b")
    bias = bias.reshape(-1)
    if x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[1] or bias.shape[0] != w.shape[0]:
        raise OperatorError(f"dense: x must be M x K, W N x K and b of length N; got {x.shape}, "
                            f"{w.shape} and {bias.shape}")
    return {"y": (_f64(x) @ _f64(w).T + _f64(bias)).astype(x.dtype)}


# --------------------------------------------------------------------------------------------
# quantised: u8 x s8 -> s32, exact


@operator("gemv_u8s8")
def gemv_u8s8(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Quantised GEMV, exact: ``y[i] = sum_k A[i, k] * x[k]``.

    Args: ``A`` (uint8, M x K), ``x`` (int8, K), ``y`` (int32 output, M). No int32 overflow for
    K < 2^31 / (255 * 128).
    """
    a, x = _get(inputs, "gemv_u8s8", "A", "x")
    x = x.reshape(-1)
    if a.ndim != 2 or a.shape[1] != x.shape[0]:
        raise OperatorError(f"gemv_u8s8: A must be M x K and x of length K; got {a.shape} and {x.shape}")
    return {"y": (a.astype(np.int64) @ x.astype(np.int64)).astype(np.int32)}


@operator("bmm_u8s8")
def bmm_u8s8(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Quantised batched GEMM, exact: ``C[b, i, j] = sum_k A[b, i, k] * B[b, j, k]``.

    Args: ``A`` (uint8, batch x M x K), ``B`` (int8, batch x N x K: stored transposed, as in
    ``gemm_u8s8``, so that rows of A and of B are both contiguous), ``C`` (int32, batch x M x N).
    """
    a, b = _get(inputs, "bmm_u8s8", "A", "B")
    _check_batched("bmm_u8s8", a, b, b_transposed=True)
    c = np.matmul(a.astype(np.int64), b.astype(np.int64).transpose(0, 2, 1))
    return {"C": c.astype(np.int32)}


# --------------------------------------------------------------------------------------------
# fp16 inputs, fp32 output


@operator("gemm_f16")
def gemm_f16(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``C = A @ B`` on half inputs, float32 output (fp32 accumulation on tensor cores).

    Args: ``A`` (f16, M x K), ``B`` (f16, K x N), ``C`` (f32 output, M x N).
    """
    a, b = _get(inputs, "gemm_f16", "A", "B")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise OperatorError(f"gemm_f16: A must be M x K and B K x N; got {a.shape} and {b.shape}")
    return {"C": (_f64(a) @ _f64(b)).astype(np.float32)}


@operator("bmm_f16")
def bmm_f16(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Batched ``C[b] = A[b] @ B[b]`` on half inputs, float32 output.

    Args: ``A`` (f16, batch x M x K), ``B`` (f16, batch x K x N), ``C`` (f32, batch x M x N).
    """
    a, b = _get(inputs, "bmm_f16", "A", "B")
    _check_batched("bmm_f16", a, b, b_transposed=False)
    return {"C": np.matmul(_f64(a), _f64(b)).astype(np.float32)}
