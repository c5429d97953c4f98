"""The cost-model interface the tuner programs against.

Call sequence (as in TVM MetaSchedule's cost model):

1. ``model = make_cost_model("gbm", seed=0)``; optionally ``model = load_cost_model(path)`` or
   ``model.load(path)`` to warm-start from an earlier run of the same workload.
2. Each round: ``scores = model.predict(features)`` (or ``order = model.rank(features)``) over the
   generated candidates; the tuner measures the top of the ranking plus an exploration share.
3. ``model.update(features, times, workloads)`` with what was measured; failed candidates are
   simply not passed (rows whose time is not a finite positive number are dropped as well).
4. ``model.save(path)`` at checkpoints, so that ``autotune resume`` and later runs warm-start.

Scores are "higher is better" (faster) and are only comparable *within* one workload: models
normalise times per workload before training, so they learn which candidate of a workload is
faster, not how long a workload takes.

The state of every model here is its training data (features, times, workload keys) plus its
seed: ``save`` writes those to one ``.npz`` file and ``load`` retrains from them. Retraining is
deterministic, so a loaded model predicts exactly as the saved one did, and a saved file does not
depend on the pickling format of a scikit-learn version.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from cost_model.features import FEATURE_NAMES, N_FEATURES

ArrayLike = Union[np.ndarray, Sequence[Sequence[float]]]
PathLike = Union[str, Path]

DEFAULT_WORKLOAD = "default"


class CostModel(ABC):
    """Ranks candidates by predicted speed. Subclasses implement ``_fit`` and ``_predict``."""

    #: The factory name (``make_cost_model``), stored in saved files.
    name: str = ""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._x = np.zeros((0, N_FEATURES), dtype=np.float64)
        self._t = np.zeros(0, dtype=np.float64)
        self._w: list[str] = []

    # ------------------------------------------------------------------------- public API

    @property
    def n_samples(self) -> int:
        """Number of measurements the model has been trained on."""
        return int(self._t.shape[0])

    def update(self, features: ArrayLike, times: Union[np.ndarray, Sequence[float]],
               workloads: Union[Sequence[str], str, None] = None) -> None:
        """Add measurements (``times`` in seconds, one per row of ``features``) and retrain.

        ``workloads``: the workload key of each row (or one key for all); times are normalised per
        workload. Rows with a non-finite or non-positive time (failed candidates) are dropped."""
        x = _as_matrix(features)
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        if x.shape[0] != t.shape[0]:
            raise ValueError(f"{x.shape[0]} feature rows but {t.shape[0]} times")
        if workloads is None or isinstance(workloads, str):
            keys = [workloads or DEFAULT_WORKLOAD] * t.shape[0]
        else:
            keys = [str(w) for w in workloads]
            if len(keys) != t.shape[0]:
                raise ValueError(f"{t.shape[0]} times but {len(keys)} workload keys")
        ok = np.isfinite(t) & (t > 0) & np.isfinite(x).all(axis=1)
        self._x = np.vstack([self._x, x[ok]])
        self._t = np.concatenate([self._t, t[ok]])
        self._w.extend(k for k, good in zip(keys, ok) if good)
        self._fit(self._x, self._t, self._w)

    def predict(self, features: ArrayLike) -> np.ndarray:
        """One score per row; higher means predicted faster."""
        x = _as_matrix(features)
        if x.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self._predict(np.nan_to_num(x)), dtype=np.float64).reshape(-1)

    def rank(self, features: ArrayLike) -> np.ndarray:
        """Row indices ordered from the predicted fastest to the slowest (stable on ties)."""
        scores = self.predict(features)
        return np.argsort(-scores, kind="stable")

    def save(self, path: PathLike) -> None:
        """Write the model's state (training data, seed, name) to ``path`` (an ``.npz`` file)."""
        meta = {"name": self.name, "seed": self.seed, "n_features": N_FEATURES,
                "feature_names": list(FEATURE_NAMES), **self._extra_state()}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:  # written whole, then renamed: a crash never leaves half a file
            np.savez(fh, x=self._x, t=self._t, w=np.array(self._w, dtype=str),
                     meta=np.array(json.dumps(meta)))
        tmp.replace(path)

    def load(self, path: PathLike) -> None:
        """Replace this model's state with the one saved at ``path`` and retrain on it."""
        meta, x, t, w = read_state(path)
        if meta.get("name") != self.name:
            raise ValueError(f"{path} holds a {meta.get('name')!r} cost model, not {self.name!r}")
        self.seed = int(str(meta.get("seed", self.seed)))
        self._restore_extra_state(meta)
        self._x, self._t, self._w = x, t, w
        self._fit(self._x, self._t, self._w)

    # ------------------------------------------------------------------------- subclass hooks

    @abstractmethod
    def _fit(self, x: np.ndarray, t: np.ndarray, workloads: list[str]) -> None:
        """Retrain on all data so far (times are valid: finite, positive)."""

    @abstractmethod
    def _predict(self, x: np.ndarray) -> np.ndarray:
        """Scores of rows ``x`` (higher = faster)."""

    def _extra_state(self) -> dict[str, object]:
        """JSON-able state besides the data (e.g. a random generator's position)."""
        return {}

    def _restore_extra_state(self, meta: dict[str, object]) -> None:
        """Inverse of ``_extra_state`` (no extra state by default)."""
        return None


def read_state(path: PathLike) -> tuple[dict[str, object], np.ndarray, np.ndarray, list[str]]:
    """(meta, features, times, workload keys) of a saved model; checks the feature layout."""
    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        x = np.asarray(data["x"], dtype=np.float64)
        t = np.asarray(data["t"], dtype=np.float64)
        w = [str(k) for k in data["w"]]
    if meta.get("feature_names") != list(FEATURE_NAMES):
        raise ValueError(f"{path} was saved with a different feature layout "
                         f"({meta.get('n_features')} features, now {N_FEATURES}); it cannot warm-start "
                         f"this version")
    return meta, x.reshape(-1, N_FEATURES), t, w


def normalised_targets(t: np.ndarray, workloads: Sequence[str]) -> np.ndarray:
    """``log(best time of the workload / time)``: 0 for a workload's best, negative otherwise.

    Why: workloads of different sizes differ by orders of magnitude in time; ranking needs only
    the order within a workload, and a log ratio makes "twice as slow" the same step everywhere."""
    y = -np.log(t)
    keys = np.asarray(workloads, dtype=str)
    for key in np.unique(keys):
        mask = keys == key
        y[mask] -= y[mask].max()
    return y


def _as_matrix(features: ArrayLike) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim == 1:
        x = x.reshape(1, -1) if x.size else x.reshape(0, N_FEATURES)
    if x.ndim != 2 or x.shape[1] != N_FEATURES:
        raise ValueError(f"expected feature rows of length {N_FEATURES} (cost_model.features), "
                         f"got an array of shape {x.shape}")
    return x
