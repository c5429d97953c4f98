"""Verify-then-time: the measurement protocol of one kernel on one platform.

The kernel is built with a driver that (1) runs it once on seeded inputs and writes the outputs,
which are compared with the reference exactly as ``verify`` does, and (2) times it in native code
(``measure.driver.TimingLoop``): warm-up, an inner count grown until a sample lasts at least
``min_repeat_ms``, then ``repeats`` samples; all of it in ``processes`` separate runs, because
samples taken in one process share one memory placement and understate how much a repeated
measurement moves (measured: within-process spreads of 0.1% next to 7-11% jumps between
processes). We report the median of the process medians and a spread covering both the pooled
samples and the process medians (see ``combine_runs``), and keep the raw samples. A measurement
whose spread is wider than ``max_spread`` is repeated (up to ``attempts``) and flagged ``noisy``
if it stays so.

The process is pinned to ``cores`` (default: the last ``threads`` cores of the machine, away
from core 0 where interrupts land) with ``threads`` OpenMP threads, and holds the device's
measurement lock while it runs, so one kernel is timed at a time per device while builds go on
in parallel. CUDA/HIP kernels are only timed on a real device: emulated times mean nothing.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from measure.compare import compare
from measure.driver import Geometry, TimingLoop
from measure.inputs import make_inputs
from measure.platforms import Verdict, get_platform, reference_outputs
from measure.sandbox import Limits
from measure.spec import KernelSpec, SpecError
from measure.stats import relative_spread
from measure.toolchain import nvidia_gpu

_TIMING_LINE = re.compile(r"AUTOTUNE_TIMING inner=(\d+) samples_ns=([0-9.,eE+-]+)")
FLUSH_BYTES = 128 << 20  # well past the last-level cache of the machines we use


@dataclass(frozen=True)
class TimingOptions:
    """How to time. Defaults: 2 warm-up calls, samples of at least 20 ms, 7 samples in each of 3
    separate processes, no cache flush, 1 thread, spread limit 5%, 2 attempts."""

    warmup: int = 2
    min_repeat_ms: float = 20.0
    repeats: int = 7
    flush: bool = False
    threads: int = 1
    cores: Union[tuple[int, ...], None] = None
    max_spread: float = 0.05
    attempts: int = 2
    processes: int = 3
    seed: int = 0
    wall_seconds: float = 120.0

    def __post_init__(self) -> None:
        if self.repeats < 5:
            raise ValueError("repeats must be at least 5 (a median of fewer samples is not robust)")
        if self.threads < 1 or self.min_repeat_ms <= 0 or self.attempts < 1 or self.processes < 1:
            raise ValueError("threads, attempts and processes must be >= 1 and min_repeat_ms > 0")

    def pinned_cores(self) -> tuple[int, ...]:
        if self.cores is not None:
            return self.cores
        available = sorted(os.sched_getaffinity(0))
        return tuple(available[-self.threads:]) if len(available) >= self.threads else tuple(available)

    def loop(self) -> TimingLoop:
        return TimingLoop(self.warmup, self.min_repeat_ms, self.repeats,
                          FLUSH_BYTES if self.flush else 0)


@dataclass
class Timing:
    """A verified measurement (``ok``), or why there is none (``reason``)."""

    ok: bool
    reason: str = ""
    median_s: float = 0.0
    spread: float = 0.0
    samples_s: list[float] = field(default_factory=list)
    inner: int = 0
    noisy: bool = False
    attempts: int = 0
    verdict: Union[Verdict, None] = None
    threads: int = 1
    cores: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


def combine_runs(runs: list[list[float]]) -> tuple[float, float, list[float]]:
    """(median, spread, all samples) of several processes' samples.

    A process's samples are correlated (one memory placement, one frequency state), so their
    inter-quartile range understates how much a repeated measurement moves. The median is the
    median of the per-process medians (one odd process cannot move it) and the spread is the
    larger of the pooled IQR and the range of the process medians, both over the median."""
    medians = [statistics.median(r) for r in runs]
    median = statistics.median(medians)
    pooled = [x for r in runs for x in r]
    spread = relative_spread(pooled)
    if len(medians) > 1 and median > 0:
        spread = max(spread, (max(medians) - min(medians)) / median)
    return median, spread, pooled


def parse_timing(stdout: str) -> Union[tuple[int, list[float]], None]:
    m = _TIMING_LINE.search(stdout)
    if not m:
        return None
    return int(m.group(1)), [float(x) * 1e-9 for x in m.group(2).split(",") if x]


def measure_kernel(source: str, platform: str, spec: KernelSpec, *,
                   options: Union[TimingOptions, None] = None, geometry: Union[Geometry, None] = None,
                   launcher: Union[str, None] = None,
                   workdir: Union[str, Path, None] = None) -> Timing:
    """Verify ``source`` on ``platform`` and time it; never raises for a bad kernel."""
    options = options or TimingOptions()
    if platform in ("cuda", "hip") and not (platform == "cuda" and nvidia_gpu()):
        return Timing(False, f"no {platform.upper()} device here: {platform} kernels can be verified "
                             "in emulation but not timed (emulated times mean nothing)")
    plat = get_platform(platform)
    cores = options.pinned_cores()
    limits = Limits(threads=options.threads, cores=cores, wall_seconds=options.wall_seconds,
                    cpu_seconds=options.wall_seconds * max(1, options.threads))
    try:
        inputs = make_inputs(spec, seed=options.seed)
        expected = reference_outputs(spec, inputs)
    except (SpecError, ValueError, KeyError) as exc:
        return Timing(False, f"spec problem: {exc}")
    if isinstance(expected, str):
        return Timing(False, f"no reference: {expected}")
    best: Union[Timing, None] = None
    base = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="autotune-time-"))
    for attempt in range(1, options.attempts + 1):
        runs: list[tuple[int, list[float]]] = []
        verdict: Union[Verdict, None] = None
        details: dict[str, Any] = {}
        for proc in range(options.processes):
            wd = base / f"attempt{attempt}-run{proc}"
            got = plat.build_and_run(source, spec, inputs, wd, geometry=geometry, launcher=launcher,
                                     limits=limits, timing=options.loop())
            if got.outputs is None:
                return Timing(False, got.reason, verdict=Verdict(False, got.mode, got.reason),
                              attempts=attempt, details=got.details)
            comparison = compare(spec, got.outputs, expected)
            verdict = Verdict(comparison.ok, got.mode, comparison.reason, comparison, got.details)
            if not comparison.ok:
                return Timing(False, f"wrong results: {comparison.reason}", verdict=verdict,
                              attempts=attempt)
            parsed = parse_timing(str(got.details.get("stdout", "")))
            if parsed is None:
                return Timing(False, "the driver printed no timing line", verdict=verdict,
                              attempts=attempt)
            runs.append(parsed)
            details = {k: v for k, v in got.details.items() if k != "stdout"}
        median, spread, samples = combine_runs([r[1] for r in runs])
        details["process_medians_s"] = [statistics.median(r[1]) for r in runs]
        current = Timing(True, "", median, spread, samples, runs[-1][0], spread > options.max_spread,
                         attempt, verdict, options.threads, cores, details)
        if best is None or current.spread < best.spread:
            best = current
        if spread <= options.max_spread:
            break
    assert best is not None
    best.attempts = attempt
    return best
