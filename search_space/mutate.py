"""Mutation and crossover of candidates of one pass sequence (the inner search's moves).

Parameters of later steps refer to the program that earlier steps produced (loop names such as
``j_o`` exist only after a split of ``j``), so both operators *replay*: after changing step
``k`` every later step is re-applied to the new program, and a step whose old parameters no
longer apply is re-sampled there (and listed in ``Candidate.resampled`` with the reason in
``refusals``). A move that cannot produce a candidate returns a ``Failure`` saying why rather
than the parent unchanged: the inner search must know that it got nothing new.
"""

from __future__ import annotations

import random
from typing import Union

from passes import ir
from passes.names import uniquify
from search_space.params import (
    DEFAULT_ATTEMPTS,
    Candidate,
    Failure,
    Params,
    draw_step,
    try_apply,
)


def _check_origin(fn: ir.Function, cand: Candidate) -> None:
    if uniquify(fn) != cand.programs[0]:
        raise ValueError("the candidate was not made from this program")


def mutate(fn: ir.Function, candidate: Candidate, rng: random.Random,
           attempts: int = DEFAULT_ATTEMPTS) -> Union[Candidate, Failure]:
    """Re-sample the parameters of one step (drawn uniformly; another step is tried when this
    one has no other applicable configuration) and replay the steps after it.

    The result differs from ``candidate`` in the params of step ``mutated`` and, only where
    their old params stopped applying, of the steps in ``resampled``; nowhere else."""
    _check_origin(fn, candidate)
    seq = candidate.sequence
    if not seq:
        return Failure(seq, 0, "nothing to mutate: the sequence is empty")
    order = list(range(len(seq)))
    rng.shuffle(order)
    why: list[str] = []
    for k in order:
        got, reasons = draw_step(candidate.programs[k], k, seq[k], rng, attempts,
                                 exclude=[candidate.params[k]])
        why += reasons
        if got is None:
            continue
        params: list[Params] = list(candidate.params[:k]) + [got[0]]
        programs = list(candidate.programs[:k + 1]) + [got[1]]
        refusals = list(reasons)
        resampled: list[int] = []
        for j in range(k + 1, len(seq)):
            out = try_apply(programs[-1], j, seq[j], candidate.params[j])
            if isinstance(out, ir.Function):
                params.append(candidate.params[j])
                programs.append(out)
                continue
            refusals.append(out)
            again, more = draw_step(programs[-1], j, seq[j], rng, attempts)
            refusals += more
            if again is None:
                break
            params.append(again[0])
            programs.append(again[1])
            resampled.append(j)
        else:
            return Candidate(seq, tuple(params), tuple(programs), tuple(refusals),
                             mutated=k, resampled=tuple(resampled))
        why += refusals
    return Failure(seq, order[-1], "no step could be mutated: " + (why[-1] if why else "no reason"),
                   tuple(why))


def crossover(fn: ir.Function, a: Candidate, b: Candidate, rng: random.Random) -> Union[Candidate, Failure]:
    """A child of two candidates of the same sequence: each step's params are taken from ``a``
    or ``b`` (a fair coin; the other parent's when the chosen ones do not apply to the program
    the child has so far). ``origins[n]`` says which parent step ``n`` came from."""
    if a.sequence != b.sequence:
        raise ValueError(f"crossover needs one sequence, got {a.sequence} and {b.sequence}")
    _check_origin(fn, a)
    _check_origin(fn, b)
    seq = a.sequence
    programs = [a.programs[0]]
    params: list[Params] = []
    origins: list[str] = []
    refusals: list[str] = []
    for n, name in enumerate(seq):
        first = rng.choice(("a", "b"))
        for who in (first, "b" if first == "a" else "a"):
            p = (a if who == "a" else b).params[n]
            out = try_apply(programs[-1], n, name, p)
            if isinstance(out, ir.Function):
                params.append(p)
                programs.append(out)
                origins.append(who)
                break
            refusals.append(out)
        else:
            return Failure(seq, n, f"neither parent's params of step {n} apply: {refusals[-1]}",
                           tuple(refusals))
    return Candidate(seq, tuple(params), tuple(programs), tuple(refusals), origins=tuple(origins))
