"""Isolated execution of untrusted programs (compilers and generated kernels).

Why: generated code may have been written by a language model. It can crash, hang, allocate without
bound, print without end or fill the disk. Every such program runs here in a separate process, in
its own session (so that a timeout kills it *and* everything it forked), with rlimits set in the
child before ``exec``, in a private working directory, with an environment that we build from
scratch (nothing of the tuner's environment leaks in) and, where the system allows it, without a
network (a new network namespace through ``unshare -rn``). Whatever goes wrong becomes a
``RunResult`` with a status and a human sentence; the caller never dies with it.
"""

from __future__ import annotations

import os
import resource
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence, Union

GiB = 1 << 30
MiB = 1 << 20

# What drivers print when an allocation fails; the C/C++ runtimes' own words are recognised too.
OOM_MARKER = "AUTOTUNE_OOM"
_OOM_WORDS = (OOM_MARKER, "std::bad_alloc", "Cannot allocate memory", "out of memory")

_SIGNAL_HINTS = {
    "SIGSEGV": "segmentation fault: an out-of-bounds access?",
    "SIGBUS": "bus error: an out-of-bounds or misaligned access?",
    "SIGFPE": "arithmetic exception: an integer division by zero?",
    "SIGILL": "illegal instruction: an ISA extension this CPU lacks, or AMX without permission?",
    "SIGABRT": "aborted: a failed assertion or a C++ exception?",
    "SIGXCPU": "CPU-time limit reached",
    "SIGXFSZ": "file-size limit reached",
    "SIGKILL": "killed",
}


@dataclass(frozen=True)
class Limits:
    """Resource limits for one isolated run.

    The defaults suit a test-sized kernel and a compiler run on a 2-core, 24 GiB machine: 20 s of
    CPU, 60 s of wall clock, 8 GiB of address space (large enough for OpenMP thread stacks and
    nvcc, small enough that a runaway allocation fails fast), 256 MiB per written file, 1 MiB of
    captured stdout+stderr, 64 processes (applied only when not running as root, since the kernel
    ignores RLIMIT_NPROC for root), and 2 OpenMP/BLAS threads (set explicitly, never inherited).
    """

    cpu_seconds: float = 20.0
    wall_seconds: float = 60.0
    memory_bytes: int = 8 * GiB
    file_bytes: int = 256 * MiB
    output_bytes: int = 1 * MiB
    processes: int = 64
    threads: int = 2
    # pin the process (and its OpenMP threads) to these cores; None leaves the affinity alone
    cores: Union[tuple[int, ...], None] = None


