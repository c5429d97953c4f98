"""The registry of numpy references for the operator corpus: the truth a kernel's outputs are compared with.

A spec names its reference with ``[reference] operator = "NAME"`` (and optional
``[reference.params]``). The verifier calls ``OPERATORS[NAME](inputs, dims, params)`` where

- ``inputs`` maps each input (and inout) argument name to its array, already reshaped to the
  spec shape, and each scalar argument to a numpy scalar;
- ``dims`` is the spec's ``[dims]`` table;
- ``params`` is the spec's ``[reference.params]`` table (missing keys take the defaults below).

It returns the outputs keyed by argument name, in the output dtype; callers flatten them.

Why arg names are a contract: a kernel's parameters are named by whoever wrote it, and the spec
cannot say "this buffer is the left matrix" other than by name. So each operator documents the
names it reads and writes, and every kernel of that operator in ``kernels/`` (C and CUDA alike)
uses exactly those names. A missing name is an ``OperatorError`` that lists what is expected,
so a mis-named spec fails loudly instead of comparing against the wrong array.

All float references compute in float64 and cast at the end, so that the reference error is far
below any kernel's fp32 rounding and tolerances measure the kernel alone. Integer references are
exact (int64 accumulation).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

Arrays = dict[str, np.ndarray]
Dims = dict[str, int]
Params = dict[str, Any]
OperatorFn = Callable[[Arrays, Dims, Params], Arrays]

OPERATORS: dict[str, OperatorFn] = {}


class OperatorError(ValueError):
    """The inputs or params given to a reference do not match what the operator expects."""


def operator(name: str) -> Callable[[OperatorFn], OperatorFn]:
    """Register ``fn`` as the reference of operator ``name`` (names are unique)."""

    def register(fn: OperatorFn) -> OperatorFn:
        if name in OPERATORS:
            raise ValueError(f"operator {name!r} is registered twice")
        OPERATORS[name] = fn
        return fn

    return register


def _get(inputs: Mapping[str, np.ndarray], op: str, *names: str) -> list[np.ndarray]:
    """The named inputs, or an error that lists the names the operator's kernels must use."""
    missing = [n for n in names if n not in inputs]
    if missing:
        raise OperatorError(
            f"operator {op!r} expects arguments named {', '.join(names)}; missing "
            f"{', '.join(missing)} (got {', '.join(sorted(inputs)) or 'none'}). Rename the "
            f"kernel parameters and spec args to match.")
    return [np.asarray(inputs[n]) for n in names]


def _int_param(params: Mapping[str, Any], key: str, default: int, op: str) -> int:
    value = params.get(key, default)
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise OperatorError(f"operator {op!r}: param {key!r} must be an integer, got {value!r}")
    return int(value)


def _pair_param(params: Mapping[str, Any], key: str, default: int, op: str) -> tuple[int, int]:
    """An int or ``[h, w]`` param (window, stride, padding), as an (h, w) pair."""
    value = params.get(key, default)
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(isinstance(v, int) for v in value):
            raise OperatorError(f"operator {op!r}: param {key!r} must be an int or [h, w]")
        return int(value[0]), int(value[1])
    v = _int_param(params, key, default, op)
    return v, v


def _f64(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------------------------
# elementwise


