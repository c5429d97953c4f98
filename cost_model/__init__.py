"""Learned cost models that rank candidates so that only promising ones are measured.

``make_cost_model("gbm")`` is what ``autotune run --cost-model NAME`` calls; the interface is
``cost_model.base.CostModel`` (update / predict / rank / save / load); features come from
``cost_model.features.extract``; ranking quality from ``cost_model.metrics``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Union

from cost_model.base import CostModel, read_state
from cost_model.gbm import GBMCostModel
from cost_model.random_model import RandomCostModel

__all__ = ["CostModel", "COST_MODELS", "make_cost_model", "load_cost_model"]

#: Factory name -> constructor taking the seed. New models (``tse``) register here.
COST_MODELS: dict[str, Callable[[int], CostModel]] = {
    "gbm": GBMCostModel,
    "random": RandomCostModel,
}


def make_cost_model(name: str, seed: int = 0) -> CostModel:
    """A fresh model by name (case-insensitive); a clear error lists the known names otherwise."""
    key = name.strip().lower()
    if key not in COST_MODELS:
        raise ValueError(f"unknown cost model {name!r}; known: {', '.join(sorted(COST_MODELS))}")
    return COST_MODELS[key](seed)


def load_cost_model(path: Union[str, Path]) -> CostModel:
    """The model saved at ``path`` (its kind is read from the file), retrained on its data."""
    meta = read_state(path)[0]
    model = make_cost_model(str(meta.get("name", "")), int(str(meta.get("seed", 0))))
    model.load(path)
    return model
