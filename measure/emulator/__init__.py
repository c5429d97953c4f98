"""CPU emulation runtime for CUDA and HIP kernels.

A CUDA/HIP source is executed as written: ``prepare_source`` swaps the toolkit includes for
``cuda_emu.h`` and rewrites kernel launches, ``compile_command`` builds it with g++, and the
header's runtime runs every block's threads as cooperative fibers so that ``__syncthreads``,
shared memory, warp shuffles, atomics and WMMA keep their meaning. It is the independent check on
the translation passes, so nothing here imports from ``passes/``. Semantics and limits are
documented at the top of ``cuda_emu.h``.
"""

from __future__ import annotations

from pathlib import Path

from measure.emulator.rewrite import PLATFORMS, prepare_source

__all__ = ["PLATFORMS", "compile_command", "header_dir", "prepare_source"]


def header_dir() -> Path:
    """Folder holding ``cuda_emu.h`` and the headers it includes."""
    return Path(__file__).resolve().parent


def compile_command(cpp: Path, exe: Path, platform: str) -> list[str]:
    """g++ command line that builds ``exe`` from a source made by ``prepare_source``.

    ``-fno-strict-aliasing`` because GPU code routinely reinterprets buffers (float4 loads of a
    float array), which GPU compilers tolerate and g++ at -O2 would be free to miscompile.
    ``-fstack-clash-protection`` probes every stack page, so a kernel whose locals outgrow its
    fiber stack hits the guard page (and is reported) instead of scribbling over a neighbour's.
    """
    if platform not in PLATFORMS:
        raise ValueError(f"emulator platform must be one of {PLATFORMS}, not {platform!r}")
    cmd = ["g++", "-std=c++17", "-O2", "-fno-strict-aliasing", "-fstack-clash-protection"]
    cmd += ["-I", str(header_dir())]
    if platform == "hip":
        cmd.append("-DEMU_PLATFORM_HIP=1")
    cmd += ["-o", str(exe), str(cpp), "-lm"]
    return cmd
