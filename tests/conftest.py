"""Shared fixtures: ``postgres_url``, a real PostgreSQL server for the tests that need one.

Where the server comes from, in order:
1. ``AUTOTUNE_TEST_POSTGRES_URL`` (``.ci/run`` starts a server and exports it);
2. ``scripts/start_postgres.sh``, run for this session in a temporary directory and stopped at its
   end, when the server binaries are installed (or in CI, where the script may install them);
3. otherwise the test is skipped with the reason; in CI (``CI=true``) it fails instead: there the
   records store must be tested against PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START_POSTGRES = ROOT / "scripts" / "start_postgres.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _server_binaries() -> bool:
    return bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or shutil.which("initdb") is not None


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"PostgreSQL is required in CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server: {reason} (set AUTOTUNE_TEST_POSTGRES_URL or install the "
                f"Debian package postgresql)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database the tests may use (trust auth on loopback)."""
    url = os.environ.get("AUTOTUNE_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    if not _server_binaries() and not (_in_ci() and os.geteuid() == 0):
        _unavailable("AUTOTUNE_TEST_POSTGRES_URL is not set and no server binaries are installed")
    # Directly under /tmp, not pytest's tmp_path: the `postgres` user must be able to reach it.
    pgdir = tempfile.mkdtemp(prefix="autotune-pg-")
    env = {**os.environ, "AUTOTUNE_PG_DIR": pgdir, "AUTOTUNE_PG_PORT": "54339"}
    r = subprocess.run(["bash", str(START_POSTGRES)], env=env, text=True, capture_output=True,
                       timeout=600)
    if r.returncode != 0 or not r.stdout.strip():
        shutil.rmtree(pgdir, ignore_errors=True)
        _unavailable(f"scripts/start_postgres.sh failed: {r.stderr.strip()[-800:]}")
    try:
        yield r.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(START_POSTGRES), "--stop"], env=env, capture_output=True,
                       timeout=120)
