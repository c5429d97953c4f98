"""Helpers shared by the sub-commands: locating a kernel's spec and reporting verdicts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Union

from measure.platforms import Verdict
from measure.spec import KernelSpec, SpecError, load_spec, platform_of, spec_path_for

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNSUPPORTED = 0, 1, 2, 3


def load_kernel(kernel: str, spec_file: Union[str, None]) -> tuple[Path, str, KernelSpec, str]:
    """(path, source text, spec, platform) of a kernel file; raises SpecError with advice."""
    path = Path(kernel)
    if not path.is_file():
        raise SpecError(f"kernel file {kernel} does not exist")
    platform = platform_of(path)
    spec = load_spec(Path(spec_file) if spec_file else spec_path_for(path))
    return path, path.read_text(), spec, platform


def report_verdict(verdict: Verdict, what: str) -> int:
    """Print a verdict the way every command does and return the exit status."""
    if verdict.ok:
        err = verdict.max_abs_error
        extra = f", max abs error {err:.3g}" if err is not None else ""
        print(f"{what}: VERIFIED ({verdict.mode}{extra})")
        if verdict.mode == "compiled":
            print("  note: the target compiler accepted the code; nothing here could run it")
        return EXIT_OK
    print(f"{what}: NOT VERIFIED ({verdict.mode}): {verdict.reason}", file=sys.stderr)
    return EXIT_FAILED
