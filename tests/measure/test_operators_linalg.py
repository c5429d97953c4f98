"""The linalg references (gemv, bmm, dense, gemv_u8s8, bmm_u8s8, gemm_f16, bmm_f16) against slow
explicit-loop formulations on tiny sizes, and against identities that hold whatever the
implementation (a batch is a stack of GEMMs, dense with zero bias is a GEMM with W^T, linearity,
the identity matrix, exactness of integer sums at the extremes of u8 x s8)."""

from __future__ import annotations

import numpy as np
import pytest

from measure.operators import OPERATORS, OperatorError

RNG_SEED = 4321


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _f32(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float32)


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """A dot product in Python floats (double precision), one term at a time."""
    s = 0.0
    for u, v in zip(a, b):
        s += float(u) * float(v)
    return s


def test_linalg_operators_registered() -> None:
    assert {"gemv", "bmm", "dense", "gemv_u8s8", "bmm_u8s8", "gemm_f16", "bmm_f16"} <= set(OPERATORS)


# --------------------------------------------------------------------------------------------
# fp32


def test_gemv_loops_and_linearity(rng: np.random.Generator) -> None:
    m, k = 4, 7
    a, x = _f32(rng, m, k), _f32(rng, k)
    y = OPERATORS["gemv"]({"A": a, "x": x}, {}, {})["y"]
    assert y.shape == (m,) and y.dtype == np.float32
    for i in range(m):
        assert y[i] == pytest.approx(_dot(a[i], x), rel=1e-6, abs=1e-7)
    # A (x1 + x2) = A x1 + A x2; a unit vector picks a column of A
    x2 = _f32(rng, k)
    y2 = OPERATORS["gemv"]({"A": a, "x": x2}, {}, {})["y"]
    y12 = OPERATORS["gemv"]({"A": a, "x": x + x2}, {}, {})["y"]
    np.testing.assert_allclose(y12, y + y2, rtol=1e-5, atol=1e-6)
    e = np.zeros(k, dtype=np.float32)
    e[3] = 1.0
    np.testing.assert_array_equal(OPERATORS["gemv"]({"A": a, "x": e}, {}, {})["y"], a[:, 3])


def test_gemv_rejects_mismatched_sizes(rng: np.random.Generator) -> None:
    with pytest.raises(OperatorError, match="gemv"):
        OPERATORS["gemv"]({"A": _f32(rng, 3, 4), "x": _f32(rng, 5)}, {}, {})


def test_bmm_loops_and_stack_of_gemms(rng: np.random.Generator) -> None:
    nb, m, n, k = 3, 2, 5, 4
    a, b = _f32(rng, nb, m, k), _f32(rng, nb, k, n)
    c = OPERATORS["bmm"]({"A": a, "B": b}, {}, {})["C"]
    assert c.shape == (nb, m, n) and c.dtype == np.float32
    for p in range(nb):
        for i in range(m):
            for j in range(n):
                assert c[p, i, j] == pytest.approx(_dot(a[p, i], b[p, :, j]), rel=1e-6, abs=1e-7)
        # each matrix of the batch is the gemm reference of its pair
        one = OPERATORS["gemm"]({"A": a[p], "B": b[p]}, {}, {})["C"]
        np.testing.assert_array_equal(c[p], one)


def test_bmm_rejects_mismatched_batches(rng: np.random.Generator) -> None:
    with pytest.raises(OperatorError, match="bmm"):
        OPERATORS["bmm"]({"A": _f32(rng, 2, 3, 4), "B": _f32(rng, 3, 4, 5)}, {}, {})
    with pytest.raises(OperatorError, match="bmm"):
        OPERATORS["bmm"]({"A": _f32(rng, 2, 3, 4), "B": _f32(rng, 2, 5, 4)}, {}, {})


