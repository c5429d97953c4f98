"""The platform registry: build, run and verify a kernel on cpu, cuda or hip.

Why one ``verify`` for all platforms: a result reported as correct must say how it was checked
(``device``: ran on the target hardware; ``emulated``: ran in the CPU emulation of its programming
model; ``compiled``: the target compiler accepted it but nothing ran; ``none``: not verified). Each
platform only knows how to turn (source, spec, inputs) into outputs (``build_and_run``); the
comparison with the reference, and every way of failing, is shared here, so that a bad kernel (a
build error, a crash, a hang, a wrong result) always becomes a ``Verdict`` with a reason and never
an exception in the tuner.

Call sequence: ``verify`` -> make seeded inputs -> ``build_and_run`` (compilers and the kernel run
in the sandbox, each with limits) -> ``reference_outputs`` (a numpy operator, or another kernel run
on its own platform with the *same* inputs) -> ``compare``.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from measure.compare import Comparison, compare
from measure.devicelock import exclusive
from measure.driver import C_LINK_FLAGS, DriverError, Geometry, TimingLoop, c_driver, cuda_driver
from measure.inputs import as_float, make_inputs, numpy_dtype, scalar_inputs
from measure.sandbox import GiB, Limits, RunResult, run_isolated
from measure.spec import KernelSpec, SpecError, load_spec, platform_of, spec_path_for
from measure.toolchain import (
    cpu_info,
    find_gcc,
    find_hipcc,
    find_nvcc,
    gcc_isa_flags,
    nvidia_gpu,
    toolchain_summary,
)

MODES = ("device", "emulated", "compiled", "none")

# Compilers are trusted more than kernels but still get limits: a pathological template or macro
# can make them run away too.
COMPILE_LIMITS = Limits(cpu_seconds=120, wall_seconds=240, memory_bytes=16 * GiB, output_bytes=1 << 20)


@dataclass
class Verdict:
    """The answer of ``verify``. ``ok`` is only True when the outputs matched the reference (mode
    device or emulated) or, in mode compiled, when the target compiler accepted the code and
    nothing could run it; consumers that need a run must check ``mode``."""

    ok: bool
    mode: str
    reason: str
    comparison: Union[Comparison, None] = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def max_abs_error(self) -> Union[float, None]:
        return self.comparison.max_abs_error if self.comparison else None

    @property
    def max_rel_error(self) -> Union[float, None]:
        return self.comparison.max_rel_error if self.comparison else None


@dataclass
class RunOutcome:
    """What ``build_and_run`` produced: outputs keyed by arg name (flat), or why there are none."""

    mode: str
    outputs: Union[dict[str, np.ndarray], None] = None
    reason: str = ""
    failure: Union[RunResult, None] = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outputs is not None


def _tail(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _head(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."


def build_failure(what: str, r: RunResult, mode: str = "none") -> RunOutcome:
    """A failed compiler run, with the compiler's first messages (the first error matters)."""
    if r.status == "exit":
        msg = f"{what} rejected the code:\n{_head(r.stderr or r.stdout)}"
    else:
        msg = f"{what} failed: {r.reason}\n{_head(r.stderr or r.stdout)}"
    return RunOutcome(mode, reason=msg.strip(), failure=r)


def write_inputs(rundir: Path, inputs: dict[str, np.ndarray]) -> None:
    rundir.mkdir(parents=True, exist_ok=True)
    for name, arr in inputs.items():
        (rundir / f"{name}.bin").write_bytes(np.ascontiguousarray(arr).tobytes())


def run_and_collect(exe: Path, rundir: Path, spec: KernelSpec, limits: Limits, mode: str,
                    env: Union[dict[str, str], None] = None) -> RunOutcome:
    """Run a built driver in the sandbox and read its output files."""
    r = run_isolated([str(exe)], rundir, limits, env)
    details: dict[str, Any] = {"run_wall_s": round(r.wall_s, 4), "network_isolated": r.network_isolated,
                               "stdout": r.stdout[-4000:]}
    if not r.ok:
        what = {"crash": "the kernel crashed", "timeout": "the kernel timed out",
                "memory": "the kernel ran out of memory", "output-limit": "the kernel hit an output limit",
                "exit": "the kernel's program failed", "error": "the kernel could not start"}[r.status]
        reason = f"{what}: {r.reason}"
        if r.status == "exit" and r.returncode == 3:
            reason = f"{what}: a GPU runtime error"
        err = _tail(r.stderr)
        return RunOutcome(mode, reason=reason + (f"\n{err}" if err else ""), failure=r, details=details)
    outputs: dict[str, np.ndarray] = {}
    for a in spec.args:
        if a.is_buffer and a.is_output:
            path = rundir / f"{a.name}.out.bin"
            if not path.exists():
                return RunOutcome(mode, reason=f"the driver wrote no {path.name}", failure=r, details=details)
            data = np.fromfile(path, dtype=numpy_dtype(a.dtype))
            if data.size != spec.size_of(a):
                return RunOutcome(mode, reason=f"{path.name} holds {data.size} elements, expected "
                                  f"{spec.size_of(a)}", failure=r, details=details)
            outputs[a.name] = data
    return RunOutcome(mode, outputs=outputs, details=details)


