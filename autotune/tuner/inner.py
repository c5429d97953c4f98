"""The inner search: the parameters of one pass sequence, under a measurement budget.

Call sequence of one round (each step is a plain function so that Ray tasks can wrap it later:
``generate`` and ``prepare`` in parallel, ``measure`` one at a time per device):

1. ``generate``: ``batch`` candidates of the sequence, fresh samples and mutations of the best
   measured so far (exploitation around a good point, as in TVM's evolutionary search).
2. ``prepare``: print each candidate, drop those whose canonical program hash was seen in this
   search or whose code hash (or program hash) the store already measured (``autotune resume``
   never measures a program twice), compute the cost-model features.
3. ``choose``: the cost model's top ``measure_top`` plus ``round(explore * measure_top)`` drawn
   at random from the rest (a model trained on few points is confidently wrong; exploration is
   what lets it recover).
4. ``measure`` (verify, then time, ``measure.timing.measure_kernel``) and ``record`` every
   result in the store, failures included with their reason; a failed verification never
   becomes the best.
5. The ranking report of the model on the round's measurements is taken *before* the model is
   updated with them (honest out-of-sample figures), then ``cost_model.update``.

Rounds repeat until ``budget`` measurements are spent, or until ``MAX_STALLS`` rounds in a row
produce nothing new (a small space is exhausted: the result says so).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import tempfile
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

import numpy as np
from sqlalchemy import select

from autotune.records.schema import Candidate as CandidateRow
from autotune.records.schema import Measurement as MeasurementRow
from autotune.records.store import RecordStore, sha256
from cost_model.base import CostModel
from cost_model.features import extract
from cost_model.metrics import ranking_report
from measure.spec import KernelSpec
from measure.timing import Timing, TimingOptions, measure_kernel
from passes import ir
from passes.printer import print_module
from passes.schedule import PASSES
from search_space.dedup import program_hash
from search_space.grammar import encode
from search_space.mutate import mutate
from search_space.params import Candidate, Failure, replay, sample_or_failure

log = logging.getLogger(__name__)

#: Consecutive rounds without a new candidate after which the space counts as exhausted.
MAX_STALLS = 3
#: Share of a batch drawn by mutating the best so far (once one exists).
MUTATE_SHARE = 0.5


@dataclass(frozen=True)
class Proposal:
    """A candidate ready to be ranked and measured: its code, hashes and features."""

    candidate: Candidate
    origin: str  # "sample" | "mutate"
    code: str
    code_hash: str
    program_hash: str
    features: np.ndarray

    @property
    def passes(self) -> list[list[Any]]:
        return [[name, dict(p)] for name, p in self.candidate.steps]


@dataclass
class InnerResult:
    """What one inner search found. ``failure`` is set when the sequence produced no candidate
    at all (its passes cannot apply), ``exhausted`` when the space ran dry before the budget."""

    sequence: tuple[str, ...]
    best_s: Union[float, None] = None
    best_code: Union[str, None] = None
    best_passes: Union[list[list[Any]], None] = None
    measured: int = 0
    failed: int = 0
    history: list[tuple[int, float]] = field(default_factory=list)
    reports: list[dict[str, float]] = field(default_factory=list)
    failure: Union[str, None] = None
    exhausted: bool = False
    generation_failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.best_s is not None


@dataclass
class _Prior:
    """What the store already holds for this workload (resume)."""

    code_hashes: set[str]
    program_hashes: set[str]
    best_s: Union[float, None] = None
    best_code: Union[str, None] = None
    best_passes: Union[list[list[Any]], None] = None


# ------------------------------------------------------------------------------------ steps


def generate(fn: ir.Function, sequence: Sequence[str], parent: Union[Candidate, None], n: int,
             rng: random.Random) -> tuple[list[tuple[Candidate, str]], list[Failure]]:
    """``n`` attempts at candidates: mutations of ``parent`` (about ``MUTATE_SHARE``), fresh
    samples otherwise. Returns the candidates with their origin, and the failures."""
    out: list[tuple[Candidate, str]] = []
    failures: list[Failure] = []
    n_mutate = int(round(n * MUTATE_SHARE)) if parent is not None and parent.sequence else 0
    for k in range(n):
        got: Union[Candidate, Failure]
        if k < n_mutate:
            assert parent is not None
            got, origin = mutate(fn, parent, rng), "mutate"
        else:
            got, origin = sample_or_failure(fn, sequence, rng), "sample"
        if isinstance(got, Candidate):
            out.append((got, origin))
        else:
            failures.append(got)
    return out, failures


def program_code(module: ir.Module, fn: ir.Function, target: str) -> str:
    """The translation unit with ``fn`` in place of the function of the same name."""
    return print_module(module.with_function(fn), target)


def prepare(module: ir.Module, generated: Sequence[tuple[Candidate, str]], target: str,
            dims: Mapping[str, Union[int, float]], seen_programs: set[str],
            seen_codes: set[str]) -> list[Proposal]:
    """Proposals for the candidates not seen before; adds the new hashes to the seen sets."""
    out: list[Proposal] = []
    for cand, origin in generated:
        full = module.with_function(cand.fn)
        ph = program_hash(full, target)
        if ph in seen_programs:
            continue
        code = print_module(full, target)
        ch = sha256(code)
        if ch in seen_codes:
            seen_programs.add(ph)
            continue
        seen_programs.add(ph)
        seen_codes.add(ch)
        feats = extract(cand.fn, dims=dims, passes=cand.sequence)
        out.append(Proposal(cand, origin, code, ch, ph, feats))
    return out


def choose(scores: np.ndarray, n_top: int, n_explore: int, rng: random.Random) -> list[tuple[int, str]]:
    """Indices to measure with why: the ``n_top`` best scores, then ``n_explore`` at random."""
    order = [int(i) for i in np.argsort(-np.asarray(scores), kind="stable")]
    top = order[:max(0, n_top)]
    rest = order[len(top):]
    explore = rng.sample(rest, min(max(0, n_explore), len(rest)))
    return [(i, "model") for i in top] + [(i, "explore") for i in explore]


def measure(proposal: Proposal, spec: KernelSpec, target: str, options: TimingOptions) -> Timing:
    """Verify then time one proposal in a private directory that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="autotune-inner-") as wd:
        return measure_kernel(proposal.code, target, spec, options=options, workdir=wd)


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def record(store: RecordStore, workload_id: int, proposal: Proposal, timing: Timing, target: str,
           options: TimingOptions, extra: Mapping[str, Any]) -> int:
    """Store the proposal and its measurement (failures too, with their reason)."""
    cand = proposal.candidate
    mode = timing.verdict.mode if timing.verdict is not None else "none"
    provenance = {
        "search": "inner", "sequence": encode(cand.sequence), "origin": proposal.origin,
        "program_hash": proposal.program_hash, "timing_options": dataclasses.asdict(options),
        "attempts": timing.attempts, "cores": list(timing.cores),
        "details": {k: _json_safe(v) for k, v in timing.details.items()},
        **{k: _json_safe(v) for k, v in extra.items()}}
    measurement = {
        "ok": bool(timing.ok), "verification": mode, "platform": target,
        "median_s": timing.median_s if timing.ok else None,
        "spread": timing.spread if timing.ok else None,
        "samples_s": list(timing.samples_s), "inner": timing.inner, "noisy": timing.noisy,
        "threads": timing.threads, "error": None if timing.ok else (timing.reason or "failed"),
        "provenance": provenance}
    params = {"sequence": encode(cand.sequence), "steps": [dict(p) for p in cand.params],
              "program_hash": proposal.program_hash}
    return store.record(workload_id, code=proposal.code, passes=proposal.passes, params=params,
                        measurement=measurement)


