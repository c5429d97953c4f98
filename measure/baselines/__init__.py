"""Vendor baselines and limits: how fast PyTorch (oneDNN, MKL; cuBLAS, cuDNN on CUDA) and the
numpy reference compute a corpus operator, timed with the native protocol of ``measure.timing``.

``time_vendor(op, spec)`` times the PyTorch implementation of ``op`` (``torch_ops.TORCH_OPS``,
one per corpus operator, each computing what the numpy reference computes from the same named
inputs) and ``time_numpy(op, spec)`` times the numpy reference itself (``measure.operators``:
float64, written for exactness, not speed; it is a floor to beat, not a tuned baseline).

Why a separate process per measurement: thread pools (OpenMP, MKL, OpenBLAS) read their thread
count once, when they load, and an earlier multi-threaded call in the same process slows a
single-threaded one (DESIGN.md section 6). So the measuring process (``python -m
measure.baselines.runner``) starts pinned to the cores the native protocol uses
(``TimingOptions.pinned_cores()``: the last ``threads`` cores) with every thread variable set to
``threads`` before anything is imported, calls ``torch.set_num_threads(threads)``, and times under
``measure.devicelock.exclusive`` like a native kernel. It verifies one call against the numpy
reference first: a baseline that computes something else is reported as such, not timed.

Nothing here raises for a missing library or operator: the result is an ``Unavailable`` that
says why (torch not installed, no torch implementation of the operator, no CUDA device...).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Union

from measure.baselines.runner import PREFIX, THREAD_VARS
from measure.spec import KernelSpec, spec_to_dict
from measure.timing import TimingOptions

DEVICES = ("cpu", "cuda")
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class BaselineTiming:
    """A verified baseline measurement: per-call seconds (median of ``samples_s``, each the mean
    of ``inner`` calls), IQR/median ``spread``, and what was measured with what."""

    op: str
    device: str
    library: str
    threads: int
    median_s: float
    spread: float
    samples_s: list[float]
    inner: int
    noisy: bool = False
    attempts: int = 1
    cores: tuple[int, ...] = ()
    verified: bool = False
    details: dict[str, Any] = field(default_factory=dict)

    ok = True


@dataclass(frozen=True)
class Unavailable:
    """No baseline, and why (never an exception)."""

    reason: str
    op: str = ""
    device: str = "cpu"

    ok = False


BaselineResult = Union[BaselineTiming, Unavailable]


def time_vendor(op: str, spec: KernelSpec, threads: int = 1,
                options: Union[TimingOptions, None] = None, *, device: str = "cpu",
                verify: bool = True) -> BaselineResult:
    """Time PyTorch's implementation of ``op`` on ``spec`` (its current dims) with ``threads``
    threads, on ``cpu`` or ``cuda`` (CUDA events; ``Unavailable("no CUDA device")`` without one)."""
    if device not in DEVICES:
        return Unavailable(f"unknown device {device!r} (one of {', '.join(DEVICES)})", op, device)
    if importlib.util.find_spec("torch") is None:
        return Unavailable("torch is not installed (pip install torch==2.13.0, the bench extra)",
                           op, device)
    return _run("torch", op, spec, threads, options, device, verify)


def time_numpy(op: str, spec: KernelSpec, threads: int = 1,
               options: Union[TimingOptions, None] = None, *, verify: bool = True) -> BaselineResult:
    """Time the numpy reference of ``op`` on ``spec`` (float64, as ``verify`` computes it)."""
    return _run("numpy", op, spec, threads, options, "cpu", verify)


def _known(op: str) -> bool:
    from measure.operators import OPERATORS

    return op in OPERATORS


def _run(kind: str, op: str, spec: KernelSpec, threads: int, options: Union[TimingOptions, None],
         device: str, verify: bool) -> BaselineResult:
    if not _known(op):
        return Unavailable(f"unknown operator {op!r}: no numpy reference in measure.operators",
                           op, device)
    if spec.operator is not None and spec.operator != op:
        return Unavailable(f"the spec's reference operator is {spec.operator!r}, not {op!r}",
                           op, device)
    try:
        opts = replace(options or TimingOptions(), threads=threads)
    except ValueError as exc:
        return Unavailable(f"bad timing options: {exc}", op, device)
    cores = opts.pinned_cores()
    request = {
        "kind": kind, "op": op, "spec": spec_to_dict(spec), "device": device, "threads": threads,
        "cores": list(cores), "verify": verify,
        "options": {"warmup": opts.warmup, "min_repeat_ms": opts.min_repeat_ms,
                    "repeats": opts.repeats, "flush": opts.flush, "max_spread": opts.max_spread,
                    "attempts": opts.attempts, "seed": opts.seed},
    }
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_REPO_ROOT), env.get("PYTHONPATH", "")) if p)

    def pin() -> None:  # before exec: the interpreter and every pool it starts inherit it
        os.sched_setaffinity(0, set(cores))

    # import time + verification + attempts of at most wall_seconds each
    timeout = 60.0 + opts.wall_seconds * opts.attempts
    try:
        proc = subprocess.Popen([sys.executable, "-m", "measure.baselines.runner"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=str(_REPO_ROOT),
                                preexec_fn=pin, start_new_session=True)
    except OSError as exc:
        return Unavailable(f"cannot start the measuring process: {exc}", op, device)
    try:
        out, err = proc.communicate(json.dumps(request), timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return Unavailable(f"the measuring process ran past {timeout:.0f} s", op, device)
    reply = _parse(out)
    if reply is None:
        tail = (err or out).strip().splitlines()[-3:]
        return Unavailable(f"the measuring process exited with {proc.returncode} and no result: "
                           f"{' | '.join(tail) or 'no output'}", op, device)
    if not reply.get("ok"):
        return Unavailable(str(reply.get("reason", "no reason given")), op, device)
    samples = [float(s) for s in reply["samples_s"]]
    keep = ("torch_threads", "env_threads", "max_abs_error")
    details: dict[str, Any] = {k: reply[k] for k in keep if k in reply}
    return BaselineTiming(
        op=op, device=device, library=str(reply["library"]), threads=threads,
        median_s=statistics.median(samples), spread=float(reply["spread"]), samples_s=samples,
        inner=int(reply["inner"]), noisy=bool(reply["noisy"]), attempts=int(reply["attempts"]),
        cores=tuple(int(c) for c in reply.get("cores", cores)), verified=bool(reply["verified"]),
        details=details)


def _parse(stdout: str) -> Union[dict[str, Any], None]:
    for line in reversed(stdout.splitlines()):
        if line.startswith(PREFIX):
            try:
                value = json.loads(line[len(PREFIX):])
            except json.JSONDecodeError:
                return None
            return value if isinstance(value, dict) else None
    return None


__all__ = ["BaselineResult", "BaselineTiming", "DEVICES", "Unavailable", "time_numpy", "time_vendor"]
