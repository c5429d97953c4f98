"""Tables and type rules for calls: math spellings, conversions, GPU primitives, intrinsics.

Why: a call's IR form depends on what is called. Math functions become canonical names whose
dtype follows C (``exp`` is double, ``expf`` float) or CUDA overloading (the argument type);
conversion intrinsics (``__half2float``) are plain casts; GPU primitives keep their CUDA names
(HIP shuffles are renamed to them); x86 intrinsics keep their names and take their result type
from the semantics table ``passes.intrinsics`` (or, while it lacks one, from the name).
"""

from __future__ import annotations

import re

from passes import typeinfer
from passes.mathfuncs import MATH_FUNCS, SPELLINGS

# Spellings that always mean the float (f32) function.
F32_SPELLINGS = frozenset(
    {f.c_f32 for f in MATH_FUNCS.values() if f.c_f32.isidentifier() and f.c_f32 != f.c_f64}
    | {f.gpu_f32 for f in MATH_FUNCS.values() if f.gpu_f32.isidentifier()}
    | {"__expf", "__logf", "__sinf", "__cosf", "__powf", "__fsqrt_rn", "__frsqrt_rn",
       "__fmaf_rn", "fabsf", "fmaxf", "fminf", "rsqrtf"}
)
F16_SPELLINGS = frozenset({"hexp", "hsqrt"})

# Conversion intrinsics whose rounding equals C's conversion: they are casts.
CONVERSIONS: dict[str, str] = {
    "__half2float": "f32", "__float2half": "f16", "__float2half_rn": "f16",
    "__bfloat162float": "f32", "__float2bfloat16": "bf16", "__float2bfloat16_rn": "bf16",
    "__int2float_rn": "f32", "__uint2float_rn": "f32", "__ll2float_rn": "f32",
    "__int2double_rn": "f64", "__uint2double_rn": "f64", "__double2float_rn": "f32",
    "__float2int_rz": "i32", "__float2uint_rz": "u32", "__float2ll_rz": "i64",
    "__double2int_rz": "i32", "__int2half_rn": "f16", "__half2int_rz": "i32",
}

# Correctly rounded arithmetic intrinsics: plain IEEE operators.
ARITH: dict[str, str] = {
    "__fadd_rn": "+", "__fsub_rn": "-", "__fmul_rn": "*", "__fdiv_rn": "/", "__fdividef": "/",
    "__dadd_rn": "+", "__dsub_rn": "-", "__dmul_rn": "*", "__ddiv_rn": "/",
    "__hadd": "+", "__hsub": "-", "__hmul": "*", "__hdiv": "/",
}

SHUFFLES = frozenset({"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync"})
HIP_SHUFFLES = {"__shfl": "__shfl_sync", "__shfl_up": "__shfl_up_sync",
                "__shfl_down": "__shfl_down_sync", "__shfl_xor": "__shfl_xor_sync"}
ATOMICS = frozenset({"atomicAdd", "atomicSub", "atomicMax", "atomicMin", "atomicExch",
                     "atomicCAS", "atomicAnd", "atomicOr", "atomicXor"})
# Primitives with a fixed result dtype and arity.
FIXED: dict[str, tuple[str, int]] = {
    "__ballot_sync": ("u32", 2), "__any_sync": ("i32", 2), "__all_sync": ("i32", 2),
    "__activemask": ("u32", 0), "__popc": ("i32", 1), "__popcll": ("i32", 1),
    "__clz": ("i32", 1), "__clzll": ("i32", 1), "__ffs": ("i32", 1), "__ffsll": ("i32", 1),
    "__brev": ("u32", 1), "__mul24": ("i32", 2), "__umul24": ("u32", 2),
    "__mulhi": ("i32", 2), "__umulhi": ("u32", 2),
}
GPU_ONLY = SHUFFLES | ATOMICS | frozenset(FIXED) | frozenset(HIP_SHUFFLES) | {
    "__dp4a", "__ldg", "__syncthreads", "__syncwarp"}


