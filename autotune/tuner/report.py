"""``autotune report``: one self-contained HTML page about a tuning run.

The page is built from the work directory alone (``run.json``, the Optuna study and the records
store, found as ``autotune status`` finds them) and needs no network: the convergence plot is an
embedded base64 PNG, there is no script and no external stylesheet.

Sections: the run (kernel, target, shape, trials, measurements), the convergence curve, the
trials, the best program, the cost model's ranking quality per round, and the failures.

How measurements are attributed to trials: candidates are recorded without their trial number,
but each measurement's provenance holds its pass sequence, and a single-process run measures
inside its trial's time window; a measurement belongs to the latest trial of the same sequence
that started before it. How rounds are found: a round is a run of consecutive measurements of
one trial with the same ``round`` in their provenance (the inner search numbers its rounds from
1 in every trial). Pairwise accuracy is recomputed from the stored predicted scores and medians
with :func:`cost_model.metrics.pairwise_accuracy` (the model's prediction was stored *before*
it learned from those measurements, so the figures are out of sample).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from sqlalchemy import select

from autotune.records.schema import Candidate, Measurement
from autotune.records.store import RecordStore
from autotune.tuner.outer import PARAM, fmt_s
from autotune.tuner.run import RunConfig, RunError, find_workload, load_config
from cost_model.metrics import pairwise_accuracy

#: Failure reasons listed on the page (the count covers all of them).
MAX_FAILURES_SHOWN = 10
#: Characters of one failure reason shown.
REASON_CHARS = 300


@dataclass
class MeasuredRow:
    """One measurement of the run, in the order it was taken."""

    index: int  # 1-based position in the run
    sequence: str
    ok: bool
    median_s: Union[float, None]
    error: Union[str, None]
    round: Union[int, None]
    selected_by: Union[str, None]
    predicted: Union[float, None]
    created_at: Union[dt.datetime, None]
    trial: Union[int, None] = None


@dataclass
class TrialRow:
    number: int
    state: str
    sequence: str
    value: Union[float, None]
    measured: int
    failure: Union[str, None]
    start: Union[dt.datetime, None]


@dataclass
class RoundRow:
    trial: Union[int, None]
    sequence: str
    round: int
    n: int
    pairwise: float
    model: int
    explore: int


@dataclass
class RunReport:
    """Everything the page shows, gathered from the work directory."""

    workdir: Path
    config: RunConfig
    trials: list[TrialRow] = field(default_factory=list)
    measurements: list[MeasuredRow] = field(default_factory=list)
    best_code: Union[str, None] = None
    best_s: Union[float, None] = None
    best_params: dict[str, Any] = field(default_factory=dict)
    baseline_s: Union[float, None] = None
    study_error: Union[str, None] = None

    @property
    def speedup(self) -> Union[float, None]:
        if self.best_s and self.baseline_s:
            return self.baseline_s / self.best_s
        return None

    @property
    def failed(self) -> list[MeasuredRow]:
        return [m for m in self.measurements if not m.ok]

    def rounds(self) -> list[RoundRow]:
        out: list[RoundRow] = []
        group: list[MeasuredRow] = []

        def flush() -> None:
            if not group or group[0].round is None:
                return
            scores = [m.predicted if m.predicted is not None else math.nan for m in group]
            times = [m.median_s if m.ok and m.median_s is not None else math.inf for m in group]
            out.append(RoundRow(group[0].trial, group[0].sequence, int(group[0].round), len(group),
                                pairwise_accuracy(scores, times),
                                sum(m.selected_by == "model" for m in group),
                                sum(m.selected_by == "explore" for m in group)))

        for m in self.measurements:
            if group and (m.trial, m.sequence, m.round) != (group[0].trial, group[0].sequence,
                                                           group[0].round):
                flush()
                group = []
            group.append(m)
        flush()
        return out


def _utc(t: Union[dt.datetime, None], *, local: bool) -> Union[dt.datetime, None]:
    """Optuna stores naive local times, the records naive (SQLite) or aware UTC times."""
    if t is None:
        return None
    if t.tzinfo is None:
        return t.astimezone(dt.UTC) if local else t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC)


def _float(v: Any) -> Union[float, None]:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _int(v: Any) -> Union[int, None]:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def collect(workdir: Path) -> RunReport:
    """Read the run in ``workdir``; raises :class:`RunError` if it is not a readable run."""
    from autotune.tuner import outer

    config = load_config(workdir)
    rep = RunReport(workdir, config)
    try:
        study, _ = outer.open_study(config, create=False)
    except Exception as exc:  # the run died before its study existed: still report the records
        rep.study_error = str(exc)
    else:
        for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
            rep.trials.append(TrialRow(
                t.number, t.state.name, str(t.params.get(PARAM, "?")), _float(t.value),
                _int(t.user_attrs.get("measured")) or 0, t.user_attrs.get("failure"),
                _utc(t.datetime_start, local=True)))
        rep.baseline_s = outer.baseline_value(study)
    try:
        store = RecordStore(config.storage, create=False)
    except Exception as exc:
        raise RunError(f"{workdir}: cannot read the records: {exc}") from exc
    with store:
        wid = find_workload(store, config.workload_key)
        if wid is not None:
            with store.session() as s:
                rows = s.execute(select(Measurement, Candidate.params).join(Candidate)
                                 .where(Candidate.workload_id == wid).order_by(Measurement.id)).all()
                for i, (m, params) in enumerate(rows, 1):
                    prov = m.provenance or {}
                    seq = prov.get("sequence") or (params or {}).get("sequence") or "?"
                    rep.measurements.append(MeasuredRow(
                        i, str(seq), bool(m.ok), _float(m.median_s) if m.ok else None, m.error,
                        _int(prov.get("round")), prov.get("selected_by"),
                        _float(prov.get("predicted_score")), _utc(m.created_at, local=False)))
            found = store.best(wid)
            if found is not None:
                rep.best_code, rep.best_s = found[0].code, found[1].median_s
                rep.best_params = dict(found[0].params or {})
    _attribute(rep)
    return rep


def _attribute(rep: RunReport) -> None:
    """Give each measurement the latest trial of its sequence that started before it."""
    started = [t for t in rep.trials if t.start is not None]
    for m in rep.measurements:
        if m.created_at is None:
            continue
        before = [t for t in started if t.sequence == m.sequence and t.start is not None
                  and t.start <= m.created_at]
        if before:
            m.trial = max(before, key=lambda t: (t.start, t.number)).number


# ------------------------------------------------------------------------------------ plot


def convergence_png(rep: RunReport) -> Union[bytes, None]:
    """Best time so far against the measurement index, every verified time as a point and
    failed candidates as red crosses along the top; ``None`` without matplotlib or data."""
    if not rep.measurements:
        return None
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [(m.index, m.median_s) for m in rep.measurements if m.ok and m.median_s]
    bad = [m.index for m in rep.measurements if not (m.ok and m.median_s)]
    fig, ax = plt.subplots(figsize=(8.0, 4.5))
    if ok:
        ax.scatter([x for x, _ in ok], [y for _, y in ok], s=18, alpha=0.6, label="measured")
        xs, ys, best = [], [], math.inf
        for m in rep.measurements:
            if m.ok and m.median_s:
                best = min(best, m.median_s)
            if math.isfinite(best):
                xs.append(m.index)
                ys.append(best)
        ax.step(xs, ys, where="post", color="C1", label="best so far")
        ax.set_yscale("log")
    if bad:
        ax.scatter(bad, [0.97] * len(bad), transform=ax.get_xaxis_transform(), marker="x",
                   color="red", s=30, label="failed")
    ax.set_xlabel("measurement")
    ax.set_ylabel("median time (s)")
    ax.set_title(f"{rep.config.translated} on {rep.config.target} (shape {rep.config.shape})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


# ------------------------------------------------------------------------------------ HTML

_CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #bbb; padding: 3px 8px; text-align: left; font-size: 0.9em; }
th { background: #eee; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.fail { color: #b00; }
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _table(head: list[str], rows: list[list[Any]], cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    out = [f"<table{c}><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_e(v)}</td>" for v in r) + "</tr>" for r in rows]
    return "\n".join(out + ["</table>"])


def _pct(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{100 * v:.0f}%"


def render(rep: RunReport, png: Union[bytes, None]) -> str:
    c = rep.config
    complete = sum(t.state == "COMPLETE" for t in rep.trials)
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>autotune report: {_e(c.translated)}</title><style>{_CSS}</style></head><body>",
             f"<h1>autotune report: {_e(Path(c.kernel).name)} &rarr; {_e(c.target)}</h1>"]

    parts.append("<h2>Run</h2>")
    parts.append(_table(["", ""], [
        ["kernel", c.kernel], ["translated", c.translated], ["source", c.source],
        ["target", c.target], ["shape", c.shape], ["seed", c.seed],
        ["trials", f"{complete}/{c.trials} complete ({len(rep.trials)} in the study)"],
        ["budget per trial", c.budget], ["measurements", len(rep.measurements)],
        ["work directory", str(rep.workdir)]]))
    if rep.study_error:
        parts.append(f"<p class=\"fail\">study not readable: {_e(rep.study_error)}</p>")

    parts.append("<h2>Convergence</h2>")
    if png is not None:
        b64 = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="convergence: best time so far per measurement" '
                     f'src="data:image/png;base64,{b64}">')
    else:
        parts.append("<p>no plot (no measurement, or matplotlib is not installed)</p>")

    parts.append("<h2>Trials</h2>")
    parts.append(_table(["trial", "state", "pass sequence", "best time", "measurements", "note"], [
        [t.number, t.state, t.sequence, fmt_s(t.value), t.measured,
         (t.failure or "")[:REASON_CHARS]] for t in rep.trials]))

    parts.append("<h2>Best program</h2>")
    if rep.best_code is None:
        parts.append("<p>no verified candidate</p>")
    else:
        speed = (f"{rep.speedup:.2f}x over the baseline (trial 0, untransformed, "
                 f"{fmt_s(rep.baseline_s)})" if rep.speedup else "no baseline time")
        steps = rep.best_params.get("steps", [])
        parts.append(_table(["", ""], [
            ["time", fmt_s(rep.best_s)], ["speedup", speed],
            ["pass sequence", rep.best_params.get("sequence", "?")],
            ["parameters", "; ".join(", ".join(f"{k}={v}" for k, v in dict(s).items())
                                     for s in steps) or "-"]]))
        parts.append(f"<pre>{_e(rep.best_code)}</pre>")

    parts.append("<h2>Cost model</h2>")
    by_model = sum(m.selected_by == "model" for m in rep.measurements)
    by_explore = sum(m.selected_by == "explore" for m in rep.measurements)
    parts.append(f"<p>chosen by the model: {by_model}; by exploration: {by_explore}</p>")
    rounds = rep.rounds()
    if rounds:
        vals = [r.pairwise for r in rounds if math.isfinite(r.pairwise)]
        mean = sum(vals) / len(vals) if vals else math.nan
        parts.append(f"<p>pairwise accuracy of the predicted scores against the measured medians, "
                     f"per round (out of sample; '-' where the round has no pair of distinct "
                     f"verified times); mean {_pct(mean)}</p>")
        parts.append(_table(["trial", "pass sequence", "round", "measured", "pairwise accuracy",
                             "model", "exploration"],
                            [["?" if r.trial is None else r.trial, r.sequence, r.round, r.n,
                              _pct(r.pairwise), r.model, r.explore] for r in rounds]))
    else:
        parts.append("<p>no round recorded in the measurements' provenance</p>")

    parts.append("<h2>Failures</h2>")
    failed = rep.failed
    parts.append(f"<p>failed candidates: {len(failed)}</p>")
    if failed:
        parts.append(_table(["measurement", "trial", "pass sequence", "reason"], [
            [m.index, "?" if m.trial is None else m.trial, m.sequence,
             (m.error or "failed")[:REASON_CHARS]] for m in failed[:MAX_FAILURES_SHOWN]], "fail"))
        if len(failed) > MAX_FAILURES_SHOWN:
            parts.append(f"<p>... and {len(failed) - MAX_FAILURES_SHOWN} more</p>")
    dead = [t for t in rep.trials if t.failure]
    if dead:
        parts.append(f"<p>trials without a verified candidate: {len(dead)}</p>")
        parts.append(_table(["trial", "pass sequence", "reason"], [
            [t.number, t.sequence, (t.failure or "")[:REASON_CHARS]]
            for t in dead[:MAX_FAILURES_SHOWN]], "fail"))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_report(workdir: Path, out: Union[Path, None] = None) -> tuple[Path, RunReport]:
    """Write the page (default ``WORKDIR/report.html``); returns its path and the data."""
    if not workdir.is_dir():
        raise RunError(f"{workdir} is not a directory: no run to report on")
    rep = collect(workdir)
    path = out or workdir / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(rep, convergence_png(rep)), encoding="utf-8")
    tmp.replace(path)
    return path, rep
