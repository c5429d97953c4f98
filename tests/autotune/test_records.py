"""The record store, against SQLite and a real PostgreSQL server: provenance round trip,
de-duplication, resume queries, JSONL export, concurrent writers in several processes, and a
writer killed with SIGKILL while it records (no partial records, nothing committed lost)."""

from __future__ import annotations

import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from autotune.records import RecordStore, StoreNotFound, default_url, sha256
from autotune.records.schema import Candidate, Measurement, Workload
from autotune.records.store import normalise_url

ROOT = Path(__file__).resolve().parents[2]

SRC = "__global__ void relu(const float* x, float* y, int n) { int i = threadIdx.x; y[i] = x[i] > 0 ? x[i] : 0; }"
SPEC = {"entry": "relu", "args": [{"name": "x", "dtype": "f32", "shape": ["N"]}], "dims": {"N": 1024}}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL: an SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield default_url(tmp_path / "work")
        return
    import psycopg

    base: str = request.getfixturevalue("postgres_url")
    name = f"autotune_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _meas(median: float | None = 1e-3, ok: bool = True, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"ok": ok, "verification": "device", "platform": "cpu", "median_s": median,
                         "spread": 0.01, "samples_s": [median] * 5 if median else [], "inner": 8,
                         "threads": 2}
    m.update(extra)
    return m


def _workload(store: RecordStore, shape: str = "default") -> int:
    return store.workload(source_text=SRC, spec=SPEC, source_platform="cuda", target_platform="cpu",
                          shape=shape, operator="relu")


def test_round_trip_with_provenance(store_url: str) -> None:
    prov = {"toolchain": {"gcc": "gcc (Debian 12.2.0-14) 12.2.0", "flags": ["-O3", "-march=native"]},
            "gpu": None}
    with RecordStore(store_url) as store:
        w = _workload(store)
        assert _workload(store) == w  # same kernel, spec, platforms and shape: same workload
        assert _workload(store, shape="large") != w
        cid = store.record(w, code="void relu_cpu() {}", passes=["loop_recovery", "parallelise"],
                           params={"tile": 32, "unroll": 4}, produced_by="llm", repaired=True, trial=7,
                           measurement=_meas(2.5e-4, provenance=prov))
        store.record(w, code="void broken() {}", passes=["detensorize"], params={},
                     measurement=_meas(None, ok=False, error="segfault at \x00 0x10", verification="none"))

    with RecordStore(store_url, create=False) as store, store.session() as s:  # reopened
        wl = s.get(Workload, w)
        assert wl is not None and wl.source_hash == sha256(SRC) and wl.spec == SPEC
        assert (wl.source_platform, wl.target_platform, wl.operator) == ("cuda", "cpu", "relu")
        c = s.get(Candidate, cid)
        assert c is not None
        assert c.code == "void relu_cpu() {}" and c.code_hash == sha256(c.code)
        assert c.passes == ["loop_recovery", "parallelise"] and c.params == {"tile": 32, "unroll": 4}
        assert (c.produced_by, c.repaired, c.trial) == ("llm", True, 7)
        (m,) = s.scalars(select(Measurement).where(Measurement.candidate_id == cid)).all()
        assert m.ok and m.verification == "device" and m.platform == "cpu"
        assert m.median_s == 2.5e-4 and m.samples_s == [2.5e-4] * 5 and m.inner == 8 and m.threads == 2
        assert m.provenance["toolchain"] == prov["toolchain"] and m.provenance["gpu"] is None
        assert m.provenance["host"] and m.provenance["cpus"] >= 1  # host facts added automatically
        failed = s.scalars(select(Measurement).where(Measurement.ok.is_(False))).one()
        assert failed.error is not None and failed.error.startswith("segfault at")
        assert failed.median_s is None and failed.verification == "none"


def test_same_code_twice_is_one_candidate_two_measurements(store_url: str) -> None:
    with RecordStore(store_url) as store:
        w = _workload(store)
        a = store.record(w, code="k1", passes=["p"], params={"t": 1}, measurement=_meas(3e-3))
        b = store.record(w, code="k1", passes=["p"], params={"t": 1}, measurement=_meas(2e-3))
        assert a == b
        other = _workload(store, shape="large")  # the same code for another workload is another candidate
        assert store.record(other, code="k1", passes=[], params={}, measurement=_meas()) != a
        assert store.counts() == {"workloads": 2, "candidates": 2, "measurements": 3}
        with store.session() as s:
            medians = s.scalars(select(Measurement.median_s).where(Measurement.candidate_id == a)
                                .order_by(Measurement.id)).all()
        assert medians == [3e-3, 2e-3]


