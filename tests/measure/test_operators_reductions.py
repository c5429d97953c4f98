"""The references of the reductions and data-movement families (sum, mean, max, min, gather,
scatter, transpose, concat) against slow explicit-loop formulations on tiny sizes, and against
identities that hold whatever the implementation."""

from __future__ import annotations

import numpy as np
import pytest

from measure.operators import OPERATORS, OperatorError

RNG_SEED = 4321


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def test_family_registered() -> None:
    names = {"sum", "mean", "max", "min", "gather", "scatter", "transpose", "concat"}
    assert names <= set(OPERATORS)


# --------------------------------------------------------------------------------------------
# row-wise reductions


def _loop_reduce(x: np.ndarray, op: str) -> list[float]:
    out = []
    for r in range(x.shape[0]):
        acc = float(x[r, 0])
        for c in range(1, x.shape[1]):
            v = float(x[r, c])
            if op in ("sum", "mean"):
                acc = acc + v
            elif op == "max":
                acc = v if v > acc else acc
            else:
                acc = v if v < acc else acc
        out.append(acc / x.shape[1] if op == "mean" else acc)
    return out


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (4, 17)])
def test_reduction_matches_loops(op: str, shape: tuple[int, int], rng: np.random.Generator) -> None:
    x = rng.uniform(-3, 3, size=shape).astype(np.float32)
    y = OPERATORS[op]({"x": x}, {"ROWS": shape[0], "COLS": shape[1]}, {})["y"]
    assert y.dtype == np.float32 and y.shape == (shape[0],)
    expect = _loop_reduce(x, op)
    for r in range(shape[0]):
        # float64 loop vs float64 numpy, both rounded once to fp32: equal up to one fp32 rounding
        assert y[r] == pytest.approx(expect[r], rel=1e-6, abs=1e-6)


def test_max_min_are_exact_elements(rng: np.random.Generator) -> None:
    x = rng.standard_normal((6, 9)).astype(np.float32)
    ymax = OPERATORS["max"]({"x": x}, {}, {})["y"]
    ymin = OPERATORS["min"]({"x": x}, {}, {})["y"]
    for r in range(6):
        assert ymax[r] in x[r] and ymin[r] in x[r]
    # identity: max(x) = -min(-x)
    np.testing.assert_array_equal(ymax, -OPERATORS["min"]({"x": -x}, {}, {})["y"])


def test_mean_is_sum_over_cols_and_sum_is_linear(rng: np.random.Generator) -> None:
    x = rng.integers(-50, 50, size=(5, 8)).astype(np.float32)  # small integers: sums are exact
    s = OPERATORS["sum"]({"x": x}, {}, {})["y"]
    m = OPERATORS["mean"]({"x": x}, {}, {})["y"]
    np.testing.assert_array_equal(m, s / np.float32(8))
    s2 = OPERATORS["sum"]({"x": 2 * x + 1}, {}, {})["y"]
    np.testing.assert_array_equal(s2, 2 * s + 8)


def test_sum_of_constant_rows() -> None:
    x = np.full((3, 1000), 0.1, dtype=np.float32)
    y = OPERATORS["sum"]({"x": x}, {}, {})["y"]
    # float64 accumulation: within an ulp of the exact product (an fp32 running sum is ~1e-5 off)
    np.testing.assert_allclose(y, np.float64(np.float32(0.1)) * 1000, rtol=1e-7, atol=0)


def test_reduction_rejects_bad_shapes() -> None:
    with pytest.raises(OperatorError, match="rows x cols"):
        OPERATORS["sum"]({"x": np.zeros(4, dtype=np.float32)}, {}, {})
    with pytest.raises(OperatorError, match="expects arguments named x"):
        OPERATORS["max"]({"a": np.zeros((2, 2), dtype=np.float32)}, {}, {})


# --------------------------------------------------------------------------------------------
# gather / scatter


def test_gather_matches_loops(rng: np.random.Generator) -> None:
    table = rng.standard_normal((7, 4)).astype(np.float32)
    indices = np.array([6, 0, 3, 3, 1], dtype=np.int32)
    out = OPERATORS["gather"]({"table": table, "indices": indices}, {}, {})["out"]
    assert out.dtype == np.float32 and out.shape == (5, 4)
    for i in range(5):
        for d in range(4):
            assert out[i, d] == table[indices[i], d]


