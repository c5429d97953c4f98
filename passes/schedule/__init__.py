"""Tunable loop transformations for the CPU target (the auto-tuner's search space).

``PASSES`` maps a name to a ``TunablePass`` (see ``base`` for the contract: ``space`` lists the
sites and parameter choices of a program, ``apply`` transforms or raises ``ir.NotApplicable``);
``apply_sequence`` runs a list of ``(pass name, params)`` steps.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from passes import ir
from passes.schedule.base import ParamDecl, Site, TunablePass
from passes.schedule.fuse import Fuse
from passes.schedule.parallel import Parallel
from passes.schedule.reorder import Reorder
from passes.schedule.split import Split
from passes.schedule.unroll import Unroll
from passes.schedule.vectorize import Vectorize

PASSES: dict[str, TunablePass] = {p.name: p for p in (
    Split(), Reorder(), Fuse(), Unroll(), Vectorize(), Parallel())}


def apply_sequence(fn: ir.Function, steps: Sequence[tuple[str, Mapping[str, Any]]]) -> ir.Function:
    """Apply the steps in order. A step that does not apply raises ``ir.NotApplicable`` naming
    its position and pass; an unknown pass name is a ``KeyError``."""
    for n, (name, params) in enumerate(steps):
        try:
            p = PASSES[name]
        except KeyError:
            raise KeyError(f"no tunable pass named {name!r}; known: {sorted(PASSES)}") from None
        try:
            fn = p.apply(fn, params)
        except ir.NotApplicable as exc:
            raise ir.NotApplicable(f"step {n} ({name} {dict(params)}): {exc}") from exc
    return fn


__all__ = ["PASSES", "ParamDecl", "Site", "TunablePass", "apply_sequence"]
