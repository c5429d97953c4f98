"""Gradient-boosted trees on the IR features (scikit-learn ``HistGradientBoostingRegressor``).

Why this model: trees need no feature scaling, cope with the mix of counts, log-sizes and flags
in ``cost_model.features``, and a histogram GBM retrains on a few thousand rows in well under a
second, so the tuner simply retrains on all data after each batch of measurements (no incremental
state to get wrong). The target is ``log(best / time)`` per workload (``base.normalised_targets``).

Before ``MIN_SAMPLES`` measurements (or while all measured times of every workload are equal) the
model has nothing to learn from and ranks at random, from a generator seeded with ``seed``.
"""

from __future__ import annotations

from typing import Union

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from cost_model.base import CostModel, normalised_targets

MIN_SAMPLES = 8


class GBMCostModel(CostModel):
    name = "gbm"

    def __init__(self, seed: int = 0, max_iter: int = 200, learning_rate: float = 0.1,
                 max_leaf_nodes: int = 15, min_samples_leaf: int = 4) -> None:
        super().__init__(seed)
        self.params = {"max_iter": max_iter, "learning_rate": learning_rate,
                       "max_leaf_nodes": max_leaf_nodes, "min_samples_leaf": min_samples_leaf}
        self._model: Union[HistGradientBoostingRegressor, None] = None
        self._rng = np.random.default_rng(seed)

    @property
    def trained(self) -> bool:
        return self._model is not None

    def _fit(self, x: np.ndarray, t: np.ndarray, workloads: list[str]) -> None:
        y = normalised_targets(t, workloads)
        if len(y) < MIN_SAMPLES or np.ptp(y) == 0.0:
            self._model = None
            return
        model = HistGradientBoostingRegressor(
            loss="squared_error", early_stopping=False, random_state=self.seed,
            min_samples_leaf=min(int(self.params["min_samples_leaf"]), max(1, len(y) // 4)),
            max_iter=int(self.params["max_iter"]), learning_rate=float(self.params["learning_rate"]),
            max_leaf_nodes=int(self.params["max_leaf_nodes"]))
        model.fit(x, y)
        self._model = model

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self._model is None:
            return np.asarray(self._rng.random(x.shape[0]), dtype=np.float64)
        return np.asarray(self._model.predict(x), dtype=np.float64)

    def _extra_state(self) -> dict[str, object]:
        return {"params": self.params, "rng": self._rng.bit_generator.state}

    def _restore_extra_state(self, meta: dict[str, object]) -> None:
        params = meta.get("params")
        if isinstance(params, dict):
            self.params = dict(params)
        self._rng = np.random.default_rng(self.seed)
        state = meta.get("rng")
        if isinstance(state, dict):
            self._rng.bit_generator.state = state
