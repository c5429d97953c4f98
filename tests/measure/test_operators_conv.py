"""The convolution and pooling references against explicit loops and identities.

Each reference is compared with a direct transcription of its definition (scalar loops over tiny,
odd sizes, with stride and padding), and with an identity that ties it to another operator:
conv1d is conv2d_nchw on a one-row image, conv2d_nchw is conv2d_nhwc transposed, depthwise is a
dense conv with a diagonal weight, conv2d_u8s8 is conv2d_nhwc on exact integers, avgpool is
sumpool over the window size, minpool is -maxpool(-x).
"""

from __future__ import annotations

import numpy as np
import pytest

from measure.operators import OPERATORS, OperatorError

RNG_SEED = 4321


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(RNG_SEED)


def _at(x: np.ndarray, *index: int) -> float:
    """``x[index]`` as a Python number, or 0 where an index falls outside (zero padding)."""
    for i, n in zip(index, x.shape):
        if i < 0 or i >= n:
            return 0.0
    return float(x[index])


def _out(size: int, k: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - k) // stride + 1


# --------------------------------------------------------------------------------------------
# convolutions


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 2), (3, 1)])
def test_conv1d_loops(rng: np.random.Generator, stride: int, pad: int) -> None:
    n, c, length, f, k = 2, 3, 11, 4, 3
    x = rng.standard_normal((n, c, length)).astype(np.float32)
    w = rng.standard_normal((f, c, k)).astype(np.float32)
    y = OPERATORS["conv1d"]({"input": x, "weight": w}, {}, {"stride": stride, "padding": pad})["output"]
    ol = _out(length, k, stride, pad)
    assert y.shape == (n, f, ol) and y.dtype == np.float32
    for b in range(n):
        for o in range(f):
            for t in range(ol):
                ref = sum(_at(x, b, ch, t * stride - pad + j) * float(w[o, ch, j])
                          for ch in range(c) for j in range(k))
                assert y[b, o, t] == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_conv1d_is_conv2d_nchw_on_one_row(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 5, 17))
    w = rng.standard_normal((3, 5, 4))
    params = {"stride": 2, "padding": 1}
    y1 = OPERATORS["conv1d"]({"input": x, "weight": w}, {}, params)["output"]
    y2 = OPERATORS["conv2d_nchw"]({"input": x[:, :, None, :], "weight": w[:, :, None, :]}, {},
                                  {"stride": 2, "padding": [0, 1]})["output"]
    np.testing.assert_allclose(y1, y2[:, :, 0, :], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0), (2, 1)])
def test_conv2d_nchw_loops(rng: np.random.Generator, stride: int, pad: int) -> None:
    n, c, h, wd, f, kh, kw = 1, 3, 7, 5, 2, 3, 2
    x = rng.standard_normal((n, c, h, wd)).astype(np.float32)
    w = rng.standard_normal((f, c, kh, kw)).astype(np.float32)
    y = OPERATORS["conv2d_nchw"]({"input": x, "weight": w}, {}, {"stride": stride, "padding": pad})["output"]
    oh, ow = _out(h, kh, stride, pad), _out(wd, kw, stride, pad)
    assert y.shape == (n, f, oh, ow) and y.dtype == np.float32
    for o in range(f):
        for i in range(oh):
            for j in range(ow):
                ref = sum(_at(x, 0, ch, i * stride - pad + r, j * stride - pad + s) * float(w[o, ch, r, s])
                          for ch in range(c) for r in range(kh) for s in range(kw))
                assert y[0, o, i, j] == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_conv2d_nchw_is_conv2d_nhwc_transposed(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 4, 9, 8))
    w = rng.standard_normal((5, 4, 3, 3))
    params = {"stride": 2, "padding": 1}
    y = OPERATORS["conv2d_nchw"]({"input": x, "weight": w}, {}, params)["output"]
    y_nhwc = OPERATORS["conv2d_nhwc"]({"input": x.transpose(0, 2, 3, 1), "weight": w.transpose(2, 3, 1, 0)},
                                      {}, params)["output"]
    np.testing.assert_allclose(y, y_nhwc.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 1), (1, 0)])