def prior_records(store: RecordStore, workload_id: int, sequence: Sequence[str]) -> _Prior:
    """Hashes of everything measured for the workload, and the best verified result of this
    sequence (a resumed search continues from it)."""
    key = encode(tuple(sequence))
    prior = _Prior(store.measured_hashes(workload_id), set())
    with store.session() as s:
        rows = s.execute(select(CandidateRow.params, CandidateRow.code, CandidateRow.passes,
                                MeasurementRow.ok, MeasurementRow.median_s)
                         .join(MeasurementRow)
                         .where(CandidateRow.workload_id == workload_id)).all()
    for params, code, passes, ok, median in rows:
        params = params or {}
        if isinstance(params.get("program_hash"), str):
            prior.program_hashes.add(params["program_hash"])
        if (params.get("sequence") == key and ok and median is not None
                and (prior.best_s is None or median < prior.best_s)):
            prior.best_s, prior.best_code, prior.best_passes = float(median), code, list(passes)
    return prior


# ------------------------------------------------------------------------------------ driver


def inner_search(fn: ir.Function, module: ir.Module, spec: KernelSpec, sequence: Sequence[str], *,
                 target: str = "cpu", budget: int, store: RecordStore, workload_id: int,
                 cost_model: CostModel, rng: random.Random, batch: int = 16, measure_top: int = 4,
                 explore: float = 0.25, options: TimingOptions) -> InnerResult:
    """Tune the parameters of ``sequence`` on ``fn`` (a function of ``module``) with at most
    ``budget`` measurements; see the module docstring for the rounds. Never raises for a
    sequence that cannot apply or a candidate that fails: the result says why."""
    if budget < 0 or batch < 1 or measure_top < 0 or not 0.0 <= explore <= 1.0:
        raise ValueError("need budget >= 0, batch >= 1, measure_top >= 0 and 0 <= explore <= 1")
    if measure_top + int(round(explore * measure_top)) < 1:
        raise ValueError("measure_top must be at least 1: each round must measure something")
    seq = tuple(sequence)
    result = InnerResult(seq)
    unknown = [p for p in seq if p not in PASSES]
    if unknown:
        result.failure = f"unknown pass {unknown[0]!r}; known: {sorted(PASSES)}"
        return result
    dims = spec.scalar_values()
    wkey = str(workload_id)
    prior = prior_records(store, workload_id, seq)
    seen_programs, seen_codes = set(prior.program_hashes), set(prior.code_hashes)
    parent: Union[Candidate, None] = None
    if prior.best_s is not None and prior.best_passes is not None:
        result.best_s, result.best_code, result.best_passes = (
            prior.best_s, prior.best_code, prior.best_passes)
        again = replay(fn, seq, [p for _, p in prior.best_passes])
        parent = again if isinstance(again, Candidate) else None
    n_explore = int(round(explore * measure_top))
    stalls = 0
    round_no = 0
    while result.measured < budget:
        round_no += 1
        generated, failures = generate(fn, seq, parent, batch, rng)
        result.generation_failures += [f.reason for f in failures]
        if not generated and parent is None and result.measured == 0 and failures:
            result.failure = f"no candidate of {encode(seq)}: {failures[-1].reason}"
            log.info("inner search %s: %s", encode(seq), result.failure)
            return result
        proposals = prepare(module, generated, target, dims, seen_programs, seen_codes)
        if not proposals:
            stalls += 1
            if stalls >= MAX_STALLS:
                result.exhausted = True
                break
            continue
        stalls = 0
        x = np.vstack([p.features for p in proposals])
        scores = cost_model.predict(x)
        left = budget - result.measured
        picks = choose(scores, min(measure_top, left), min(n_explore, left - min(measure_top, left)), rng)
        times: list[float] = []
        for i, why in picks:
            prop = proposals[i]
            timing = measure(prop, spec, target, options)
            record(store, workload_id, prop, timing, target, options,
                   {"round": round_no, "selected_by": why, "predicted_score": float(scores[i])})
            result.measured += 1
            ok = timing.ok and timing.median_s > 0
            times.append(timing.median_s if ok else math.inf)
            if not ok:
                result.failed += 1
                log.info("candidate failed (%s): %s", prop.candidate.describe(), timing.reason)
            elif result.best_s is None or timing.median_s < result.best_s:
                result.best_s, result.best_code, result.best_passes = (
                    timing.median_s, prop.code, prop.passes)
                parent = prop.candidate
            result.history.append((result.measured, result.best_s if result.best_s is not None
                                   else math.inf))
        chosen = [i for i, _ in picks]
        report = ranking_report(scores[chosen], times)
        report["round"] = float(round_no)
        result.reports.append(report)
        log.info("inner search %s round %d: %s", encode(seq), round_no, report)
        cost_model.update(x[chosen], times, wkey)
    return result
