"""IR -> CUDA C++ (``__global__`` kernels, ``__device__`` helpers, host launchers).

Why these choices: half-precision conversions are printed with the cuda_fp16 functions
(``__half2float``/``__float2half``) because C-style casts between ``half`` and arithmetic types
go through overloaded conversions that differ between CUDA versions; ``#pragma unroll`` without a
count asks nvcc for a full unroll. x86 intrinsics that survive to this printer mean
detensorisation did not run, which is reported instead of printed as code that cannot compile.
"""

from __future__ import annotations

from typing import Union

from passes import ir
from passes.printer.base import ATOM_PREC, BasePrinter, Printed
from passes.wmma import FragmentType, is_fragment_dtype

DETENSORISE = "run detensorisation first"
X86_HEADERS = ("immintrin.h", "xmmintrin.h", "emmintrin.h", "pmmintrin.h", "smmintrin.h",
               "nmmintrin.h", "x86intrin.h", "avxintrin.h", "avx512fintrin.h", "amxintrin.h")


class CudaPrinter(BasePrinter):
    platform = "cuda"
    restrict = "__restrict__"
    runtime_headers = ("cuda_runtime.h", "stdint.h")
    type_names = {"bool": "bool", "f16": "half", "bf16": "__nv_bfloat16"}
    conversions: dict[str, Union[tuple[str, str], None]] = {
        "f16": ("__half2float", "__float2half"),
        "bf16": ("__bfloat162float", "__float2bfloat16"),
    }

    def scalar_type(self, dtype: str) -> str:
        return self.type_names[dtype]

    def vector_used(self, what: str) -> None:
        raise self.unsupported(f"x86 vector construct {what}", DETENSORISE)

    def call(self, e: ir.Call) -> Printed:
        if "wmma::" in e.name:
            self.wmma_used(e.name)
        return super().call(e)

    def wmma_used(self, spelled: str) -> None:
        """WMMA needs mma.h; the short ``wmma::`` spelling also needs ``using namespace nvcuda``."""
        self.needs.add("wmma")
        if spelled.startswith("wmma::"):
            self.needs.add("wmma_ns")

    def type_name(self, dtype: str) -> str:
        if is_fragment_dtype(dtype):
            return self.fragment_type(dtype)
        if "wmma::" in dtype:
            self.wmma_used(dtype.removeprefix("opaque:"))
        return super().type_name(dtype)

    def fragment_type(self, dtype: str) -> str:
        """``wmma:matrix_a:16x16x16:f16:row_major`` -> ``wmma::fragment<wmma::matrix_a, 16, 16,
        16, half, wmma::row_major>`` (the IR form is documented in passes/wmma.py)."""
        try:
            ft = FragmentType.parse(dtype)
        except ValueError as exc:
            raise self.unsupported("WMMA fragment", str(exc)) from None
        self.wmma_used("wmma::fragment")
        args = [f"wmma::{ft.use}", str(ft.m), str(ft.n), str(ft.k), self.type_name(ft.elem)]
        if ft.layout:
            args.append(f"wmma::{ft.layout}")
        return f"wmma::fragment<{', '.join(args)}>"

    def const(self, c: ir.Const) -> Printed:
        out = super().const(c)
        if "INFINITY" in out.text or "NAN" in out.text:
            self.needs.add("nonfinite")
        return out

    def int_math(self, e: ir.Call) -> Printed:
        if e.name == "abs":
            return self.int_abs(e)
        return Printed(f"{e.name}({self.args(e.args)})", ATOM_PREC)  # overloaded on the device

    def decl_prefix(self, s: ir.Decl) -> str:
        if s.scope == ir.SHARED:
            if self.fn_kind == ir.HOST:
                raise self.unsupported(f"shared memory array {s.name} in host code", "")
            return "extern __shared__ " if s.shape and s.shape[0] < 0 else "__shared__ "
        if s.shape and s.shape[0] < 0:
            raise self.unsupported(f"unsized {s.scope} array {s.name}", "only shared arrays may be unsized")
        return ""

    def loop_pragmas(self, s: ir.For) -> list[str]:
        out = super().loop_pragmas(s)
        if s.kind == ir.PARALLEL:
            if self.fn_kind != ir.HOST:
                raise self.unsupported(f"OpenMP parallel loop over {s.var} in device code",
                                       "bind it to GPU threads first")
            out.append("#pragma omp " + (s.annotation("omp") or "parallel for"))
        elif s.kind == ir.UNROLLED:
            n = s.annotation("unroll", 0)
            out.append(f"#pragma unroll {n}" if n else "#pragma unroll")
        return out

    def sync(self, s: ir.Sync) -> str:
        if s.scope == "block":
            return "__syncthreads();"
        if s.scope == "warp":
            return self.warp_sync()
        raise self.unsupported(f"barrier of scope {s.scope!r}", "")

    def warp_sync(self) -> str:
        return "__syncwarp();"

    def launch(self, s: ir.Launch) -> str:
        if self.fn_kind != ir.HOST:
            raise self.unsupported(f"kernel launch of {s.kernel} outside host code", "")
        config = [self.dim3(s.grid), self.dim3(s.block)]
        if not (isinstance(s.shared_bytes, ir.Const) and s.shared_bytes.value == 0):
            config.append(self.expr(s.shared_bytes))
        return f"{s.kernel}<<<{', '.join(config)}>>>({self.args(s.args)});"

    def dim3(self, dims: tuple[ir.Expr, ir.Expr, ir.Expr]) -> str:
        parts = list(dims)
        while len(parts) > 1 and isinstance(parts[-1], ir.Const) and parts[-1].value == 1:
            parts.pop()
        if len(parts) == 1:
            return self.expr(parts[0])
        return f"dim3({self.args(parts)})"

    def signature(self, fn: ir.Function) -> str:
        ret = self.type_name(fn.ret_dtype)
        if fn.kind == ir.KERNEL:
            bounds = ""
            if fn.launch_bounds:
                bounds = f"__launch_bounds__({', '.join(str(b) for b in fn.launch_bounds)}) "
            return self.declarator(f"__global__ void {bounds}{fn.name}", fn)
        if fn.kind == ir.DEVICE:
            return self.declarator(f"__device__ __forceinline__ {ret} {fn.name}", fn)
        return self.declarator(f"{ret} {fn.name}", fn)

    def foreign_header(self, name: str) -> bool:
        return name in X86_HEADERS or name.startswith(("hip/", "hip_", "rocblas", "rocprim"))

    def preamble(self, module: ir.Module) -> list[str]:
        required = list(self.runtime_headers)
        for need, header in self.optional_headers():
            if need in self.needs:
                required.append(header)
        lines = self.includes(required, module)
        if "wmma_ns" in self.needs:
            lines += ["", "using namespace nvcuda;"]
        return lines

    def optional_headers(self) -> list[tuple[str, str]]:
        return [("f16", "cuda_fp16.h"), ("bf16", "cuda_bf16.h"), ("wmma", "mma.h"),
                ("nonfinite", "math.h")]

