"""Work and minimal memory traffic of the corpus operators, for roofline estimates.

``flops(spec)`` counts the arithmetic operations of one call of the kernel a spec describes, as a
function of the spec's concrete shapes (its ``[dims]``, through the argument shapes) and its
``[reference.params]``. Names follow the operator references (``registry``): ``A``, ``B``, ``C``
for the matrix products, ``input``, ``weight``, ``output`` for convolutions, and so on. A
multiply-add counts as 2 operations; integer multiply-adds (u8 x s8 -> s32) count the same way,
so that ``flops / seconds`` compares with a peak in GOP/s. Formulas (``out`` is the number of
output elements, ``n`` the number of input elements of ``x``):

| operator | operations |
|---|---|
| relu, sign, sin | ``n`` (one operation per element; a transcendental counts as one) |
| sigmoid | ``3 n`` (exp, add, divide) |
| gelu | ``5 n`` (scale, erf, add, two multiplies) |
| add, sub | ``out`` |
| sum, mean, max, min | ``n`` (one add or compare per input element) |
| softmax | ``5 n`` (max, subtract, exp, sum, divide) |
| layernorm, batchnorm, instancenorm | ``8 n`` (mean 1, variance 3, normalise 2, scale and shift 2) |
| rmsnorm | ``4 n`` (square and add 2, normalise 1, scale 1) |
| gemm, gemm_f16, gemm_u8s8 | ``2 M N K`` |
| bmm, bmm_f16, bmm_u8s8 | ``2 BATCH M N K`` |
| gemv, gemv_u8s8 | ``2 M K`` |
| dense | ``2 M N K + M N`` (bias) |
| conv2d_nhwc, conv2d_nchw, conv2d_u8s8 | ``2 out C KH KW`` (``out = N OH OW F``) |
| conv1d | ``2 out C K`` (``out = N F OL``) |
| depthwise_conv2d | ``2 out KH KW`` (``out = N OH OW C``) |
| maxpool2d_nhwc, minpool2d, sumpool2d | ``out (window_h window_w - 1)`` |
| avgpool2d | ``out window_h window_w`` (adds and one divide) |
| gather, transpose, concat | 0 (data movement) |
| scatter | ``N D`` (one add per source element) |
| mha, gqa | ``4 B Hq S S D + 5 B Hq S S`` (q k^T and p v, plus softmax) |
| gated_mlp | ``6 T D H + 4 T H`` (three GEMMs; silu 3 and gate 1 per hidden element) |
| deformable_attention | ``10 B Q NH P D`` (four bilinear taps and the attention weight, as multiply-adds) |

``minimal_bytes(spec)`` is the traffic of an ideal kernel that touches every buffer exactly
once: inputs are read once, outputs written once, ``inout`` buffers read and written (twice
their size); scalars cost nothing. It is computed generically from the spec's argument shapes and
dtypes, whatever the operator.

``compute_kind(spec)`` names the arithmetic peak that bounds the operator, as a kind of
``measure.peak.roofline_seconds``: ``"int8"`` when the inputs are 8-bit integers (VNNI or AMX),
``"bf16"`` for bfloat16 inputs, ``"fp32"`` otherwise (f16 inputs included: a CPU converts them and
computes in fp32 lanes).
"""

from __future__ import annotations

from typing import Callable, Mapping

from measure.inputs import numpy_dtype
from measure.operators.registry import _pair_param
from measure.spec import KernelSpec


class CostError(ValueError):
    """The spec does not name an operator with a cost formula, or lacks an argument it needs."""


def _prod(values: tuple[int, ...]) -> int:
    n = 1
    for v in values:
        n *= v
    return n


def _shape(spec: KernelSpec, name: str) -> tuple[int, ...]:
    try:
        return spec.shape_of(spec.arg(name))
    except ValueError as exc:
        raise CostError(f"operator {spec.operator!r}: {exc}") from None


def _size(spec: KernelSpec, name: str) -> int:
    return _prod(_shape(spec, name))


def _per_element(name: str, k: int) -> Callable[[KernelSpec, Mapping[str, object]], int]:
    return lambda spec, params: k * _size(spec, name)


def _matmul(spec: KernelSpec, params: Mapping[str, object]) -> int:
    """2 * (output elements) * K, with K the last dim of A (gemm, bmm and their variants)."""
    return 2 * _size(spec, "C") * _shape(spec, "A")[-1]


def _gemv(spec: KernelSpec, params: Mapping[str, object]) -> int:
    return 2 * _size(spec, "A")


def _dense(spec: KernelSpec, params: Mapping[str, object]) -> int:
    out = _size(spec, "y")
    return 2 * out * _shape(spec, "x")[-1] + out