def is_intrinsic(name: str) -> bool:
    """x86 intrinsics: ``_mm*``, AMX ``_tile_*`` and mask helpers such as ``_kand_mask16``."""
    return name.startswith(("_mm", "_tile_", "_k", "_cvtmask", "_cvtu32_mask", "_cvtu64_mask",
                            "_load_mask", "_store_mask"))


def math_dtype(spelling: str, arg_dtypes: list[str], platform: str) -> str:
    """Result dtype of a math call written ``spelling`` with arguments of ``arg_dtypes``."""
    canonical = SPELLINGS[spelling]
    if spelling in F32_SPELLINGS:
        return "f32"
    if spelling in F16_SPELLINGS:
        return "f16"
    common = arg_dtypes[0]
    for d in arg_dtypes[1:]:
        common = typeinfer.promote(common, d)
    float_arg = common in ("f16", "bf16", "f32", "f64")
    if platform == "cpu":
        if spelling == "abs":
            return "i32"
        if spelling in ("max", "min"):  # not C library functions: follow the arguments
            return common if float_arg else typeinfer.promote(common, common)
        return "f64"
    if float_arg:
        return common
    if MATH_FUNCS[canonical].int_ok and spelling in ("abs", "max", "min"):
        return typeinfer.promote(common, common)
    return "f64"


# ------------------------------------------------------------------------------------------
# intrinsic result types


def intrinsic_result(name: str) -> str | None:
    """Result dtype of an x86 intrinsic: the semantics table first, then the naming scheme."""
    try:
        from passes.intrinsics import INTRINSICS  # written alongside; may not exist yet
    except ImportError:
        INTRINSICS = {}
    entry = INTRINSICS.get(name)
    if entry is not None:
        return str(entry.result)
    return _result_from_name(name)


_ELEM_BITS = {"ps": 32, "pd": 64, "ph": 16, "epi8": 8, "epi16": 16, "epi32": 32, "epi64": 64,
              "epu8": 8, "epu16": 16, "epu32": 32, "epu64": 64}
_VOID_WORDS = ("store", "stream", "scatter", "prefetch", "fence", "pause", "zeroupper", "_tile_")


def _family(bits: int, suffix: str) -> str | None:
    if bits not in (128, 256, 512):
        return None
    if suffix == "ps":
        return f"m{bits}"
    if suffix == "pd":
        return f"m{bits}d"
    return f"m{bits}i"


def _result_from_name(name: str) -> str | None:
    """Intel's naming scheme: ``_mm512_<op>_<suffix>``; ``None`` when it does not say."""
    if any(w in name for w in _VOID_WORDS):
        return "void"
    m = re.match(r"_mm(\d*)_", name)
    if m is None:
        mask = re.match(r"_(k\w*|cvtu\d+)_mask(\d+)$", name)
        return f"mask{mask.group(2)}" if mask else None
    width = int(m.group(1) or 128)
    parts = name[m.end():].split("_")
    if parts[:1] == ["reduce"]:
        return {"ps": "f32", "pd": "f64", "epi32": "i32", "epi64": "i64"}.get(parts[-1])
    if parts[-1] == "mask":
        elem = next((_ELEM_BITS[p] for p in parts if p in _ELEM_BITS), None)
        return f"mask{width // elem}" if elem and width // elem >= 8 else None
    scalar = {"f32": "f32", "f64": "f64", "si32": "i32", "si64": "i64"}
    if parts[0].startswith("cvt") and parts[-1] in scalar:
        return scalar[parts[-1]]
    cvt = re.fullmatch(r"cvtt?(ep[iu]\d+|ps|pd|ph)", parts[0])
    if cvt and len(parts) == 2 and parts[1] in _ELEM_BITS and cvt.group(1) in _ELEM_BITS:
        src, dst = _ELEM_BITS[cvt.group(1)], _ELEM_BITS[parts[1]]
        lanes = width // max(src, dst)
        return _family(lanes * dst, "i" if parts[1] == "ph" else parts[1])
    last = parts[-1]
    if last in ("ps", "pd"):
        return _family(width, last)
    if last in _ELEM_BITS or re.fullmatch(r"si(128|256|512)", last):
        return _family(width, "i")
    return None
