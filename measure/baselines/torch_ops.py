"""PyTorch implementations of the corpus operators: the vendor baseline (oneDNN, MKL; cuBLAS,
cuDNN on CUDA).

Each entry of ``TORCH_OPS`` is a *setup* ``(tensors, dims, params, device) -> run``: it receives
the spec's inputs as tensors in their spec shape and dtype (``to_tensors``), does once what a
PyTorch user would do once (put *weights* in the layout PyTorch wants, precompute quantisation
compensation terms of weights), and returns ``run``, a closure of no arguments that computes the
outputs from the same named arguments as the numpy reference (``measure.operators``) and returns
them keyed by argument name. ``run`` is what is timed; everything it does per call (activation
layout changes, casts, im2col) counts, because a user holding data in the spec's layout pays it.

Layout and dtype choices (a PyTorch user with data in the spec's layout):

- NHWC activations (``conv2d_nhwc``, ``depthwise_conv2d``, ``maxpool2d_nhwc``, ``minpool2d``) are
  passed as ``channels_last`` tensors: ``x.permute(0, 3, 1, 2)`` is a zero-copy NCHW-shaped view
  with NHWC strides, oneDNN computes in NHWC, and ``y.permute(0, 2, 3, 1)`` is again zero-copy.
  Weights (HWIO, KH KW C) are permuted to PyTorch's OIHW (channels_last) once, at setup.
- ``minpool2d`` is ``-max_pool2d(-x)``: PyTorch has no min pool; both negations are timed.
- ``sumpool2d`` is ``avg_pool2d(divisor_override=1)`` (a sum, no division).
- ``gemm_f16`` / ``bmm_f16`` (f16 in, f32 out): on CPU the inputs are cast to f32 inside the timed
  call (PyTorch's CPU half GEMM rounds its output to f16, which is not the operator); on CUDA
  ``mm(..., out_dtype=torch.float32)`` (fp32 accumulation on tensor cores) when this build has it,
  else the same casts.
- u8 x s8 -> s32 (``gemm_u8s8``, ``gemv_u8s8``, ``bmm_u8s8``, ``conv2d_u8s8``): PyTorch's exact
  integer GEMM ``torch._int_mm`` takes s8 x s8 only, so the u8 operand is shifted to s8
  (``a - 128`` is ``a ^ 0x80`` reinterpreted) and ``128 * sum_k b[k]`` is added back. The shift
  of an activation is timed; a weight's compensation (and the shift of gemv's matrix, treated as
  the weight) is computed at setup. ``bmm_u8s8`` loops over the batch (no batched ``_int_mm``).
  ``conv2d_u8s8`` is im2col (timed, padding with -128 = u8 0) + ``_int_mm``: PyTorch's quantised
  conv requantises its output, so it does not compute the exact s32 result. On CUDA,
  ``_int_mm`` needs M > 16 and K, N multiples of 8: operands are zero-padded (weights at setup,
  activations per call) and the result sliced.
- ``gather`` / ``scatter`` take the int32 indices as given (``index_select``, ``index_add_``);
  ``scatter`` adds into a private copy of ``out`` (repeated timed calls keep accumulating, which
  does not change the work).
- ``deformable_attention`` is Deformable DETR's PyTorch path: ``grid_sample`` (bilinear, zero
  padding, ``align_corners=False``) per head, weighted by ``attn_weight``.
- Outputs are allocated by PyTorch on every call, as a user's code does.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

import numpy as np
import torch
import torch.nn.functional as F

from measure.inputs import numpy_dtype
from measure.operators.registry import _int_param, _pair_param
from measure.spec import KernelSpec

Tensors = dict[str, torch.Tensor]
Run = Callable[[], Tensors]
Setup = Callable[[Tensors, Mapping[str, int], Mapping[str, Any], str], Run]

TORCH_OPS: dict[str, Setup] = {}

_TORCH_DTYPES: dict[str, torch.dtype] = {
    "f64": torch.float64, "f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
    "i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8,
    "u8": torch.uint8, "bool": torch.bool,
}


def torch_op(name: str) -> Callable[[Setup], Setup]:
    def register(fn: Setup) -> Setup:
        if name in TORCH_OPS:
            raise ValueError(f"torch implementation of {name!r} registered twice")
        TORCH_OPS[name] = fn
        return fn

    return register


# --------------------------------------------------------------------------------------------
# conversions (outside the timed region)


def to_tensors(spec: KernelSpec, flat: Mapping[str, np.ndarray], device: str = "cpu") -> Tensors:
    """Flat input buffers (``make_inputs``) as tensors in their spec shape on ``device``.
    bf16 buffers hold raw bits and are reinterpreted; bool is one byte 0/1."""
    out: Tensors = {}
    for a in spec.args:
        if a.name not in flat:
            continue
        arr = np.ascontiguousarray(flat[a.name]).reshape(spec.shape_of(a))
        if a.dtype == "bf16":
            t = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
        elif a.dtype == "bool":
            t = torch.from_numpy(arr.astype(np.bool_))
        else:
            t = torch.from_numpy(arr.copy())
        out[a.name] = t.to(device)
    return out


def to_numpy(spec: KernelSpec, outputs: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Outputs as flat numpy arrays in logical (row-major) order, in the spec's storage dtype."""
    res: dict[str, np.ndarray] = {}
    for name, t in outputs.items():
        t = t.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            arr = t.view(torch.int16).numpy().view(np.uint16)
        elif t.dtype == torch.bool:
            arr = t.numpy().astype(np.uint8)
        else:
            arr = t.numpy()
        want = numpy_dtype(spec.arg(name).dtype)
        if arr.dtype != want:
            raise TypeError(f"torch output {name!r} has dtype {arr.dtype}, the spec says {want}")
        res[name] = arr.ravel()
    return res


