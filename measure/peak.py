"""This machine's peak FLOP/s and memory bandwidth, measured with microbenchmarks, and the roofline.

Why: a kernel's time means little alone; "reaches 60% of what the core can do" says how much room is
left. The peaks are measured here rather than taken from a data sheet, because under KVM the CPU
model, clocks and cache sizes the guest sees are not the host's, and because the bandwidth figures
depend on the machine's load. The C microbenchmarks (``measure.peak_kernels``) are built with
``-O2`` and the ISA flags the CPU reports (never ``-march=native``), and run in the sandbox pinned to
the last ``threads`` cores while holding the CPU measurement lock. Results are cached as JSON in the
user cache directory (``$AUTOTUNE_CACHE_DIR``, else ``$XDG_CACHE_HOME/autotune``, else
``~/.cache/autotune``), one file per CPU (model and ISA features) and thread count, so that every
benchmark run reuses them; ``refresh=True`` measures again.

Conventions: fp32 counts 2 flops per FMA lane; int8 counts 2 ops per u8*s8 (VNNI) or s8*s8 (AMX)
byte pair; bandwidth is a STREAM triad on float arrays counting 3 x 4 bytes per element (two reads,
one write; the write-allocate read is not counted), as DESIGN.md section 9 does. Each figure is the
best of several timed repeats (the median is kept too); each benchmark runs for about ``budget_s``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Union

from measure import devicelock
from measure.peak_kernels import PEAK_C
from measure.sandbox import GiB, Limits, MiB, RunResult, run_isolated
from measure.toolchain import CpuInfo, cpu_info, find_gcc, gcc_isa_flags

SCHEMA = 1
# Total bytes of the three triad arrays for each memory level: well inside a 1-2 MiB L2, inside
# an L3 of 16 MiB or more, and far beyond any L3 (at most 512 MiB, so that the run stays small).
TRIAD_BYTES = {"l2": 256 * 1024, "l3": 8 * MiB, "dram": 512 * MiB}
DEFAULT_BUDGET_S = 1.0
DEFAULT_REPEATS = 7
COMPUTE_KINDS = ("fp32", "int8", "int8_vnni", "amx_int8", "bf16", "amx_bf16")
MEMORY_LEVELS = ("dram", "l3", "l2")

_RESULT = re.compile(r"^RESULT (\w+) best=(\S+) median=(\S+) unit=(\S+) isa=(\S+) iters=(\d+) "
                     r"repeats=(\d+) threads=(\d+)$", re.M)
_SKIP = re.compile(r"^SKIP (\w+) (.*)$", re.M)


class PeakError(RuntimeError):
    """The microbenchmarks could not be built or run (the message says why)."""


@dataclass
class Peaks:
    """Peak rates of this machine on ``threads`` pinned cores (best of the repeats).

    ``None`` means the unit is absent (``notes`` says why). ``medians`` holds the median of the
    repeats under the same keys as ``isa`` (fp32, int8, amx_int8, amx_bf16, bw_l2, bw_l3, bw_dram).
    """

    fp32_gflops: float
    int8_vnni_gops: Union[float, None]
    amx_int8_tops: Union[float, None]
    amx_bf16_tflops: Union[float, None]
    bw_l2_gbs: float
    bw_l3_gbs: float
    bw_dram_gbs: float
    threads: int
    cpu_model: str
    date: str
    cores: list[int] = field(default_factory=list)
    isa: dict[str, str] = field(default_factory=dict)
    medians: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Peaks:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"peaks schema {data.get('schema')!r}, expected {SCHEMA}")
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = required - set(data)
        if missing:
            raise ValueError(f"peaks file lacks {sorted(missing)}")
        return cls(**{k: v for k, v in data.items() if k in names})


# ----------------------------------------------------------------------------------------- cache

def cache_dir() -> Path:
    env = os.environ.get("AUTOTUNE_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "autotune"


def cpu_key(cpu: Union[CpuInfo, None] = None) -> str:
    """A short hash of the CPU model and its ISA features (one VM model name can hide several)."""
    cpu = cpu or cpu_info()
    text = cpu.model + "|" + ",".join(sorted(cpu.features))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_path(threads: int = 1, cpu: Union[CpuInfo, None] = None) -> Path:
    return cache_dir() / f"peaks-{cpu_key(cpu)}-t{threads}.json"


def load_cached(threads: int = 1, cpu: Union[CpuInfo, None] = None) -> Union[Peaks, None]:
    """The cached peaks for this CPU and thread count, or None (absent, unreadable, old schema)."""
    path = cache_path(threads, cpu)
    try:
        peaks = Peaks.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return peaks if peaks.threads == threads else None


def save_cached(peaks: Peaks, cpu: Union[CpuInfo, None] = None) -> Path:
    """Write atomically (a reader never sees half a file)."""
    path = cache_path(peaks.threads, cpu)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as fh:
        json.dump(peaks.to_json(), fh, indent=1)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------ measuring

def pinned_cores(threads: int) -> tuple[int, ...]:
    """The last ``threads`` cores this process may run on."""
    if threads < 1:
        raise ValueError("threads must be at least 1")
    available = sorted(os.sched_getaffinity(0))
    if threads > len(available):
        raise ValueError(f"{threads} threads asked for, but only {len(available)} cores are available")
    return tuple(available[-threads:])


def build_flags(cpu: Union[CpuInfo, None] = None) -> list[str]:
    cpu = cpu or cpu_info()
    return ["-O2", "-fopenmp", *gcc_isa_flags(cpu.features)]


def build(workdir: Path, flags: list[str]) -> Path:
    """Compile the microbenchmarks into ``workdir/peak``; PeakError if that fails."""
    gcc = find_gcc()
    if gcc is None:
        raise PeakError("gcc not found: the peak microbenchmarks are C programs")
    workdir.mkdir(parents=True, exist_ok=True)
    src = workdir / "peak.c"
    src.write_text(PEAK_C)
    exe = workdir / "peak"
    r = run_isolated([gcc.path, *flags, str(src), "-o", str(exe)], workdir,
                     Limits(cpu_seconds=60, wall_seconds=120, memory_bytes=4 * GiB),
                     path_dirs=(os.path.dirname(gcc.path),))
    if not r.ok or not exe.exists():
        raise PeakError(f"building the peak microbenchmarks failed ({r.reason}): {r.stderr[-2000:]}")
    return exe


@dataclass
class BenchResult:
    name: str
    best: Union[float, None]
    median: Union[float, None]
    unit: str
    isa: str
    note: str  # why best is None


def parse_output(name: str, r: RunResult) -> BenchResult:
    """One benchmark's RESULT or SKIP line; PeakError when the program failed."""
    m = _RESULT.search(r.stdout)
    if r.ok and m and m.group(1) == name:
        best, median = float(m.group(2)), float(m.group(3))
        if not (best > 0 and median > 0):
            raise PeakError(f"benchmark {name} reported a non-positive rate: {m.group(0)}")
        return BenchResult(name, best, median, m.group(4), m.group(5), "")
    s = _SKIP.search(r.stdout)
    if r.ok and s and s.group(1) == name:
        return BenchResult(name, None, None, "", "", s.group(2).strip())
    raise PeakError(f"benchmark {name} failed ({r.reason}): {(r.stderr or r.stdout)[-2000:]}")


