"""The command line as a user runs it: exit statuses, files written, messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _autotune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autotune.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=600)


def test_translate_writes_kernel_and_spec_and_verifies(tmp_path: Path) -> None:
    out = tmp_path / "relu.c"
    r = _autotune("translate", str(ROOT / "kernels/relu/relu.cu"), "--to", "cpu", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "VERIFIED (device" in r.stdout
    assert out.exists() and (tmp_path / "relu.c.toml").exists()
    again = _autotune("verify", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr


def test_translated_cuda_verifies_in_emulation(tmp_path: Path) -> None:
    out = tmp_path / "gemm.cu"
    r = _autotune("translate", str(ROOT / "kernels/gemm/gemm.c"), "--to", "cuda", "-o", str(out), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "VERIFIED (emulated" in r.stdout or "VERIFIED (device" in r.stdout
    assert _autotune("verify", str(out), cwd=tmp_path).returncode == 0


def test_missing_spec_says_what_to_write(tmp_path: Path) -> None:
    k = tmp_path / "k.c"
    k.write_text("void k(float* y) { y[0] = 1.0f; }")
    r = _autotune("translate", str(k), "--to", "cuda", cwd=tmp_path)
    assert r.returncode == 2
    assert "k.c.toml" in r.stderr and "entry" in r.stderr


def test_unsupported_construct_exit_status_names_it(tmp_path: Path) -> None:
    k = tmp_path / "k.c"
    k.write_text("void k(float* y, int n) {\n  for (int i = 0; i < n; i++) {\n    goto out;\n  }\nout:\n  y[0] = 1.0f;\n}\n")
    (tmp_path / "k.c.toml").write_text(
        'entry = "k"\n[dims]\nN = 4\n[[args]]\nname = "y"\ndtype = "f32"\nshape = ["N"]\nrole = "output"\n'
        '[[args]]\nname = "n"\ndtype = "i32"\nrole = "scalar"\nvalue = "N"\n[reference]\noperator = "relu"\n')
    r = _autotune("translate", str(k), "--to", "cuda", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert "goto" in r.stderr and "line 3" in r.stderr


def test_wrong_kernel_is_reported_not_verified(tmp_path: Path) -> None:
    src = (ROOT / "kernels/relu/relu.c").read_text().replace("_mm512_max_ps(v, zero)", "v")
    assert src != (ROOT / "kernels/relu/relu.c").read_text()
    k = tmp_path / "relu.c"
    k.write_text(src)
    (tmp_path / "relu.c.toml").write_text((ROOT / "kernels/relu/relu.c.toml").read_text())
    r = _autotune("verify", str(k), cwd=tmp_path)
    assert r.returncode == 1
    assert "NOT VERIFIED" in r.stderr


def test_platforms_lists_the_three_platforms(tmp_path: Path) -> None:
    r = _autotune("platforms", cwd=tmp_path)
    assert r.returncode == 0
    for name in ("cpu", "cuda", "hip"):
        assert f"\n{name}" in "\n" + r.stdout
