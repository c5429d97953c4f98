"""``autotune bench``: benchmarks over the operator corpus.

Default: the timing bench (``autotune.bench.timing``): for each operator at one shape, the
corpus C kernel, autotune's kernel, PyTorch and numpy timed on this CPU, with speedups and
roofline fractions, written as ``bench.md``, ``bench.csv`` and ``bench.png``. ``--translate``:
translate every kernel in every direction and verify it (``autotune.bench.translate``).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from pathlib import Path

from autotune.bench import timing
from autotune.bench.translate import DIRECTIONS, Cell, corpus_ops, run_bench, to_csv, to_markdown
from autotune.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE

DEFAULT_OUT = Path("benchmarks/results/translate")
DEFAULT_TIMING_OUT = Path("benchmarks/results/bench")
SHAPES = ("large", "default", "small")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench", help="benchmarks over the operator corpus",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Time the operator corpus on this CPU (default), or with --translate translate "
                    "and verify every kernel in every direction.\n\n"
                    "Timing bench: for each operator, the corpus C kernel (source), what autotune "
                    "produces for cpu from the CUDA kernel (for now the verified cuda->cpu "
                    "translation, untuned), PyTorch (vendor) and numpy, each verified and timed; "
                    "speedups vendor/autotune and source/autotune; roofline fractions. Writes "
                    "bench.md (with the machine and this command), bench.csv and bench.png to "
                    f"--out (default {DEFAULT_TIMING_OUT}).\n"
                    f"Run time on a 2-core machine: {timing.EXPECTED_QUICK} for the default quick "
                    f"subset ({', '.join(timing.QUICK_OPS)} at shape large, 1 thread), "
                    f"{timing.EXPECTED_ALL} with --all (every operator), {timing.EXPECTED_PER_OP} with "
                    "--ops. Progress lines are printed as each operator finishes.")
    p.add_argument("--translate", action="store_true",
                   help="translate every kernel in every direction and verify it at every shape")
    p.add_argument("--ops", help="comma-separated operators (default: the quick subset for the "
                                 "timing bench, every operator for --translate)")
    p.add_argument("--all", action="store_true", help="timing bench: every operator in --kernels")
    p.add_argument("--shape", default="large", choices=SHAPES,
                   help="timing bench: shape of each spec to time (default large)")
    p.add_argument("--threads", type=int, default=1, help="timing bench: threads (default 1)")
    p.add_argument("--min-repeat-ms", type=float, default=20.0,
                   help="timing bench: minimum duration of one timing sample (default 20 ms)")
    p.add_argument("--directions", default=",".join(DIRECTIONS),
                   help=f"--translate: comma-separated directions (default: {','.join(DIRECTIONS)})")
    p.add_argument("--kernels", default="kernels", help="corpus folder (default: kernels)")
    p.add_argument("--out", help=f"output folder (default: {DEFAULT_TIMING_OUT}, or {DEFAULT_OUT} "
                                 "with --translate)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="--translate: builds and runs in parallel (default: the number of cores)")
    p.set_defaults(func=run)


def _command() -> str:
    return "autotune " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def run(args: argparse.Namespace) -> int:
    kernels = Path(args.kernels)
    if not kernels.is_dir():
        print(f"error: corpus folder {kernels} does not exist", file=sys.stderr)
        return EXIT_USAGE
    if args.translate:
        return run_translate(args, kernels)
    return run_timing(args, kernels)


def run_timing(args: argparse.Namespace, kernels: Path) -> int:
    available = corpus_ops(kernels)
    if args.ops and args.all:
        print("error: give --ops or --all, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.threads < 1 or args.min_repeat_ms <= 0:
        print("error: --threads must be >= 1 and --min-repeat-ms > 0", file=sys.stderr)
        return EXIT_USAGE
    if args.ops:
        ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    else:
        ops = available if args.all else [o for o in timing.QUICK_OPS if o in available]
    unknown = [o for o in ops if o not in available]
    if unknown or not ops:
        print(f"error: unknown operators {unknown}; operators: {', '.join(available)}", file=sys.stderr)
        return EXIT_USAGE
    expected = timing.EXPECTED_ALL if args.all else timing.EXPECTED_QUICK
    if args.ops:
        expected = f"{timing.EXPECTED_PER_OP} ({len(ops)} here)"
    out = Path(args.out) if args.out else DEFAULT_TIMING_OUT
    command = _command()
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"bench: {len(ops)} operators at shape {args.shape}, {args.threads} thread(s); "
          f"expected {expected}", flush=True)
    start = time.perf_counter()
    machine, peaks = timing.describe_machine(args.threads)
    print(f"machine: {machine.cpu}; ISA {machine.isa}; peaks: {timing.peak_text(machine)}", flush=True)

    def progress(row: timing.Row, done: int, total: int) -> None:
        parts = []
        for impl in timing.IMPLS:
            r = row.result(impl)
            parts.append(f"{impl} " + (timing.format_time(r.seconds) if r.seconds is not None
                                       else ("FAILED" if r.failed else "n/a")))
        print(f"[{done}/{total}] {row.op:<20} {row.shape:<8} {row.seconds:5.0f} s  " + ", ".join(parts),
              flush=True)
        for impl in ("source", "autotune"):
            r = row.result(impl)
            if r.failed:
                print(f"    {impl} FAILED: {r.note[:200]}", flush=True)

    rows = timing.run_bench(kernels, ops, args.shape, args.threads, args.min_repeat_ms, progress)
    timing.add_roofline(rows, peaks, machine.peaks_note)
    wall = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.csv").write_text(timing.to_csv(rows))
    (out / "bench.md").write_text(timing.to_markdown(rows, machine, command, date, wall, expected,
                                                     args.min_repeat_ms))
    title = f"{machine.cpu}, {args.threads} thread(s), shape {args.shape}"
    why = timing.plot(rows, out / "bench.png", title)
    if why:
        print(f"warning: {why}", file=sys.stderr)
    ok = sum(r.kernels_ok for r in rows)
    print(f"{ok}/{len(rows)} operators with every kernel verified, in {wall:.0f} s; results in "
          f"{out}/bench.md, bench.csv" + ("" if why else ", bench.png"))
    return EXIT_OK if ok == len(rows) else EXIT_FAILED


def run_translate(args: argparse.Namespace, kernels: Path) -> int:
    available = corpus_ops(kernels)
    ops = [o.strip() for o in args.ops.split(",")] if args.ops else available
    unknown = [o for o in ops if o not in available]
    directions = [d.strip() for d in args.directions.split(",")]
    bad = [d for d in directions if d not in DIRECTIONS]
    if unknown or bad:
        print(f"error: unknown operators {unknown} or directions {bad}; operators: "
              f"{', '.join(available)}; directions: {', '.join(DIRECTIONS)}", file=sys.stderr)
        return EXIT_USAGE
    command = _command()
    print(f"bench --translate: {len(ops)} operators x {len(directions)} directions, {args.jobs} jobs")
    start = time.perf_counter()

    def progress(cell: Cell, done: int, total: int) -> None:
        status = f"ok ({cell.mode})" if cell.verified else f"FAIL: {cell.reason[:160]}"
        print(f"[{done}/{total}] {cell.op:<24} {cell.direction:<10} {cell.seconds:6.1f} s  {status}",
              flush=True)

    cells = run_bench(kernels, ops, directions, args.jobs, progress)
    wall = time.perf_counter() - start
    out = Path(args.out) if args.out else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    (out / "translate.csv").write_text(to_csv(cells))
    (out / "translate.md").write_text(to_markdown(cells, directions, command, wall))
    ok = sum(c.verified for c in cells)
    print(f"verified {ok}/{len(cells)} in {wall:.0f} s; tables in {out}/translate.md and translate.csv")
    return EXIT_OK if ok == len(cells) else EXIT_FAILED
