"""``autotune bench --translate``: translate every corpus kernel in every direction and verify.

A cell of the table is one (operator, direction). It counts as verified only when the
translation verifies at every shape of the operator's spec (``[dims]`` and ``[shapes.*]``).
HIP sources are the project's own CUDA -> HIP translations (there is no hand-written HIP in the
corpus), so ``hip->X`` rows exercise real HIP text. Nothing is dropped from the denominator: a
kernel that cannot be translated is a failed cell with the front end's or the pass's message.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import platform as host_platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Union

from measure.platforms import get_platform
from measure.spec import KernelSpec, load_spec
from measure.toolchain import toolchain_summary
from passes import ir
from passes.translate import launch_plan, translate

DIRECTIONS = ("cpu->cuda", "cuda->cpu", "cuda->hip", "hip->cpu", "cpu->hip")
SOURCE_FILE = {"cpu": "c", "cuda": "cu"}
RAN = ("device", "emulated")


@dataclass
class Cell:
    op: str
    direction: str
    verified: bool = False
    mode: str = "none"
    shapes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    reason: str = ""


def corpus_ops(kernels_dir: Path) -> list[str]:
    """Operators that have both a C and a CUDA kernel (with specs) under ``kernels_dir``."""
    ops = []
    for d in sorted(p for p in kernels_dir.iterdir() if p.is_dir()):
        if all((d / f"{d.name}.{ext}").exists() and (d / f"{d.name}.{ext}.toml").exists()
               for ext in ("c", "cu")):
            ops.append(d.name)
    return ops


def _source(kernels_dir: Path, op: str, platform: str) -> tuple[str, KernelSpec]:
    path = kernels_dir / op / f"{op}.{SOURCE_FILE[platform]}"
    return path.read_text(), load_spec(path.with_name(path.name + ".toml"))


def run_cell(kernels_dir: Path, op: str, direction: str) -> Cell:
    """Translate and verify one (operator, direction) at every shape."""
    cell = Cell(op, direction)
    start = time.perf_counter()
    source, target = direction.split("->")
    try:
        if source == "hip":
            text, spec = _source(kernels_dir, op, "cuda")
            hip = translate(text, "cuda", "hip", spec)
            spec = _retarget(spec, hip.entry, hip.launcher)
            text = hip.text
        else:
            text, spec = _source(kernels_dir, op, source)
        t = translate(text, source, target, spec)
        out_spec = _retarget(spec, t.entry, t.launcher) if target == "cpu" or t.launcher else spec
        modes = []
        for shape in out_spec.shape_names():
            shaped = out_spec.with_shape(shape)
            launcher = t.launcher
            if target != "cpu" and launcher is None and shaped.launch is None:
                launcher = launch_plan(t.text, target, shaped).launcher
            verdict = get_platform(target).verify(t.text, shaped, launcher=launcher)
            if not verdict.ok or verdict.mode not in RAN:
                cell.reason = f"shape {shape}: {verdict.mode}: {verdict.reason.splitlines()[0][:300]}"
                cell.mode = verdict.mode
                break
            modes.append(verdict.mode)
            cell.shapes.append(shape)
        else:
            cell.verified = True
            cell.mode = "emulated" if "emulated" in modes else "device"
    except (ir.UnsupportedConstruct, ir.NotApplicable) as exc:
        cell.reason = f"translation: {exc}"
    except Exception as exc:  # noqa: BLE001 - a crash of ours is a failed cell with its message
        cell.reason = f"internal error: {type(exc).__name__}: {exc}"
    cell.seconds = time.perf_counter() - start
    return cell


def _retarget(spec: KernelSpec, entry: str, launcher: Union[str, None]) -> KernelSpec:
    return replace(spec, entry=entry, launch=None if launcher else spec.launch)


def run_bench(kernels_dir: Path, ops: Iterable[str], directions: Iterable[str], jobs: int,
              progress: Callable[[Cell, int, int], None]) -> list[Cell]:
    """Cells run in worker processes (z3 and a threaded BLAS are not safe to share between
    threads), each with single-threaded BLAS so that parallel cells do not oversubscribe."""
    work = [(op, d) for op in ops for d in directions]
    cells: list[Cell] = []
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["OMP_NUM_THREADS"] = "1"
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
        futures = {pool.submit(run_cell, kernels_dir, op, d): (op, d) for op, d in work}
        for fut in as_completed(futures):
            try:
                cell = fut.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker is a failed cell
                op, d = futures[fut]
                cell = Cell(op, d, reason=f"internal error: worker failed: {exc}")
            cells.append(cell)
            progress(cell, len(cells), len(work))
    order = {w: i for i, w in enumerate(work)}
    return sorted(cells, key=lambda c: order[(c.op, c.direction)])


def to_csv(cells: list[Cell]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["operator", "direction", "verified", "mode", "shapes", "seconds", "reason"])
    for c in cells:
        w.writerow([c.op, c.direction, int(c.verified), c.mode, " ".join(c.shapes), f"{c.seconds:.2f}",
                    c.reason])
    return buf.getvalue()


def to_markdown(cells: list[Cell], directions: list[str], command: str, wall: float) -> str:
    ops = list(dict.fromkeys(c.op for c in cells))
    by = {(c.op, c.direction): c for c in cells}
    tools = toolchain_summary()
    lines = [
        "# Translation benchmark",
        "",
        f"Command: `{command}`  ",
        f"Wall time: {wall:.0f} s; machine: {tools['cpu']} ({host_platform.machine()}), "
        f"{tools['gcc']}; {tools['nvcc']}; {tools['hipcc']}; GPU: {tools['nvidia_gpu']}.",
        "",
        "A cell is verified when the translation matches the numpy reference at every shape of the "
        "spec. `emulated`: run in the CPU emulation of the CUDA/HIP model (no GPU here); `device`: "
        "run natively. HIP sources are autotune's own CUDA -> HIP translations.",
        "",
        "| direction | verified | total | rate |",
        "|---|---|---|---|",
    ]
    for d in directions:
        row = [by[(op, d)] for op in ops if (op, d) in by]
        ok = sum(c.verified for c in row)
        lines.append(f"| {d} | {ok} | {len(row)} | {100.0 * ok / max(1, len(row)):.0f}% |")
    lines += ["", "| operator | " + " | ".join(directions) + " |",
              "|---|" + "---|" * len(directions)]
    for op in ops:
        cells_row = []
        for d in directions:
            c = by.get((op, d))
            cells_row.append("" if c is None else (f"ok ({c.mode})" if c.verified else "**FAIL**"))
        lines.append(f"| {op} | " + " | ".join(cells_row) + " |")
    failures = [c for c in cells if not c.verified]
    if failures:
        lines += ["", "## Failures", ""]
        for c in failures:
            lines.append(f"- `{c.op}` {c.direction}: {c.reason}")
    return "\n".join(lines) + "\n"
