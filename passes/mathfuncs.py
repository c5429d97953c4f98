"""Math functions: one canonical name each, its numpy semantics, and its spelling per platform.

Why: C writes ``expf``/``fmaxf`` and has no ``max`` for floats, CUDA overloads ``max`` and has
fast variants (``__expf``), HIP follows CUDA. The front end maps every spelling to a canonical
name and the call's dtype (``Call("exp", (x,), "f32")``); printers spell it back for their
platform. The numpy implementation is the scalar semantics that tests check the spellings against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class MathFunc:
    name: str
    arity: int
    numpy: Callable[..., np.ndarray]
    # spelling for f32 and f64 on C; CUDA/HIP use the same unless overridden
    c_f32: str
    c_f64: str
    gpu_f32: str = ""
    gpu_f64: str = ""
    int_ok: bool = False  # meaningful on integers (min/max/abs)

    def spelling(self, platform: str, dtype: str) -> str:
        wide = dtype == "f64"
        if platform in ("cuda", "hip"):
            if wide:
                return self.gpu_f64 or self.c_f64
            return self.gpu_f32 or self.c_f32
        return self.c_f64 if wide else self.c_f32


def _erf(x: np.ndarray) -> np.ndarray:
    import math
    return np.vectorize(math.erf, otypes=[np.float64])(x)


MATH_FUNCS: dict[str, MathFunc] = {
    f.name: f
    for f in [
        MathFunc("exp", 1, np.exp, "expf", "exp"),
        MathFunc("exp2", 1, np.exp2, "exp2f", "exp2"),
        MathFunc("log", 1, np.log, "logf", "log"),
        MathFunc("log2", 1, np.log2, "log2f", "log2"),
        MathFunc("sqrt", 1, np.sqrt, "sqrtf", "sqrt"),
        MathFunc("rsqrt", 1, lambda x: 1.0 / np.sqrt(x), "1.0f/sqrtf", "1.0/sqrt", "rsqrtf", "rsqrt"),
        MathFunc("sin", 1, np.sin, "sinf", "sin"),
        MathFunc("cos", 1, np.cos, "cosf", "cos"),
        MathFunc("tan", 1, np.tan, "tanf", "tan"),
        MathFunc("tanh", 1, np.tanh, "tanhf", "tanh"),
        MathFunc("erf", 1, _erf, "erff", "erf"),
        MathFunc("abs", 1, np.abs, "fabsf", "fabs", int_ok=True),
        MathFunc("floor", 1, np.floor, "floorf", "floor"),
        MathFunc("ceil", 1, np.ceil, "ceilf", "ceil"),
        MathFunc("round", 1, np.round, "roundf", "round"),
        MathFunc("pow", 2, np.power, "powf", "pow"),
        MathFunc("max", 2, np.maximum, "fmaxf", "fmax", int_ok=True),
        MathFunc("min", 2, np.minimum, "fminf", "fmin", int_ok=True),
        MathFunc("fma", 3, lambda a, b, c: a * b + c, "fmaf", "fma"),
        MathFunc("sign", 1, np.sign, "copysignf(1.0f, x)", "copysign(1.0, x)"),
    ]
}

# Every source spelling the front end accepts -> canonical name. Fast-math GPU variants map to
# the precise function: their results differ in the last bits, which the tolerances absorb.
SPELLINGS: dict[str, str] = {}
for _f in MATH_FUNCS.values():
    for _s in (_f.c_f32, _f.c_f64, _f.gpu_f32, _f.gpu_f64, _f.name):
        if _s and _s.isidentifier():
            SPELLINGS.setdefault(_s, _f.name)
SPELLINGS.update({
    "__expf": "exp", "__logf": "log", "__sinf": "sin", "__cosf": "cos", "__powf": "pow",
    "__fsqrt_rn": "sqrt", "fabs": "abs", "fabsf": "abs", "abs": "abs", "fmaxf": "max",
    "fmax": "max", "fminf": "min", "fmin": "min", "max": "max", "min": "min", "__frsqrt_rn": "rsqrt",
    "rsqrtf": "rsqrt", "__fmaf_rn": "fma", "hexp": "exp", "hsqrt": "sqrt",
})
SPELLINGS.pop("sign", None)  # not a C/CUDA function; produced only by passes
