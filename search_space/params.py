"""The parameter space of one pass sequence on one program, and sequential sampling from it.

Why sequential: the sites and choices of a pass depend on the program it sees (a split creates
the loop ``i_o`` that a later parallel may pick; a split factor must be below *that* loop's
extent; a reorder permutes the band that exists *now*). So the space of step ``n`` is
``PASSES[name].space(program after steps 0..n-1 with their sampled parameters)``, and sampling
walks the sequence: list the sites of the current program, draw a site and a configuration,
apply; a refusal (``ir.NotApplicable``, e.g. a reorder that would reverse a dependence) is
recorded with its reason and another configuration of the same step is drawn, a few times,
before the whole sample gives up with a ``Failure`` that says which step and why.

A ``Candidate`` keeps every intermediate program, so mutation and crossover
(``search_space.mutate``) can restart from any step without re-applying the prefix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

from passes import ir
from passes.names import uniquify
from passes.schedule import PASSES

Params = Mapping[str, Any]

#: How many configurations of one step are tried before the step (and the sample) gives up.
DEFAULT_ATTEMPTS = 8


@dataclass(frozen=True, eq=False)
class Candidate:
    """A sequence with one parameter assignment per step, and the programs it produces.

    ``programs[0]`` is the input (uniquified), ``programs[n + 1]`` the program after step ``n``;
    ``fn`` is the result. ``refusals`` are the reasons of configurations that were drawn and
    refused on the way (``"step 1 (reorder {...}): reason"``): they explain the search, they are
    not errors. ``mutated``/``resampled``/``origins`` say how a derived candidate was made
    (``search_space.mutate``).
    """

    sequence: tuple[str, ...]
    params: tuple[Params, ...]
    programs: tuple[ir.Function, ...]
    refusals: tuple[str, ...] = ()
    mutated: Union[int, None] = None
    resampled: tuple[int, ...] = ()
    origins: tuple[str, ...] = ()

    @property
    def fn(self) -> ir.Function:
        return self.programs[-1]

    @property
    def steps(self) -> list[tuple[str, Params]]:
        """``(pass name, params)`` pairs, as ``passes.schedule.apply_sequence`` takes them."""
        return list(zip(self.sequence, self.params))

    def describe(self) -> str:
        return "; ".join(f"{n}{dict(p)}" for n, p in self.steps) or "(no passes)"


@dataclass(frozen=True)
class Failure:
    """Why no candidate could be made: the step that could not be applied and the reasons."""

    sequence: tuple[str, ...]
    step: int
    reason: str
    refusals: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return self.reason


def step_label(n: int, name: str, params: Params) -> str:
    return f"step {n} ({name} {dict(params)})"


def try_apply(fn: ir.Function, n: int, name: str, params: Params) -> Union[ir.Function, str]:
    """The program after one step, or the reason it does not apply (labelled with the step)."""
    try:
        return PASSES[name].apply(fn, params)
    except ir.NotApplicable as exc:
        return f"{step_label(n, name, params)}: {exc}"


def draw_step(fn: ir.Function, n: int, name: str, rng: random.Random,
              attempts: int = DEFAULT_ATTEMPTS,
              exclude: Sequence[Params] = ()) -> tuple[Union[tuple[Params, ir.Function], None], list[str]]:
    """Draw configurations of pass ``name`` on ``fn`` until one applies (at most ``attempts``
    distinct ones, never one in ``exclude``). Returns ``((params, new program) or None, reasons)``.

    Drawing is site first, then each parameter uniformly: a site with many configurations does
    not crowd out the others (TVM's sampling does the same per decision)."""
    if name not in PASSES:
        raise KeyError(f"no tunable pass named {name!r}; known: {sorted(PASSES)}")
    sites = PASSES[name].space(fn)
    reasons: list[str] = []
    if not sites:
        return None, [f"step {n} ({name}): no site in the program"]
    total = sum(_count(s.params) for s in sites)
    tried: list[Params] = list(exclude)
    budget = min(attempts, total - _excluded(tried, sites))
    # draws that hit an already tried configuration are free, but bounded, so a tiny space ends
    draws = 0
    while budget > 0 and draws < 20 * attempts:
        draws += 1
        params = rng.choice(sites).sample(rng)
        if params in tried:
            continue
        tried.append(params)
        budget -= 1
        out = try_apply(fn, n, name, params)
        if isinstance(out, str):
            reasons.append(out)
            continue
        return (params, out), reasons
    if not reasons:
        reasons.append(f"step {n} ({name}): no other configuration to try")
    return None, reasons


def _count(decls: Sequence[Any]) -> int:
    out = 1
    for d in decls:
        out *= len(d.choices)
    return out


def _excluded(tried: Sequence[Params], sites: Sequence[Any]) -> int:
    """How many of ``tried`` are configurations listed by ``sites``."""
    def listed(p: Params) -> bool:
        return any(p.get("loop") == s.loop and set(p) == {"loop", *(d.name for d in s.params)}
                   and all(p[d.name] in d.choices for d in s.params) for s in sites)
    return sum(1 for p in tried if listed(p))


def sample_or_failure(fn: ir.Function, sequence: Sequence[str], rng: random.Random,
                      attempts: int = DEFAULT_ATTEMPTS, restarts: int = 3) -> Union[Candidate, Failure]:
    """Sample parameters for every step of ``sequence`` on ``fn`` (see the module docstring).

    A step whose ``attempts`` draws are all refused often failed because of an earlier choice
    (two splits of one loop leave a band whose bounds nest, so most reorders are refused), so
    the whole sequence is re-drawn up to ``restarts`` more times before giving up."""
    seq = tuple(sequence)
    start = uniquify(fn)
    refusals: list[str] = []
    failure: Union[Failure, None] = None
    for _ in range(restarts + 1):
        programs = [start]
        params: list[Params] = []
        for n, name in enumerate(seq):
            got, reasons = draw_step(programs[-1], n, name, rng, attempts)
            refusals += reasons
            if got is None:
                failure = Failure(seq, n, reasons[-1], tuple(refusals))
                break
            params.append(got[0])
            programs.append(got[1])
        else:
            return Candidate(seq, tuple(params), tuple(programs), tuple(refusals))
        if failure is not None and not PASSES[seq[failure.step]].space(programs[-1]) and failure.step == 0:
            break  # no site in the input itself: no restart can help
    assert failure is not None
    return failure


def sample(fn: ir.Function, sequence: Sequence[str], rng: random.Random,
           attempts: int = DEFAULT_ATTEMPTS) -> Union[Candidate, None]:
    """A candidate, or ``None`` when some step could not be applied (``sample_or_failure`` says
    why). Deterministic for a given ``rng`` state."""
    out = sample_or_failure(fn, sequence, rng, attempts)
    return out if isinstance(out, Candidate) else None


def replay(fn: ir.Function, sequence: Sequence[str], params: Sequence[Params]) -> Union[Candidate, Failure]:
    """The candidate for fixed parameters (e.g. read back from records), or why a step refuses."""
    seq = tuple(sequence)
    if len(params) != len(seq):
        raise ValueError(f"{len(params)} parameter sets for {len(seq)} steps")
    programs = [uniquify(fn)]
    for n, (name, p) in enumerate(zip(seq, params)):
        out = try_apply(programs[-1], n, name, p)
        if isinstance(out, str):
            return Failure(seq, n, out, (out,))
        programs.append(out)
    return Candidate(seq, tuple(params), tuple(programs))


def space_size(fn: ir.Function, name: str) -> int:
    """How many configurations pass ``name`` lists on ``fn`` (legal or not): the breadth of one
    step, useful to weight steps in mutation and to report the space."""
    return sum(_count(s.params) for s in PASSES[name].space(fn))


def viable_sequences(fn: ir.Function, sequences: Sequence[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """``sequences`` without those whose first pass has no site in ``fn`` (the corpus GEMM has no
    two loops to fuse, so every ``fuse>...`` sequence is dead on it). Only the first step is
    checked: it is the one whose space is known before sampling; later ones depend on it.
    Keeps the order, so the outer study's categorical stays stable for one program."""
    fn = uniquify(fn)
    has_site = {name: bool(PASSES[name].space(fn)) for name in {q[0] for q in sequences if q}}
    return [q for q in sequences if not q or has_site[q[0]]]
