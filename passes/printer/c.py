"""IR -> C11 with OpenMP pragmas and x86 intrinsics (AVX-512, VNNI, AMX).

Why these choices: the C target is compiled by gcc with ``-std=c11 -fopenmp`` and the ISA flags;
``restrict`` and ``#pragma omp simd`` tell gcc what the IR already knows; integer min/max become
tiny ``static inline`` helpers (C has none, and a macro or ternary would evaluate an operand twice).
GPU constructs that survive to this printer mean loop recovery did not run, which is reported
rather than printed as code that cannot compile.
"""

from __future__ import annotations

from passes import ir
from passes.printer.base import ATOM_PREC, BasePrinter, Printed

GPU_HEADER_PREFIXES = ("cuda", "hip/", "hip_", "mma.h", "cooperative_groups", "device_", "cub/",
                       "thrust/", "curand", "cublas", "rocblas", "crt/", "sm_")
RECOVER = "run loop recovery first"

# gcc 12 has no __bf16 in C: bfloat16 is a 16-bit storage struct (arithmetic on it fails to
# compile instead of silently treating the bits as an integer), converted with round-to-nearest-even.
BF16_HELPERS = [
    "typedef struct { uint16_t bits; } bf16_t;",
    "static inline float bf16_to_f32(bf16_t v) {",
    "    uint32_t u = (uint32_t)v.bits << 16;",
    "    float f;",
    "    memcpy(&f, &u, sizeof f);",
    "    return f;",
    "}",
    "static inline bf16_t f32_to_bf16(float f) {",
    "    uint32_t u;",
    "    memcpy(&u, &f, sizeof u);",
    "    if ((u & 0x7fffffffu) > 0x7f800000u) {",
    "        return (bf16_t){(uint16_t)((u >> 16) | 0x40u)};",
    "    }",
    "    return (bf16_t){(uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};",
    "}",
]


class CPrinter(BasePrinter):
    platform = "cpu"
    restrict = "restrict"
    empty_params = "void"
    conversions = {"bf16": ("bf16_to_f32", "f32_to_bf16")}

    def scalar_type(self, dtype: str) -> str:
        return {"bool": "bool", "f16": "_Float16", "bf16": "bf16_t"}[dtype]

    def builtin(self, b: ir.Builtin) -> Printed:
        raise self.unsupported(f"GPU builtin {b.name}", RECOVER)

    def gpu_primitive(self, e: ir.Call) -> Printed:
        raise self.unsupported(f"GPU primitive {e.name}", RECOVER)

    def call(self, e: ir.Call) -> Printed:
        if e.name.startswith("omp_"):
            self.needs.add("omp")
        return super().call(e)

    def int_math(self, e: ir.Call) -> Printed:
        if e.name == "abs":
            return self.int_abs(e)
        dtype = "i32" if e.dtype in ("bool", "i8", "i16", "u8", "u16") else e.dtype
        self.needs.add(f"{e.name}:{dtype}")
        return Printed(f"{e.name}_{dtype}({self.args(e.args)})", ATOM_PREC)

    def decl_prefix(self, s: ir.Decl) -> str:
        if s.scope == ir.SHARED:
            raise self.unsupported(f"shared memory array {s.name}", RECOVER)
        if s.shape and s.shape[0] < 0:
            raise self.unsupported(f"unsized array {s.name}", RECOVER)
        return ""

    def loop_pragmas(self, s: ir.For) -> list[str]:
        out = super().loop_pragmas(s)
        if s.kind == ir.PARALLEL:
            # the source's pragma text verbatim; clauses a pass added later are appended
            text = "#pragma omp " + (s.annotation("omp") or "parallel for")
            for key in ("collapse", "num_threads", "reduction", "schedule"):
                value = s.annotation(key)
                if value is not None and f"{key}(" not in text:
                    text += f" {key}({value})"
            out.append(text)
        elif s.kind == ir.VECTORIZED:
            reduction = s.annotation("reduction")
            out.append("#pragma omp simd" + (f" reduction({reduction})" if reduction else ""))
        elif s.kind == ir.UNROLLED:
            n = s.annotation("unroll", 0) or trip_count(s) or 65534  # gcc's "as far as possible"
            out.append(f"#pragma GCC unroll {n}")
        return out

    def sync(self, s: ir.Sync) -> str:
        raise self.unsupported(f"barrier ({s.scope})", RECOVER)

    def launch(self, s: ir.Launch) -> str:
        raise self.unsupported(f"kernel launch of {s.kernel}", RECOVER)

    def signature(self, fn: ir.Function) -> str:
        prefix = "static inline " if fn.kind == ir.DEVICE else ""
        return self.declarator(f"{prefix}{self.type_name(fn.ret_dtype)} {fn.name}", fn)

    def foreign_header(self, name: str) -> bool:
        return name.startswith(GPU_HEADER_PREFIXES)

    def preamble(self, module: ir.Module) -> list[str]:
        required = ["stdint.h"]
        for need, header in (("bool", "stdbool.h"), ("math", "math.h"), ("stdlib", "stdlib.h"),
                             ("bf16", "string.h"),
                             ("x86", "immintrin.h"), ("omp", "omp.h")):
            if need in self.needs:
                required.append(header)
        lines = self.includes(required, module)
        helpers = sorted(n for n in self.needs if n.startswith(("max:", "min:")))
        if helpers or "bf16" in self.needs:
            lines.append("")
        if "bf16" in self.needs:
            lines += BF16_HELPERS
        for need in helpers:
            name, dtype = need.split(":")
            t = self.type_name(dtype)
            op = ">" if name == "max" else "<"
            lines.append(f"static inline {t} {name}_{dtype}({t} a, {t} b) {{ return a {op} b ? a : b; }}")
        return lines


def trip_count(s: ir.For) -> int:
    """Iterations of an affine loop with constant bounds, else 0."""
    if not (s.is_affine() and isinstance(s.init, ir.Const) and isinstance(s.bound, ir.Const)):
        return 0
    step = int(s.step.value)  # type: ignore[attr-defined]
    return max(0, -(-(int(s.bound.value) - int(s.init.value)) // step))

