"""Ranking quality of a cost model on measured candidates.

All functions take the model's scores (higher = predicted faster) and the measured times (lower =
faster) of the same candidates. Failed candidates (time not finite) may be included: they are never
the best and are skipped in pair counts. The tuner logs ``ranking_report`` after each round on the
candidates just measured, *before* the model is updated with them, so the numbers are honest
out-of-sample figures.
"""

from __future__ import annotations

import math
from typing import Sequence, Union

import numpy as np
from scipy import stats

ArrayLike = Union[np.ndarray, Sequence[float]]


def _pair(scores: ArrayLike, times: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    if s.shape != t.shape:
        raise ValueError(f"{s.size} scores but {t.size} times")
    return s, t


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return np.argsort(-scores, kind="stable")[:k]


def recall_at_k(scores: ArrayLike, times: ArrayLike, k: int) -> float:
    """1.0 if a measured-best candidate is among the model's top ``k``, else 0.0 (nan if no
    candidate has a finite time). Averaged over rounds it is the recall of the best."""
    s, t = _pair(scores, times)
    finite = np.isfinite(t)
    if not finite.any():
        return math.nan
    best = t[finite].min()
    top = _top_k(s, k)
    return float(np.any(t[top] == best))


def topk_score(scores: ArrayLike, times: ArrayLike, k: int) -> float:
    """best time / time of the fastest candidate among the model's top ``k``, in [0, 1].

    1.0: measuring only the top ``k`` would have found the best; 0.5: it would have found one
    twice as slow. 0.0 when every top-``k`` candidate failed; nan when all failed."""
    s, t = _pair(scores, times)
    finite = np.isfinite(t)
    if not finite.any():
        return math.nan
    chosen = t[_top_k(s, k)]
    chosen = chosen[np.isfinite(chosen)]
    if chosen.size == 0:
        return 0.0
    return float(t[finite].min() / chosen.min())


def pairwise_accuracy(scores: ArrayLike, times: ArrayLike) -> float:
    """Fraction of candidate pairs with different (finite) times that the scores order correctly;
    a tie in the scores counts one half. nan when there is no such pair."""
    s, t = _pair(scores, times)
    keep = np.isfinite(t) & np.isfinite(s)
    s, t = s[keep], t[keep]
    n = s.size
    correct = 0.0
    total = 0
    chunk = max(1, 2_000_000 // max(n, 1))  # bound the memory of the pair matrices
    for start in range(0, n, chunk):
        ts, ss = t[start:start + chunk, None], s[start:start + chunk, None]
        faster = ts < t[None, :]  # row faster than column: pair counted once, from the faster side
        higher = ss > s[None, :]
        tie = ss == s[None, :]
        total += int(faster.sum())
        correct += float((faster & higher).sum()) + 0.5 * float((faster & tie).sum())
    return correct / total if total else math.nan


def kendall_tau(scores: ArrayLike, times: ArrayLike) -> float:
    """Kendall's tau-b between the scores and the speed (``-time``); 1.0 is a perfect ranking.

    scipy's implementation (O(n log n)); finite times only; 0.0 when undefined (constant input)."""
    s, t = _pair(scores, times)
    keep = np.isfinite(t) & np.isfinite(s)
    if keep.sum() < 2:
        return 0.0
    tau = stats.kendalltau(s[keep], -t[keep]).statistic
    return 0.0 if tau is None or not math.isfinite(float(tau)) else float(tau)


def ranking_report(scores: ArrayLike, times: ArrayLike, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """All the figures above in one mapping, for the run's log and records."""
    out = {"n": float(np.asarray(times).size),
           "pairwise_accuracy": pairwise_accuracy(scores, times),
           "kendall_tau": kendall_tau(scores, times)}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(scores, times, k)
        out[f"top{k}_score"] = topk_score(scores, times, k)
    return out
