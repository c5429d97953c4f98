"""The record store: one SQLAlchemy URL (SQLite file by default, PostgreSQL on clusters).

Why SQLAlchemy for both: the same code and the same transactions serve the embedded default and
a shared server. SQLite runs in WAL mode with a busy timeout so several local processes can write
(each transaction waits for the file lock instead of failing); PostgreSQL needs nothing special.
Every public write is one transaction: either all of it is on disk or none of it.
"""

from __future__ import annotations

import hashlib
import json
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterator, Union

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from autotune.records.schema import Base, Candidate, Measurement, Workload

DB_NAME = "autotune.db"


def default_url(workdir: Union[str, Path]) -> str:
    """The embedded default: an SQLite file in the work directory."""
    return f"sqlite:///{Path(workdir).resolve() / DB_NAME}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def workload_key(source_text: str, spec: dict[str, Any], source_platform: str, target: str,
                 shape: str) -> str:
    """Everything that changes what a candidate must compute and where it runs."""
    blob = json.dumps([sha256(source_text), spec, source_platform, target, shape], sort_keys=True)
    return sha256(blob)


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, atomic always
            cur.execute("PRAGMA busy_timeout=60000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return create_engine(url, pool_pre_ping=True)


class RecordStore:
    """Workloads, candidates and measurements behind one storage URL."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _engine(url)
        Base.metadata.create_all(self.engine)
        self._session = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def for_workdir(cls, workdir: Union[str, Path], url: str | None = None) -> RecordStore:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        return cls(url or default_url(workdir))

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._session() as s, s.begin():
            yield s

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ writes

    def workload(self, *, source_text: str, spec: dict[str, Any], source_platform: str,
                 target_platform: str, shape: str = "default", operator: str | None = None) -> int:
        """The id of this workload, created on first use (safe against concurrent creators)."""
        key = workload_key(source_text, spec, source_platform, target_platform, shape)
        for _ in range(3):
            with self.session() as s:
                found = s.scalar(select(Workload.id).where(Workload.key == key))
                if found is not None:
                    return found
            try:
                with self.session() as s:
                    w = Workload(key=key, operator=operator, source_platform=source_platform,
                                 target_platform=target_platform, shape=shape,
                                 source_hash=sha256(source_text), source_text=source_text, spec=spec)
                    s.add(w)
                    s.flush()
                    return w.id
            except IntegrityError:
                continue  # another process created it first: read it back
        raise RuntimeError("could not create or find the workload")

    def record(self, workload_id: int, *, code: str, passes: list[Any], params: dict[str, Any],
               measurement: dict[str, Any], produced_by: str = "rules", repaired: bool = False,
               trial: int | None = None) -> int:
        """Store a candidate with its measurement in one transaction; returns the candidate id.
        A candidate already stored (same code) gets the measurement added to it."""
        code_hash = sha256(code)
        try:
            with self.session() as s:
                cand = s.scalar(select(Candidate).where(Candidate.workload_id == workload_id,
                                                        Candidate.code_hash == code_hash))
                if cand is None:
                    cand = Candidate(workload_id=workload_id, code_hash=code_hash, code=code,
                                     passes=passes, params=params, produced_by=produced_by,
                                     repaired=repaired, trial=trial)
                    s.add(cand)
                    s.flush()
                s.add(Measurement(candidate_id=cand.id, **_measurement_fields(measurement)))
                return cand.id
        except IntegrityError:  # a concurrent writer stored the same code first
            with self.session() as s:
                cand = s.scalar(select(Candidate).where(Candidate.workload_id == workload_id,
                                                        Candidate.code_hash == code_hash))
                assert cand is not None
                s.add(Measurement(candidate_id=cand.id, **_measurement_fields(measurement)))
                return cand.id

    # ------------------------------------------------------------------ reads

    def measured(self, workload_id: int, code: str) -> bool:
        """Whether a candidate with this code already has a measurement (resume never re-measures)."""
        with self.session() as s:
            found = s.scalar(select(Measurement.id).join(Candidate).where(
                Candidate.workload_id == workload_id, Candidate.code_hash == sha256(code)).limit(1))
            return found is not None

    def best(self, workload_id: int) -> tuple[Candidate, Measurement] | None:
        with self.session() as s:
            row = s.execute(select(Candidate, Measurement).join(Measurement).where(
                Candidate.workload_id == workload_id, Measurement.ok.is_(True),
                Measurement.median_s.is_not(None)).order_by(Measurement.median_s).limit(1)).first()
            return (row[0], row[1]) if row else None

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            return {"workloads": len(s.scalars(select(Workload.id)).all()),
                    "candidates": len(s.scalars(select(Candidate.id)).all()),
                    "measurements": len(s.scalars(select(Measurement.id)).all())}

    def export_jsonl(self, out: IO[str]) -> int:
        """Write every record as one JSON object per line (workloads first); returns the count."""
        n = 0
        with self.session() as s:
            for w in s.scalars(select(Workload).order_by(Workload.id)):
                out.write(json.dumps({"type": "workload", "id": w.id, "key": w.key,
                                      "operator": w.operator, "source_platform": w.source_platform,
                                      "target_platform": w.target_platform, "shape": w.shape,
                                      "source_hash": w.source_hash, "spec": w.spec,
                                      "created_at": w.created_at.isoformat()}) + "\n")
                n += 1
            for c in s.scalars(select(Candidate).order_by(Candidate.id)):
                out.write(json.dumps({"type": "candidate", "id": c.id, "workload_id": c.workload_id,
                                      "code_hash": c.code_hash, "code": c.code, "passes": c.passes,
                                      "params": c.params, "produced_by": c.produced_by,
                                      "repaired": c.repaired, "trial": c.trial,
                                      "created_at": c.created_at.isoformat()}) + "\n")
                n += 1
            for m in s.scalars(select(Measurement).order_by(Measurement.id)):
                out.write(json.dumps({"type": "measurement", "id": m.id, "candidate_id": m.candidate_id,
                                      "ok": m.ok, "verification": m.verification,
                                      "median_s": m.median_s, "spread": m.spread,
                                      "samples_s": m.samples_s, "inner": m.inner, "noisy": m.noisy,
                                      "threads": m.threads, "error": m.error, "platform": m.platform,
                                      "provenance": m.provenance,
                                      "created_at": m.created_at.isoformat()}) + "\n")
                n += 1
        return n


_MEASUREMENT_KEYS = {"ok", "verification", "median_s", "spread", "samples_s", "inner", "noisy",
                     "threads", "error", "platform", "provenance"}


def _measurement_fields(m: dict[str, Any]) -> dict[str, Any]:
    unknown = set(m) - _MEASUREMENT_KEYS
    if unknown:
        raise ValueError(f"unknown measurement fields: {', '.join(sorted(unknown))}")
    out = dict(m)
    out.setdefault("provenance", {})
    out["provenance"] = {"host": socket.gethostname(), **out["provenance"]}
    return out
