from __future__ import annotations

import math

import numpy as np
import pytest

from cost_model.metrics import kendall_tau, pairwise_accuracy, ranking_report, recall_at_k, topk_score


def test_perfect_and_reversed_rankings() -> None:
    times = [1.0, 2.0, 3.0, 4.0]
    good = [4.0, 3.0, 2.0, 1.0]
    bad = [1.0, 2.0, 3.0, 4.0]
    assert pairwise_accuracy(good, times) == 1.0
    assert pairwise_accuracy(bad, times) == 0.0
    assert kendall_tau(good, times) == pytest.approx(1.0)
    assert kendall_tau(bad, times) == pytest.approx(-1.0)
    assert recall_at_k(good, times, 1) == 1.0
    assert recall_at_k(bad, times, 1) == 0.0
    assert recall_at_k(bad, times, 3) == 0.0
    assert recall_at_k(bad, times, 4) == 1.0


def test_hand_computed_partial_ranking() -> None:
    scores = [1.0, 3.0, 2.0]  # model order: 1, 2, 0
    times = [1.0, 2.0, 4.0]
    # pairs (0,1): 0 faster, scored lower -> wrong; (0,2): wrong; (1,2): 1 faster, scored higher -> right
    assert pairwise_accuracy(scores, times) == pytest.approx(1 / 3)
    # tau-b: 1 concordant, 2 discordant pairs out of 3
    assert kendall_tau(scores, times) == pytest.approx(-1 / 3)
    assert topk_score(scores, times, 1) == pytest.approx(0.5)  # picks time 2.0, best is 1.0
    assert topk_score(scores, times, 2) == pytest.approx(0.5)
    assert topk_score(scores, times, 3) == pytest.approx(1.0)
    assert recall_at_k(scores, times, 2) == 0.0


def test_ties_and_failures() -> None:
    assert pairwise_accuracy([1.0, 1.0], [1.0, 2.0]) == 0.5
    assert math.isnan(pairwise_accuracy([1.0, 2.0], [3.0, 3.0]))  # no pair with different times
    inf = math.inf
    # a failed candidate ranked first: the top-1 pick found nothing measurable
    assert topk_score([3.0, 2.0, 1.0], [inf, 2.0, 1.0], 1) == 0.0
    assert topk_score([3.0, 2.0, 1.0], [inf, 2.0, 1.0], 2) == pytest.approx(0.5)
    assert recall_at_k([3.0, 2.0, 1.0], [inf, 2.0, 1.0], 3) == 1.0
    assert pairwise_accuracy([3.0, 2.0, 1.0], [inf, 2.0, 1.0]) == 0.0  # only the pair (1, 2) counts
    assert math.isnan(recall_at_k([1.0], [inf], 1))
    assert kendall_tau([1.0, 1.0], [1.0, 2.0]) == 0.0  # undefined for constant scores


def test_pairwise_accuracy_matches_brute_force_in_chunks() -> None:
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 3000).astype(float)  # many ties
    times = rng.random(3000)
    idx = rng.choice(3000, 300, replace=False)
    s, t = scores[idx], times[idx]
    correct = total = 0.0
    for i in range(len(s)):
        for j in range(len(s)):
            if t[i] < t[j]:
                total += 1
                correct += 1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0
    assert pairwise_accuracy(s, t) == pytest.approx(correct / total)
    assert 0.45 < pairwise_accuracy(scores, times) < 0.55  # chunked path, random scores


def test_report_and_errors() -> None:
    report = ranking_report([2.0, 1.0], [1.0, 2.0], ks=(1,))
    assert report == {"n": 2.0, "pairwise_accuracy": 1.0, "kendall_tau": pytest.approx(1.0),
                      "recall@1": 1.0, "top1_score": 1.0}
    with pytest.raises(ValueError):
        recall_at_k([1.0], [1.0, 2.0], 1)
    with pytest.raises(ValueError):
        topk_score([1.0], [1.0], 0)