class Platform:
    """A target platform. Subclasses implement ``discover`` and ``build_and_run``; ``verify`` is
    shared. ``build_and_run`` gets a fresh ``workdir`` it may fill with sources, executables and
    a ``run/`` directory (the kernel's private cwd)."""

    name = "base"
    suffix = ""
    needs_geometry = False

    def discover(self) -> dict[str, str]:
        """Versions of the tools this platform uses ("missing" when absent)."""
        return toolchain_summary()

    def build_and_run(self, source: str, spec: KernelSpec, inputs: dict[str, np.ndarray],
                      workdir: Path, *, geometry: Union[Geometry, None] = None,
                      launcher: Union[str, None] = None,
                      limits: Union[Limits, None] = None,
                      timing: Union[TimingLoop, None] = None) -> RunOutcome:
        """Build ``source`` with a driver and run it once on ``inputs``; with ``timing`` the
        driver then times it (its ``AUTOTUNE_TIMING`` line is in ``details['stdout']``)."""
        raise NotImplementedError

    def verify(self, source: str, spec: KernelSpec, *, geometry: Union[Geometry, None] = None,
               launcher: Union[str, None] = None, seed: int = 0,
               workdir: Union[str, Path, None] = None, limits: Union[Limits, None] = None) -> Verdict:
        """Build and run ``source`` on seeded inputs and compare with the reference. Never raises
        for a bad kernel or spec problem: everything becomes a failed ``Verdict``."""
        own_dir = workdir is None
        wd = Path(tempfile.mkdtemp(prefix=f"autotune-{self.name}-")) if own_dir else Path(str(workdir))
        wd.mkdir(parents=True, exist_ok=True)
        details: dict[str, Any] = {"platform": self.name, "seed": seed, "toolchain": self.discover()}
        try:
            return self._verify(source, spec, geometry, launcher, seed, wd, limits, details)
        except (SpecError, DriverError) as exc:
            return Verdict(False, "none", f"spec problem: {exc}", details=details)
        finally:
            if own_dir:
                shutil.rmtree(wd, ignore_errors=True)

    def _verify(self, source: str, spec: KernelSpec, geometry: Union[Geometry, None],
                launcher: Union[str, None], seed: int, wd: Path, limits: Union[Limits, None],
                details: dict[str, Any]) -> Verdict:
        if self.needs_geometry and launcher is None:
            geometry = geometry or spec.launch_geometry()
            if geometry is None:
                return Verdict(False, "none", "no launch geometry: add [launch] to the spec or a host "
                               "launcher", details=details)
        inputs = make_inputs(spec, seed)
        got = self.build_and_run(source, spec, inputs, wd / "candidate", geometry=geometry,
                                 launcher=launcher, limits=limits)
        details.update(got.details)
        if got.outputs is None:
            ok = got.mode == "compiled" and got.failure is None
            return Verdict(ok, got.mode, got.reason, details=details)
        ref = reference_outputs(spec, inputs, workdir=wd / "reference", limits=limits)
        if isinstance(ref, str):
            return Verdict(False, got.mode, f"the reference failed: {ref}", details=details)
        cmp = compare(spec, got.outputs, ref)
        return Verdict(cmp.ok, got.mode, cmp.reason if not cmp.ok else f"outputs match ({got.mode})",
                       cmp, details)


