"""Seeded inputs with edge values, and a comparison that is exact for ints and strict on NaN/poison."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from measure.compare import compare
from measure.inputs import as_float, bf16_bits, make_inputs
from measure.spec import KernelSpec, parse_spec

Arrays = dict[str, np.ndarray]


def _spec(*args: dict[str, Any], n: int = 64) -> KernelSpec:
    return parse_spec({"entry": "k", "dims": {"N": n}, "args": list(args),
                       "reference": {"operator": "none"}})


def _buf(name: str, dtype: str, role: str = "input", **kw: Any) -> dict[str, Any]:
    return {"name": name, "dtype": dtype, "shape": ["N"], "role": role, **kw}


ALL = _spec(_buf("x", "f32"), _buf("h", "f16", range=[-4.0, 4.0]), _buf("q", "i8"), _buf("u", "u8"),
            _buf("w", "i32"), _buf("v", "u64"), _buf("b", "bool"), _buf("z", "bf16"),
            _buf("io", "f64", "inout"), _buf("y", "f32", "output"))


def test_inputs_shapes_dtypes_and_roles() -> None:
    d = make_inputs(ALL, seed=1)
    assert set(d) == {"x", "h", "q", "u", "w", "v", "b", "z", "io"}  # no output-only buffer
    dtypes = {"x": np.float32, "h": np.float16, "q": np.int8, "u": np.uint8, "w": np.int32,
              "v": np.uint64, "b": np.uint8, "z": np.uint16, "io": np.float64}
    for name, arr in d.items():
        assert arr.shape == (64,) and arr.dtype == dtypes[name], name


def test_inputs_deterministic_per_seed() -> None:
    a, b, c = make_inputs(ALL, 3), make_inputs(ALL, 3), make_inputs(ALL, 4)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["x"], c["x"])


def test_inputs_independent_of_other_args() -> None:
    alone = make_inputs(_spec(_buf("x", "f32"), _buf("y", "f32", "output")), 5)
    assert np.array_equal(alone["x"], make_inputs(ALL, 5)["x"])


def test_float_edges_and_range() -> None:
    d = make_inputs(ALL, 0)
    x, h = d["x"], d["h"]
    assert x.min() >= -1 and x.max() <= 1 and h.min() >= -4 and h.max() <= 4
    assert {-1.0, 1.0, 0.0} <= set(x.tolist()) and np.any((x == 0) & np.signbit(x))
    assert {-4.0, 4.0, 1.0, -1.0} <= set(h.astype(float).tolist())
    assert x[0] == -1.0 and x[-1] != x[-2]  # edges spread to the ends of the buffer


def test_int_ranges_and_edges() -> None:
    d = make_inputs(ALL, 0)
    assert d["q"].min() == -128 and d["q"].max() == 127 and 0 in d["q"]
    assert d["u"].min() == 0 and d["u"].max() == 255
    assert d["w"].min() == -1000 and d["w"].max() == 1000
    assert d["v"].max() == 1000 and set(np.unique(d["b"])) == {0, 1}


def test_bf16_round_trip() -> None:
    vals = np.array([1.0, -2.5, 0.1, np.nan], dtype=np.float32)
    back = as_float(bf16_bits(vals), "bf16")
    assert back[0] == 1.0 and back[1] == -2.5 and abs(back[2] - 0.1) < 1e-3 and np.isnan(back[3])


OUT = _spec(_buf("x", "f32"), _buf("y", "f32", "output"), _buf("c", "i32", "output"))


def test_compare_exact_ints() -> None:
    exp: Arrays = {"y": np.ones(64, np.float32), "c": np.arange(64)}
    got: Arrays = {"y": np.ones(64, np.float32), "c": np.arange(64, dtype=np.int32)}
    assert compare(OUT, got, exp).ok
    got["c"] = got["c"].copy()
    got["c"][9] += 1
    r = compare(OUT, got, exp)
    assert not r.ok and r.args["c"].mismatches == 1 and r.args["c"].first_index == 9
    assert "c: 1 of 64" in r.reason


def test_compare_float_tolerance_and_override() -> None:
    exp: Arrays = {"y": np.full(64, 100.0, np.float32), "c": np.zeros(64)}
    close: Arrays = {"y": exp["y"] + np.float32(5e-3), "c": np.zeros(64, np.int32)}
    assert compare(OUT, close, exp).ok  # 5e-3 <= 1e-3 (atol scaled by 100) + 1e-4 * 100
    far: Arrays = {"y": exp["y"] + np.float32(0.5), "c": close["c"]}
    r = compare(OUT, far, exp)
    assert not r.ok and r.args["y"].max_abs_error == pytest.approx(0.5)
    assert compare(replace(OUT, rtol=0.0, atol=1.0), far, exp).ok


def test_compare_nan_inf_and_poison() -> None:
    exp_y = np.linspace(-1, 1, 64).astype(np.float32)
    exp_y[3], exp_y[4] = np.nan, np.inf
    exp: Arrays = {"y": exp_y, "c": np.zeros(64)}
    good: Arrays = {"y": exp_y.copy(), "c": np.zeros(64, np.int32)}
    assert compare(OUT, good, exp).ok
    wrong_inf: Arrays = {"y": exp_y.copy(), "c": good["c"]}
    wrong_inf["y"][4] = 1e30
    assert not compare(OUT, wrong_inf, exp).ok
    missing_nan: Arrays = {"y": exp_y.copy(), "c": good["c"]}
    missing_nan["y"][3] = 0.0
    assert not compare(OUT, missing_nan, exp).ok
    poisoned: Arrays = {"y": exp_y.copy(), "c": good["c"]}
    poisoned["y"].view(np.uint32)[10] = 0xFFFFFFFF
    r = compare(OUT, poisoned, exp)
    assert not r.ok and "never written" in r.reason and r.args["y"].first_index == 10
    nan: Arrays = {"y": exp_y.copy(), "c": good["c"]}
    nan["y"][11] = np.nan
    assert "NaN where a finite value" in compare(OUT, nan, exp).reason


def test_compare_missing_and_size() -> None:
    exp: Arrays = {"y": np.zeros(64, np.float32), "c": np.zeros(64)}
    assert "no output" in compare(OUT, {"y": exp["y"]}, exp).reason
    assert "elements" in compare(OUT, {"y": exp["y"][:10], "c": np.zeros(64, np.int32)}, exp).reason
