"""Seeded test inputs with edge values, and the numpy storage of each spec dtype.

Why edge values: uniform random data rarely contains 0, -0.0, the bounds of the range or +-1, yet
those are where wrong clamps, sign bugs, off-by-one comparisons (relu at 0, max with -0.0) and
saturation errors show. A few of them are placed at fixed positions spread over each buffer
(including its first and last element), the rest is uniform random.

Why per-argument seeds: each buffer's stream is seeded from (seed, argument name), so adding or
reordering arguments in a spec does not change the data of the others.

bf16 has no numpy dtype: its buffers hold the raw 16-bit patterns (``uint16``);
``as_float`` turns them into float32 values for comparison and references.
"""

from __future__ import annotations

import zlib
from typing import Union

import numpy as np

from measure.spec import ArgSpec, KernelSpec
from passes.ir import NUMPY_DTYPES

_NP_DTYPES: dict[str, np.dtype] = {k: np.dtype(v) for k, v in NUMPY_DTYPES.items()}
_NP_DTYPES["bf16"] = np.dtype("uint16")  # raw bit patterns
_NP_DTYPES["bool"] = np.dtype("uint8")  # one byte 0/1, as C and CUDA store it


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype that stores a spec dtype byte-for-byte as the kernel sees it."""
    return _NP_DTYPES[dtype]


def bf16_bits(values: np.ndarray) -> np.ndarray:
    """float32 values -> bf16 bit patterns, rounding to nearest even (NaN kept quiet)."""
    bits = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    nan = np.isnan(values)
    out[nan] = 0x7FC0
    return out


def as_float(arr: np.ndarray, dtype: str) -> np.ndarray:
    """Values of a buffer as numbers numpy can compute with (bf16 bits -> float32)."""
    if dtype == "bf16":
        return (arr.astype(np.uint32) << 16).view(np.float32)
    return arr


def default_range(dtype: str) -> tuple[float, float]:
    """Where values are drawn when the spec gives no range: [-1, 1] for floats, the full range of
    8-bit integers (quantised kernels must see saturation), and small ranges for wider integers
    so that sums and products stay far from overflow."""
    if dtype == "bool":
        return (0, 1)
    if dtype in ("i8", "u8"):
        info = np.iinfo(numpy_dtype(dtype))
        return (int(info.min), int(info.max))
    if dtype.startswith("i"):
        return (-1000, 1000)
    if dtype.startswith("u"):
        return (0, 1000)
    return (-1.0, 1.0)


def edge_values(dtype: str, lo: float, hi: float) -> list[float]:
    """Values worth testing in [lo, hi]: the bounds, 0 and -0.0 (floats), +-1 when inside."""
    if dtype == "bool":
        return [0, 1]
    vals: list[float] = [lo, hi]
    for v in (0.0, 1.0, -1.0):
        if lo <= v <= hi:
            vals.append(v)
    if dtype in ("f16", "bf16", "f32", "f64") and lo <= 0.0 <= hi:
        vals.append(-0.0)
    seen: list[float] = []
    for v in vals:  # dedupe, but keep -0.0 apart from 0.0
        if not any(v == s and np.signbit(v) == np.signbit(s) for s in seen):
            seen.append(v)
    return seen


def _seed_for(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def make_buffer(arg: ArgSpec, size: int, seed: int) -> np.ndarray:
    """One flat input buffer of ``size`` elements."""
    rng = _seed_for(seed, arg.name)
    lo, hi = arg.range if arg.range is not None else default_range(arg.dtype)
    edges = edge_values(arg.dtype, lo, hi)
    values: np.ndarray
    if arg.dtype == "bool":
        values = rng.integers(0, 2, size=size, dtype=np.int64)
    elif arg.dtype.startswith(("i", "u")):
        ilo, ihi = int(np.ceil(lo)), int(np.floor(hi))
        edges = [float(ilo), float(ihi)] + [e for e in edges if e in (0.0, 1.0, -1.0) and ilo <= e <= ihi]
        values = rng.integers(ilo, ihi, size=size, endpoint=True, dtype=np.int64)
    else:
        values = rng.uniform(lo, hi, size=size)
    positions = np.unique(np.round(np.linspace(0, size - 1, min(len(edges), size))).astype(np.int64))
    for pos, val in zip(positions, edges):
        values[pos] = val
    if arg.dtype == "bf16":
        return bf16_bits(values.astype(np.float32))
    return values.astype(numpy_dtype(arg.dtype))


def make_inputs(spec: KernelSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """Flat arrays for every input/inout buffer of ``spec``, deterministic for ``seed``.

    Output-only buffers are not made here: the drivers fill them with a poison pattern so that an
    element the kernel never writes is caught by the comparison."""
    return {a.name: make_buffer(a, spec.size_of(a), seed) for a in spec.args if a.is_buffer and a.is_input}


def scalar_inputs(spec: KernelSpec) -> dict[str, Union[np.integer, np.floating]]:
    """Scalar arguments as numpy scalars of their dtype (for references)."""
    out: dict[str, Union[np.integer, np.floating]] = {}
    for name, v in spec.scalar_values().items():
        dt = spec.arg(name).dtype
        out[name] = numpy_dtype(dt if dt != "bf16" else "f32").type(v)
    return out