def test_measured_and_best(store_url: str) -> None:
    with RecordStore(store_url) as store:
        w = _workload(store)
        assert store.best(w) is None and not store.measured(w, "slow")
        store.record(w, code="slow", passes=[], params={}, measurement=_meas(5e-3))
        fast = store.record(w, code="fast", passes=[], params={"v": 2}, measurement=_meas(1e-3))
        store.record(w, code="wrong-but-fastest", passes=[], params={},
                     measurement=_meas(1e-6, ok=False, error="mismatch at y[3]"))
        store.record(w, code="untimed", passes=[], params={}, measurement=_meas(None))
        assert store.measured(w, "slow") and store.measured(w, "wrong-but-fastest")
        assert not store.measured(w, "never seen")
        assert not store.measured(_workload(store, shape="other"), "slow")
        assert store.measured_hashes(w) == {sha256(c) for c in ("slow", "fast", "wrong-but-fastest", "untimed")}
        best = store.best(w)
        assert best is not None
        cand, meas = best
        assert cand.id == fast and cand.params == {"v": 2} and meas.median_s == 1e-3
        (row,) = [r for r in store.summary() if r["workload_id"] == w]
        assert (row["candidates"], row["measurements"], row["ok"]) == (4, 4, 3)
        assert row["best_s"] == 1e-3 and row["best_candidate"] == fast


def test_export_jsonl_contains_every_row(store_url: str) -> None:
    with RecordStore(store_url) as store:
        w = _workload(store)
        ids = [store.record(w, code=f"k{i % 3}", passes=["p", i], params={"i": i},
                            measurement=_meas(1e-3 * (i + 1), provenance={"flags": ["-O2"]}))
               for i in range(6)]
        buf = io.StringIO()
        n = store.export_jsonl(buf)
        counts = store.counts()
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert n == len(rows) == sum(counts.values()) == 1 + 3 + 6
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_type.setdefault(r["type"], []).append(r)
    assert [r["id"] for r in by_type["workload"]] == [w]
    assert by_type["workload"][0]["source_text"] == SRC and by_type["workload"][0]["spec"] == SPEC
    assert sorted(r["id"] for r in by_type["candidate"]) == sorted(set(ids))
    assert {r["code"] for r in by_type["candidate"]} == {"k0", "k1", "k2"}
    ms = by_type["measurement"]
    assert sorted(r["median_s"] for r in ms) == pytest.approx([1e-3 * (i + 1) for i in range(6)])
    assert all(r["provenance"]["flags"] == ["-O2"] and r["samples_s"] for r in ms)
    assert all(r["created_at"].endswith("+00:00") for r in rows)  # UTC, said so


def _autotune(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autotune.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120)


