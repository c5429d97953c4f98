"""IR -> HIP C++ (AMD).

Why a subclass of the CUDA printer: HIP keeps CUDA's kernel syntax (``__global__``, ``<<<>>>``,
``__shared__``, ``__syncthreads``); it differs in headers, 16-bit float type names, and warp
primitives, which take no lane mask because a wavefront has no independent thread scheduling.
The IR keeps the CUDA spelling with a mask (``__shfl_down_sync(mask, v, d)``); here the mask
is dropped. WMMA has no HIP spelling (MFMA builtins differ in shape), so it is reported.
"""

from __future__ import annotations

from passes import ir
from passes.printer.base import ATOM_PREC, Printed
from passes.printer.cuda import CudaPrinter

# CUDA primitive with a leading mask argument -> HIP spelling without it.
MASKLESS = {
    "__shfl_sync": "__shfl", "__shfl_down_sync": "__shfl_down", "__shfl_up_sync": "__shfl_up",
    "__shfl_xor_sync": "__shfl_xor", "__ballot_sync": "__ballot", "__any_sync": "__any",
    "__all_sync": "__all",
}


class HipPrinter(CudaPrinter):
    platform = "hip"
    runtime_headers = ("hip/hip_runtime.h", "stdint.h")
    type_names = {"bool": "bool", "f16": "__half", "bf16": "hip_bfloat16"}
    conversions = {"f16": ("__half2float", "__float2half"), "bf16": None}

    def gpu_primitive(self, e: ir.Call) -> Printed:
        if e.name in MASKLESS:
            if not e.args:
                raise self.unsupported(f"{e.name} without arguments", "")
            return Printed(f"{MASKLESS[e.name]}({self.args(e.args[1:])})", ATOM_PREC)
        if e.name == "__activemask":
            return Printed("__ballot(1)", ATOM_PREC)
        return super().gpu_primitive(e)

    def wmma_used(self, spelled: str) -> None:
        raise self.unsupported(f"WMMA ({spelled})", "no HIP spelling; use MFMA or detensorise")

    def warp_sync(self) -> str:
        # lanes of a wavefront run in lockstep; this orders their memory operations
        return "__builtin_amdgcn_wave_barrier();"

    def foreign_header(self, name: str) -> bool:
        return super().foreign_header(name) or name.startswith(("cuda", "mma.h", "cub/", "cublas",
                                                                   "curand", "cooperative_groups",
                                                                   "device_", "crt/", "sm_"))

    def optional_headers(self) -> list[tuple[str, str]]:
        return [("f16", "hip/hip_fp16.h"), ("bf16", "hip/hip_bfloat16.h"), ("nonfinite", "math.h")]
