"""The random baseline: uniform scores from a seeded generator, whatever was measured.

Why keep it: the learned models' ranking quality means something only next to what chance
achieves on the same candidates (``cost_model.metrics``), and ``--cost-model random`` turns the
model off in the tuner without a separate code path.
"""

from __future__ import annotations

import numpy as np

from cost_model.base import CostModel


class RandomCostModel(CostModel):
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self._rng = np.random.default_rng(seed)

    def _fit(self, x: np.ndarray, t: np.ndarray, workloads: list[str]) -> None:
        """Nothing to learn; the data is kept only so that ``save`` records it."""

    def _predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self._rng.random(x.shape[0]), dtype=np.float64)

    def _extra_state(self) -> dict[str, object]:
        return {"rng": self._rng.bit_generator.state}

    def _restore_extra_state(self, meta: dict[str, object]) -> None:
        self._rng = np.random.default_rng(self.seed)
        state = meta.get("rng")
        if isinstance(state, dict):
            self._rng.bit_generator.state = state
