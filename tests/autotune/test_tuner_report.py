"""``autotune report``: a tiny real tuning run, then the HTML page it writes; the rendering of
failures and rounds on hand-made data; a missing work directory."""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from autotune.tuner.report import MeasuredRow, RunReport, TrialRow, render
from autotune.tuner.run import RunConfig

ROOT = Path(__file__).resolve().parents[2]
GEMM = str(ROOT / "kernels/gemm/gemm.cu")
FAST = ("--min-repeat-ms", "2", "--repeats", "5", "--processes", "1")
SECTIONS = ("Run", "Convergence", "Trials", "Best program", "Cost model", "Failures")


def _autotune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "autotune.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, env=env)


def test_report_of_a_real_run(tmp_path: Path) -> None:
    r = _autotune("run", GEMM, "--to", "cpu", "--trials", "3", "--budget", "5", "--workdir", "wd",
                  *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = _autotune("report", "wd", cwd=tmp_path)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    page = (tmp_path / "wd" / "report.html").read_text()
    assert "data:image/png;base64," in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    for word in SECTIONS:
        assert f"<h2>{word}</h2>" in page
    best = _autotune("best", "wd", cwd=tmp_path).stdout
    assert best.strip() and html.escape(best) in page  # the best program, escaped
    cfg = json.loads((tmp_path / "wd" / "run.json").read_text())
    assert cfg["translated"] in page and "large" in page
    assert "<tr><td>0</td><td>COMPLETE</td><td>none</td>" in page  # baseline trial row
    assert page.count("<td>COMPLETE</td>") == 3
    assert "over the baseline (trial 0" in page
    assert "chosen by the model:" in page and "pairwise accuracy" in page
    assert "failed candidates: " in page

    other = tmp_path / "out" / "r.html"
    again = _autotune("report", "wd", "-o", str(other), cwd=tmp_path)
    assert again.returncode == 0 and other.is_file()


def test_missing_workdir_is_exit_2(tmp_path: Path) -> None:
    r = _autotune("report", "nope", cwd=tmp_path)
    assert r.returncode == 2 and "nope" in r.stderr and "no run" in r.stderr
    (tmp_path / "empty").mkdir()
    r = _autotune("report", "empty", cwd=tmp_path)
    assert r.returncode == 2 and "not an autotune work directory" in r.stderr


def test_render_failures_and_rounds() -> None:
    cfg = RunConfig(kernel="/k/g.cu", spec="/k/g.cu.toml", source="cuda", target="cpu",
                    shape="large", seed=0, trials=2, budget=3, storage="sqlite:///x",
                    translated="g.from_cuda.c", translated_spec="g.from_cuda.c.toml", entry="g",
                    workload_key="k", study_name="s", choices=["none", "split"])
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rep = RunReport(Path("wd"), cfg, trials=[
        TrialRow(0, "COMPLETE", "none", 2e-3, 1, None, t0),
        TrialRow(1, "COMPLETE", "split", 1e-3, 3, None, t0 + dt.timedelta(seconds=1))])

    def m(i: int, seq: str, t: float | None, pred: float, why: str, trial: int) -> MeasuredRow:
        return MeasuredRow(i, seq, t is not None, t, None if t else "wrong <result>", 1, why, pred,
                           t0, trial)

    rep.measurements = [m(1, "none", 2e-3, 0.0, "model", 0), m(2, "split", 1e-3, 0.9, "model", 1),
                        m(3, "split", 1.5e-3, 0.5, "model", 1), m(4, "split", None, 0.1, "explore", 1)]
    rounds = rep.rounds()
    assert [(r.trial, r.n, r.model, r.explore) for r in rounds] == [(0, 1, 1, 0), (1, 3, 2, 1)]
    assert math.isnan(rounds[0].pairwise) and rounds[1].pairwise == 1.0
    page = render(rep, None)
    assert "failed candidates: 1" in page and "wrong &lt;result&gt;" in page
    assert "chosen by the model: 3; by exploration: 1" in page and "<td>100%</td>" in page
    assert "no verified candidate" in page
