"""The tables of the record store (SQLAlchemy ORM).

- ``workloads``: what is being tuned: the source kernel (its hash and text), its spec, the
  target platform and shape. A workload's ``key`` hashes all of these, so the same kernel tuned
  for another shape or platform is another workload.
- ``candidates``: one generated program per row, unique per (workload, code hash): the pass
  sequence and parameters that produced it, which implementation produced it (rules or an LLM),
  whether it was repaired.
- ``measurements``: one verification + timing of a candidate, with its provenance (platform,
  toolchain versions and flags, CPU model and ISA features or GPU name, host), the verification
  mode, the median, the spread and the raw samples, or the error.

A candidate is always written together with its first measurement in one transaction, so a
``kill -9`` never leaves a candidate that claims to exist without its result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Workload(Base):
    __tablename__ = "workloads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    operator: Mapped[str | None] = mapped_column(String(128))
    source_platform: Mapped[str] = mapped_column(String(16))
    target_platform: Mapped[str] = mapped_column(String(16))
    shape: Mapped[str] = mapped_column(String(64), default="default")
    source_hash: Mapped[str] = mapped_column(String(64))
    source_text: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    candidates: Mapped[list[Candidate]] = relationship(back_populates="workload")


class Candidate(Base):
    __tablename__ = "candidates"
    __table_args__ = (UniqueConstraint("workload_id", "code_hash", name="uq_candidate_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workload_id: Mapped[int] = mapped_column(ForeignKey("workloads.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(Text)
    passes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    produced_by: Mapped[str] = mapped_column(String(32), default="rules")
    repaired: Mapped[bool] = mapped_column(Boolean, default=False)
    trial: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    workload: Mapped[Workload] = relationship(back_populates="candidates")
    measurements: Mapped[list[Measurement]] = relationship(back_populates="candidate")


class Measurement(Base):
    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id"), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    verification: Mapped[str] = mapped_column(String(16))  # device | emulated | compiled | none
    median_s: Mapped[float | None] = mapped_column(Float)
    spread: Mapped[float | None] = mapped_column(Float)
    samples_s: Mapped[list[float]] = mapped_column(JSON, default=list)
    inner: Mapped[int | None] = mapped_column(Integer)
    noisy: Mapped[bool] = mapped_column(Boolean, default=False)
    threads: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(16))
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    candidate: Mapped[Candidate] = relationship(back_populates="measurements")
