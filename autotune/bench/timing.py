"""``autotune bench`` (the default mode): time every implementation of each operator on this CPU.

A row is one (operator, shape). Its columns:

- ``source``: the corpus C kernel (``kernels/OP/OP.c``), verified and timed natively with
  ``measure.timing.measure_kernel`` on ``cpu``;
- ``autotune``: what autotune produces for ``cpu`` from the CUDA kernel (``kernels/OP/OP.cu``).
  There is no tuner yet, so this is the verified cuda -> cpu translation, untuned, timed the same
  way (the label says so);
- ``vendor``: PyTorch on CPU (``measure.baselines.time_vendor``); ``numpy``: the numpy reference
  (``measure.baselines.time_numpy``);
- speedups ``vendor / autotune`` and ``source / autotune`` (above 1: autotune is faster);
- roofline fraction: ``measure.peak.roofline_seconds(flops, bytes, peaks, kind, memory)`` over the
  measured time, with the operation count and the minimal traffic of ``measure.operators.costs``.
  The timing loop does not flush caches between calls, so the buffers stay in the smallest cache
  level that holds them all; ``memory`` is that level (``l2`` when they fit in the L2 caches of
  the threads' cores, ``l3`` when they fit in the L3, else ``dram``), and the table names it.

A kernel that fails verification is a failed cell with its reason, never a dropped row; a
baseline or a peak that cannot be had is ``n/a (reason)``; no number is ever made up.

Rows run one after another (one measurement at a time on this machine) in a single spawned worker
process whose OpenMP/BLAS thread counts are set before numpy and torch load; a worker that dies
fails its row and a fresh one takes the next.
"""

from __future__ import annotations

import csv
import importlib
import io
import multiprocessing
import os
import platform as host_platform
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Union

from measure.operators.costs import CostError, compute_kind, flops, minimal_bytes
from measure.spec import KernelSpec, SpecError, load_spec
from measure.timing import TimingOptions, measure_kernel
from measure.toolchain import toolchain_summary

QUICK_OPS = ("relu", "softmax", "gemm", "conv2d_nhwc", "layernorm", "gemm_u8s8")
IMPLS = ("source", "autotune", "vendor", "numpy")
LABELS = {
    "source": "source (corpus C)",
    "autotune": "autotune (cuda->cpu translated, untuned)",
    "vendor": "vendor (PyTorch CPU)",
    "numpy": "numpy",
}
#: Measured on the 2-core development VM (DESIGN.md section 6), other work sharing it.
EXPECTED_QUICK = "about 20 s to 1.5 minutes"
EXPECTED_ALL = "about 2.5 to 6 minutes"
EXPECTED_PER_OP = "about 3 to 25 s per operator"
ISA_FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
                "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16")


@dataclass
class Result:
    """One implementation's time (``seconds``), or why there is none (``note``)."""

    seconds: Union[float, None] = None
    spread: float = 0.0
    noisy: bool = False
    note: str = ""  # how it ran when timed (verdict mode, library); the reason when not
    failed: bool = False  # a kernel that did not verify (as opposed to a baseline that is n/a)

    @property
    def ok(self) -> bool:
        return self.seconds is not None


@dataclass
class Row:
    op: str
    shape: str
    threads: int
    dims: dict[str, int] = field(default_factory=dict)
    flops: Union[int, None] = None
    bytes: Union[int, None] = None
    kind: str = "fp32"
    cost_note: str = ""
    results: dict[str, Result] = field(default_factory=dict)
    roofline_s: Union[float, None] = None
    roofline_note: str = ""
    memory: str = ""  # the cache level whose bandwidth the roofline uses
    seconds: float = 0.0

    def result(self, impl: str) -> Result:
        return self.results.get(impl) or Result(note="not run")

    def speedup(self, base: str, impl: str = "autotune") -> tuple[Union[float, None], str]:
        """``time(base) / time(impl)``, or ``None`` and why."""
        b, i = self.result(base), self.result(impl)
        if b.seconds is None or i.seconds is None:
            missing = impl if i.seconds is None else base
            return None, f"no {missing} time"
        if impl == "autotune" and "different dims" in i.note:
            return None, "different dims"
        return b.seconds / i.seconds, ""

    def roofline_fraction(self, impl: str) -> tuple[Union[float, None], str]:
        r = self.result(impl)
        if self.roofline_s is None:
            return None, self.roofline_note or "no roofline"
        if r.seconds is None:
            return None, f"no {impl} time"
        if impl == "autotune" and "different dims" in r.note:
            return None, "different dims"
        return self.roofline_s / r.seconds, ""

    @property
    def kernels_ok(self) -> bool:
        return not any(self.result(i).failed for i in ("source", "autotune"))