def test_cli_export_and_summary(store_url: str, tmp_path: Path) -> None:
    with RecordStore(store_url) as store:
        w = _workload(store)
        store.record(w, code="a", passes=[], params={}, measurement=_meas(2e-3))
        store.record(w, code="b", passes=[], params={}, measurement=_meas(4.5e-4))
    where = (["--storage", store_url] if store_url.startswith("postgres")
             else [str(Path(store_url.removeprefix("sqlite:///")).parent)])
    r = _autotune("records", "export", "--jsonl", *where, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["type"] for line in r.stdout.splitlines()] == \
        ["workload", "candidate", "candidate", "measurement", "measurement"]
    r = _autotune("records", "export", "--jsonl", *where, "-o", "out.jsonl", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 5
    r = _autotune("records", "summary", *where, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "1 workloads, 2 candidates, 2 measurements" in r.stdout
    assert "relu" in r.stdout and "450.000 us" in r.stdout


def test_cli_missing_store_is_a_clear_error(tmp_path: Path, store_url: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for action in (["summary"], ["export", "--jsonl"]):
        r = _autotune("records", *action, str(empty), cwd=tmp_path)
        assert r.returncode == 2 and "no record store at" in r.stderr, r.stderr
        assert not (empty / "autotune.db").exists()  # looking does not create one
    r = _autotune("records", "summary", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert r.returncode == 2 and "does not exist" in r.stderr
    if store_url.startswith("postgres"):  # a database without our tables
        r = _autotune("records", "summary", "--storage", store_url, cwd=tmp_path)
        assert r.returncode == 2 and "holds no autotune records" in r.stderr, r.stderr
        with pytest.raises(StoreNotFound):
            RecordStore(store_url, create=False)
    r = _autotune("records", "summary", "--storage", "postgresql://nobody:secret@127.0.0.1:1/none",
                  cwd=tmp_path)
    assert r.returncode == 2 and "cannot open the record store" in r.stderr
    assert "secret" not in r.stderr


# A writer process: records N candidates (N < 0: until killed), each a candidate + measurement in
# one transaction, and prints one JSON line per committed record. Even i record one of SHARED
# codes that every writer records too (a unique-constraint race); odd i a code of its own.
WRITER = r"""
import json, sys
from autotune.records import RecordStore
url, tag, n, shared, pad = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
if sys.argv[6] == "barrier":  # start together: say ready, wait for "go"
    print("ready", flush=True)
    sys.stdin.readline()
store = RecordStore(url)
w = store.workload(source_text=SRC, spec=SPEC, source_platform="cuda", target_platform="cpu",
                   operator="relu")
i = 0
while n < 0 or i < n:
    code = f"// shared {(i // 2) % shared}" if shared and i % 2 == 0 else f"// {tag} {i}\n" + "x" * pad
    median = 1e-6 * (i + 1) + hash(tag) % 1000 * 1e-12
    cid = store.record(w, code=code, passes=["p", tag], params={"i": i, "tag": tag},
                       measurement={"ok": True, "verification": "device", "platform": "cpu",
                                    "median_s": median, "samples_s": [median] * 20})
    print(json.dumps({"cid": cid, "i": i, "median": median}), flush=True)
    i += 1
""".replace("SRC", repr(SRC)).replace("SPEC", repr(SPEC))


def _writer(url: str, tag: str, n: int, shared: int = 0, pad: int = 0,
            barrier: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, url, tag, str(n), str(shared), str(pad),
                             "barrier" if barrier else "-"],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if barrier else subprocess.DEVNULL,
                            env={**os.environ, "PYTHONHASHSEED": "0"})


def _no_partial_records(store: RecordStore) -> None:
    with store.session() as s:
        orphans = s.scalar(select(func.count(Candidate.id)).where(
            ~select(Measurement.id).where(Measurement.candidate_id == Candidate.id).exists()))
        assert orphans == 0, f"{orphans} candidates without a measurement"
        if store.engine.dialect.name == "sqlite":
            assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"


def test_concurrent_writers_from_several_processes(store_url: str) -> None:
    procs, per, shared = 3, 240, 40
    # All start on a store that does not exist yet: creating the tables and the workload race too.
    writers = [_writer(store_url, f"w{k}", per, shared, barrier=True) for k in range(procs)]
    for p in writers:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    for p in writers:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=240) for p in writers]
    for p, (_out, err) in zip(writers, outs):
        assert p.returncode == 0, err[-3000:]
    reported = [json.loads(line) for out, _ in outs for line in out.splitlines()]
    assert len(reported) == procs * per
    with RecordStore(store_url, create=False) as store:
        assert store.counts() == {"workloads": 1, "candidates": shared + procs * per // 2,
                                  "measurements": procs * per}
        with store.session() as s:
            cids = set(s.scalars(select(Candidate.id)))
            per_shared = s.execute(select(Candidate.code, func.count(Measurement.id)).join(Measurement)
                                   .where(Candidate.code.like("// shared %")).group_by(Candidate.code)).all()
        assert {r["cid"] for r in reported} == cids
        assert len(per_shared) == shared
        assert all(n == procs * per // 2 // shared for _code, n in per_shared)
        _no_partial_records(store)


def test_kill_9_while_recording_loses_nothing_committed(store_url: str) -> None:
    rng = random.Random(1234)
    reported: list[dict[str, Any]] = []
    rounds = 3
    for rnd in range(rounds):
        p = _writer(store_url, f"r{rnd}", -1, pad=50_000)  # big rows: longer transactions to hit
        assert p.stdout is not None
        target = rng.randint(15, 40)
        got = 0
        while got < target:
            line = p.stdout.readline()
            assert line, f"writer died: {p.stderr.read() if p.stderr else ''}"
            reported.append(json.loads(line))
            got += 1
        time.sleep(rng.uniform(0.0, 0.02))
        p.send_signal(signal.SIGKILL)
        out, _err = p.communicate(timeout=30)
        assert p.returncode == -signal.SIGKILL
        reported += [json.loads(line) for line in out.splitlines()]  # printed before it died

    with RecordStore(store_url, create=False) as store:
        _no_partial_records(store)
        with store.session() as s:
            rows = {(cid, m) for cid, m in s.execute(select(Measurement.candidate_id, Measurement.median_s))}
            n_cands = s.scalar(select(func.count(Candidate.id))) or 0
        for r in reported:  # nothing committed is lost
            assert any(cid == r["cid"] and m == pytest.approx(r["median"], rel=1e-12) for cid, m in rows
                       if cid == r["cid"]), r
        # at most the record in flight per kill was committed without being reported
        assert len(reported) <= n_cands <= len(reported) + rounds
        assert len(rows) == n_cands
        # and the store still takes writes
        w = _workload(store)
        store.record(w, code="after", passes=[], params={}, measurement=_meas())
        assert store.measured(w, "after")


def test_postgres_url_forms() -> None:
    assert normalise_url("postgresql://u@h:5/db") == "postgresql+psycopg://u@h:5/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
