"""The elementwise references (add, sub, sign, sin, gelu, sigmoid) against scalar loops over the
operator's definition (tiny sizes, ``math`` on Python floats) and identities that hold whatever
the implementation (commutativity, odd/even symmetries, sigmoid(x) + sigmoid(-x) = 1...)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from measure.operators import OPERATORS, OperatorError

ELEMENTWISE = ("add", "sub", "sign", "sin", "gelu", "sigmoid")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(4321)


def _unary(op: str, x: np.ndarray) -> np.ndarray:
    return OPERATORS[op]({"x": x}, {}, {})["y"]


def _binary(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return OPERATORS[op]({"A": a, "B": b}, {}, {})["C"]


def test_elementwise_operators_registered() -> None:
    assert set(ELEMENTWISE) <= set(OPERATORS)


@pytest.mark.parametrize("op", ["add", "sub"])
def test_binary_names_and_shapes_checked(op: str) -> None:
    a = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(OperatorError, match="A, B"):
        OPERATORS[op]({"x": a}, {}, {})
    with pytest.raises(OperatorError, match="same shape"):
        _binary(op, a, np.zeros((3, 2), dtype=np.float32))


@pytest.mark.parametrize("op", ["sign", "sin", "gelu", "sigmoid"])
def test_unary_names_checked(op: str) -> None:
    with pytest.raises(OperatorError, match="expects arguments named x"):
        OPERATORS[op]({"A": np.zeros(3, dtype=np.float32)}, {}, {})


@pytest.mark.parametrize("op", ELEMENTWISE)
def test_shape_and_dtype_kept(op: str, rng: np.random.Generator) -> None:
    x = rng.uniform(-3, 3, size=(4, 5)).astype(np.float32)
    out = _binary(op, x, x[::-1].copy()) if op in ("add", "sub") else _unary(op, x)
    assert out.shape == (4, 5) and out.dtype == np.float32


# --------------------------------------------------------------------------------------------
# add, sub


def test_add_loops_and_identities(rng: np.random.Generator) -> None:
    a = rng.uniform(-4, 4, size=(3, 7)).astype(np.float32)
    b = rng.uniform(-4, 4, size=(3, 7)).astype(np.float32)
    c = _binary("add", a, b)
    for r in range(3):
        for j in range(7):
            # the sum of two float32 values, rounded once to float32 (what fp32 hardware gives)
            assert c[r, j] == np.float32(float(a[r, j]) + float(b[r, j]))
    np.testing.assert_array_equal(c, _binary("add", b, a))  # commutative
    np.testing.assert_array_equal(_binary("add", a, -a), np.zeros_like(a))
    np.testing.assert_array_equal(_binary("add", a, np.zeros_like(a)), a)


def test_sub_loops_and_identities(rng: np.random.Generator) -> None:
    a = rng.uniform(-4, 4, size=11).astype(np.float32)
    b = rng.uniform(-4, 4, size=11).astype(np.float32)
    c = _binary("sub", a, b)
    for i in range(11):
        assert c[i] == np.float32(float(a[i]) - float(b[i]))
    np.testing.assert_array_equal(c, -_binary("sub", b, a))  # anti-commutative
    np.testing.assert_array_equal(_binary("sub", a, a), np.zeros_like(a))
    # (a - b) + b == a up to one rounding of each step, checked in float64 exactly
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    np.testing.assert_allclose(_binary("add", _binary("sub", a64, b64), b64), a64, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------------------------
# sign


def test_sign_loops_and_zeros(rng: np.random.Generator) -> None:
    x = rng.uniform(-2, 2, size=13).astype(np.float32)
    x[0], x[1], x[2], x[3] = 0.0, -0.0, 1.0, -1e-30
    y = _unary("sign", x)
    for i in range(13):
        v = float(x[i])
        expected = 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)
        assert y[i] == expected
    # both zeros give +0.0, as (x > 0) - (x < 0) does in C
    assert y[0] == 0.0 and not np.signbit(y[0])
    assert y[1] == 0.0 and not np.signbit(y[1])
    assert y[3] == -1.0  # a tiny negative is still negative


def test_sign_identities(rng: np.random.Generator) -> None:
    x = rng.uniform(-5, 5, size=(4, 9)).astype(np.float32)
    y = _unary("sign", x)
    np.testing.assert_array_equal(y * np.abs(x), x)  # x = sign(x) * |x|
    np.testing.assert_array_equal(_unary("sign", -x), -y)  # odd
    np.testing.assert_array_equal(_unary("sign", y), y)  # idempotent


# --------------------------------------------------------------------------------------------
# sin


def test_sin_loops(rng: np.random.Generator) -> None:
    x = rng.uniform(-10, 10, size=17).astype(np.float32)
    y = _unary("sin", x)
    for i in range(17):
        assert y[i] == np.float32(math.sin(float(x[i])))


def test_sin_identities(rng: np.random.Generator) -> None:
    x = rng.uniform(-10, 10, size=50)  # float64 in, float64 out
    y = _unary("sin", x)
    np.testing.assert_allclose(_unary("sin", -x), -y, rtol=0, atol=1e-15)  # odd
    np.testing.assert_allclose(_unary("sin", math.pi - x), y, rtol=0, atol=1e-14)
    np.testing.assert_allclose(_unary("sin", x + 2 * math.pi), y, rtol=0, atol=1e-14)
    # sin(2x) = 2 sin(x) cos(x), with cos(x) = sin(x + pi/2)
    np.testing.assert_allclose(_unary("sin", 2 * x), 2 * y * _unary("sin", x + math.pi / 2),
                               rtol=0, atol=1e-13)
    assert _unary("sin", np.array([0.0]))[0] == 0.0


# --------------------------------------------------------------------------------------------
# gelu


def test_gelu_loops(rng: np.random.Generator) -> None:
    x = rng.uniform(-6, 6, size=(3, 5)).astype(np.float32)
    y = _unary("gelu", x)
    for r in range(3):
        for c in range(5):
            v = float(x[r, c])
            assert y[r, c] == np.float32(0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))))


def test_gelu_identities(rng: np.random.Generator) -> None:
    x = rng.uniform(-6, 6, size=40)
    y = _unary("gelu", x)
    # x * Phi(x) - (-x) * Phi(-x) = x (Phi(x) + 1 - Phi(x)) = x
    np.testing.assert_allclose(y - _unary("gelu", -x), x, rtol=0, atol=1e-14)
    # Phi as the integral of the normal density (trapezoid rule), independent of erf
    for v in (-2.5, -0.3, 0.7, 1.9):
        t = np.linspace(-12.0, v, 200001)
        dens = np.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        phi = float(np.sum((dens[1:] + dens[:-1]) / 2 * np.diff(t)))
        assert _unary("gelu", np.array([v]))[0] == pytest.approx(v * phi, rel=1e-8, abs=1e-12)
    # tails: gelu(x) -> 0 for x << 0 and -> x for x >> 0
    tails = _unary("gelu", np.array([-10.0, 10.0, 0.0]))
    assert abs(tails[0]) < 1e-20 and tails[1] == pytest.approx(10.0, rel=1e-15) and tails[2] == 0.0


# --------------------------------------------------------------------------------------------
# sigmoid


def test_sigmoid_loops(rng: np.random.Generator) -> None:
    x = rng.uniform(-30, 30, size=21).astype(np.float32)
    y = _unary("sigmoid", x)
    for i in range(21):
        v = float(x[i])
        assert y[i] == pytest.approx(1.0 / (1.0 + math.exp(-v)), rel=1e-7, abs=0)


def test_sigmoid_identities_and_large_inputs(rng: np.random.Generator) -> None:
    x = rng.uniform(-30, 30, size=60)
    y = _unary("sigmoid", x)
    np.testing.assert_allclose(y + _unary("sigmoid", -x), 1.0, rtol=0, atol=1e-15)
    # logit(sigmoid(x)) = x where sigmoid is not saturated
    mid = np.abs(x) < 15
    np.testing.assert_allclose(np.log(y[mid] / (1 - y[mid])), x[mid], rtol=0, atol=1e-9)
    # derivative identity: sigmoid' = sigmoid (1 - sigmoid), by central differences
    h = 1e-5
    deriv = (_unary("sigmoid", x + h) - _unary("sigmoid", x - h)) / (2 * h)
    np.testing.assert_allclose(deriv, y * (1 - y), rtol=1e-6, atol=1e-10)
    # huge |x| (up to the float32 maximum) neither overflows nor divides by zero (exp underflows to 0)
    big = np.array([-3.0e38, -1000.0, -100.0, 0.0, 100.0, 1000.0, 3.0e38], dtype=np.float32)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        yb = _unary("sigmoid", big)
    assert np.all(np.isfinite(yb))
    assert yb[0] == 0.0 and yb[1] == 0.0 and yb[3] == 0.5 and yb[5] == 1.0 and yb[6] == 1.0
    assert yb[2] == np.float32(math.exp(-100.0) / (1.0 + math.exp(-100.0)))