def test_dense_loops_and_gemm_identity(rng: np.random.Generator) -> None:
    m, n, k = 3, 4, 6
    x, w, b = _f32(rng, m, k), _f32(rng, n, k), _f32(rng, n)
    y = OPERATORS["dense"]({"x": x, "W": w, "b": b}, {}, {})["y"]
    assert y.shape == (m, n) and y.dtype == np.float32
    for i in range(m):
        for j in range(n):
            assert y[i, j] == pytest.approx(_dot(x[i], w[j]) + float(b[j]), rel=1e-6, abs=1e-7)
    # zero bias: dense(x, W) = gemm(x, W^T); the bias shifts every row by b
    y0 = OPERATORS["dense"]({"x": x, "W": w, "b": np.zeros(n, np.float32)}, {}, {})["y"]
    g = OPERATORS["gemm"]({"A": x, "B": np.ascontiguousarray(w.T)}, {}, {})["C"]
    np.testing.assert_array_equal(y0, g)
    np.testing.assert_allclose(y - y0, np.broadcast_to(b, (m, n)), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# quantised


def _u8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def _s8(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def test_gemv_u8s8_loops_exact(rng: np.random.Generator) -> None:
    m, k = 5, 12
    a, x = _u8(rng, m, k), _s8(rng, k)
    y = OPERATORS["gemv_u8s8"]({"A": a, "x": x}, {}, {})["y"]
    assert y.shape == (m,) and y.dtype == np.int32
    for i in range(m):
        assert int(y[i]) == sum(int(a[i, q]) * int(x[q]) for q in range(k))


def test_gemv_u8s8_extremes_do_not_wrap() -> None:
    # 255 * -128 summed over K = 4096 is -133,693,440: far beyond int8/int16, exact in int32
    k = 4096
    a = np.full((2, k), 255, np.uint8)
    x = np.full(k, -128, np.int8)
    y = OPERATORS["gemv_u8s8"]({"A": a, "x": x}, {}, {})["y"]
    assert y.tolist() == [255 * -128 * k] * 2
    x = np.full(k, 127, np.int8)
    assert OPERATORS["gemv_u8s8"]({"A": a, "x": x}, {}, {})["y"].tolist() == [255 * 127 * k] * 2


def test_bmm_u8s8_loops_exact_and_matches_gemm_u8s8(rng: np.random.Generator) -> None:
    nb, m, n, k = 2, 3, 4, 8
    a, b = _u8(rng, nb, m, k), _s8(rng, nb, n, k)
    c = OPERATORS["bmm_u8s8"]({"A": a, "B": b}, {}, {})["C"]
    assert c.shape == (nb, m, n) and c.dtype == np.int32
    for p in range(nb):
        for i in range(m):
            for j in range(n):
                assert int(c[p, i, j]) == sum(int(a[p, i, q]) * int(b[p, j, q]) for q in range(k))
        np.testing.assert_array_equal(c[p], OPERATORS["gemm_u8s8"]({"A": a[p], "B": b[p]}, {}, {})["C"])


def test_bmm_u8s8_rejects_untransposed_b(rng: np.random.Generator) -> None:
    with pytest.raises(OperatorError, match="batch x N x K"):
        OPERATORS["bmm_u8s8"]({"A": _u8(rng, 2, 3, 8), "B": _s8(rng, 2, 8, 5)}, {}, {})


# --------------------------------------------------------------------------------------------
# fp16 inputs, fp32 output


def _f16(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1.0, 1.0, size=shape).astype(np.float16)


def test_gemm_f16_loops_on_the_f16_values(rng: np.random.Generator) -> None:
    m, n, k = 3, 5, 7
    a, b = _f16(rng, m, k), _f16(rng, k, n)
    c = OPERATORS["gemm_f16"]({"A": a, "B": b}, {}, {})["C"]
    assert c.shape == (m, n) and c.dtype == np.float32
    for i in range(m):
        for j in range(n):
            assert c[i, j] == pytest.approx(_dot(a[i], b[:, j]), rel=1e-6, abs=1e-7)


def test_gemm_f16_output_is_float32_not_half(rng: np.random.Generator) -> None:
    # 2049 in f32 is exact but rounds to 2048 in f16: the output must not go through half.
    k = 2049
    a = np.ones((1, k), np.float16)
    b = np.ones((k, 1), np.float16)
    assert OPERATORS["gemm_f16"]({"A": a, "B": b}, {}, {})["C"][0, 0] == np.float32(2049.0)
    # the identity matrix reproduces B exactly (every f16 is exact in f32)
    bm = _f16(rng, 4, 6)
    c = OPERATORS["gemm_f16"]({"A": np.eye(4, dtype=np.float16), "B": bm}, {}, {})["C"]
    np.testing.assert_array_equal(c, bm.astype(np.float32))


def test_bmm_f16_loops_and_stack_of_gemm_f16(rng: np.random.Generator) -> None:
    nb, m, n, k = 2, 3, 4, 5
    a, b = _f16(rng, nb, m, k), _f16(rng, nb, k, n)
    c = OPERATORS["bmm_f16"]({"A": a, "B": b}, {}, {})["C"]
    assert c.shape == (nb, m, n) and c.dtype == np.float32
    for p in range(nb):
        for i in range(m):
            for j in range(n):
                assert c[p, i, j] == pytest.approx(_dot(a[p, i], b[p, :, j]), rel=1e-6, abs=1e-7)
        np.testing.assert_array_equal(c[p], OPERATORS["gemm_f16"]({"A": a[p], "B": b[p]}, {}, {})["C"])