@dataclass
class RunResult:
    """What happened to one isolated run. ``status`` is one of ok, exit (non-zero exit code), crash
    (killed by a signal), timeout, memory, output-limit (too much printed or a file over the size
    limit) or error (could not start). ``reason`` is a sentence for a human."""

    status: str
    returncode: Union[int, None]
    signal: Union[str, None]
    stdout: str
    stderr: str
    wall_s: float
    reason: str
    network_isolated: bool = False
    argv: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _fmt_bytes(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


@lru_cache(maxsize=1)
def network_isolation_prefix() -> tuple[str, ...]:
    """The command prefix that runs a program without a network, probed once: ``unshare -rn``
    (a new user and network namespace) where the kernel allows it, else nothing."""
    try:
        r = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return ("unshare", "-rn", "--") if r.returncode == 0 else ()


_SAFE_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def scrubbed_env(workdir: Path, limits: Limits, extra: Union[Mapping[str, str], None] = None,
                 path_dirs: Sequence[str] = ()) -> dict[str, str]:
    """A fresh environment: only what a compiler or kernel needs, with thread counts explicit so
    that timings and races do not depend on the caller's environment."""
    threads = str(limits.threads)
    path = list(path_dirs) + [p for p in _SAFE_PATH if p not in path_dirs]
    env = {
        "PATH": ":".join(path), "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C",
        "LC_ALL": "C", "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads, "OMP_DYNAMIC": "false",
        "OMP_PROC_BIND": "close" if limits.cores is not None else "false",
    }
    if extra:
        env.update(extra)
    return env


def _count_user_processes(uid: int) -> int:
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def _make_preexec(limits: Limits, nproc: Union[int, None]):  # type: ignore[no-untyped-def]
    """rlimits applied in the child between fork and exec (they are inherited by everything it
    starts). CPU: soft limit sends SIGXCPU, hard limit one second later kills."""
    cpu = max(1, int(limits.cpu_seconds + 0.999))

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if nproc is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        if limits.cores is not None:
            os.sched_setaffinity(0, set(limits.cores))
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    return preexec


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_isolated(argv: Sequence[str], workdir: Union[str, Path], limits: Union[Limits, None] = None,
                 env: Union[Mapping[str, str], None] = None, *, isolate_network: bool = True,
                 path_dirs: Sequence[str] = ()) -> RunResult:
    """Run ``argv`` in ``workdir`` (created private, mode 0700) under ``limits``.

    ``env`` adds variables to the scrubbed environment; ``path_dirs`` go first on PATH (for a
    toolchain outside the standard directories). Never raises for anything the program does.
    """
    limits = limits or Limits()
    wd = Path(workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    os.chmod(wd, 0o700)
    prefix = network_isolation_prefix() if isolate_network else ()
    full_argv = [*prefix, *argv]
    nproc = None
    if os.geteuid() != 0:
        nproc = _count_user_processes(os.geteuid()) + limits.processes
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            full_argv, cwd=wd, env=scrubbed_env(wd, limits, env, path_dirs), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=_make_preexec(limits, nproc), close_fds=True,
        )
    except OSError as exc:
        return RunResult("error", None, None, "", "", 0.0, f"could not start {argv[0]}: {exc}",
                         bool(prefix), list(argv))
    pgid = proc.pid  # start_new_session: the child leads its own process group
    bufs: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
    total = 0
    killed_for: Union[str, None] = None
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(proc.stderr, selectors.EVENT_READ, "stderr")
    deadline = start + limits.wall_seconds
    exited_at: Union[float, None] = None
    while sel.get_map():
        now = time.monotonic()
        if now > deadline:
            killed_for = "timeout"
            _kill_group(pgid)
            break
        if exited_at is None and _has_exited(proc.pid):
            exited_at = now
            _kill_group(pgid)  # stragglers that kept our pipes open
        if exited_at is not None and now - exited_at > 2.0:
            break
        for key, _ in sel.select(timeout=0.05):
            chunk = os.read(key.fd, 65536)  # type: ignore[arg-type]
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            room = limits.output_bytes - total
            bufs[key.data] += chunk[: max(room, 0)]
            total += len(chunk)
            if total > limits.output_bytes:
                killed_for = "output"
                _kill_group(pgid)
                break
        if killed_for:
            break
    sel.close()
    if killed_for is not None:
        _kill_group(pgid)
    rc, cpu_used, timed_out = _wait_rusage(proc.pid, deadline, pgid)
    proc.returncode = rc  # we reaped it ourselves; keep Popen from waiting again
    if timed_out:
        killed_for = killed_for or "timeout"
    proc.stdout.close()
    proc.stderr.close()
    wall = time.monotonic() - start
    out = bufs["stdout"].decode(errors="replace")
    err = bufs["stderr"].decode(errors="replace")
    status, sig, reason = _classify(rc, killed_for, out, err, limits, cpu_used)
    return RunResult(status, proc.returncode, sig, out, err, wall, reason, bool(prefix), list(argv))


def _has_exited(pid: int) -> bool:
    """True once ``pid`` has ended, without reaping it (so its group can still be killed)."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _wait_rusage(pid: int, deadline: float, pgid: int) -> tuple[int, float, bool]:
    """Reap ``pid`` with ``wait4`` (for its own CPU time, which tells a CPU-limit kill from other
    kills); kill the group if it is still running at ``deadline``. Returns (returncode as Popen
    spells it, CPU seconds, whether the deadline was hit)."""
    timed_out = False
    while not _has_exited(pid):
        if time.monotonic() > deadline:
            timed_out = True
            _kill_group(pgid)
            break
        time.sleep(0.01)
    _kill_group(pgid)  # the leader is a zombie until reaped, so the group id is still ours
    _, status, usage = os.wait4(pid, 0)
    rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return rc, usage.ru_utime + usage.ru_stime, timed_out


def _classify(rc: int, killed_for: Union[str, None], out: str, err: str,
              limits: Limits, cpu_used: float = 0.0) -> tuple[str, Union[str, None], str]:
    """Map how the process ended to (status, signal name, reason)."""
    sig = None
    if rc is not None and rc < 0:
        try:
            sig = signal.Signals(-rc).name
        except ValueError:
            sig = f"signal {-rc}"
    if killed_for == "timeout":
        return "timeout", sig, f"exceeded the {limits.wall_seconds:g} s wall-clock limit"
    if killed_for == "output":
        return "output-limit", sig, f"printed more than {_fmt_bytes(limits.output_bytes)}"
    oom = any(w in out or w in err for w in _OOM_WORDS)
    if rc == 0:
        return "ok", None, "exited normally"
    if sig == "SIGXCPU" or (sig == "SIGKILL" and cpu_used >= limits.cpu_seconds):
        return "timeout", sig, f"exceeded the {limits.cpu_seconds:g} s CPU-time limit"
    if sig == "SIGXFSZ":
        return ("output-limit", sig,
                f"wrote a file larger than the {_fmt_bytes(limits.file_bytes)} file-size limit")
    if oom:
        return "memory", sig, (f"ran out of memory (address-space limit "
                               f"{_fmt_bytes(limits.memory_bytes)})")
    if sig is not None:
        hint = _SIGNAL_HINTS.get(sig)
        return "crash", sig, f"killed by {sig}" + (f" ({hint})" if hint else "")
    return "exit", None, f"exited with code {rc}"
