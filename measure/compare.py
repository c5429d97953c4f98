"""Dtype-aware comparison of a kernel's outputs with the reference.

Why these rules: integers (quantised GEMM, indices, counts) have one right answer, so they compare
exactly. Floats are compared elementwise with ``|out - exp| <= atol + rtol * |exp|``; the default
``atol`` is scaled by the largest finite magnitude of the expected data, because a reduction's
rounding error grows with its partial sums rather than with each output element (a GEMM output near
zero can carry the absolute error of its large neighbours). Special values must match exactly: a NaN
or an infinity in the reference must be reproduced, and a NaN where a finite value is expected is a
mismatch. The drivers fill output-only buffers with 0xFF bytes, which are NaN for every float
dtype, so an element that the kernel never wrote shows up as such a NaN and is reported as "never
written?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Union

import numpy as np

from measure.inputs import as_float, numpy_dtype
from measure.spec import KernelSpec

# dtype -> (rtol, atol as a fraction of the largest |expected|, at least of 1.0)
DEFAULT_TOLERANCES = {
    "f64": (1e-9, 1e-11),
    "f32": (1e-4, 1e-5),
    "f16": (1e-2, 1e-3),
    "bf16": (2e-2, 1e-2),
}


@dataclass
class ArgComparison:
    """How one output argument compared."""

    name: str
    ok: bool
    size: int
    mismatches: int = 0
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    first_index: Union[int, None] = None
    first_value: Union[float, int, None] = None
    first_expected: Union[float, int, None] = None
    rtol: float = 0.0
    atol: float = 0.0
    note: str = ""


@dataclass
class Comparison:
    """The result over all output arguments; ``reason`` names the first failing argument."""

    ok: bool
    reason: str
    args: dict[str, ArgComparison] = field(default_factory=dict)

    @property
    def max_abs_error(self) -> float:
        return max((a.max_abs_error for a in self.args.values()), default=0.0)

    @property
    def max_rel_error(self) -> float:
        return max((a.max_rel_error for a in self.args.values()), default=0.0)


def tolerances(spec: KernelSpec, dtype: str, expected: np.ndarray) -> tuple[float, float]:
    """(rtol, atol) for one float output: the spec's values when given, else the dtype defaults
    with atol scaled by the magnitude of the expected data."""
    rtol, atol_frac = DEFAULT_TOLERANCES.get(dtype, DEFAULT_TOLERANCES["f32"])
    finite = expected[np.isfinite(expected)]
    scale = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    atol = atol_frac * scale
    return (spec.rtol if spec.rtol is not None else rtol, spec.atol if spec.atol is not None else atol)


def _is_poison(values: np.ndarray, dtype: str) -> np.ndarray:
    raw = values.view(np.uint8).reshape(values.size, -1)
    return np.all(raw == 0xFF, axis=1)


def _compare_ints(name: str, dtype: str, out: np.ndarray, exp: np.ndarray) -> ArgComparison:
    wide = np.uint64 if dtype == "u64" else np.int64
    o = (out.view(np.uint8) if dtype == "bool" else out).astype(wide)
    e = np.asarray(exp).astype(wide) if dtype != "bool" else np.asarray(exp).astype(bool).astype(wide)
    bad = np.flatnonzero(o != e)
    res = ArgComparison(name, bad.size == 0, out.size, int(bad.size))
    if bad.size:
        diff = np.abs(o.astype(np.float64) - e.astype(np.float64))
        res.max_abs_error = float(diff.max())
        res.max_rel_error = float(np.max(diff / np.maximum(np.abs(e.astype(np.float64)), 1.0)))
        i = int(bad[0])
        res.first_index, res.first_value, res.first_expected = i, int(o[i]), int(e[i])
    return res


def _compare_floats(spec: KernelSpec, name: str, dtype: str, out: np.ndarray,
                    exp: np.ndarray) -> ArgComparison:
    o = as_float(out, dtype).astype(np.float64)
    e = np.asarray(exp).astype(np.float64) if dtype != "bf16" or exp.dtype != np.uint16 \
        else as_float(exp, dtype).astype(np.float64)
    rtol, atol = tolerances(spec, dtype, e)
    exp_nan, exp_inf, exp_fin = np.isnan(e), np.isinf(e), np.isfinite(e)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(o - e)
        within = diff <= atol + rtol * np.abs(e)
    good = np.where(exp_nan, np.isnan(o), np.where(exp_inf, o == e, np.isfinite(o) & within))
    bad = np.flatnonzero(~good)
    res = ArgComparison(name, bad.size == 0, out.size, int(bad.size), rtol=rtol, atol=atol)
    both = exp_fin & np.isfinite(o)
    if both.any():
        d = diff[both]
        res.max_abs_error = float(d.max())
        res.max_rel_error = float(np.max(d / np.maximum(np.abs(e[both]), atol if atol > 0 else 1e-30)))
    if bad.size:
        i = int(bad[0])
        res.first_index, res.first_value, res.first_expected = i, float(o[i]), float(e[i])
        poison = _is_poison(out, dtype) & exp_fin
        if poison.any():
            res.note = f"{int(poison.sum())} element(s) still hold the poison pattern (never written?)"
        elif np.any(np.isnan(o) & exp_fin):
            res.note = "NaN where a finite value is expected"
    return res


def compare(spec: KernelSpec, outputs: Mapping[str, np.ndarray],
            expected: Mapping[str, np.ndarray]) -> Comparison:
    """Compare every output/inout argument of ``spec`` present in ``expected``."""
    result = Comparison(True, "all outputs match")
    for arg in spec.args:
        if not arg.is_output or arg.name not in expected:
            continue
        exp = np.ravel(np.asarray(expected[arg.name]))
        if arg.name not in outputs:
            result.args[arg.name] = ArgComparison(arg.name, False, exp.size, exp.size, note="no output")
            if result.ok:
                result.ok, result.reason = False, f"{arg.name}: the kernel produced no output"
            continue
        out = np.ravel(np.asarray(outputs[arg.name])).astype(numpy_dtype(arg.dtype), copy=False)
        if out.size != exp.size:
            result.args[arg.name] = ArgComparison(arg.name, False, out.size, out.size, note="size")
            if result.ok:
                result.ok, result.reason = False, (f"{arg.name}: {out.size} elements, the reference "
                                                   f"has {exp.size}")
            continue
        if arg.dtype in ("f16", "bf16", "f32", "f64"):
            ac = _compare_floats(spec, arg.name, arg.dtype, out, exp)
        else:
            ac = _compare_ints(arg.name, arg.dtype, out, exp)
        result.args[arg.name] = ac
        if not ac.ok and result.ok:
            result.ok, result.reason = False, describe(ac)
    if not result.args:
        result.ok, result.reason = False, "the reference produced none of the spec's outputs"
    return result


def describe(ac: ArgComparison) -> str:
    """One sentence about a failing argument."""
    text = (f"{ac.name}: {ac.mismatches} of {ac.size} elements differ; first at index "
            f"{ac.first_index}: got {ac.first_value}, expected {ac.first_expected}")
    if ac.rtol or ac.atol:
        text += f" (max abs error {ac.max_abs_error:.3g}, rtol {ac.rtol:g}, atol {ac.atol:.3g})"
    return text + (f"; {ac.note}" if ac.note else "")
