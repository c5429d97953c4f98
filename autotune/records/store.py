"""The record store: one SQLAlchemy URL (SQLite file by default, PostgreSQL on clusters).

Why SQLAlchemy for both: the same code and the same transactions serve the embedded default and
a shared server. Every public write is one transaction: either all of it is committed or none of
it, so a ``kill -9`` at any moment loses at most the write in flight.

Several processes may write at once:

- SQLite runs in WAL mode (readers never block the writer). Write transactions start with
  ``BEGIN IMMEDIATE``, so a writer takes the file's write lock before it reads what it is about to
  change (no lost updates, no lock-upgrade deadlocks), and waits for the lock up to a busy timeout;
  a transaction that still meets ``database is locked`` is retried. ``synchronous=NORMAL`` in WAL
  mode keeps every committed transaction across a killed process; only an OS crash or a power cut
  may roll back the last few.
- PostgreSQL: two writers creating the same workload or candidate race on a unique constraint; the
  loser's transaction is rolled back and retried, and then finds the winner's row. Serialisation
  failures and deadlocks are retried the same way. Creating the tables is serialised with an
  advisory lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform as _platform
import random
import socket
import sqlite3
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Callable, Iterator, TypeVar, Union

from sqlalchemy import Engine, case, create_engine, event, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from autotune.records.schema import Base, Candidate, Measurement, Workload

DB_NAME = "autotune.db"
BUSY_TIMEOUT_S = 60.0
_RETRIES = 8
_PG_LOCK_KEY = 0x6175746F74756E65  # "autotune": the advisory lock that serialises create_all
_RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected

T = TypeVar("T")


class RecordStoreError(Exception):
    """The store cannot be used (missing, unreachable, not an autotune store)."""


class StoreNotFound(RecordStoreError):
    """No record store at this URL (and it was not to be created)."""


def default_url(workdir: Union[str, Path]) -> str:
    """The embedded default: an SQLite file in the work directory."""
    return f"sqlite:///{Path(workdir).resolve() / DB_NAME}"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` URLs use psycopg 3 (the only driver we depend on)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def workload_key(source_text: str, spec: dict[str, Any], source_platform: str, target: str,
                 shape: str) -> str:
    """Everything that changes what a candidate must compute and where it runs."""
    blob = json.dumps([sha256(source_text), spec, source_platform, target, shape], sort_keys=True)
    return sha256(blob)


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    if u.database.startswith("file:"):
        return None  # URI form: leave it to sqlite
    return Path(u.database)


def _engine(url: str) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)

    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides where transactions begin (see "begin").
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        for attempt in range(50):  # switching to WAL needs a moment of exclusive access
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 49:
                    raise
                time.sleep(0.05 + random.random() * 0.05)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _retryable(e: OperationalError) -> bool:
    if isinstance(e.orig, sqlite3.OperationalError):
        msg = str(e.orig)
        return "locked" in msg or "busy" in msg
    return getattr(e.orig, "sqlstate", None) in _RETRY_SQLSTATES


@lru_cache(maxsize=1)
def host_provenance() -> dict[str, Any]:
    """What every measurement on this machine shares: host, OS, CPU model and ISA features."""
    info: dict[str, Any] = {"host": socket.gethostname(), "os": _platform.platform(),
                            "machine": _platform.machine(), "cpus": os.cpu_count()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and "cpu_model" not in info:
            info["cpu_model"] = value.strip()
        elif key in ("flags", "Features") and "isa" not in info:
            wanted = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512", "amx", "vnni", "asimd", "sve")
            info["isa"] = sorted(f for f in value.split() if any(f.startswith(w) for w in wanted))
    return info


class RecordStore:
    """Workloads, candidates and measurements behind one storage URL.

    ``create=False`` opens an existing store only: a missing SQLite file or a database without
    the autotune tables raises :class:`StoreNotFound` instead of creating an empty store.
    """

    def __init__(self, url: str, *, create: bool = True):
        self.url = url
        path = _sqlite_file(normalise_url(url))
        if path is not None and not create and not path.is_file():
            raise StoreNotFound(f"no record store at {path}")
        if path is not None and create:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.engine = _engine(url)
        self._pid = os.getpid()
        self._is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_engine = (self.engine.execution_options(sqlite_begin="IMMEDIATE")
                              if self._is_sqlite else self.engine)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        try:
            if create:
                self._transaction(self._create_tables)
            elif not inspect(self.engine).has_table(Candidate.__tablename__):
                raise StoreNotFound(f"{self.safe_url} holds no autotune records")
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def for_workdir(cls, workdir: Union[str, Path], url: str | None = None, *,
                    create: bool = True) -> RecordStore:
        if create:
            Path(workdir).mkdir(parents=True, exist_ok=True)
        return cls(url or default_url(workdir), create=create)

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        return make_url(normalise_url(self.url)).render_as_string(hide_password=True)

    def _create_tables(self, s: Session) -> None:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        Base.metadata.create_all(s.connection())

    @contextmanager
    def session(self, write: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        if os.getpid() != self._pid:  # a forked child must not share the parent's connections
            self.engine.dispose(close=False)
            self._pid = os.getpid()
        with (self._write if write else self._read)() as s, s.begin():
            yield s

    def _transaction(self, fn: Callable[[Session], T], write: bool = True) -> T:
        """Run ``fn`` in one transaction, retrying it whole after a lost race or a busy lock."""
        for attempt in range(_RETRIES):
            last = attempt == _RETRIES - 1
            try:
                with self.session(write) as s:
                    return fn(s)
            except IntegrityError:
                if last:
                    raise
            except OperationalError as e:
                if last or not _retryable(e):
                    raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writes

    def workload(self, *, source_text: str, spec: dict[str, Any], source_platform: str,
                 target_platform: str, shape: str = "default", operator: str | None = None) -> int:
        """The id of this workload, created on first use (safe against concurrent creators)."""
        key = workload_key(source_text, spec, source_platform, target_platform, shape)

        def find_or_create(s: Session) -> int:
            found = s.scalar(select(Workload.id).where(Workload.key == key))
            if found is not None:
                return found
            w = Workload(key=key, operator=operator, source_platform=source_platform,
                         target_platform=target_platform, shape=shape,
                         source_hash=sha256(source_text), source_text=source_text, spec=spec)
            s.add(w)
            s.flush()
            return w.id

        return self._transaction(find_or_create)

    def record(self, workload_id: int, *, code: str, passes: list[Any], params: dict[str, Any],
               measurement: dict[str, Any], produced_by: str = "rules", repaired: bool = False,
               trial: int | None = None) -> int:
        """Store a candidate with its measurement in one transaction; returns the candidate id.
        A candidate already stored (same code for the same workload) gets the measurement added.

        ``measurement`` keys: ok, verification (device | emulated | compiled | none), platform,
        median_s, spread, samples_s, inner, noisy, threads, error, provenance (toolchain versions
        and flags, GPU name, ...; host, OS, CPU model and ISA features are added)."""
        code_hash = sha256(code)
        fields = _measurement_fields(measurement)

        def write(s: Session) -> int:
            cand_id = s.scalar(select(Candidate.id).where(Candidate.workload_id == workload_id,
                                                          Candidate.code_hash == code_hash))
            if cand_id is None:
                cand = Candidate(workload_id=workload_id, code_hash=code_hash, code=code,
                                 passes=passes, params=params, produced_by=produced_by,
                                 repaired=repaired, trial=trial)
                s.add(cand)
                s.flush()
                cand_id = cand.id
            s.add(Measurement(candidate_id=cand_id, **fields))
            return cand_id

        return self._transaction(write)

    # ------------------------------------------------------------------ reads

    def measured(self, workload_id: int, code: str) -> bool:
        """Whether a candidate with this code already has a measurement (resume never re-measures)."""
        with self.session() as s:
            found = s.scalar(select(Measurement.id).join(Candidate).where(
                Candidate.workload_id == workload_id, Candidate.code_hash == sha256(code)).limit(1))
            return found is not None

    def measured_hashes(self, workload_id: int) -> set[str]:
        """Code hashes of every measured candidate of a workload (one query for a whole resume)."""
        with self.session() as s:
            return set(s.scalars(select(Candidate.code_hash).join(Measurement).where(
                Candidate.workload_id == workload_id).distinct()))

    def best(self, workload_id: int) -> tuple[Candidate, Measurement] | None:
        """The fastest verified measurement of a workload and its candidate."""
        with self.session() as s:
            row = s.execute(select(Candidate, Measurement).join(Measurement).where(
                Candidate.workload_id == workload_id, Measurement.ok.is_(True),
                Measurement.median_s.is_not(None)).order_by(Measurement.median_s, Measurement.id)
                .limit(1)).first()
            return (row[0], row[1]) if row else None

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            return {"workloads": s.scalar(select(func.count(Workload.id))) or 0,
                    "candidates": s.scalar(select(func.count(Candidate.id))) or 0,
                    "measurements": s.scalar(select(func.count(Measurement.id))) or 0}

    def summary(self) -> list[dict[str, Any]]:
        """One row per workload: candidates, measurements (all and ok), the best time."""
        with self.session() as s:
            cands = {w: n for w, n in s.execute(select(Candidate.workload_id, func.count(Candidate.id))
                                                .group_by(Candidate.workload_id))}
            meas = {w: (n, ok or 0) for w, n, ok in s.execute(
                select(Candidate.workload_id, func.count(Measurement.id),
                       func.sum(case((Measurement.ok.is_(True), 1), else_=0)))
                .join(Measurement).group_by(Candidate.workload_id))}
            rows = []
            for w in s.scalars(select(Workload).order_by(Workload.id)):
                n_meas, n_ok = meas.get(w.id, (0, 0))
                rows.append({"workload_id": w.id, "operator": w.operator,
                             "source_platform": w.source_platform,
                             "target_platform": w.target_platform, "shape": w.shape,
                             "candidates": cands.get(w.id, 0), "measurements": n_meas,
                             "ok": int(n_ok), "best_s": None, "best_candidate": None})
        for row in rows:
            found = self.best(row["workload_id"])
            if found is not None:
                row["best_s"], row["best_candidate"] = found[1].median_s, found[0].id
        return rows

    def export_jsonl(self, out: IO[str]) -> int:
        """Write every record as one JSON object per line: workloads, then candidates, then
        measurements, each with every column and a ``type``; returns the number of lines."""
        n = 0
        with self.session() as s:
            models: tuple[tuple[Any, str], ...] = (
                (Workload, "workload"), (Candidate, "candidate"), (Measurement, "measurement"))
            for model, kind in models:
                columns = [c.key for c in inspect(model).column_attrs]
                for obj in s.scalars(select(model).order_by(model.id)
                                     .execution_options(yield_per=500)):
                    row: dict[str, Any] = {"type": kind}
                    for key in columns:
                        value = getattr(obj, key)
                        if isinstance(value, dt.datetime):  # SQLite drops the zone: it is UTC
                            value = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
                        row[key] = value
                    out.write(json.dumps(row) + "\n")
                    n += 1
        return n


_MEASUREMENT_KEYS = {"ok", "verification", "median_s", "spread", "samples_s", "inner", "noisy",
                     "threads", "error", "platform", "provenance"}


def _measurement_fields(m: dict[str, Any]) -> dict[str, Any]:
    unknown = set(m) - _MEASUREMENT_KEYS
    if unknown:
        raise ValueError(f"unknown measurement fields: {', '.join(sorted(unknown))}")
    missing = {"ok", "verification", "platform"} - set(m)
    if missing:
        raise ValueError(f"missing measurement fields: {', '.join(sorted(missing))}")
    out = dict(m)
    out["provenance"] = {**host_provenance(), **(out.get("provenance") or {})}
    if isinstance(out.get("error"), str):
        out["error"] = out["error"].replace("\x00", "\\0")  # PostgreSQL text cannot hold NUL
    return out
