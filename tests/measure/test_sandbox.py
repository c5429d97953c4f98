"""The sandbox turns every way an untrusted program can misbehave into a status, and survives it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from measure.sandbox import GiB, Limits, MiB, network_isolation_prefix, run_isolated

PROGRAMS = {
    "ok": 'int main(void){ puts("hello"); return 0; }',
    "exit3": "int main(void){ return 3; }",
    "segv": "int main(void){ volatile int *p = (int*)16; *p = 1; return 0; }",
    "hang": "int main(void){ volatile unsigned long i = 0; for (;;) i++; }",
    "malloc100g": ('int main(void){ char *p = malloc(100UL << 30); if (!p) { puts("AUTOTUNE_OOM"); '
                   "return 2; } p[0] = 1; return 0; }"),
    "oob": ("#include <sys/mman.h>\n"
            "int main(void){ long pg = 4096; char *b = mmap(0, 2*pg, PROT_READ|PROT_WRITE, "
            "MAP_PRIVATE|MAP_ANONYMOUS, -1, 0); mprotect(b + pg, pg, PROT_NONE); "
            "float *out = (float*)(b + pg) - 4; for (int i = 0; i <= 4; i++) out[i] = 1; return 0; }"),
    "spam": 'int main(void){ for (;;) printf("%s\\n", "spam spam spam spam spam spam spam"); }',
    "bigfile": ('int main(void){ FILE *f = fopen("big.bin", "wb"); static char buf[1 << 20]; '
                "for (int i = 0; i < 64; i++) fwrite(buf, 1, sizeof buf, f); fclose(f); return 0; }"),
    "env": 'int main(void){ const char *s = getenv("AUTOTUNE_SECRET"); printf("[%s][%s]\\n", '
           's ? s : "none", getenv("OMP_NUM_THREADS")); return 0; }',
    "forkhang": ("#include <unistd.h>\n"
                 "int main(void){ if (fork() == 0) { for (;;) sleep(1); } for (;;) sleep(1); }"),
}


@pytest.fixture(scope="module")
def exes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("progs")
    out = {}
    for name, body in PROGRAMS.items():
        src = d / f"{name}.c"
        src.write_text("#include <stdio.h>\n#include <stdlib.h>\n" + body + "\n")
        exe = d / name
        subprocess.run(["gcc", "-O0", "-o", str(exe), str(src)], check=True)
        out[name] = exe
    return out


def test_ok_captures_stdout(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["ok"])], tmp_path / "w")
    assert r.status == "ok" and r.returncode == 0 and r.stdout == "hello\n"


def test_nonzero_exit(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["exit3"])], tmp_path / "w")
    assert r.status == "exit" and r.returncode == 3 and "code 3" in r.reason


def test_crash_names_signal(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["segv"])], tmp_path / "w")
    assert r.status == "crash" and r.signal == "SIGSEGV" and "out-of-bounds" in r.reason


def test_out_of_bounds_write_hits_guard_page(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["oob"])], tmp_path / "w")
    assert r.status == "crash" and r.signal == "SIGSEGV"


def test_hang_times_out_on_wall_clock(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["hang"])], tmp_path / "w", Limits(wall_seconds=1.0, cpu_seconds=30))
    assert r.status == "timeout" and "wall-clock" in r.reason and r.wall_s < 5


def test_hang_stopped_by_cpu_limit(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["hang"])], tmp_path / "w", Limits(wall_seconds=30, cpu_seconds=1))
    assert r.status == "timeout" and "CPU-time" in r.reason and r.wall_s < 10


def test_forked_children_are_killed_with_the_group(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["forkhang"])], tmp_path / "w", Limits(wall_seconds=1.0))
    assert r.status == "timeout"
    ps = subprocess.run(["pgrep", "-f", str(exes["forkhang"])], capture_output=True, text=True)
    assert ps.stdout.strip() == ""


def test_huge_allocation_is_memory(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["malloc100g"])], tmp_path / "w", Limits(memory_bytes=1 * GiB))
    assert r.status == "memory" and "address-space limit 1 GiB" in r.reason


def test_cxx_bad_alloc_is_memory(tmp_path: Path) -> None:
    src = tmp_path / "n.cc"
    src.write_text("#include <vector>\nint main(){ std::vector<char> v(100UL << 30); return v[1]; }\n")
    subprocess.run(["g++", "-O0", "-o", str(tmp_path / "n"), str(src)], check=True)
    r = run_isolated([str(tmp_path / "n")], tmp_path / "w", Limits(memory_bytes=1 * GiB))
    assert r.status == "memory"


def test_output_flood_is_cut(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["spam"])], tmp_path / "w", Limits(output_bytes=64 * 1024))
    assert r.status == "output-limit" and "64 KiB" in r.reason
    assert len(r.stdout) <= 64 * 1024


def test_huge_file_is_stopped(exes: dict[str, Path], tmp_path: Path) -> None:
    r = run_isolated([str(exes["bigfile"])], tmp_path / "w", Limits(file_bytes=4 * MiB))
    assert r.status == "output-limit" and r.signal == "SIGXFSZ" and "4 MiB" in r.reason
    assert (tmp_path / "w" / "big.bin").stat().st_size <= 4 * MiB


def test_environment_is_scrubbed(exes: dict[str, Path], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOTUNE_SECRET", "leak")
    r = run_isolated([str(exes["env"])], tmp_path / "w", Limits(threads=1))
    assert r.stdout.strip() == "[none][1]"


def test_missing_program_is_error(tmp_path: Path) -> None:
    r = run_isolated([str(tmp_path / "nope")], tmp_path / "w", isolate_network=False)
    assert r.status == "error"


def test_network_isolation_when_available(tmp_path: Path) -> None:
    if not network_isolation_prefix():
        pytest.skip("unshare -rn is not permitted here")
    code = "import socket; print(len(socket.if_nameindex()))"
    r = run_isolated([sys.executable, "-c", code], tmp_path / "w")
    assert r.network_isolated and r.status == "ok" and r.stdout.strip() == "1"  # only lo