# --------------------------------------------------------------------------------------------
# measuring one row (in the worker)


def _optional(module: str) -> tuple[Any, str]:
    """Import a module that a colleague provides; ``(None, reason)`` when it is not there."""
    try:
        return importlib.import_module(module), ""
    except ImportError as exc:
        return None, f"{module} unavailable: {exc}"


def _first_line(text: str, limit: int = 300) -> str:
    lines = text.strip().splitlines()
    return (lines[0] if lines else "")[:limit]


def _time_kernel(text: str, spec: KernelSpec, options: TimingOptions) -> Result:
    t = measure_kernel(text, "cpu", spec, options=options)
    if not t.ok:
        return Result(note=_first_line(t.reason) or "failed", failed=True)
    mode = t.verdict.mode if t.verdict else "?"
    return Result(t.median_s, t.spread, t.noisy, f"verified ({mode})")


def _retarget(spec: KernelSpec, entry: str, launcher: Union[str, None]) -> KernelSpec:
    return replace(spec, entry=entry, launch=None if launcher else spec.launch)


def _time_translated(kernels_dir: Path, op: str, shape: str, c_dims: dict[str, int],
                     options: TimingOptions) -> Result:
    from passes import ir
    from passes.translate import translate

    path = kernels_dir / op / f"{op}.cu"
    spec = load_spec(path.with_name(path.name + ".toml"))
    try:
        t = translate(path.read_text(), "cuda", "cpu", spec)
    except (ir.UnsupportedConstruct, ir.NotApplicable) as exc:
        return Result(note=f"translation: {_first_line(str(exc))}", failed=True)
    shaped = _retarget(spec, t.entry, t.launcher).with_shape(shape)
    result = _time_kernel(t.text, shaped, options)
    if result.ok and dict(shaped.dims) != c_dims:
        result.note += f"; different dims {dict(shaped.dims)} (the CUDA spec's)"
    return result


def _time_baseline(kind: str, op: str, spec: KernelSpec, threads: int,
                   options: TimingOptions) -> Result:
    module, reason = _optional("measure.baselines")
    if module is None:
        return Result(note=reason)
    fn = getattr(module, kind, None)
    if fn is None:
        return Result(note=f"measure.baselines has no {kind}")
    got = fn(op, spec, threads=threads, options=options)
    median = getattr(got, "median_s", None)
    if median is None:
        return Result(note=_first_line(str(getattr(got, "reason", got))) or "unavailable")
    library = str(getattr(got, "library", "") or "")
    spread = float(getattr(got, "spread", 0.0) or 0.0)
    return Result(float(median), spread, bool(getattr(got, "noisy", False)), library)


def run_row(kernels_dir: Path, op: str, shape: str, threads: int, min_repeat_ms: float) -> Row:
    """Measure every implementation of ``op`` at ``shape``; never raises for a bad kernel."""
    import time

    start = time.perf_counter()
    row = Row(op, shape, threads)
    options = TimingOptions(min_repeat_ms=min_repeat_ms, threads=threads)
    c_path = kernels_dir / op / f"{op}.c"
    try:
        spec = load_spec(c_path.with_name(c_path.name + ".toml")).with_shape(shape)
        row.dims = dict(spec.dims)
    except SpecError as exc:
        reason = f"spec: {_first_line(str(exc))}"
        row.results = {i: Result(note=reason, failed=i in ("source", "autotune")) for i in IMPLS}
        row.cost_note = reason
        row.seconds = time.perf_counter() - start
        return row
    try:
        row.flops, row.bytes, row.kind = flops(spec), minimal_bytes(spec), compute_kind(spec)
    except (CostError, SpecError) as exc:
        row.cost_note = _first_line(str(exc))
    steps: dict[str, Callable[[], Result]] = {
        "source": lambda: _time_kernel(c_path.read_text(), spec, options),
        "autotune": lambda: _time_translated(kernels_dir, op, shape, row.dims, options),
        "vendor": lambda: _time_baseline("time_vendor", op, spec, threads, options),
        "numpy": lambda: _time_baseline("time_numpy", op, spec, threads, options),
    }
    for impl, step in steps.items():
        try:
            row.results[impl] = step()
        except Exception as exc:  # noqa: BLE001 - a crash of ours is a failed cell with its message
            row.results[impl] = Result(note=f"internal error: {type(exc).__name__}: "
                                            f"{_first_line(str(exc))}",
                                       failed=impl in ("source", "autotune"))
    row.seconds = time.perf_counter() - start
    return row