def run_bench(exe: Path, name: str, args: list[str], cores: tuple[int, ...],
              budget_s: float = DEFAULT_BUDGET_S, repeats: int = DEFAULT_REPEATS) -> BenchResult:
    threads = len(cores)
    wall = 4 * budget_s + 30
    limits = Limits(cpu_seconds=wall * threads, wall_seconds=wall,
                    memory_bytes=2 * GiB + threads * 256 * MiB, threads=threads, cores=cores)
    r = run_isolated([str(exe), name, f"{budget_s:g}", str(repeats), *args],
                     exe.parent / f"run-{name}{'-' + args[0] if args else ''}", limits)
    return parse_output(name, r)


def _amx_absent(cpu: CpuInfo, unit: str) -> Union[str, None]:
    need = ("amx_tile", unit)
    lacking = [f for f in need if f not in cpu.features]
    return f"not present: the CPU does not report {' '.join(lacking)}" if lacking else None


def measure_peaks(threads: int = 1, *, budget_s: float = DEFAULT_BUDGET_S,
                  repeats: int = DEFAULT_REPEATS, cpu: Union[CpuInfo, None] = None,
                  workdir: Union[str, Path, None] = None) -> Peaks:
    """Build and run every microbenchmark now (no cache). Raises PeakError or ValueError."""
    cpu = cpu or cpu_info()
    cores = pinned_cores(threads)
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="autotune-peak-"))
    try:
        exe = build(base, build_flags(cpu))
        results: dict[str, BenchResult] = {}
        with devicelock.exclusive("cpu"):
            for name in ("fp32", "int8"):
                results[name] = run_bench(exe, name, [], cores, budget_s, repeats)
            for name in ("amx_int8", "amx_bf16"):
                absent = _amx_absent(cpu, name)
                results[name] = (BenchResult(name, None, None, "", "", absent) if absent
                                 else run_bench(exe, name, [], cores, budget_s, repeats))
            for level, nbytes in TRIAD_BYTES.items():
                results[f"bw_{level}"] = run_bench(exe, "triad", [str(nbytes)], cores, budget_s, repeats)
    finally:
        if workdir is None:
            shutil.rmtree(base, ignore_errors=True)
    for key in ("fp32", "bw_l2", "bw_l3", "bw_dram"):
        if results[key].best is None:
            raise PeakError(f"benchmark {key}: {results[key].note}")

    def best(key: str) -> Union[float, None]:
        return results[key].best

    return Peaks(
        fp32_gflops=results["fp32"].best or 0.0, int8_vnni_gops=best("int8"),
        amx_int8_tops=best("amx_int8"), amx_bf16_tflops=best("amx_bf16"),
        bw_l2_gbs=results["bw_l2"].best or 0.0, bw_l3_gbs=results["bw_l3"].best or 0.0,
        bw_dram_gbs=results["bw_dram"].best or 0.0, threads=threads, cpu_model=cpu.model,
        date=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        cores=list(cores),
        isa={k: r.isa for k, r in results.items() if r.best is not None},
        medians={k: r.median for k, r in results.items() if r.median is not None},
        notes={k: r.note for k, r in results.items() if r.note},
    )