def test_depthwise_conv2d_loops(rng: np.random.Generator, stride: int, pad: int) -> None:
    n, h, wd, c = 2, 5, 4, 3
    x = rng.standard_normal((n, h, wd, c)).astype(np.float32)
    w = rng.standard_normal((3, 3, c)).astype(np.float32)
    y = OPERATORS["depthwise_conv2d"]({"input": x, "weight": w}, {}, {"stride": stride, "padding": pad})["output"]
    oh, ow = _out(h, 3, stride, pad), _out(wd, 3, stride, pad)
    assert y.shape == (n, oh, ow, c) and y.dtype == np.float32
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(c):
                    ref = sum(_at(x, b, i * stride - pad + r, j * stride - pad + s, ch) * float(w[r, s, ch])
                              for r in range(3) for s in range(3))
                    assert y[b, i, j, ch] == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_depthwise_is_dense_conv_with_diagonal_weight(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 8, 7, 5))
    w = rng.standard_normal((3, 3, 5))
    dense = np.einsum("rsc,cf->rscf", w, np.eye(5))  # weight[r, s, c, f] = w[r, s, c] if c == f
    params = {"stride": 2, "padding": 1}
    y = OPERATORS["depthwise_conv2d"]({"input": x, "weight": w}, {}, params)["output"]
    y_dense = OPERATORS["conv2d_nhwc"]({"input": x, "weight": dense}, {}, params)["output"]
    np.testing.assert_allclose(y, y_dense, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0)])
def test_conv2d_u8s8_loops_exact(rng: np.random.Generator, stride: int, pad: int) -> None:
    n, h, wd, c, f, kh, kw = 1, 5, 4, 8, 3, 3, 3
    x = rng.integers(0, 256, size=(n, h, wd, c), dtype=np.uint8)
    w = rng.integers(-128, 128, size=(f, kh, kw, c), dtype=np.int8)
    y = OPERATORS["conv2d_u8s8"]({"input": x, "weight": w}, {}, {"stride": stride, "padding": pad})["output"]
    oh, ow = _out(h, kh, stride, pad), _out(wd, kw, stride, pad)
    assert y.shape == (n, oh, ow, f) and y.dtype == np.int32
    for i in range(oh):
        for j in range(ow):
            for o in range(f):
                ref = 0
                for r in range(kh):
                    for s in range(kw):
                        ih, iw = i * stride - pad + r, j * stride - pad + s
                        if 0 <= ih < h and 0 <= iw < wd:
                            ref += sum(int(x[0, ih, iw, ch]) * int(w[o, r, s, ch]) for ch in range(c))
                assert int(y[0, i, j, o]) == ref


def test_conv2d_u8s8_extremes_and_float_conv_agree(rng: np.random.Generator) -> None:
    # all 255 x all -128: every in-image tap adds 255 * -128 * C, exactly
    x = np.full((1, 4, 4, 12), 255, dtype=np.uint8)
    w = np.full((2, 3, 3, 12), -128, dtype=np.int8)
    y = OPERATORS["conv2d_u8s8"]({"input": x, "weight": w}, {}, {"padding": 1})["output"]
    assert y[0, 0, 0, 0] == 4 * 255 * -128 * 12  # a corner sees 2 x 2 taps
    assert y[0, 1, 1, 1] == 9 * 255 * -128 * 12
    # integers below 2^53 are exact in float64, so the float conv gives the same numbers
    x = rng.integers(0, 256, size=(2, 7, 6, 8), dtype=np.uint8)
    w = rng.integers(-128, 128, size=(4, 3, 3, 8), dtype=np.int8)
    params = {"stride": 2, "padding": 1}
    y = OPERATORS["conv2d_u8s8"]({"input": x, "weight": w}, {}, params)["output"]
    yf = OPERATORS["conv2d_nhwc"]({"input": x.astype(np.float64), "weight": w.astype(np.float64).transpose(1, 2, 3, 0)},
                                  {}, params)["output"]
    np.testing.assert_array_equal(y, yf.astype(np.int64))


