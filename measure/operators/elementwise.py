"""Corpus references: elementwise operators (see ``registry`` for the calling convention).

Every operator maps each element on its own, so a reference reads its inputs whatever their
shape (1-D ``N`` or 2-D ``rows x cols``) and returns outputs of the same shape and dtype.
``relu`` lives in ``basic`` with the starter set.

Argument names (every kernel of the operator uses them):

| operator | inputs | outputs |
|---|---|---|
| ``add`` | ``A``, ``B`` (same shape) | ``C`` |
| ``sub`` | ``A``, ``B`` (same shape) | ``C`` |
| ``sign`` | ``x`` | ``y`` |
| ``sin`` | ``x`` | ``y`` |
| ``gelu`` (exact, erf form) | ``x`` | ``y`` |
| ``sigmoid`` | ``x`` | ``y`` |
"""

from __future__ import annotations

import math

import numpy as np

from measure.operators.registry import Arrays, Dims, OperatorError, Params, _f64, _get, operator


def _same_shape(op: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise OperatorError(f"{op}: A and B must have the same shape; got {a.shape} and {b.shape}")


@operator("add")
def add(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``C = A + B`` elementwise. Args: ``A``, ``B`` (inputs, same shape), ``C`` (output)."""
    a, b = _get(inputs, "add", "A", "B")
    _same_shape("add", a, b)
    return {"C": (_f64(a) + _f64(b)).astype(a.dtype)}


@operator("sub")
def sub(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``C = A - B`` elementwise. Args: ``A``, ``B`` (inputs, same shape), ``C`` (output)."""
    a, b = _get(inputs, "sub", "A", "B")
    _same_shape("sub", a, b)
    return {"C": (_f64(a) - _f64(b)).astype(a.dtype)}


@operator("sign")
def sign(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y = -1, 0 or +1`` by the sign of ``x``; both zeros (0.0 and -0.0) give 0 (+0.0), as
    ``(x > 0) - (x < 0)`` does in C. NaN would give 0 that way; the reference keeps NaN (numpy's
    ``sign``), and specs draw finite inputs. Args: ``x`` (input), ``y`` (output, same shape)."""
    (x,) = _get(inputs, "sign", "x")
    y = np.sign(_f64(x)) + 0.0  # + 0.0 turns a -0.0 result into +0.0
    return {"y": y.astype(x.dtype)}


@operator("sin")
def sin(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y = sin(x)`` (radians). Args: ``x`` (input), ``y`` (output, same shape)."""
    (x,) = _get(inputs, "sin", "x")
    return {"y": np.sin(_f64(x)).astype(x.dtype)}


_erf = np.vectorize(math.erf, otypes=[np.float64])


@operator("gelu")
def gelu(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Exact GELU, ``y = 0.5 * x * (1 + erf(x / sqrt(2)))`` (not the tanh approximation).
    Args: ``x`` (input), ``y`` (output, same shape)."""
    (x,) = _get(inputs, "gelu", "x")
    xf = _f64(x)
    return {"y": (0.5 * xf * (1.0 + _erf(xf / math.sqrt(2.0)))).astype(x.dtype)}


@operator("sigmoid")
def sigmoid(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Logistic sigmoid, ``y = 1 / (1 + exp(-x))``. Args: ``x`` (input), ``y`` (output).

    Computed as ``exp(-|x|)`` based branches so that no ``exp`` overflows for any float input:
    ``1 / (1 + e)`` for ``x >= 0`` and ``e / (1 + e)`` for ``x < 0`` with ``e = exp(-|x|)``.
    """
    (x,) = _get(inputs, "sigmoid", "x")
    xf = _f64(x)
    e = np.exp(-np.abs(xf))
    y = np.where(xf >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e))
    return {"y": y.astype(x.dtype)}
