from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cost_model import COST_MODELS, load_cost_model, make_cost_model
from cost_model.base import normalised_targets
from cost_model.features import N_FEATURES
from cost_model.gbm import MIN_SAMPLES, GBMCostModel
from cost_model.metrics import pairwise_accuracy, topk_score


def _synthetic(n: int, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Features -> time from a known formula (a roofline-like max plus an interaction) with noise."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, N_FEATURES))
    compute = 1.0 + 3.0 * x[:, 0] - 1.5 * x[:, 1] * (x[:, 2] > 0.5)
    memory = 1.0 + 2.5 * x[:, 3] ** 2
    t = scale * np.exp(np.maximum(compute, memory)) * rng.lognormal(0.0, 0.05, n)
    return x, t


def test_factory_names_and_errors() -> None:
    assert set(COST_MODELS) >= {"gbm", "random"}
    assert isinstance(make_cost_model("GBM"), GBMCostModel)
    with pytest.raises(ValueError, match="known: gbm, random"):
        make_cost_model("xgb")


def test_gbm_learns_a_synthetic_ranking_better_than_random() -> None:
    x, t = _synthetic(700, seed=1)
    test = slice(400, 700)
    gbm, rnd = make_cost_model("gbm", seed=7), make_cost_model("random", seed=7)
    for model in (gbm, rnd):
        for start in range(0, 400, 100):  # online: four rounds of measurements
            model.update(x[start:start + 100], t[start:start + 100], "w")
    assert gbm.n_samples == 400
    acc_gbm = pairwise_accuracy(gbm.predict(x[test]), t[test])
    acc_rnd = pairwise_accuracy(rnd.predict(x[test]), t[test])
    assert acc_gbm > 0.8, acc_gbm
    assert acc_gbm > acc_rnd + 0.2
    assert topk_score(gbm.predict(x[test]), t[test], 10) > 0.9
    order = gbm.rank(x[test])
    assert sorted(order.tolist()) == list(range(300))
    assert np.all(np.diff(gbm.predict(x[test])[order]) <= 0)


def test_workloads_of_different_scale_are_normalised() -> None:
    xa, ta = _synthetic(300, seed=2, scale=1.0)
    xb, tb = _synthetic(300, seed=3, scale=1000.0)
    y = normalised_targets(np.concatenate([ta, tb]), ["a"] * 300 + ["b"] * 300)
    assert y[:300].max() == 0.0 and y[300:].max() == 0.0 and (y <= 0).all()
    model = make_cost_model("gbm")
    model.update(np.vstack([xa, xb]), np.concatenate([ta, tb]), ["a"] * 300 + ["b"] * 300)
    xc, tc = _synthetic(200, seed=4, scale=30.0)
    assert pairwise_accuracy(model.predict(xc), tc) > 0.8


def test_failed_candidates_are_dropped_and_untrained_model_is_seeded_random() -> None:
    x, t = _synthetic(20, seed=5)
    t[[0, 3]] = [np.inf, np.nan]
    t[4] = -1.0
    model = make_cost_model("gbm", seed=11)
    assert isinstance(model, GBMCostModel)
    model.update(x[:MIN_SAMPLES - 1], np.full(MIN_SAMPLES - 1, 1.0))
    assert not model.trained
    a = model.predict(x)
    b = make_cost_model("gbm", seed=11)
    b.update(x[:MIN_SAMPLES - 1], np.full(MIN_SAMPLES - 1, 1.0))
    assert np.array_equal(a, b.predict(x))  # same seed, same "random" order
    model.update(x, t)
    assert model.n_samples == MIN_SAMPLES - 1 + 17
    assert model.trained
    with pytest.raises(ValueError, match="feature rows of length"):
        model.predict(np.zeros((2, N_FEATURES + 1)))
    with pytest.raises(ValueError, match="times"):
        model.update(x[:3], t[:2])
    assert model.predict(np.zeros((0, N_FEATURES))).shape == (0,)


@pytest.mark.parametrize("name", ["gbm", "random"])
@pytest.mark.parametrize("n", [5, 200])
def test_save_load_round_trip(tmp_path: Path, name: str, n: int) -> None:
    x, t = _synthetic(n, seed=6)
    model = make_cost_model(name, seed=3)
    model.update(x, t, ["w1", "w2"] * (n // 2) + ["w1"] * (n % 2))
    path = tmp_path / "sub" / "model.npz"
    model.save(path)
    loaded = load_cost_model(path)
    assert type(loaded) is type(model) and loaded.n_samples == model.n_samples
    probe, _ = _synthetic(50, seed=9)
    assert np.array_equal(loaded.predict(probe), model.predict(probe))
    assert np.array_equal(loaded.predict(probe), model.predict(probe))  # random streams stay in step
    # warm start: the loaded model keeps learning from where the saved one was
    more, tm = _synthetic(30, seed=10)
    loaded.update(more, tm, "w1")
    assert loaded.n_samples == n + 30


def test_load_rejects_other_kinds_and_layouts(tmp_path: Path) -> None:
    x, t = _synthetic(30, seed=8)
    model = make_cost_model("gbm")
    model.update(x, t)
    path = tmp_path / "m.npz"
    model.save(path)
    with pytest.raises(ValueError, match="holds a 'gbm' cost model"):
        make_cost_model("random").load(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    meta["feature_names"] = meta["feature_names"][:-1]
    arrays["meta"] = np.array(json.dumps(meta))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match="different feature layout"):
        load_cost_model(bad)