def test_conv_shape_errors(rng: np.random.Generator) -> None:
    with pytest.raises(OperatorError, match="input, weight"):
        OPERATORS["conv1d"]({"input": np.zeros((1, 2, 5))}, {}, {})
    with pytest.raises(OperatorError, match="F,C,K"):
        OPERATORS["conv1d"]({"input": np.zeros((1, 2, 5)), "weight": np.zeros((1, 3, 2))}, {}, {})
    with pytest.raises(OperatorError, match="does not fit"):
        OPERATORS["conv2d_nchw"]({"input": np.zeros((1, 1, 2, 2)), "weight": np.zeros((1, 1, 3, 3))}, {}, {})
    with pytest.raises(OperatorError, match="KH,KW,C"):
        OPERATORS["depthwise_conv2d"]({"input": np.zeros((1, 3, 3, 2)), "weight": np.zeros((3, 3, 4))}, {}, {})


# --------------------------------------------------------------------------------------------
# pooling


def _pool_loops(x: np.ndarray, k: int, stride: int, spatial: tuple[int, int], reduce: str) -> np.ndarray:
    """Window reduction by scalar loops; ``spatial`` are the H and W axes of the 4-D ``x``."""
    h, w = x.shape[spatial[0]], x.shape[spatial[1]]
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    shape = list(x.shape)
    shape[spatial[0]], shape[spatial[1]] = oh, ow
    out = np.zeros(shape)
    for idx in np.ndindex(*shape):
        vals = []
        for r in range(k):
            for s in range(k):
                src = list(idx)
                src[spatial[0]] = idx[spatial[0]] * stride + r
                src[spatial[1]] = idx[spatial[1]] * stride + s
                vals.append(float(x[tuple(src)]))
        out[idx] = {"sum": sum(vals), "avg": sum(vals) / len(vals), "min": min(vals)}[reduce]
    return out


@pytest.mark.parametrize("window,stride", [(2, 2), (3, 2), (2, 1)])
def test_sum_and_avg_pool_loops(rng: np.random.Generator, window: int, stride: int) -> None:
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    params = {"window": window, "stride": stride}
    s = OPERATORS["sumpool2d"]({"input": x}, {}, params)["output"]
    a = OPERATORS["avgpool2d"]({"input": x}, {}, params)["output"]
    assert s.dtype == np.float32 and a.dtype == np.float32
    np.testing.assert_allclose(s, _pool_loops(x, window, stride, (2, 3), "sum"), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a, _pool_loops(x, window, stride, (2, 3), "avg"), rtol=1e-5, atol=1e-6)


def test_avgpool_is_sumpool_over_window_and_stride_defaults_to_window(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 2, 9, 11))
    s = OPERATORS["sumpool2d"]({"input": x}, {}, {"window": 3})["output"]
    a = OPERATORS["avgpool2d"]({"input": x}, {}, {"window": 3})["output"]
    assert s.shape == (1, 2, 3, 3)
    np.testing.assert_allclose(a, s / 9.0, rtol=1e-12)
    # window 1 is the identity; a constant input averages to itself
    np.testing.assert_array_equal(OPERATORS["sumpool2d"]({"input": x}, {}, {"window": 1})["output"], x)
    const = np.full((1, 1, 5, 5), 0.75)
    np.testing.assert_allclose(OPERATORS["avgpool2d"]({"input": const}, {}, {"window": 2})["output"], 0.75)


@pytest.mark.parametrize("window,stride", [(2, 2), (3, 2)])
def test_minpool_loops_and_is_negated_maxpool(rng: np.random.Generator, window: int, stride: int) -> None:
    x = rng.standard_normal((2, 7, 8, 3)).astype(np.float32)
    params = {"window": window, "stride": stride}
    y = OPERATORS["minpool2d"]({"input": x}, {}, params)["output"]
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, _pool_loops(x, window, stride, (1, 2), "min").astype(np.float32))
    neg_max = -OPERATORS["maxpool2d_nhwc"]({"input": -x}, {}, params)["output"]
    np.testing.assert_array_equal(y, neg_max)


def test_pool_errors() -> None:
    with pytest.raises(OperatorError, match="4-D"):
        OPERATORS["avgpool2d"]({"input": np.zeros((3, 3))}, {}, {})
    with pytest.raises(OperatorError, match="does not fit"):
        OPERATORS["minpool2d"]({"input": np.zeros((1, 2, 2, 1))}, {}, {"window": 3})