def _reference_inputs(spec: KernelSpec, inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Inputs as operators expect them: buffers in their spec shape and a computable dtype
    (bool as numpy bool, bf16 as float32), scalars as numpy scalars."""
    out: dict[str, Any] = dict(scalar_inputs(spec))
    for a in spec.args:
        if a.name in inputs:
            arr = inputs[a.name]
            arr = arr.astype(np.bool_) if a.dtype == "bool" else as_float(arr, a.dtype)
            out[a.name] = arr.reshape(spec.shape_of(a))
    return out


def reference_outputs(spec: KernelSpec, inputs: dict[str, np.ndarray], *,
                      workdir: Union[Path, None] = None,
                      limits: Union[Limits, None] = None) -> Union[dict[str, np.ndarray], str]:
    """The expected outputs for ``inputs`` (flat, keyed by arg name), or a sentence saying why
    there are none. ``spec.operator`` uses the numpy reference; ``spec.reference_source`` runs
    that kernel (path relative to the spec file, its own spec beside it) on its own platform."""
    if spec.operator is not None:
        from measure.operators import OPERATORS  # lazy: the corpus is large and optional here

        fn = OPERATORS.get(spec.operator)
        if fn is None:
            return f"no numpy reference for operator {spec.operator!r}"
        try:
            res = fn(_reference_inputs(spec, inputs), dict(spec.dims), dict(spec.operator_params))
        except Exception as exc:  # an operator's own checks (wrong names, shapes) end up here
            return f"operator {spec.operator!r} raised {type(exc).__name__}: {exc}"
        return {k: np.ravel(np.asarray(v)) for k, v in res.items()}
    if spec.reference_source is None:
        return "the spec names no reference"
    base = spec.path.parent if spec.path is not None else Path.cwd()
    path = (base / spec.reference_source).resolve()
    try:
        ref_spec = load_spec(spec_path_for(path))
        platform = get_platform(platform_of(path))
        text = path.read_text()
    except (SpecError, OSError, KeyError) as exc:
        return f"cannot load reference kernel {path}: {exc}"
    missing = [a.name for a in ref_spec.args if a.is_input and a.is_buffer and a.name not in inputs]
    if missing:
        return f"reference kernel {path.name} takes inputs {missing} that the candidate's spec lacks"
    own = workdir is None
    wd = Path(tempfile.mkdtemp(prefix="autotune-ref-")) if own else workdir
    assert wd is not None
    try:
        geometry = ref_spec.launch_geometry() if platform.needs_geometry else None
        got = platform.build_and_run(text, ref_spec, {k: inputs[k] for k in inputs}, wd,
                                     geometry=geometry, limits=limits)
    except (SpecError, DriverError) as exc:
        return f"reference kernel {path.name}: {exc}"
    finally:
        if own:
            shutil.rmtree(wd, ignore_errors=True)
    if got.outputs is None:
        return f"reference kernel {path.name} ({platform.name}, {got.mode}): {got.reason}"
    return got.outputs


class CpuPlatform(Platform):
    """C with OpenMP and x86 intrinsics, built by gcc with the ISA flags the CPU reports."""

    name = "cpu"
    suffix = ".c"

    def cflags(self) -> list[str]:
        return ["-O2", "-fopenmp", "-fno-strict-aliasing", *gcc_isa_flags(cpu_info().features)]

    def build_and_run(self, source: str, spec: KernelSpec, inputs: dict[str, np.ndarray],
                      workdir: Path, *, geometry: Union[Geometry, None] = None,
                      launcher: Union[str, None] = None,
                      limits: Union[Limits, None] = None,
                      timing: Union[TimingLoop, None] = None) -> RunOutcome:
        gcc = find_gcc()
        if gcc is None:
            return RunOutcome("none", reason="gcc is not installed")
        workdir.mkdir(parents=True, exist_ok=True)
        src = workdir / "kernel.c"
        src.write_text(source.rstrip() + "\n" + c_driver(spec, timing))
        r = run_isolated([gcc.path, *self.cflags(), "-x", "c", str(src), "-o", str(workdir / "kernel"),
                          *C_LINK_FLAGS, "-lm"], workdir, COMPILE_LIMITS)
        if not r.ok:
            return build_failure("gcc", r)
        write_inputs(workdir / "run", inputs)
        with exclusive(self.name) if timing else nullcontext():
            got = run_and_collect(workdir / "kernel", workdir / "run", spec, limits or Limits(), "device")
        got.details["built_with"] = gcc.version
        return got


class GpuPlatform(Platform):
    """Shared CUDA/HIP logic: the vendor compiler checks the code where it exists, then the code
    runs on a real device or in the emulator."""

    needs_geometry = True
    emulator_platform = "cuda"

    def compiler_check(self, full: Path, workdir: Path) -> tuple[Union[RunOutcome, None], str]:
        """(a failure when the vendor compiler rejects the program, the details note)."""
        raise NotImplementedError

    def device_build(self, full: Path, workdir: Path) -> Union[list[str], None]:
        """The command that builds for a real device here, or None when none is present."""
        return None

    def build_and_run(self, source: str, spec: KernelSpec, inputs: dict[str, np.ndarray],
                      workdir: Path, *, geometry: Union[Geometry, None] = None,
                      launcher: Union[str, None] = None,
                      limits: Union[Limits, None] = None,
                      timing: Union[TimingLoop, None] = None) -> RunOutcome:
        workdir.mkdir(parents=True, exist_ok=True)
        grid, block = geometry if geometry is not None else (None, None)
        text = source.rstrip() + "\n" + cuda_driver(spec, grid, block, launcher, self.name, timing)
        full = workdir / f"kernel{self.suffix}"
        full.write_text(text)
        failed, note = self.compiler_check(full, workdir)
        details = {"vendor_compiler": note}
        if failed is not None:
            failed.details.update(details)
            return failed
        limits = limits or Limits()
        write_inputs(workdir / "run", inputs)
        device_cmd = self.device_build(full, workdir)
        if device_cmd is not None:
            r = run_isolated(device_cmd, workdir, COMPILE_LIMITS)
            if not r.ok:
                return build_failure(device_cmd[0], r)
            with exclusive(self.name) if timing else nullcontext():
                got = run_and_collect(workdir / "kernel", workdir / "run", spec, limits, "device")
        else:
            got = self._emulate(text, workdir, spec, limits, note)
        got.details.update(details)
        return got

    def _emulate(self, text: str, workdir: Path, spec: KernelSpec, limits: Limits, note: str) -> RunOutcome:
        try:
            from measure.emulator import compile_command, prepare_source
        except ImportError:
            compiled = note == "compiled"
            reason = ("compiled only: no GPU here and the emulator (measure/emulator) is missing"
                      if compiled else "cannot verify: no GPU, no emulator and no vendor compiler")
            return RunOutcome("compiled" if compiled else "none", reason=reason)
        try:
            cpp_text = prepare_source(text, self.emulator_platform)
        except Exception as exc:  # the emulator's front end rejecting the code is a failed build
            return RunOutcome("emulated", reason=f"the emulator cannot prepare this source: {exc}",
                              failure=RunResult("exit", None, None, "", str(exc), 0.0, str(exc)))
        cpp = workdir / "emulated.cpp"
        cpp.write_text(cpp_text)
        exe = workdir / "emulated"
        r = run_isolated(compile_command(cpp, exe, self.emulator_platform), workdir, COMPILE_LIMITS)
        if not r.ok:
            return build_failure("the emulator build (g++)", r, "emulated")
        return run_and_collect(exe, workdir / "run", spec, limits, "emulated")


class CudaPlatform(GpuPlatform):
    name = "cuda"
    suffix = ".cu"
    emulator_platform = "cuda"

    def discover(self) -> dict[str, str]:
        return toolchain_summary()

    def compiler_check(self, full: Path, workdir: Path) -> tuple[Union[RunOutcome, None], str]:
        nvcc = find_nvcc()
        if nvcc is None:
            return None, "nvcc missing"
        r = run_isolated([nvcc.path, "-arch=sm_80", "-c", str(full), "-o", str(workdir / "check.o")],
                         workdir, COMPILE_LIMITS)
        if not r.ok:
            return build_failure("nvcc -arch=sm_80", r), "rejected"
        return None, "compiled"

    def device_build(self, full: Path, workdir: Path) -> Union[list[str], None]:
        nvcc = find_nvcc()
        if nvcc is None or nvidia_gpu() is None:
            return None
        return [nvcc.path, "-O2", "-arch=native", str(full), "-o", str(workdir / "kernel")]


class HipPlatform(GpuPlatform):
    name = "hip"
    suffix = ".hip"
    emulator_platform = "hip"

    def compiler_check(self, full: Path, workdir: Path) -> tuple[Union[RunOutcome, None], str]:
        hipcc = find_hipcc()
        if hipcc is None:
            return None, "hipcc missing"
        r = run_isolated([hipcc.path, "--offload-arch=gfx90a", "-x", "hip", "-c", str(full), "-o",
                          str(workdir / "check.o")], workdir, COMPILE_LIMITS, {"HIP_PLATFORM": "amd"})
        if not r.ok:
            return build_failure("hipcc --offload-arch=gfx90a", r), "rejected"
        return None, "compiled"


PLATFORMS: dict[str, Platform] = {"cpu": CpuPlatform(), "cuda": CudaPlatform(), "hip": HipPlatform()}


def get_platform(name: str) -> Platform:
    try:
        return PLATFORMS[name]
    except KeyError:
        raise KeyError(f"unknown platform {name!r}; known: {', '.join(PLATFORMS)}") from None
