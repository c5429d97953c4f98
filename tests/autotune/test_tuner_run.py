"""``autotune run / resume / status / best`` as a user runs them (real translation, real
measurements with tiny timing options), a SIGKILL in the middle of a run, and the stale-trial
handling of the outer study on its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState
from sqlalchemy import func, select

from autotune.records.schema import Candidate as CandidateRow
from autotune.records.schema import Measurement as MeasurementRow
from autotune.records.store import RecordStore
from autotune.tuner.outer import fail_stale_trials, storage_for

ROOT = Path(__file__).resolve().parents[2]
GEMM = str(ROOT / "kernels/gemm/gemm.cu")
FAST = ("--min-repeat-ms", "2", "--repeats", "5", "--processes", "1")


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "autotune.cli", *args]


def _autotune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(_cmd(*args), cwd=cwd, text=True, capture_output=True, timeout=300, env=env)


def _study(wd: Path) -> optuna.Study:
    cfg = json.loads((wd / "run.json").read_text())
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=cfg["study_name"], storage=storage_for(cfg["storage"]))


def _complete(wd: Path) -> int:
    return len(_study(wd).get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _store_facts(wd: Path) -> tuple[int, int, int, float | None]:
    """(candidates, distinct code hashes, measurements, best median) over every workload."""
    with RecordStore.for_workdir(wd, create=False) as store:
        with store.session() as s:
            n_cand = s.scalar(select(func.count(CandidateRow.id))) or 0
            n_hash = s.scalar(select(func.count(func.distinct(CandidateRow.code_hash)))) or 0
            n_meas = s.scalar(select(func.count(MeasurementRow.id))) or 0
        rows = store.summary()
    bests = [r["best_s"] for r in rows if r["best_s"] is not None]
    return n_cand, n_hash, n_meas, (min(bests) if bests else None)


def test_run_status_best_and_verify(tmp_path: Path) -> None:
    r = _autotune("run", GEMM, "--to", "cpu", "--trials", "3", "--budget", "2", "--workdir", "wd",
                  *FAST, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    wd = tmp_path / "wd"
    cfg = json.loads((wd / "run.json").read_text())
    assert cfg["target"] == "cpu" and cfg["trials"] == 3 and cfg["budget"] == 2
    assert cfg["storage"].startswith("sqlite:///") and cfg["choices"][0] == "none"
    assert (wd / cfg["translated"]).is_file() and (wd / cfg["translated_spec"]).is_file()
    assert [ln for ln in r.stdout.splitlines() if ln.startswith("trial ")][0].split()[2] == "none"
    assert len([ln for ln in r.stdout.splitlines() if ln.startswith("trial ")]) == 3
    assert "over the untransformed translation" in r.stdout

    s = _autotune("status", "wd", cwd=tmp_path)
    assert s.returncode == 0, s.stderr
    assert "trials: 3/3 complete" in s.stdout and "measurements: " in s.stdout
    assert _complete(wd) == 3

    b = _autotune("best", "wd", "-o", "best.c", cwd=tmp_path)
    assert b.returncode == 0, b.stderr
    assert (tmp_path / "best.c").is_file() and (tmp_path / "best.c.toml").is_file()
    v = _autotune("verify", "best.c", cwd=tmp_path)
    assert v.returncode == 0, v.stdout + v.stderr

    again = _autotune("run", GEMM, "--to", "cpu", "--workdir", "wd", cwd=tmp_path)
    assert again.returncode == 2 and "autotune resume" in again.stderr


def test_gpu_target_without_device_is_a_clear_error(tmp_path: Path) -> None:
    from measure.toolchain import nvidia_gpu

    if nvidia_gpu():
        pytest.skip("a GPU is present: cuda runs are allowed")
    r = _autotune("run", str(ROOT / "kernels/gemm/gemm.c"), "--to", "cuda", "--workdir", "wd",
                  cwd=tmp_path)
    assert r.returncode == 2 and "needs a cuda device" in r.stderr
    assert not (tmp_path / "wd" / "run.json").exists()


def test_sigkill_then_resume_reaches_the_count_without_remeasuring(tmp_path: Path) -> None:
    wd = tmp_path / "wd"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_cmd("run", GEMM, "--to", "cpu", "--trials", "6", "--budget", "3",
                                 "--workdir", str(wd), *FAST),
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (wd / "run.json").exists() and (wd / "autotune.db").exists():
                try:
                    if _complete(wd) >= 2:  # the baseline and one tuned trial
                        break
                except Exception:  # the study is being created
                    pass
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed: " + (
            proc.stdout.read() if proc.stdout else "")
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
    done_before = _complete(wd)
    assert 2 <= done_before < 6
    _, _, _, best_before = _store_facts(wd)
    assert best_before is not None

    r = _autotune("resume", str(wd), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    study = _study(wd)
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(TrialState.COMPLETE) == 6
    assert TrialState.RUNNING not in states
    n_cand, n_hash, n_meas, best_after = _store_facts(wd)
    assert n_cand == n_hash == n_meas, "a candidate was measured twice"
    assert best_after is not None and best_after <= best_before
    s = _autotune("status", str(wd), cwd=tmp_path)
    assert "trials: 6/6 complete, 0 running" in s.stdout


def test_fail_stale_trials_fails_and_reenqueues(tmp_path: Path) -> None:
    storage = storage_for(f"sqlite:///{tmp_path / 's.db'}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, study_name="s")
    dist = {"sequence": CategoricalDistribution(["none", "split", "split>vectorize"])}
    t = study.ask(dist)  # type: ignore[arg-type]
    seq = t.params["sequence"]
    assert fail_stale_trials(study, storage) == [t.number]
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state == TrialState.FAIL
    assert trials[1].state == TrialState.WAITING and trials[1].system_attrs["fixed_params"] == {"sequence": seq}
    again = study.ask(dist)  # type: ignore[arg-type]
    assert again.params["sequence"] == seq
    assert fail_stale_trials(study, storage) == [again.number]