def test_gather_identity_permutation_and_bounds(rng: np.random.Generator) -> None:
    table = rng.standard_normal((6, 3)).astype(np.float32)
    ident = np.arange(6, dtype=np.int32)
    np.testing.assert_array_equal(OPERATORS["gather"]({"table": table, "indices": ident}, {}, {})["out"],
                                  table)
    with pytest.raises(OperatorError, match=r"\[0, 5\]"):
        OPERATORS["gather"]({"table": table, "indices": np.array([6], dtype=np.int32)}, {}, {})
    with pytest.raises(OperatorError, match="integers"):
        OPERATORS["gather"]({"table": table, "indices": np.array([1.0])}, {}, {})


def test_scatter_add_matches_loops_with_repeats(rng: np.random.Generator) -> None:
    src = rng.standard_normal((6, 3)).astype(np.float32)
    out0 = rng.standard_normal((4, 3)).astype(np.float32)
    indices = np.array([2, 0, 2, 2, 3, 0], dtype=np.int32)  # row 1 never indexed
    out = OPERATORS["scatter"]({"src": src, "indices": indices, "out": out0}, {}, {})["out"]
    assert out.dtype == np.float32 and out.shape == (4, 3)
    expect = [[float(out0[v, d]) for d in range(3)] for v in range(4)]
    for i in range(6):
        for d in range(3):
            expect[int(indices[i])][d] += float(src[i, d])
    for v in range(4):
        for d in range(3):
            assert out[v, d] == pytest.approx(expect[v][d], rel=1e-6, abs=1e-6)
    np.testing.assert_array_equal(out[1], out0[1])


def test_scatter_permutation_inverts_gather(rng: np.random.Generator) -> None:
    # identity: scattering gathered rows back through the same permutation into zeros restores them
    table = rng.standard_normal((5, 2)).astype(np.float32)
    perm = rng.permutation(5).astype(np.int32)
    g = OPERATORS["gather"]({"table": table, "indices": perm}, {}, {})["out"]
    back = OPERATORS["scatter"]({"src": g, "indices": perm, "out": np.zeros_like(table)}, {}, {})["out"]
    np.testing.assert_array_equal(back, table)
    # and the column sums of out grow by the column sums of src, whatever the indices
    idx = rng.integers(0, 5, size=9).astype(np.int32)
    src = rng.integers(-9, 9, size=(9, 2)).astype(np.float32)
    out = OPERATORS["scatter"]({"src": src, "indices": idx, "out": np.zeros((5, 2), np.float32)}, {}, {})
    np.testing.assert_array_equal(out["out"].sum(axis=0), src.sum(axis=0))


def test_scatter_rejects_mismatch() -> None:
    with pytest.raises(OperatorError, match="N = 2"):
        OPERATORS["scatter"]({"src": np.zeros((2, 3), np.float32), "indices": np.zeros(3, np.int32),
                              "out": np.zeros((4, 3), np.float32)}, {}, {})


# --------------------------------------------------------------------------------------------
# transpose / concat


def test_transpose_matches_loops_and_is_an_involution(rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 5)).astype(np.float32)
    y = OPERATORS["transpose"]({"x": x}, {}, {})["y"]
    assert y.shape == (5, 3) and y.flags["C_CONTIGUOUS"]
    for r in range(3):
        for c in range(5):
            assert y[c, r] == x[r, c]
    np.testing.assert_array_equal(OPERATORS["transpose"]({"x": y}, {}, {})["y"], x)


def test_concat_matches_loops_and_splits_back(rng: np.random.Generator) -> None:
    a = rng.standard_normal((3, 2)).astype(np.float32)
    b = rng.standard_normal((3, 4)).astype(np.float32)
    y = OPERATORS["concat"]({"a": a, "b": b}, {}, {})["y"]
    assert y.shape == (3, 6) and y.dtype == np.float32
    for r in range(3):
        for c in range(6):
            assert y[r, c] == (a[r, c] if c < 2 else b[r, c - 2])
    np.testing.assert_array_equal(y[:, :2], a)
    np.testing.assert_array_equal(y[:, 2:], b)
    with pytest.raises(OperatorError, match="R x CA"):
        OPERATORS["concat"]({"a": a, "b": b[:2]}, {}, {})
