"""The outer level: an Optuna study over pass sequences, one inner search per trial.

Call sequence (single process; the Ray version distributes the inner steps, not this loop):

1. ``open_study``: RDB storage on the run's storage URL (the SQLite file of the work directory
   by default, shared with the records), a seeded ``TPESampler``, the study named after the
   workload key. A new study gets the empty sequence enqueued as its first trial: the
   untransformed translation is the baseline every speedup is quoted against.
2. ``fail_stale_trials`` (resume): a process killed with SIGKILL leaves its trial RUNNING.
   Such trials are marked FAILED and their parameters enqueued again, so the sequence that was
   being tuned gets its trial back. Single-process assumption: at resume time nothing else runs
   on this study (the multi-node version will use RDB heartbeats instead).
3. ``optimize``: ask / inner search / tell until the study holds the requested number of
   COMPLETE trials (trials count the baseline trial too).

Failure policy: a sequence whose inner search yields no verified candidate (its passes cannot
apply, or every candidate failed verification) completes with the value ``+inf`` and the reason
in the trial's user attribute ``failure``. Why not ``TrialPruned`` or FAIL: both leave the trial
out of the COMPLETE count, so a run of N trials could loop on dead sequences; ``inf`` counts,
ranks the sequence last for TPE, and never becomes the best. An *exception* in the tuner itself
(a bug, Ctrl-C) marks the trial FAIL and propagates.

Resume never measures a candidate twice: ``inner_search`` skips every code and program hash the
store already holds, and a candidate is recorded with its measurement in one transaction.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Union

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from autotune.records.store import RecordStore
from autotune.tuner.inner import InnerResult, inner_search
from cost_model import make_cost_model
from cost_model.base import CostModel
from search_space.grammar import EMPTY, decode

if TYPE_CHECKING:  # run.py orchestrates this module; only the types are needed here
    from autotune.tuner.run import Program, RunConfig

PARAM = "sequence"
SQLITE_TIMEOUT_S = 60


@dataclass
class TrialReport:
    """One line of progress."""

    number: int
    sequence: str
    best_s: Union[float, None]
    best_so_far: Union[float, None]
    measured: int
    seconds: float
    failure: Union[str, None]

    def line(self) -> str:
        rate = self.measured / self.seconds if self.seconds > 0 else 0.0
        tail = f"  ({self.failure})" if self.failure else ""
        return (f"trial {self.number:3d}  {self.sequence:<34s} best of trial {fmt_s(self.best_s):>10s}"
                f"  best so far {fmt_s(self.best_so_far):>10s}  {self.measured} measured, "
                f"{rate:.2f}/s{tail}")


def fmt_s(seconds: Union[float, None]) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def storage_for(url: str) -> optuna.storages.RDBStorage:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    elif url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def open_study(config: RunConfig, *, create: bool) -> tuple[optuna.Study, optuna.storages.RDBStorage]:
    """The run's study; ``create`` also enqueues the baseline trial when the study is new."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_for(config.storage)
    sampler = optuna.samplers.TPESampler(seed=config.seed)
    if create:
        study = optuna.create_study(storage=storage, study_name=config.study_name, sampler=sampler,
                                    direction="minimize", load_if_exists=True)
        if not study.trials:
            study.enqueue_trial({PARAM: EMPTY}, user_attrs={"baseline": True})
    else:
        study = optuna.load_study(study_name=config.study_name, storage=storage, sampler=sampler)
    return study, storage


def fail_stale_trials(study: optuna.Study, storage: optuna.storages.RDBStorage) -> list[int]:
    """Mark RUNNING trials FAILED and enqueue their parameters again; returns their numbers."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        if PARAM in t.params:
            study.enqueue_trial({PARAM: t.params[PARAM]}, user_attrs={"requeued_from": t.number})
    return [t.number for t in stale]


def complete(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def best_value(study: optuna.Study) -> Union[float, None]:
    values = [t.value for t in complete(study) if t.value is not None and math.isfinite(t.value)]
    return min(values) if values else None


def baseline_value(study: optuna.Study) -> Union[float, None]:
    """The untransformed translation's time (the best of the empty sequence's trials)."""
    values = [t.value for t in complete(study) if t.params.get(PARAM) == EMPTY
              and t.value is not None and math.isfinite(t.value)]
    return min(values) if values else None


def run_trial(program: Program, sequence: str, *, store: RecordStore, workload: int,
              cost_model: CostModel, rng: random.Random) -> InnerResult:
    c = program.config
    return inner_search(program.fn, program.module, program.spec, decode(sequence), target=c.target,
                        budget=c.budget, store=store, workload_id=workload, cost_model=cost_model,
                        rng=rng, options=c.timing_options())


def optimize(study: optuna.Study, program: Program, *, store: RecordStore, workload: int,
             n_complete: int, progress: Callable[[str], None] = print,
             cost_model: Union[CostModel, None] = None) -> list[TrialReport]:
    """Ask, tune, tell until the study has ``n_complete`` COMPLETE trials."""
    c = program.config
    model = cost_model or make_cost_model("gbm", seed=c.seed)
    dist: dict[str, BaseDistribution] = {PARAM: CategoricalDistribution(c.choices)}
    reports: list[TrialReport] = []
    while len(complete(study)) < n_complete:
        trial = study.ask(dist)
        sequence = str(trial.params[PARAM])
        rng = random.Random(c.seed * 1_000_003 + trial.number)
        start = time.perf_counter()
        try:
            res = run_trial(program, sequence, store=store, workload=workload, cost_model=model,
                            rng=rng)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        failure = res.failure if res.failure else (
            None if res.ok else f"no verified candidate ({res.failed} failed)")
        trial.set_user_attr("measured", res.measured)
        trial.set_user_attr("failed", res.failed)
        trial.set_user_attr("exhausted", res.exhausted)
        if failure:
            trial.set_user_attr("failure", failure[:500])
        value = res.best_s if res.best_s is not None else math.inf
        study.tell(trial, value)
        report = TrialReport(trial.number, sequence, res.best_s, best_value(study), res.measured,
                             time.perf_counter() - start, failure)
        progress(report.line())
        reports.append(report)
    return reports