def machine_peaks(threads: int = 1, refresh: bool = False, *, budget_s: float = DEFAULT_BUDGET_S,
                  repeats: int = DEFAULT_REPEATS) -> Peaks:
    """This machine's peaks on ``threads`` pinned cores: from the cache, else measured (about
    ``7 * budget_s`` seconds) and cached. ``refresh`` measures again."""
    if not refresh:
        cached = load_cached(threads)
        if cached is not None:
            return cached
    peaks = measure_peaks(threads, budget_s=budget_s, repeats=repeats)
    save_cached(peaks)
    return peaks


# -------------------------------------------------------------------------------------- roofline

def compute_peak(peaks: Peaks, kind: str = "fp32") -> float:
    """Peak operations per second for ``kind``:

    - ``fp32``: AVX-512 (or AVX2) FMA; ``int8_vnni``: ``vpdpbusd``; ``amx_int8``, ``amx_bf16``: AMX;
    - ``int8``: the faster of VNNI and AMX int8 that this machine has;
    - ``bf16``: AMX bf16 where present, else the fp32 FMA peak (without AMX our bf16 kernels
      convert and compute in fp32 lanes; ``vdpbf16ps`` is not measured).
    """
    candidates: dict[str, list[Union[float, None]]] = {
        "fp32": [peaks.fp32_gflops * 1e9],
        "int8_vnni": [peaks.int8_vnni_gops * 1e9 if peaks.int8_vnni_gops else None],
        "amx_int8": [peaks.amx_int8_tops * 1e12 if peaks.amx_int8_tops else None],
        "amx_bf16": [peaks.amx_bf16_tflops * 1e12 if peaks.amx_bf16_tflops else None],
    }
    candidates["int8"] = candidates["int8_vnni"] + candidates["amx_int8"]
    candidates["bf16"] = candidates["amx_bf16"] if peaks.amx_bf16_tflops else candidates["fp32"]
    if kind not in candidates:
        raise ValueError(f"unknown roofline kind {kind!r} (one of {', '.join(COMPUTE_KINDS)})")
    rates = [r for r in candidates[kind] if r]
    if not rates:
        raise ValueError(f"this machine has no {kind} peak: {peaks.notes.get(kind, 'not measured')}")
    return max(rates)


