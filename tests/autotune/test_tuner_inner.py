"""The inner search on the corpus GEMM: real measurements (small budgets) and, for the failure
paths, a fake ``measure`` step so that the search logic is tested without timing noise."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from sqlalchemy import select

from autotune.records.schema import Candidate as CandidateRow
from autotune.records.schema import Measurement as MeasurementRow
from autotune.records.store import RecordStore, sha256
from autotune.tuner import inner
from autotune.tuner.inner import Proposal, choose, inner_search
from cost_model import make_cost_model
from measure.platforms import Verdict
from measure.spec import KernelSpec, load_spec, spec_to_dict
from measure.timing import Timing, TimingOptions
from passes import ir
from passes.frontend import parse_module

ROOT = Path(__file__).resolve().parents[2]
SRC = (ROOT / "kernels/gemm/gemm.c").read_text()
FAST = TimingOptions(min_repeat_ms=2, repeats=5, processes=1)
SEQ = ("split", "vectorize")


@pytest.fixture()
def gemm() -> tuple[ir.Module, ir.Function, KernelSpec]:
    module = parse_module(SRC, "cpu")
    return module, module.function("gemm"), load_spec(ROOT / "kernels/gemm/gemm.c.toml")


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[RecordStore]:
    with RecordStore.for_workdir(tmp_path) as s:
        yield s


def _workload(store: RecordStore, spec: KernelSpec) -> int:
    return store.workload(source_text=SRC, spec=spec_to_dict(spec), source_platform="cpu",
                          target_platform="cpu", operator="gemm")


def _rows(store: RecordStore, w: int) -> list[tuple[CandidateRow, MeasurementRow]]:
    with store.session() as s:
        return [(c, m) for c, m in s.execute(select(CandidateRow, MeasurementRow).join(MeasurementRow)
                                             .where(CandidateRow.workload_id == w)
                                             .order_by(MeasurementRow.id)).all()]


def test_spends_the_budget_records_everything_and_resumes_without_repeats(
        gemm: tuple[ir.Module, ir.Function, KernelSpec], store: RecordStore) -> None:
    module, fn, spec = gemm
    w = _workload(store, spec)
    kw = dict(target="cpu", store=store, workload_id=w, batch=8, measure_top=2, explore=0.5,
              options=FAST)
    res = inner_search(fn, module, spec, SEQ, budget=6, cost_model=make_cost_model("gbm"),
                       rng=random.Random(0), **kw)  # type: ignore[arg-type]
    assert res.failure is None and not res.exhausted
    assert res.measured == 6
    rows = _rows(store, w)
    assert len(rows) == 6
    ok = [(c, m) for c, m in rows if m.ok]
    assert ok, [m.error for _, m in rows]
    for c, m in rows:
        assert m.platform == "cpu" and m.provenance["sequence"] == "split>vectorize"
        assert [p[0] for p in c.passes] == list(SEQ) and c.params["steps"]
        assert m.provenance["selected_by"] in ("model", "explore")
        if m.ok:
            assert m.verification == "device" and (m.median_s or 0) > 0 and len(m.samples_s) >= 5
        else:
            assert m.error
    # the best is a verified measurement and no recorded success is faster
    assert res.best_s is not None and res.best_code is not None
    assert all(m.median_s is not None and res.best_s <= m.median_s for _, m in ok)
    assert any(c.code == res.best_code and m.median_s == res.best_s for c, m in ok)
    assert [i for i, _ in res.history] == list(range(1, 7))
    bests = [b for _, b in res.history]
    assert bests == sorted(bests, reverse=True) and bests[-1] == res.best_s
    assert len(res.reports) == 2 and all(r["n"] == 3 for r in res.reports)

    # resume: same store, same seed; nothing measured twice, the budget spent again
    again = inner_search(fn, module, spec, SEQ, budget=4, cost_model=make_cost_model("gbm"),
                         rng=random.Random(0), **kw)  # type: ignore[arg-type]
    assert again.measured == 4
    rows = _rows(store, w)
    assert len(rows) == 10
    assert len({c.code_hash for c, _ in rows}) == 10
    assert len({c.params["program_hash"] for c, _ in rows}) == 10
    # the resumed search starts from the stored best of this sequence
    assert again.best_s is not None and again.best_s <= res.best_s


def test_a_sequence_that_cannot_apply_is_a_clear_failure(
        gemm: tuple[ir.Module, ir.Function, KernelSpec], store: RecordStore) -> None:
    module, fn, spec = gemm
    w = _workload(store, spec)
    for seq, words in ((("fuse",), ("fuse", "no site")), (("split", "nosuchpass"), ("nosuchpass",))):
        res = inner_search(fn, module, spec, seq, budget=3, store=store, workload_id=w,
                           cost_model=make_cost_model("random"), rng=random.Random(1), options=FAST)
        assert res.failure is not None and all(x in res.failure for x in words), res.failure
        assert res.measured == 0 and res.best_s is None and not res.ok
    assert store.counts()["measurements"] == 0


def _fake_measure(fail_every: int) -> tuple[list[str], object]:
    seen: list[str] = []

    def fake(prop: Proposal, spec: KernelSpec, target: str, options: TimingOptions) -> Timing:
        seen.append(prop.code_hash)
        if len(seen) % fail_every == 0:
            return Timing(False, "wrong results: C[3] differs", verdict=Verdict(False, "device", "C[3]"))
        # deterministic "times": a hash-derived value, the failures would be the fastest
        t = 1e-3 * (1 + int(prop.code_hash[:6], 16) / 0xFFFFFF)
        return Timing(True, "", t, 0.01, [t] * 5, 10, verdict=Verdict(True, "device", ""))

    return seen, fake


def test_failed_verifications_are_recorded_and_never_best(
        gemm: tuple[ir.Module, ir.Function, KernelSpec], store: RecordStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    module, fn, spec = gemm
    w = _workload(store, spec)
    seen, fake = _fake_measure(fail_every=2)
    monkeypatch.setattr(inner, "measure", fake)
    res = inner_search(fn, module, spec, ("split", "reorder", "vectorize"), budget=10, store=store,
                       workload_id=w, cost_model=make_cost_model("gbm"), rng=random.Random(3),
                       batch=8, measure_top=3, explore=0.34, options=FAST)
    assert res.measured == 10 and res.failed == 5 and len(set(seen)) == 10
    rows = _rows(store, w)
    failed = [(c, m) for c, m in rows if not m.ok]
    assert len(failed) == 5
    assert all(m.error and "wrong results" in m.error and m.median_s is None for _, m in failed)
    assert res.best_code not in {c.code for c, _ in failed}
    assert res.best_s == min(m.median_s for _, m in rows if m.ok and m.median_s is not None)
    assert store.best(w) is not None and store.best(w)[1].median_s == res.best_s  # type: ignore[index]
    # the model got the successes only; the reports were taken per round
    assert len(res.reports) == 3 and sum(int(r["n"]) for r in res.reports) == 10


def test_a_small_space_is_exhausted_not_looped_on(
        gemm: tuple[ir.Module, ir.Function, KernelSpec], store: RecordStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    module, fn, spec = gemm
    w = _workload(store, spec)
    seen, fake = _fake_measure(fail_every=10**9)
    monkeypatch.setattr(inner, "measure", fake)
    # the untransformed program: one candidate only
    res = inner_search(fn, module, spec, (), budget=5, store=store, workload_id=w,
                       cost_model=make_cost_model("random"), rng=random.Random(0), options=FAST)
    assert res.measured == 1 and res.exhausted and res.ok
    assert seen == [sha256(res.best_code or "")]


def test_choose_takes_the_top_then_explores() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7, 0.2, 0.3])
    picks = choose(scores, 2, 2, random.Random(0))
    assert picks[:2] == [(1, "model"), (3, "model")]
    assert [w for _, w in picks[2:]] == ["explore", "explore"]
    assert len({i for i, _ in picks}) == 4
    everything = choose(scores, 10, 3, random.Random(0))
    assert len(everything) == 6 and everything[-1] == (0, "model")
