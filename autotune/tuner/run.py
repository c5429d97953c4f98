"""Run and resume: the work directory of one tuning run and the steps that fill it.

Layout of a work directory (``runs/<stem>`` by default)::

    run.json              what was asked (kernel, spec, target, shape, seed, trials, budget,
                          storage URL, timing options) and what was derived once (study name,
                          workload key, the categorical choices of the outer study)
    <stem>.from_<src>.<ext>       the verified, untransformed translation (what every candidate
    <stem>.from_<src>.<ext>.toml  starts from) and its spec (``autotune verify`` accepts both)
    autotune.db           the default storage: Optuna's tables and the records in one SQLite file

Why the translation is kept: ``autotune resume`` must tune the *same* program; it translates the
kernel again and refuses to continue if the result differs from the saved file.
The choices of the outer categorical are frozen in ``run.json`` for the same reason (Optuna
refuses a categorical whose choices changed between runs of one study).
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import tomli_w
from sqlalchemy import select

from autotune.records.schema import Workload
from autotune.records.store import RecordStore, default_url, workload_key
from measure.platforms import get_platform
from measure.spec import KernelSpec, SpecError, load_spec, platform_of, spec_path_for, spec_to_dict
from measure.timing import TimingOptions
from measure.toolchain import nvidia_gpu
from passes import ir
from passes.translate import translate
from search_space.grammar import decode, encode, sequence_choices
from search_space.params import Failure, sample_or_failure, viable_sequences

RUN_FILE = "run.json"
SUFFIX = {"cpu": ".c", "cuda": ".cu", "hip": ".hip"}
#: TimingOptions fields a run may set (kept in run.json so that resume times the same way).
TIMING_FIELDS = ("min_repeat_ms", "repeats", "processes", "attempts", "threads")


class RunError(Exception):
    """A run cannot start or continue; ``code`` is the CLI exit status (see ``autotune.cli``)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


@dataclass
class RunConfig:
    """The content of ``run.json``."""

    kernel: str
    spec: str
    source: str
    target: str
    shape: str
    seed: int
    trials: int
    budget: int
    storage: str
    translated: str
    translated_spec: str
    entry: str
    workload_key: str
    study_name: str
    choices: list[str]
    timing: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    def timing_options(self) -> TimingOptions:
        return TimingOptions(**{k: v for k, v in self.timing.items() if k in TIMING_FIELDS},
                             seed=self.seed)


@dataclass
class Program:
    """What the tuner works on, rebuilt from the work directory."""

    config: RunConfig
    module: ir.Module
    fn: ir.Function
    spec: KernelSpec  # the translated spec at the tuning shape
    text: str
    workdir: Path


def save_config(workdir: Path, config: RunConfig) -> None:
    """Write run.json atomically (a kill never leaves half a file)."""
    tmp = workdir / (RUN_FILE + ".tmp")
    tmp.write_text(json.dumps(asdict(config), indent=2) + "\n")
    tmp.replace(workdir / RUN_FILE)


