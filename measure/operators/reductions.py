"""Corpus references: row-wise reductions sum, mean, max, min (see ``registry`` for the calling
convention).

All four reduce the last dim of a 2-D input: ``x`` (input, rows x cols) -> ``y`` (output, rows).
Sums and means accumulate in float64 and cast at the end; max and min are exact.
"""

from __future__ import annotations

import numpy as np

from measure.operators.registry import Arrays, Dims, OperatorError, Params, _f64, _get, operator


def _rows(op: str, inputs: Arrays) -> np.ndarray:
    (x,) = _get(inputs, op, "x")
    if x.ndim != 2:
        raise OperatorError(f"{op}: x must be rows x cols; got shape {x.shape}")
    if x.shape[1] == 0:
        raise OperatorError(f"{op}: rows must not be empty (cols = 0)")
    return x


@operator("sum")
def row_sum(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y[r] = sum_c x[r, c]``. Args: ``x`` (rows x cols), ``y`` (output, rows)."""
    x = _rows("sum", inputs)
    return {"y": _f64(x).sum(axis=-1).astype(x.dtype)}


@operator("mean")
def row_mean(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y[r] = sum_c x[r, c] / cols``. Args: ``x`` (rows x cols), ``y`` (output, rows)."""
    x = _rows("mean", inputs)
    return {"y": _f64(x).mean(axis=-1).astype(x.dtype)}


@operator("max")
def row_max(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y[r] = max_c x[r, c]``. Args: ``x`` (rows x cols), ``y`` (output, rows)."""
    x = _rows("max", inputs)
    return {"y": _f64(x).max(axis=-1).astype(x.dtype)}


@operator("min")
def row_min(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """``y[r] = min_c x[r, c]``. Args: ``x`` (rows x cols), ``y`` (output, rows)."""
    x = _rows("min", inputs)
    return {"y": _f64(x).min(axis=-1).astype(x.dtype)}