def _conv(layout: str) -> Callable[[KernelSpec, Mapping[str, object]], int]:
    """2 * out * (reduction size); the reduction is the weight's size over its output channels."""

    def cost(spec: KernelSpec, params: Mapping[str, object]) -> int:
        w = _shape(spec, "weight")
        f = w[{"hwio": 3, "oihw": 0, "ohwi": 0, "oik": 0}[layout]]
        return 2 * _size(spec, "output") * (_prod(w) // f)

    return cost


def _depthwise(spec: KernelSpec, params: Mapping[str, object]) -> int:
    w = _shape(spec, "weight")  # KH, KW, C
    return 2 * _size(spec, "output") * w[0] * w[1]


def _pool(extra: int) -> Callable[[KernelSpec, Mapping[str, object]], int]:
    def cost(spec: KernelSpec, params: Mapping[str, object]) -> int:
        kh, kw = _pair_param(dict(params), "window", 2, str(spec.operator))
        return _size(spec, "output") * (kh * kw - 1 + extra)

    return cost


def _attention(spec: KernelSpec, params: Mapping[str, object]) -> int:
    b, hq, s, d = _shape(spec, "q")
    scores = b * hq * s * s
    return 4 * scores * d + 5 * scores


def _gated_mlp(spec: KernelSpec, params: Mapping[str, object]) -> int:
    t, d = _shape(spec, "x")
    h = _shape(spec, "W1")[0]
    return 6 * t * d * h + 4 * t * h


def _deformable(spec: KernelSpec, params: Mapping[str, object]) -> int:
    b, q, nh, p = _shape(spec, "attn_weight")
    d = _shape(spec, "value")[3]
    return 10 * b * q * nh * p * d


def _zero(spec: KernelSpec, params: Mapping[str, object]) -> int:
    return 0


FLOPS: dict[str, Callable[[KernelSpec, Mapping[str, object]], int]] = {
    "relu": _per_element("x", 1), "sign": _per_element("x", 1), "sin": _per_element("x", 1),
    "sigmoid": _per_element("x", 3), "gelu": _per_element("x", 5),
    "add": _per_element("C", 1), "sub": _per_element("C", 1),
    "sum": _per_element("x", 1), "mean": _per_element("x", 1),
    "max": _per_element("x", 1), "min": _per_element("x", 1),
    "softmax": _per_element("x", 5),
    "layernorm": _per_element("x", 8), "batchnorm": _per_element("x", 8),
    "instancenorm": _per_element("x", 8), "rmsnorm": _per_element("x", 4),
    "gemm": _matmul, "gemm_f16": _matmul, "gemm_u8s8": _matmul,
    "bmm": _matmul, "bmm_f16": _matmul, "bmm_u8s8": _matmul,
    "gemv": _gemv, "gemv_u8s8": _gemv, "dense": _dense,
    "conv2d_nhwc": _conv("hwio"), "conv2d_nchw": _conv("oihw"), "conv2d_u8s8": _conv("ohwi"),
    "conv1d": _conv("oik"), "depthwise_conv2d": _depthwise,
    "maxpool2d_nhwc": _pool(0), "minpool2d": _pool(0), "sumpool2d": _pool(0), "avgpool2d": _pool(1),
    "gather": _zero, "transpose": _zero, "concat": _zero, "scatter": _per_element("src", 1),
    "mha": _attention, "gqa": _attention, "gated_mlp": _gated_mlp,
    "deformable_attention": _deformable,
}


def flops(spec: KernelSpec) -> int:
    """Arithmetic operations of one call (see the module docstring for each formula)."""
    op = spec.operator
    if op is None or op not in FLOPS:
        raise CostError(f"no FLOP formula for operator {op!r}; add one to measure/operators/costs.py "
                        f"(known: {', '.join(sorted(FLOPS))})")
    return int(FLOPS[op](spec, spec.operator_params))


def minimal_bytes(spec: KernelSpec) -> int:
    """Every buffer read or written once (``inout`` both): the traffic of an ideal kernel."""
    total = 0
    for arg in spec.args:
        if not arg.is_buffer:
            continue
        size = spec.size_of(arg) * numpy_dtype(arg.dtype).itemsize
        total += size * (2 if arg.role == "inout" else 1)
    return total


def compute_kind(spec: KernelSpec) -> str:
    """``"int8"``, ``"bf16"`` or ``"fp32"``: which arithmetic peak bounds the operator."""
    dtypes = {a.dtype for a in spec.args if a.role in ("input", "inout")}
    if dtypes & {"u8", "i8"} and not dtypes & {"f16", "bf16", "f32", "f64"}:
        return "int8"
    if dtypes & {"bf16"} and not dtypes & {"f16", "f32", "f64"}:
        return "bf16"
    return "fp32"