# --------------------------------------------------------------------------------------------
# peaks and roofline (in the parent, once)


@dataclass
class Machine:
    cpu: str
    isa: str
    cores: int
    gcc: str
    torch: str
    numpy: str
    python: str
    peaks: dict[str, Any] = field(default_factory=dict)
    peaks_note: str = ""


def describe_machine(threads: int) -> tuple[Machine, Any]:
    """The machine description for the report, and the ``Peaks`` object (or ``None``)."""
    tools = toolchain_summary()
    features = set(tools.get("cpu_features", "").split())
    isa = " ".join(f for f in ISA_FEATURES if f in features) or "none of note"
    torch_version, _ = _version("torch")
    numpy_version, _ = _version("numpy")
    machine = Machine(tools["cpu"], isa, os.cpu_count() or 1, tools["gcc"], torch_version,
                      numpy_version, host_platform.python_version())
    peaks = None
    module, reason = _optional("measure.peak")
    if module is None:
        machine.peaks_note = reason
    else:
        try:
            peaks = module.machine_peaks(threads=threads)
            raw = asdict(peaks) if hasattr(peaks, "__dataclass_fields__") else vars(peaks)
            machine.peaks = {k: v for k, v in raw.items() if isinstance(v, (int, float, str)) or v is None}
        except Exception as exc:  # noqa: BLE001 - no peaks is n/a, not a crash
            machine.peaks_note = f"machine_peaks failed: {type(exc).__name__}: {_first_line(str(exc))}"
    return machine, peaks


def _version(module: str) -> tuple[str, str]:
    mod, reason = _optional(module)
    return (str(getattr(mod, "__version__", "?")), "") if mod else ("missing", reason)