def memory_bandwidth(peaks: Peaks, memory: str = "dram") -> float:
    """Bytes per second from the triad at ``memory`` (dram, l3 or l2)."""
    bw = {"dram": peaks.bw_dram_gbs, "l3": peaks.bw_l3_gbs, "l2": peaks.bw_l2_gbs}
    if memory not in bw:
        raise ValueError(f"unknown memory level {memory!r} (one of {', '.join(MEMORY_LEVELS)})")
    return bw[memory] * 1e9


def roofline_seconds(flops: float, bytes: float, peaks: Peaks, kind: str = "fp32",
                     memory: str = "dram") -> float:
    """The least time a kernel doing ``flops`` operations and moving ``bytes`` can take: the larger
    of flops / compute peak and bytes / bandwidth (the roofline model)."""
    if flops < 0 or bytes < 0:
        raise ValueError("flops and bytes must be non-negative")
    return max(flops / compute_peak(peaks, kind), bytes / memory_bandwidth(peaks, memory))


def roofline_bound(flops: float, bytes: float, peaks: Peaks, kind: str = "fp32",
                   memory: str = "dram") -> str:
    """``compute`` or ``memory``: which roof limits the kernel."""
    compute = flops / compute_peak(peaks, kind)
    return "compute" if compute >= bytes / memory_bandwidth(peaks, memory) else "memory"


def roofline_fraction(measured_s: float, flops: float, bytes: float, peaks: Peaks,
                      kind: str = "fp32", memory: str = "dram") -> float:
    """The fraction of the roofline a kernel that took ``measured_s`` reaches (1.0 = at the roof)."""
    if measured_s <= 0:
        raise ValueError("measured time must be positive")
    return roofline_seconds(flops, bytes, peaks, kind, memory) / measured_s


# ------------------------------------------------------------------------------------ reporting

def _fmt_size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB else f"{n // 1024} KiB"


def format_peaks(peaks: Peaks) -> list[str]:
    """The table ``autotune platforms --peak`` prints."""
    def row(label: str, key: str, value: Union[float, None], unit: str) -> str:
        if value is None:
            return f"  {label:<28} {peaks.notes.get(key, 'not present')}"
        med = peaks.medians.get(key)
        return f"  {label:<28} {value:>9.4g} {unit:<8}" + (f" (median {med:.4g})" if med else "")

    isa = peaks.isa
    cores = ",".join(str(c) for c in peaks.cores)
    plural = "s" if peaks.threads > 1 else ""
    lines = [f"{peaks.threads} thread{plural} pinned to core{plural} {cores or '?'}, {peaks.cpu_model}, "
             f"measured {peaks.date} (best of repeats)",
             row(f"fp32 FMA ({isa.get('fp32', '?')})", "fp32", peaks.fp32_gflops, "GFLOP/s"),
             row(f"int8 VNNI ({isa.get('int8', '-')})", "int8", peaks.int8_vnni_gops, "GOP/s"),
             row("AMX int8 (tdpbssd)", "amx_int8", peaks.amx_int8_tops, "TOP/s"),
             row("AMX bf16 (tdpbf16ps)", "amx_bf16", peaks.amx_bf16_tflops, "TFLOP/s")]
    for level, value in (("l2", peaks.bw_l2_gbs), ("l3", peaks.bw_l3_gbs), ("dram", peaks.bw_dram_gbs)):
        lines.append(row(f"triad {level.upper()} ({_fmt_size(TRIAD_BYTES[level])})", f"bw_{level}",
                         value, "GB/s"))
    if peaks.bw_dram_gbs > 0:
        lines.append(f"  {'ridge point fp32 / DRAM':<28} {peaks.fp32_gflops / peaks.bw_dram_gbs:>9.3g} "
                     "flop/byte (triad counts 12 bytes per element, no write-allocate)")
    return lines
