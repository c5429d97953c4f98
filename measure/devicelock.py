"""One timed run at a time per device, across processes.

Why a file lock: several tuner processes (and Ray workers) share a machine; two kernels timed at
once on one device measure each other. Builds and untimed verification runs do not take it.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def lock_path(device: str) -> Path:
    root = Path(os.environ.get("AUTOTUNE_LOCK_DIR", tempfile.gettempdir()))
    return root / f"autotune-measure-{device}.lock"


@contextmanager
def exclusive(device: str) -> Iterator[None]:
    """Hold the measurement lock of ``device`` (``cpu``, ``cuda``...) for the block."""
    path = lock_path(device)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