def cache_sizes(cpu: int = 0) -> dict[str, int]:
    """Sizes in bytes of the unified/data caches of ``cpu`` by level (``l1``, ``l2``, ``l3``), from
    sysfs; empty where the kernel does not say."""
    out: dict[str, int] = {}
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    for index in sorted(Path(f"/sys/devices/system/cpu/cpu{cpu}/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction" or not size:
            continue
        number = size.rstrip("KMG")
        if number.isdigit():
            out[f"l{level}"] = int(number) * scale.get(size[-1], 1)
    return out


def memory_level(nbytes: int, threads: int, caches: dict[str, int]) -> str:
    """The smallest level that holds ``nbytes`` (each thread's core has its own L2)."""
    if "l2" in caches and nbytes <= caches["l2"] * threads:
        return "l2"
    if "l3" in caches and nbytes <= caches["l3"]:
        return "l3"
    return "dram"


def add_roofline(rows: list[Row], peaks: Any, peaks_note: str) -> None:
    """Fill ``roofline_s`` of each row (the time an ideal kernel would take at the peaks)."""
    module, reason = _optional("measure.peak")
    caches = cache_sizes()
    for row in rows:
        if row.flops is None or row.bytes is None:
            row.roofline_note = f"no cost: {row.cost_note}"
        elif peaks is None or module is None:
            row.roofline_note = peaks_note or reason or "no peaks"
        else:
            row.memory = memory_level(row.bytes, row.threads, caches)
            try:
                row.roofline_s = float(module.roofline_seconds(row.flops, row.bytes, peaks, row.kind,
                                                               memory=row.memory))
            except Exception as exc:  # noqa: BLE001 - an unknown kind is n/a, not a crash
                row.roofline_note = f"roofline_seconds: {type(exc).__name__}: {_first_line(str(exc))}"


# --------------------------------------------------------------------------------------------
# running


def run_bench(kernels_dir: Path, ops: Iterable[str], shape: str, threads: int, min_repeat_ms: float,
              progress: Callable[[Row, int, int], None], isolate: bool = True) -> list[Row]:
    """Rows one after another, in a spawned worker (``isolate``) or in this process."""
    work = list(ops)
    rows: list[Row] = []
    if not isolate:
        for op in work:
            rows.append(run_row(kernels_dir, op, shape, threads, min_repeat_ms))
            progress(rows[-1], len(rows), len(work))
        return rows
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
    try:
        for op in work:
            try:
                row = pool.submit(run_row, kernels_dir, op, shape, threads, min_repeat_ms).result()
            except (BrokenProcessPool, OSError) as exc:
                row = Row(op, shape, threads)
                row.results = {i: Result(note=f"worker died: {exc}", failed=i in ("source", "autotune"))
                               for i in IMPLS}
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
            rows.append(row)
            progress(row, len(rows), len(work))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return rows


# --------------------------------------------------------------------------------------------
# reports

CSV_COLUMNS = [
    "operator", "shape", "dims", "threads", "flops", "bytes", "compute_kind",
    "source_s", "source_spread", "source_status",
    "autotune_s", "autotune_spread", "autotune_status",
    "vendor_s", "vendor_spread", "vendor_status",
    "numpy_s", "numpy_spread", "numpy_status",
    "speedup_vendor_over_autotune", "speedup_source_over_autotune",
    "roofline_s", "roofline_memory", "roofline_fraction_autotune", "roofline_fraction_source",
    "roofline_note",
]


def _dims_text(dims: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in dims.items())


def _status(r: Result) -> str:
    if r.ok:
        return r.note + ("; noisy" if r.noisy else "")
    return ("FAILED: " if r.failed else "n/a: ") + r.note


def _num(value: Union[float, int, None], fmt: str = "{:.6g}") -> str:
    return "" if value is None else fmt.format(value)


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        cells: list[str] = [r.op, r.shape, _dims_text(r.dims), str(r.threads), _num(r.flops, "{}"),
                            _num(r.bytes, "{}"), r.kind]
        for impl in IMPLS:
            res = r.result(impl)
            cells += [_num(res.seconds), _num(res.spread if res.ok else None, "{:.3f}"), _status(res)]
        cells += [_num(r.speedup("vendor")[0], "{:.4g}"), _num(r.speedup("source")[0], "{:.4g}"),
                  _num(r.roofline_s), r.memory, _num(r.roofline_fraction("autotune")[0], "{:.4g}"),
                  _num(r.roofline_fraction("source")[0], "{:.4g}"), r.roofline_note]
        w.writerow(cells)
    return buf.getvalue()


def format_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _md_time(r: Result) -> str:
    if r.ok:
        assert r.seconds is not None
        return f"{format_time(r.seconds)} ±{100 * r.spread:.0f}%" + (" (noisy)" if r.noisy else "")
    return "**FAILED**" if r.failed else f"n/a ({r.note[:60]})"


def _md_ratio(value: Union[float, None], why: str, fmt: str = "{:.2f}x") -> str:
    return fmt.format(value) if value is not None else f"n/a ({why[:50]})"


PEAK_FIELDS = (("fp32_gflops", "fp32", "GFLOP/s"), ("int8_vnni_gops", "int8 VNNI", "GOP/s"),
               ("amx_int8_tops", "AMX int8", "TOP/s"), ("amx_bf16_tflops", "AMX bf16", "TFLOP/s"),
               ("bw_dram_gbs", "triad DRAM", "GB/s"), ("bw_l3_gbs", "L3", "GB/s"),
               ("bw_l2_gbs", "L2", "GB/s"))


def peak_text(machine: Machine) -> str:
    if not machine.peaks:
        return f"n/a ({machine.peaks_note})"
    parts = []
    for key, label, unit in PEAK_FIELDS:
        value = machine.peaks.get(key)
        parts.append(f"{label} {value:.4g} {unit}" if isinstance(value, (int, float)) else f"{label} n/a")
    date = machine.peaks.get("date")
    return ", ".join(parts) + (f" (measured {date})" if date else "")


def to_markdown(rows: list[Row], machine: Machine, command: str, date: str, wall: float,
                expected: str, min_repeat_ms: float) -> str:
    threads = rows[0].threads if rows else 1
    lines = [
        "# Timing benchmark",
        "",
        f"Command: `{command}`  ",
        f"Date: {date}; wall time {wall:.0f} s (expected {expected} on a 2-core machine).  ",
        f"Machine: {machine.cpu}, {machine.cores} cores, ISA: {machine.isa}; {machine.gcc}, "
        f"PyTorch {machine.torch}, numpy {machine.numpy}, Python {machine.python}.  ",
        f"Peaks ({threads} thread(s), `measure.peak`): {peak_text(machine)}.",
        "",
        f"Each kernel is verified against the numpy reference, then timed in native code on "
        f"{threads} pinned core(s): warm-up, samples of at least {min_repeat_ms:g} ms, 7 samples in "
        "each of 3 processes; the median of the process medians (± is the spread: the larger of the "
        "pooled IQR and the range of process medians, over the median; the vendor and numpy "
        "baselines: 7 samples in one process, IQR / median). Columns: **{LABELS['source']}** is "
        "`kernels/OP/OP.c`; **autotune** is what autotune produces for cpu from `kernels/OP/OP.cu`: "
        "for now the verified cuda->cpu translation, untuned (no tuner yet); **vendor** is PyTorch "
        "on CPU; **numpy** the numpy reference. Speedups above 1 mean autotune is faster. The "
        "roofline is the least time at the machine's peaks for the operator's operations and minimal "
        "traffic (every buffer once; `measure/operators/costs.py`), with the bandwidth of the "
        "smallest cache level that holds the buffers (caches are not flushed between calls); its "
        "fraction is roofline / measured (1 = at the roofline).",
        "",
        "| operator | shape | GFLOP | MB | source (C) | autotune (translated, untuned) | vendor "
        "(PyTorch) | numpy | vendor / autotune | source / autotune | roofline | roofline frac "
        "autotune | roofline frac source |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sv, sv_why = r.speedup("vendor")
        ss, ss_why = r.speedup("source")
        fa, fa_why = r.roofline_fraction("autotune")
        fs, fs_why = r.roofline_fraction("source")
        gflop = _num(r.flops / 1e9 if r.flops is not None else None, "{:.3g}") or "n/a"
        mb = _num(r.bytes / 1e6 if r.bytes is not None else None, "{:.3g}") or "n/a"
        roof = (f"{format_time(r.roofline_s)} ({r.kind}, {r.memory})" if r.roofline_s is not None
                else f"n/a ({r.roofline_note[:50]})")
        lines.append(
            f"| {r.op} | {r.shape} | {gflop} | {mb} | " + " | ".join(_md_time(r.result(i)) for i in IMPLS)
            + f" | {_md_ratio(sv, sv_why)} | {_md_ratio(ss, ss_why)} | {roof} | "
            f"{_md_ratio(fa, fa_why, '{:.3f}')} | {_md_ratio(fs, fs_why, '{:.3f}')} |")
    lines += ["", "## Details", ""]
    for r in rows:
        lines.append(f"- `{r.op}` {r.shape} ({_dims_text(r.dims)}), {r.kind}, {r.seconds:.0f} s: "
                     + "; ".join(f"{i}: {_status(r.result(i))}" for i in IMPLS))
    failures = [r for r in rows if not r.kernels_ok]
    if failures:
        lines += ["", "## Failures", ""]
        for r in failures:
            for impl in ("source", "autotune"):
                res = r.result(impl)
                if res.failed:
                    lines.append(f"- `{r.op}` {r.shape} {impl}: {res.note}")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path, title: str) -> str:
    """Write the PNG; ``""`` when written, else why not (matplotlib missing)."""
    try:
        from autotune.bench.plot import plot_speedups

        impls = ("source", "autotune", "numpy")
        groups = [(f"{r.op}\n{r.shape}", {i: r.speedup("vendor", i)[0] for i in impls}) for r in rows]
        plot_speedups(groups, [("source", LABELS["source"]), ("autotune", LABELS["autotune"]),
                               ("numpy", LABELS["numpy"])], path, title)
    except ImportError as exc:
        return f"{path.name} not written: {exc} (pip install '.[bench]')"
    return ""
