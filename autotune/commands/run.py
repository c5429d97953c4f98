"""``autotune run | resume | status | best | report``: tune a kernel for a platform in a work directory.

``run`` translates and verifies the kernel, writes the work directory (see
``autotune.tuner.run``) and runs the outer study; ``resume`` continues it after a crash or to
extend it (``--trials`` is the new total); ``status`` says where it stands; ``best`` writes the
fastest verified program with its spec (``autotune verify`` accepts both); ``report`` writes
one self-contained HTML page about the run (``autotune.tuner.report``).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import tomli_w

from autotune.commands.common import EXIT_OK
from autotune.tuner.outer import fmt_s
from autotune.tuner.run import RunError, Summary, best_program, prepare_run, status, tune
from measure.spec import spec_to_dict


def _timing_flags(p: argparse.ArgumentParser) -> None:
    # Hidden: tests and quick experiments time with small samples in one process.
    p.add_argument("--min-repeat-ms", type=float, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    p.add_argument("--processes", type=int, help=argparse.SUPPRESS)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run", help="translate a kernel and tune it for a platform",
        description="Translate KERNEL to the target, verify it, and tune it: an Optuna study over "
                    "pass sequences, each trial an inner search over the sequence's parameters. "
                    "Everything is recorded in the work directory; `autotune resume` continues.")
    p.add_argument("kernel", help="kernel source file (.c, .cu, .hip)")
    p.add_argument("--to", required=True, help="target platform (cpu; cuda on a machine with a GPU)")
    p.add_argument("--spec", help="spec file (default: KERNEL.toml or STEM.toml beside it)")
    p.add_argument("--trials", type=int, default=8,
                   help="outer trials, the untransformed baseline included (default 8)")
    p.add_argument("--budget", type=int, default=4, help="measurements per trial (default 4)")
    p.add_argument("--workdir", help="work directory (default runs/<kernel stem>)")
    p.add_argument("--storage", help="storage URL for the study and the records "
                                     "(default: SQLite file in the work directory)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler, search and inputs")
    p.add_argument("--shape", help="spec shape to tune for (default: large if the spec has it)")
    _timing_flags(p)
    p.set_defaults(func=run_cmd)

    r = sub.add_parser("resume", help="continue a run (after a crash, or to extend it)",
                       description="Continue the run in WORKDIR: trials left running by a killed "
                                   "process are failed and re-enqueued; no candidate is measured "
                                   "twice.")
    r.add_argument("workdir")
    r.add_argument("--trials", type=int, help="total trials wanted (default: as in run.json)")
    r.set_defaults(func=resume_cmd)

    s = sub.add_parser("status", help="where a run stands")
    s.add_argument("workdir")
    s.set_defaults(func=status_cmd)

    b = sub.add_parser("best", help="write or print the best program of a run")
    b.add_argument("workdir")
    b.add_argument("-o", "--output", help="file to write (its spec is written beside it as "
                                          "FILE.toml); default: print the program")
    b.set_defaults(func=best_cmd)

    h = sub.add_parser("report", help="write an HTML report of a run",
                       description="Write one self-contained HTML page about the run in WORKDIR: "
                                   "convergence plot, trials, best program, cost-model ranking "
                                   "quality per round, failures.")
    h.add_argument("workdir")
    h.add_argument("-o", "--output", help="HTML file to write (default WORKDIR/report.html)")
    h.set_defaults(func=report_cmd)


def _fail(exc: RunError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return exc.code


def _progress(line: str) -> None:
    print(line, flush=True)


def _final(s: Summary) -> None:
    print(f"{s.complete}/{s.requested} trials complete, {s.measurements} measurements")
    if s.best_s is None:
        print("no verified candidate")
        return
    speed = f", {s.speedup:.2f}x over the untransformed translation" if s.speedup else ""
    print(f"best {fmt_s(s.best_s)} with {s.best_sequence}{speed}")


def run_cmd(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir or Path("runs") / Path(args.kernel).stem)
    timing: dict[str, Any] = {k: v for k, v in (("min_repeat_ms", args.min_repeat_ms),
                                                 ("repeats", args.repeats),
                                                 ("processes", args.processes)) if v is not None}
    try:
        config = prepare_run(args.kernel, args.to, workdir, spec_file=args.spec, trials=args.trials,
                             budget=args.budget, storage=args.storage, seed=args.seed,
                             shape=args.shape, timing=timing, log=_progress)
        _final(tune(workdir, config, resume=False, progress=_progress))
    except (RunError, ValueError) as exc:
        return _fail(exc if isinstance(exc, RunError) else RunError(str(exc)))
    return EXIT_OK


def resume_cmd(args: argparse.Namespace) -> int:
    from autotune.tuner.run import load_config

    workdir = Path(args.workdir)
    try:
        _final(tune(workdir, load_config(workdir), resume=True, trials=args.trials,
                    progress=_progress))
    except RunError as exc:
        return _fail(exc)
    return EXIT_OK


def status_cmd(args: argparse.Namespace) -> int:
    try:
        config, s = status(Path(args.workdir))
    except RunError as exc:
        return _fail(exc)
    except Exception as exc:  # a missing study or store: say so, not a traceback
        return _fail(RunError(f"{args.workdir}: cannot read the run: {exc}"))
    print(f"{config.translated} -> {config.target} (shape {config.shape}), storage {config.storage}")
    print(f"trials: {s.complete}/{s.requested} complete, {s.running} running, {s.failed} failed, "
          f"{s.waiting} waiting")
    print(f"measurements: {s.measurements}")
    print(f"best so far: {fmt_s(s.best_s)}" + (f" ({s.best_sequence})" if s.best_sequence else "")
          + (f", {s.speedup:.2f}x over the baseline {fmt_s(s.baseline_s)}" if s.speedup else ""))
    return EXIT_OK


def best_cmd(args: argparse.Namespace) -> int:
    try:
        _config, code, spec, seq = best_program(Path(args.workdir))
    except RunError as exc:
        return _fail(exc)
    if not args.output:
        sys.stdout.write(code)
        return EXIT_OK
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(code)
    new = replace(spec, path=out.with_name(out.name + ".toml"))
    if spec.reference_source and spec.path is not None:
        ref = (spec.path.parent / spec.reference_source).resolve()
        new = replace(new, reference_source=os.path.relpath(ref, out.parent.resolve()))
    out.with_name(out.name + ".toml").write_text(tomli_w.dumps(spec_to_dict(new)))
    print(f"wrote {out} ({seq}) and {out.name}.toml")
    return EXIT_OK


def report_cmd(args: argparse.Namespace) -> int:
    from autotune.tuner.report import write_report

    try:
        path, rep = write_report(Path(args.workdir), Path(args.output) if args.output else None)
    except RunError as exc:
        return _fail(exc)
    except Exception as exc:  # a missing study or store: say so, not a traceback
        return _fail(RunError(f"{args.workdir}: cannot read the run: {exc}"))
    print(f"wrote {path} ({len(rep.trials)} trials, {len(rep.measurements)} measurements)")
    return EXIT_OK