def torch_dtype(dtype: str) -> torch.dtype:
    return _TORCH_DTYPES[dtype]


# --------------------------------------------------------------------------------------------
# elementwise and row-wise


def _unary(name: str, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    def setup(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
        x = t["x"]
        return lambda: {"y": fn(x)}

    torch_op(name)(setup)


def _binary(name: str, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    def setup(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
        a, b = t["A"], t["B"]
        return lambda: {"C": fn(a, b)}

    torch_op(name)(setup)


_unary("relu", torch.relu)
_unary("sign", torch.sign)
_unary("sin", torch.sin)
_unary("sigmoid", torch.sigmoid)
_unary("gelu", lambda x: F.gelu(x))  # exact (erf) form, PyTorch's default
_unary("softmax", lambda x: torch.softmax(x, dim=-1))
_unary("sum", lambda x: torch.sum(x, dim=-1))
_unary("mean", lambda x: torch.mean(x, dim=-1))
_unary("max", lambda x: torch.amax(x, dim=-1))
_unary("min", lambda x: torch.amin(x, dim=-1))
_binary("add", torch.add)
_binary("sub", torch.sub)


@torch_op("transpose")
def _transpose(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = t["x"]
    return lambda: {"y": x.t().contiguous()}


@torch_op("concat")
def _concat(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a, b = t["a"], t["b"]
    return lambda: {"y": torch.cat((a, b), dim=1)}


@torch_op("gather")
def _gather(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    table, idx = t["table"], t["indices"].reshape(-1)
    return lambda: {"out": torch.index_select(table, 0, idx)}


@torch_op("scatter")
def _scatter(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    src, idx, buf = t["src"], t["indices"].reshape(-1), t["out"].clone()
    return lambda: {"out": buf.index_add_(0, idx, src)}


# --------------------------------------------------------------------------------------------
# normalisations


@torch_op("layernorm")
def _layernorm(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, g, b = t["x"], t["gamma"].reshape(-1), t["beta"].reshape(-1)
    eps = float(params.get("eps", 1e-5))
    shape = (x.shape[-1],)
    return lambda: {"y": F.layer_norm(x, shape, g, b, eps)}


@torch_op("rmsnorm")
def _rmsnorm(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, w = t["x"], t["weight"].reshape(-1)
    eps = float(params.get("eps", 1e-6))
    shape = (x.shape[-1],)
    return lambda: {"y": F.rms_norm(x, shape, w, eps)}


@torch_op("batchnorm")
def _batchnorm(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, g, b = t["x"], t["gamma"].reshape(-1), t["beta"].reshape(-1)
    eps = float(params.get("eps", 1e-5))
    return lambda: {"y": F.batch_norm(x, None, None, g, b, training=True, eps=eps)}


@torch_op("instancenorm")
def _instancenorm(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, g, b = t["x"], t["gamma"].reshape(-1), t["beta"].reshape(-1)
    eps = float(params.get("eps", 1e-5))
    return lambda: {"y": F.instance_norm(x, weight=g, bias=b, eps=eps)}


# --------------------------------------------------------------------------------------------
# matrix products


@torch_op("gemm")
def _gemm(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a, b = t["A"], t["B"]
    return lambda: {"C": torch.mm(a, b)}


@torch_op("gemv")
def _gemv(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a, x = t["A"], t["x"].reshape(-1)
    return lambda: {"y": torch.mv(a, x)}


@torch_op("bmm")
def _bmm(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a, b = t["A"], t["B"]
    return lambda: {"C": torch.bmm(a, b)}


@torch_op("dense")
def _dense(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, w, b = t["x"], t["W"], t["b"].reshape(-1)
    return lambda: {"y": F.linear(x, w, b)}


@torch_op("gated_mlp")
def _gated_mlp(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, w1, w3, w2 = t["x"], t["W1"], t["W3"], t["W2"]

    def run() -> Tensors:
        h = F.silu(F.linear(x, w1)) * F.linear(x, w3)
        return {"h": h, "out": F.linear(h, w2)}

    return run


def _half_mm(fn: Callable[..., torch.Tensor], a: torch.Tensor, b: torch.Tensor, device: str) -> Run:
    """f16 x f16 -> f32: ``out_dtype`` on CUDA when this build supports it, else f32 casts."""
    if device != "cpu":
        try:
            fn(a, b, out_dtype=torch.float32)
            return lambda: {"C": fn(a, b, out_dtype=torch.float32)}
        except (RuntimeError, TypeError, NotImplementedError):
            pass
    return lambda: {"C": fn(a.float(), b.float())}


@torch_op("gemm_f16")
def _gemm_f16(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    return _half_mm(torch.mm, t["A"], t["B"], device)


@torch_op("bmm_f16")
def _bmm_f16(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    return _half_mm(torch.bmm, t["A"], t["B"], device)


# --------------------------------------------------------------------------------------------
# quantised: u8 x s8 -> s32, exact, via torch._int_mm (s8 x s8) and the offset trick


def _u8_to_s8(a: torch.Tensor) -> torch.Tensor:
    """``a - 128`` as int8 (the bit pattern ``a ^ 0x80``)."""
    return torch.bitwise_xor(a, 0x80).view(torch.int8)


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


class _IntMM:
    """``a @ w.T`` for int8 ``a`` (M x K, per call) and a fixed int8 ``w`` (N x K), exact in
    int32. On CUDA the operands are zero-padded to what ``_int_mm`` accepts there (M > 16, K and
    N multiples of 8): ``w`` once here, ``a`` per call."""

    def __init__(self, w: torch.Tensor, device: str) -> None:
        self.cuda = device != "cpu"
        self.n, self.k = int(w.shape[0]), int(w.shape[1])
        if self.cuda:
            kp, np_ = _round_up(self.k, 8), _round_up(self.n, 8)
            w = F.pad(w, (0, kp - self.k, 0, np_ - self.n))
            self.kp = kp
        self.wt = w.t()  # K x N view; _int_mm takes it as is on CPU

    def __call__(self, a: torch.Tensor) -> torch.Tensor:
        if not self.cuda:
            return torch._int_mm(a, self.wt)
        m = int(a.shape[0])
        a = F.pad(a, (0, self.kp - self.k, 0, max(17, m) - m))
        return torch._int_mm(a, self.wt)[:m, : self.n]


def _s8_row_sums(w: torch.Tensor) -> torch.Tensor:
    return w.to(torch.int32).sum(dim=-1, dtype=torch.int32)


@torch_op("gemm_u8s8")
def _gemm_u8s8(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a, b = t["A"], t["B"]
    mm = _IntMM(b, device)
    comp = 128 * _s8_row_sums(b)  # weight compensation, once

    return lambda: {"C": mm(_u8_to_s8(a)) + comp}


@torch_op("gemv_u8s8")
def _gemv_u8s8(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a_s8 = _u8_to_s8(t["A"]).contiguous()  # the matrix is the weight: shifted once
    x = t["x"].reshape(1, -1)
    mm = _IntMM(a_s8, device)  # y^T = x @ A_s8^T

    def run() -> Tensors:
        y = mm(x).reshape(-1) + 128 * x.to(torch.int32).sum(dtype=torch.int32)
        return {"y": y}

    return run


@torch_op("bmm_u8s8")
def _bmm_u8s8(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    a, b = t["A"], t["B"]
    mms = [_IntMM(b[i], device) for i in range(b.shape[0])]

    def run() -> Tensors:
        a_s8 = _u8_to_s8(a)
        comp = 128 * _s8_row_sums(b)  # both operands are activations here: per call
        c = torch.stack([mm(a_s8[i]) for i, mm in enumerate(mms)])
        return {"C": c + comp.unsqueeze(1)}

    return run


@torch_op("conv2d_u8s8")
def _conv2d_u8s8(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, w = t["input"], t["weight"]  # N,H,W,C u8 ; F,KH,KW,C s8
    sh, sw = _pair_param(params, "stride", 1, "conv2d_u8s8")
    ph, pw = _pair_param(params, "padding", 0, "conv2d_u8s8")
    n = int(x.shape[0])
    f, kh, kw, c = (int(s) for s in w.shape)
    w2 = w.permute(0, 3, 1, 2).reshape(f, c * kh * kw).contiguous()  # matches unfold's (C, KH, KW)
    mm = _IntMM(w2, device)
    comp = 128 * _s8_row_sums(w2)

    def run() -> Tensors:
        xp = F.pad(_u8_to_s8(x), (0, 0, pw, pw, ph, ph), value=-128)  # u8 0 is s8 -128
        cols = xp.unfold(1, kh, sh).unfold(2, kw, sw)  # N, OH, OW, C, KH, KW (a view)
        oh, ow = int(cols.shape[1]), int(cols.shape[2])
        out = mm(cols.reshape(n * oh * ow, c * kh * kw)) + comp
        return {"output": out.reshape(n, oh, ow, f)}

    return run


# --------------------------------------------------------------------------------------------
# convolution and pooling


@torch_op("conv1d")
def _conv1d(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, w = t["input"], t["weight"]
    stride = _int_param(params, "stride", 1, "conv1d")
    pad = _int_param(params, "padding", 0, "conv1d")
    return lambda: {"output": F.conv1d(x, w, stride=stride, padding=pad)}


@torch_op("conv2d_nchw")
def _conv2d_nchw(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x, w = t["input"], t["weight"]
    stride = _pair_param(params, "stride", 1, "conv2d_nchw")
    pad = _pair_param(params, "padding", 0, "conv2d_nchw")
    return lambda: {"output": F.conv2d(x, w, stride=stride, padding=pad)}


def _nhwc_view(x: torch.Tensor) -> torch.Tensor:
    """An NHWC tensor as PyTorch's channels_last NCHW view (no copy)."""
    return x.permute(0, 3, 1, 2)


def _from_nchw(y: torch.Tensor) -> torch.Tensor:
    """A channels_last NCHW result as the NHWC tensor (no copy when y is channels_last)."""
    return y.permute(0, 2, 3, 1)


@torch_op("conv2d_nhwc")
def _conv2d_nhwc(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = _nhwc_view(t["input"])
    w = t["weight"].permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)  # HWIO->OIHW
    stride = _pair_param(params, "stride", 1, "conv2d_nhwc")
    pad = _pair_param(params, "padding", 0, "conv2d_nhwc")
    return lambda: {"output": _from_nchw(F.conv2d(x, w, stride=stride, padding=pad))}


@torch_op("depthwise_conv2d")
def _depthwise(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = _nhwc_view(t["input"])
    c = int(x.shape[1])
    w = t["weight"].permute(2, 0, 1).unsqueeze(1).contiguous(memory_format=torch.channels_last)
    stride = _pair_param(params, "stride", 1, "depthwise_conv2d")
    pad = _pair_param(params, "padding", 0, "depthwise_conv2d")
    return lambda: {"output": _from_nchw(F.conv2d(x, w, stride=stride, padding=pad, groups=c))}


def _pool_params(params: Mapping[str, Any], op: str) -> tuple[tuple[int, int], tuple[int, int]]:
    window = _pair_param(params, "window", 2, op)
    stride = _pair_param(params, "stride", 0, op) if "stride" in params else window
    return window, stride


@torch_op("avgpool2d")
def _avgpool(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = t["input"]
    k, s = _pool_params(params, "avgpool2d")
    return lambda: {"output": F.avg_pool2d(x, k, s)}


@torch_op("sumpool2d")
def _sumpool(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = t["input"]
    k, s = _pool_params(params, "sumpool2d")
    return lambda: {"output": F.avg_pool2d(x, k, s, divisor_override=1)}


@torch_op("maxpool2d_nhwc")
def _maxpool(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = _nhwc_view(t["input"])
    k, s = _pool_params(params, "maxpool2d_nhwc")
    return lambda: {"output": _from_nchw(F.max_pool2d(x, k, s))}


@torch_op("minpool2d")
def _minpool(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    x = _nhwc_view(t["input"])
    k, s = _pool_params(params, "minpool2d")
    return lambda: {"output": _from_nchw(torch.neg(F.max_pool2d(torch.neg(x), k, s)))}


# --------------------------------------------------------------------------------------------
# attention


def _causal(params: Mapping[str, Any]) -> bool:
    return bool(params.get("causal", False))


@torch_op("mha")
def _mha(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    q, k, v = t["q"], t["k"], t["v"]
    causal = _causal(params)
    return lambda: {"o": F.scaled_dot_product_attention(q, k, v, is_causal=causal)}


@torch_op("gqa")
def _gqa(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    q, k, v = t["q"], t["k"], t["v"]
    causal = _causal(params)
    gqa = q.shape[1] != k.shape[1]  # query head h reads kv head h // (Hq // Hkv), as PyTorch does
    return lambda: {"o": F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)}


@torch_op("deformable_attention")
def _deformable(t: Tensors, dims: Mapping[str, int], params: Mapping[str, Any], device: str) -> Run:
    value, loc, weight = t["value"], t["sampling_loc"], t["attn_weight"]
    hgt, wid = int(dims["H"]), int(dims["W"])
    b, _, nh, d = (int(s) for s in value.shape)
    nq, npt = int(loc.shape[1]), int(loc.shape[3])

    def run() -> Tensors:
        img = value.permute(0, 2, 3, 1).reshape(b * nh, d, hgt, wid)
        grid = loc.permute(0, 2, 1, 3, 4).reshape(b * nh, nq, npt, 2) * 2.0 - 1.0
        samples = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros",
                                align_corners=False)  # B*NH, D, Q, P
        wts = weight.permute(0, 2, 1, 3).reshape(b * nh, 1, nq, npt)
        out = (samples * wts).sum(dim=-1)  # B*NH, D, Q
        return {"output": out.reshape(b, nh * d, nq).transpose(1, 2).contiguous()}

    return run


def setup_op(op: str, spec: KernelSpec, flat: Mapping[str, np.ndarray],
             device: str = "cpu") -> Union[Run, str]:
    """``run`` for ``op`` on ``spec``'s inputs ``flat`` (a ``make_inputs`` dict), or why not."""
    setup = TORCH_OPS.get(op)
    if setup is None:
        return f"no torch implementation of operator {op!r}"
    tensors = to_tensors(spec, flat, device)
    return setup(tensors, dict(spec.dims), dict(spec.operator_params), device)


__all__ = ["TORCH_OPS", "Run", "Setup", "setup_op", "to_numpy", "to_tensors", "torch_dtype"]
