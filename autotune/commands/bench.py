"""``autotune bench``: benchmarks over the operator corpus (``--translate`` for now)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from autotune.bench.translate import DIRECTIONS, Cell, corpus_ops, run_bench, to_csv, to_markdown
from autotune.commands.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE

DEFAULT_OUT = Path("benchmarks/results/translate")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks over the operator corpus",
                       description="Run a benchmark over the kernels/ corpus and write Markdown "
                                   "and CSV tables.")
    p.add_argument("--translate", action="store_true",
                   help="translate every kernel in every direction and verify it at every shape")
    p.add_argument("--ops", help="comma-separated operators (default: all in --kernels)")
    p.add_argument("--directions", default=",".join(DIRECTIONS),
                   help=f"comma-separated directions (default: {','.join(DIRECTIONS)})")
    p.add_argument("--kernels", default="kernels", help="corpus folder (default: kernels)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"output folder (default: {DEFAULT_OUT})")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="builds and runs in parallel (default: the number of cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.translate:
        print("error: choose a benchmark: --translate", file=sys.stderr)
        return EXIT_USAGE
    kernels = Path(args.kernels)
    if not kernels.is_dir():
        print(f"error: corpus folder {kernels} does not exist", file=sys.stderr)
        return EXIT_USAGE
    available = corpus_ops(kernels)
    ops = [o.strip() for o in args.ops.split(",")] if args.ops else available
    unknown = [o for o in ops if o not in available]
    directions = [d.strip() for d in args.directions.split(",")]
    bad = [d for d in directions if d not in DIRECTIONS]
    if unknown or bad:
        print(f"error: unknown operators {unknown} or directions {bad}; operators: "
              f"{', '.join(available)}; directions: {', '.join(DIRECTIONS)}", file=sys.stderr)
        return EXIT_USAGE
    command = "autotune " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    print(f"bench --translate: {len(ops)} operators x {len(directions)} directions, {args.jobs} jobs")
    start = time.perf_counter()

    def progress(cell: Cell, done: int, total: int) -> None:
        status = f"ok ({cell.mode})" if cell.verified else f"FAIL: {cell.reason[:160]}"
        print(f"[{done}/{total}] {cell.op:<24} {cell.direction:<10} {cell.seconds:6.1f} s  {status}",
              flush=True)

    cells = run_bench(kernels, ops, directions, args.jobs, progress)
    wall = time.perf_counter() - start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "translate.csv").write_text(to_csv(cells))
    (out / "translate.md").write_text(to_markdown(cells, directions, command, wall))
    ok = sum(c.verified for c in cells)
    print(f"verified {ok}/{len(cells)} in {wall:.0f} s; tables in {out}/translate.md and translate.csv")
    return EXIT_OK if ok == len(cells) else EXIT_FAILED