def load_config(workdir: Union[str, Path]) -> RunConfig:
    path = Path(workdir) / RUN_FILE
    if not path.is_file():
        raise RunError(f"{path} does not exist: not an autotune work directory "
                       "(start one with `autotune run KERNEL --to PLATFORM --workdir DIR`)")
    try:
        return RunConfig(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        raise RunError(f"{path} is not a valid run file: {exc}") from exc


def check_timing_target(target: str) -> None:
    """Timing needs the target's hardware: emulated GPU times mean nothing."""
    if target == "cuda" and nvidia_gpu():
        return
    if target in ("cuda", "hip", "bang"):
        raise RunError(f"cannot tune for {target}: timing a {target} kernel needs a {target} device "
                       "and there is none here (`autotune translate --to "
                       f"{target}` still translates and verifies in emulation)")
    if target != "cpu":
        raise RunError(f"unknown target {target!r}")


def prepare_run(kernel: str, target: str, workdir: Path, *, spec_file: Union[str, None] = None,
                trials: int = 8, budget: int = 4, storage: Union[str, None] = None, seed: int = 0,
                shape: Union[str, None] = None, timing: Union[dict[str, Any], None] = None,
                log: Any = print) -> RunConfig:
    """Translate, verify and write the work directory; returns the run configuration."""
    if trials < 1 or budget < 1:
        raise RunError("--trials and --budget must be at least 1")
    if (workdir / RUN_FILE).exists():
        raise RunError(f"{workdir} already holds a run: `autotune resume {workdir}` continues it")
    check_timing_target(target)
    path = Path(kernel).resolve()
    if not path.is_file():
        raise RunError(f"kernel file {kernel} does not exist")
    try:
        source = platform_of(path)
        spec_path = Path(spec_file).resolve() if spec_file else spec_path_for(path)
        spec = load_spec(spec_path)
        shape = shape or ("large" if "large" in spec.shapes else "default")
        if shape != "default":
            spec.with_shape(shape)
    except SpecError as exc:
        raise RunError(str(exc)) from exc
    text = path.read_text()
    try:
        t = translate(text, source, target, spec)
    except (ir.UnsupportedConstruct, ir.NotApplicable) as exc:
        raise RunError(f"{path}: cannot translate {source} -> {target}: {exc}", code=3) from exc
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"{path.stem}.from_{source}{SUFFIX[target]}"
    out.write_text(t.text)
    from autotune.commands.translate import translated_spec  # the one place the rule lives

    new_spec = translated_spec(spec, t, out)
    spec_out = out.with_name(out.name + ".toml")
    spec_out.write_text(tomli_w.dumps(spec_to_dict(new_spec)))
    verdict = get_platform(target).verify(t.text, new_spec, launcher=t.launcher, seed=seed)
    if not verdict.ok:
        raise RunError(f"the translation {out} is NOT VERIFIED ({verdict.mode}): {verdict.reason}",
                       code=1)
    log(f"translated {path.name} ({source}) -> {out} ({target}): VERIFIED ({verdict.mode})")
    fn = t.module.function(t.entry)
    choices = outer_choices(fn, target, source, seed, log)
    key = workload_key(text, spec_to_dict(load_spec(spec_out)), source, target, shape)
    config = RunConfig(
        kernel=str(path), spec=str(spec_path), source=source, target=target, shape=shape,
        seed=seed, trials=trials, budget=budget, storage=storage or default_url(workdir),
        translated=out.name, translated_spec=spec_out.name, entry=t.entry, workload_key=key,
        study_name=f"autotune-{key[:16]}", choices=choices, timing=dict(timing or {}))
    config.timing_options()  # bad timing options fail now, not in the first trial
    save_config(workdir, config)
    return config


def outer_choices(fn: ir.Function, target: str, source: str, seed: int, log: Any = print) -> list[str]:
    """The grammar's sequences for this program: those whose first pass has a site
    (``viable_sequences``) *and* can legally be applied at least once (a sampled attempt; the
    corpus GEMM from CUDA has two loops to fuse, but fusing them is illegal, and every
    ``fuse>...`` trial would be wasted)."""
    seqs = viable_sequences(fn, [decode(c) for c in sequence_choices(target, source=source)])
    dead: dict[str, str] = {}
    for first in dict.fromkeys(q[0] for q in seqs if q):
        got = sample_or_failure(fn, (first,), random.Random(seed))
        if isinstance(got, Failure):
            dead[first] = got.reason
    for name, why in dead.items():
        log(f"  {name}: never applies here ({why[:160]}); its sequences are left out")
    return [encode(q) for q in seqs if not q or q[0] not in dead]


def load_program(workdir: Path, config: RunConfig) -> Program:
    """Translate the kernel again and check that the result is the saved translation. Why not
    parse the saved file: a translation may carry what the target's front end does not read
    back (``#pragma GCC unroll`` from a CUDA ``#pragma unroll``), and the translator's own IR is
    the one the passes expect."""
    saved = (workdir / config.translated).read_text()
    try:
        spec = load_spec(Path(config.spec))
        translated = load_spec(workdir / config.translated_spec)
        timed = translated.with_shape(config.shape) if config.shape != "default" else translated
        text = Path(config.kernel).read_text()
    except (SpecError, OSError) as exc:
        raise RunError(f"cannot rebuild the program of {workdir}: {exc}") from exc
    try:
        t = translate(text, config.source, config.target, spec)
    except (ir.UnsupportedConstruct, ir.NotApplicable) as exc:
        raise RunError(f"{config.kernel} no longer translates: {exc}", code=3) from exc
    if t.text != saved:
        raise RunError(f"the translation of {config.kernel} differs from {workdir / config.translated} "
                       "(kernel or translator changed since the run started): start a new run")
    return Program(config, t.module, t.module.function(config.entry), timed, saved, workdir)


def workload_id(store: RecordStore, program: Program) -> int:
    """The records' workload of this run, created on first use. Its key must be the one in
    run.json (the study is named after it): a different key means the kernel file changed."""
    c = program.config
    found = find_workload(store, c.workload_key)
    if found is not None:
        return found
    kernel = Path(c.kernel)
    if not kernel.is_file():
        raise RunError(f"the kernel {c.kernel} is gone and the store has no workload for this run")
    source_text = kernel.read_text()
    spec_dict = spec_to_dict(load_spec(program.workdir / c.translated_spec))
    if workload_key(source_text, spec_dict, c.source, c.target, c.shape) != c.workload_key:
        raise RunError(f"{c.kernel} or its translated spec changed since the run started")
    return store.workload(source_text=source_text, spec=spec_dict, source_platform=c.source,
                          target_platform=c.target, shape=c.shape, operator=program.spec.operator)


def find_workload(store: RecordStore, key: str) -> Union[int, None]:
    with store.session() as s:
        found = s.scalar(select(Workload.id).where(Workload.key == key))
    return None if found is None else int(found)


# ------------------------------------------------------------------------------ orchestration


@dataclass
class Summary:
    """Where a run stands (``autotune status``) or how it ended."""

    requested: int
    complete: int
    running: int
    failed: int
    waiting: int
    measurements: int
    best_s: Union[float, None]
    best_sequence: Union[str, None]
    baseline_s: Union[float, None]

    @property
    def speedup(self) -> Union[float, None]:
        if self.best_s and self.baseline_s:
            return self.baseline_s / self.best_s
        return None


def tune(workdir: Path, config: RunConfig, *, resume: bool, trials: Union[int, None] = None,
         progress: Any = print) -> Summary:
    """Run (or continue) the outer study of the work directory up to ``trials`` COMPLETE trials
    (default: what run.json asks; a larger number extends the run and is saved)."""
    from autotune.tuner import outer  # outer needs this module's types only

    if trials is not None and trials != config.trials:
        if trials < 1:
            raise RunError("--trials must be at least 1")
        config.trials = trials
        save_config(workdir, config)
    program = load_program(workdir, config)
    study, storage = outer.open_study(config, create=True)
    if resume:
        stale = outer.fail_stale_trials(study, storage)
        if stale:
            progress(f"resume: trials {', '.join(map(str, stale))} were left running (killed "
                     "process): marked failed, their sequences enqueued again")
    with RecordStore(config.storage) as store:
        wid = workload_id(store, program)
        done = len(outer.complete(study))
        if done < config.trials:
            progress(f"tuning {config.translated} on {config.target} (shape {config.shape}): "
                     f"{config.trials - done} trial(s) to go, {len(config.choices)} sequences, "
                     f"{config.budget} measurements per trial")
        outer.optimize(study, program, store=store, workload=wid, n_complete=config.trials,
                       progress=progress)
        return summarize(config, study, store)


def summarize(config: RunConfig, study: Any, store: RecordStore) -> Summary:
    from optuna.trial import TrialState

    from autotune.tuner import outer

    states = [t.state for t in study.get_trials(deepcopy=False)]
    wid = find_workload(store, config.workload_key)
    measurements = 0
    best_s: Union[float, None] = None
    best_seq: Union[str, None] = None
    if wid is not None:
        row = next((r for r in store.summary() if r["workload_id"] == wid), None)
        measurements = int(row["measurements"]) if row else 0
        found = store.best(wid)
        if found is not None:
            best_s = found[1].median_s
            best_seq = str((found[0].params or {}).get("sequence", "?"))
    return Summary(config.trials, states.count(TrialState.COMPLETE), states.count(TrialState.RUNNING),
                   states.count(TrialState.FAIL), states.count(TrialState.WAITING), measurements,
                   best_s, best_seq, outer.baseline_value(study))


def status(workdir: Path) -> tuple[RunConfig, Summary]:
    from autotune.tuner import outer

    config = load_config(workdir)
    study, _ = outer.open_study(config, create=False)
    with RecordStore(config.storage, create=False) as store:
        return config, summarize(config, study, store)


def best_program(workdir: Path) -> tuple[RunConfig, str, KernelSpec, Union[str, None]]:
    """The fastest verified program of the run, the translated spec, and its pass sequence."""
    config = load_config(workdir)
    with RecordStore(config.storage, create=False) as store:
        wid = find_workload(store, config.workload_key)
        found = store.best(wid) if wid is not None else None
        if found is None:
            raise RunError(f"{workdir}: no verified measurement yet", code=1)
        code, seq = found[0].code, (found[0].params or {}).get("sequence")
    try:
        spec = load_spec(workdir / config.translated_spec)
    except SpecError as exc:
        raise RunError(str(exc)) from exc
    return config, code, spec, None if seq is None else str(seq)
