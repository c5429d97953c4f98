"""``autotune platforms``: which toolchains and devices this machine has; with ``--peak``, its
measured peak FLOP/s and memory bandwidth (the roofline every bench row is compared with)."""

from __future__ import annotations

import argparse
import sys

from measure.peak import PeakError, cache_path, format_peaks, machine_peaks
from measure.toolchain import cpu_info, find_gcc, find_hipcc, find_nvcc, nvidia_gpu


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("platforms", help="list toolchains, devices and ISA features",
                       description="Show which platforms can be compiled, run and verified here.")
    p.add_argument("--peak", action="store_true",
                   help="also show this machine's peak FLOP/s and memory bandwidth (measured by "
                        "microbenchmarks on first use, about 10 s, then read from the cache)")
    p.add_argument("--threads", type=int, default=1, metavar="N",
                   help="measure the peaks on N pinned cores (default 1)")
    p.add_argument("--refresh", action="store_true", help="measure the peaks again, ignoring the cache")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cpu = cpu_info()
    gcc, nvcc, hipcc, gpu = find_gcc(), find_nvcc(), find_hipcc(), nvidia_gpu()
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
                       "avx512_bf16", "avx512fp16", "amx_tile", "amx_int8", "amx_bf16")
           if f in cpu.features]
    print(f"cpu   : {cpu.model}")
    print(f"        ISA: {' '.join(isa) or 'baseline x86-64'}")
    print(f"        compiler: {gcc.version if gcc else 'gcc MISSING'}")
    print("        verification: device (runs natively)" if gcc else "        verification: none")
    print(f"cuda  : compiler: {nvcc.version if nvcc else 'nvcc not found'}")
    print(f"        GPU: {gpu or 'none'}")
    mode = "device (real GPU)" if gpu and nvcc else "emulated (CPU emulation of the CUDA model)"
    print(f"        verification: {mode}" + (", plus nvcc compile check" if nvcc and not gpu else ""))
    print(f"hip   : compiler: {hipcc.version if hipcc else 'hipcc not found (apt-get install hipcc)'}")
    print("        GPU: none (AMD GPUs are not probed)")
    print("        verification: emulated (64-lane wavefronts)"
          + (", plus hipcc compile check" if hipcc else ""))
    if getattr(args, "peak", False):
        return _print_peaks(args.threads, args.refresh)
    return 0


def _print_peaks(threads: int, refresh: bool) -> int:
    try:
        peaks = machine_peaks(threads, refresh=refresh)
    except ValueError as exc:
        print(f"autotune platforms: {exc}", file=sys.stderr)
        return 2
    except PeakError as exc:
        print(f"autotune platforms: could not measure the peaks: {exc}", file=sys.stderr)
        return 1
    lines = format_peaks(peaks)
    print(f"peak  : {lines[0]}")
    for line in lines[1:]:
        print(f"      {line}")
    print(f"        cache: {cache_path(threads)}")
    return 0
