"""Corpus references: data movement gather, scatter, transpose, concat (see ``registry`` for the
calling convention). All are exact (no arithmetic) except scatter, which adds.

Index arrays are int32, as the kernels receive them; a spec keeps them in range with ``range``
on the index argument (the verifier draws integers in that closed interval).
"""

from __future__ import annotations

import numpy as np

from measure.operators.registry import Arrays, Dims, OperatorError, Params, _f64, _get, operator


def _check_indices(op: str, indices: np.ndarray, bound: int) -> np.ndarray:
    if not np.issubdtype(indices.dtype, np.integer):
        raise OperatorError(f"{op}: indices must be integers; got {indices.dtype}")
    idx = indices.reshape(-1).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= bound):
        raise OperatorError(f"{op}: indices must lie in [0, {bound - 1}]; got [{idx.min()}, "
                            f"{idx.max()}]. Give the index argument a range in the spec.")
    return idx


@operator("gather")
def gather(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Row gather (embedding lookup): ``out[i, :] = table[indices[i], :]``.

    Args: ``table`` (input, V x D), ``indices`` (int32 input, N, each in [0, V)), ``out``
    (output, N x D, the table's dtype).
    """
    table, indices = _get(inputs, "gather", "table", "indices")
    if table.ndim != 2:
        raise OperatorError(f"gather: table must be V x D; got shape {table.shape}")
    idx = _check_indices("gather", indices, table.shape[0])
    return {"out": table[idx, :].copy()}


@operator("scatter")
def scatter(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Row scatter-add (``out.index_add_(0, indices, src)`` in PyTorch), deterministic in value.

    ``out[indices[i], :] += src[i, :]`` for every i; indices may repeat (their rows accumulate,
    in any order, so float results match within a tolerance), and rows never indexed keep their
    value. Args: ``src`` (input, N x D), ``indices`` (int32 input, N, each in [0, V)), ``out``
    (inout, V x D): the kernel adds into it, so it starts from the input values of ``out``.
    """
    src, indices, out = _get(inputs, "scatter", "src", "indices", "out")
    if src.ndim != 2 or out.ndim != 2 or src.shape[1] != out.shape[1]:
        raise OperatorError(f"scatter: src must be N x D and out V x D; got {src.shape} and "
                            f"{out.shape}")
    idx = _check_indices("scatter", indices, out.shape[0])
    if idx.size != src.shape[0]:
        raise OperatorError(f"scatter: indices must have N = {src.shape[0]} entries; got {idx.size}")
    acc = _f64(out).copy()
    np.add.at(acc, idx, _f64(src))
    return {"out": acc.astype(out.dtype)}


@operator("transpose")
def transpose(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """2-D transpose: ``y[c, r] = x[r, c]``. Args: ``x`` (input, R x C), ``y`` (output, C x R)."""
    (x,) = _get(inputs, "transpose", "x")
    if x.ndim != 2:
        raise OperatorError(f"transpose: x must be R x C; got shape {x.shape}")
    return {"y": np.ascontiguousarray(x.T)}


@operator("concat")
def concat(inputs: Arrays, dims: Dims, params: Params) -> Arrays:
    """Concatenation along the last axis of two 2-D inputs: ``y[r, :] = [a[r, :], b[r, :]]``.

    Args: ``a`` (input, R x CA), ``b`` (input, R x CB, same dtype), ``y`` (output, R x (CA + CB)).
    """
    a, b = _get(inputs, "concat", "a", "b")
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise OperatorError(f"concat: a and b must be R x CA and R x CB; got {a.shape} and {b.shape}")
    return {"y": np.concatenate([a, b], axis=1)}
