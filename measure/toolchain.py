"""Discovery of compilers, GPUs and CPU ISA features, cached for the life of the process.

Why: which platforms can verify how (device, emulated, compiled) depends on what is installed, and
the CPU build flags must come from what the CPU reports. ``-march=native`` is never used: under KVM
it names the wrong CPU model, so features are read from ``/proc/cpuinfo`` and mapped to ``-m``
flags one by one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Union

# cpuinfo flag -> gcc flag. Only features a kernel of ours may use are listed.
_ISA_FLAGS = {
    "avx2": "-mavx2", "fma": "-mfma", "f16c": "-mf16c",
    "avx512f": "-mavx512f", "avx512bw": "-mavx512bw", "avx512vl": "-mavx512vl",
    "avx512dq": "-mavx512dq", "avx512cd": "-mavx512cd", "avx512_vnni": "-mavx512vnni",
    "avx_vnni": "-mavxvnni", "avx512_bf16": "-mavx512bf16", "avx512fp16": "-mavx512fp16",
    "amx_tile": "-mamx-tile", "amx_int8": "-mamx-int8", "amx_bf16": "-mamx-bf16",
}
ISA_FEATURES = tuple(_ISA_FLAGS)


@dataclass(frozen=True)
class Tool:
    """A found executable and the first line of its version output."""

    path: str
    version: str


@dataclass(frozen=True)
class CpuInfo:
    model: str
    features: frozenset[str]


def _version(argv: list[str], pattern: str, env: Union[dict[str, str], None] = None) -> Union[str, None]:
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    m = re.search(pattern, r.stdout + r.stderr)
    return m.group(0) if m else (r.stdout.strip().splitlines() or ["unknown"])[0]


@lru_cache(maxsize=1)
def find_gcc() -> Union[Tool, None]:
    path = shutil.which("gcc")
    if path is None:
        return None
    v = _version([path, "-dumpfullversion"], r"\d+(\.\d+)*")
    return Tool(path, f"gcc {v}") if v else None


@lru_cache(maxsize=1)
def find_gxx() -> Union[Tool, None]:
    path = shutil.which("g++")
    if path is None:
        return None
    v = _version([path, "-dumpfullversion"], r"\d+(\.\d+)*")
    return Tool(path, f"g++ {v}") if v else None


@lru_cache(maxsize=1)
def find_nvcc() -> Union[Tool, None]:
    path = shutil.which("nvcc")
    if path is None:
        for cand in ("/usr/local/cuda/bin/nvcc",):
            if shutil.which(cand):
                path = cand
    if path is None:
        return None
    v = _version([path, "--version"], r"release [\d.]+, V[\d.]+")
    return Tool(path, f"nvcc {v}") if v else None


@lru_cache(maxsize=1)
def find_hipcc() -> Union[Tool, None]:
    """hipcc with HIP_PLATFORM=amd (without it, hipcc may pick nvcc and build CUDA instead)."""
    path = shutil.which("hipcc")
    if path is None:
        return None
    env = {**os.environ, "HIP_PLATFORM": "amd"}
    v = _version([path, "--version"], r"HIP version: [\w.\-]+", env)
    return Tool(path, f"hipcc {v}") if v else None


@lru_cache(maxsize=1)
def nvidia_gpu() -> Union[str, None]:
    """The first line of ``nvidia-smi -L`` when a real NVIDIA GPU answers, else None."""
    path = shutil.which("nvidia-smi")
    if path is None:
        return None
    try:
        r = subprocess.run([path, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = r.stdout.strip().splitlines()
    return lines[0] if r.returncode == 0 and lines and lines[0].startswith("GPU") else None


def parse_cpuinfo(text: str) -> CpuInfo:
    """Model name and the ISA features we care about, from the text of /proc/cpuinfo."""
    model = "unknown"
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model == "unknown":
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    return CpuInfo(model, frozenset(f for f in ISA_FEATURES if f in flags))


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    try:
        with open("/proc/cpuinfo") as f:
            return parse_cpuinfo(f.read())
    except OSError:
        return CpuInfo("unknown", frozenset())


def gcc_isa_flags(features: Iterable[str]) -> list[str]:
    """``-m`` flags for the given cpuinfo features, in a stable order (never ``-march=native``)."""
    feats = set(features)
    return [flag for feat, flag in _ISA_FLAGS.items() if feat in feats]


def toolchain_summary() -> dict[str, str]:
    """Versions and hardware, for the details of a verdict (what verified this result)."""
    out: dict[str, str] = {"cpu": cpu_info().model,
                           "cpu_features": " ".join(sorted(cpu_info().features))}
    for name, tool in (("gcc", find_gcc()), ("nvcc", find_nvcc()), ("hipcc", find_hipcc())):
        out[name] = tool.version if tool else "missing"
    out["nvidia_gpu"] = nvidia_gpu() or "none"
    return out
