"""The grammar of pass sequences the outer search may choose, per (source, target) pair.

Why a grammar and not "any sequence of any passes": most orders of the tunable passes are
either redundant (two routes to one program) or dead on arrival (a pass that cannot apply
after the one before it). For the CPU target (``passes.schedule.PASSES``) one ordered template
keeps every useful composition and drops the rest::

    [fuse?] [split{0..2}] [reorder?] [vectorize?] [unroll?] [parallel?]

Each slot is optional; the order is chosen so that every pass sees the loop structure it needs:

- ``fuse`` first: it needs two neighbouring loops with *identical* headers, and every other pass
  changes headers or kinds (a split of one loop, a pragma on another) so that it would no longer
  apply; fusing a split nest equals splitting a fused one.
- ``split`` (strip-mining, up to twice, e.g. ``i`` and ``j``) before ``reorder``: a split
  followed by a reorder of the band is tiling (``i_o, j_o, i, j``); split leaves the nest
  perfect precisely so that this works. A reorder without split is the template with no split.
- ``vectorize`` after the loop structure is final: it only applies to an *innermost* serial
  loop, and marks it ``vectorized``, which reorder refuses to move.
- ``unroll`` after ``vectorize``: the pragma form marks its loop ``unrolled``, which vectorize
  (and split, reorder, parallel) refuse; unrolling is a final touch on an outer loop or a loop
  that was not vectorized.
- ``parallel`` last: it must see the final nest (no nested parallel regions; reorder refuses
  to move a parallel loop), and choosing *which* loop carries the threads only makes sense
  once the chunk loops created by split exist.

The empty sequence (rendered ``"none"``) is always the first choice: the untuned program is
the baseline every study should measure. Targets without tunable passes (``cuda``, ``hip``,
``bang`` today) have only it. The source platform does not change the grammar today (a
CUDA kernel translated to the CPU is a CPU loop nest like any other); it is an argument so
that the outer study keys its choices on the pair, and the *parameter* space, which does depend
on the program, comes from ``search_space.params``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Iterator

from passes.schedule import PASSES

SEPARATOR = ">"
EMPTY = "none"

PassSequence = tuple[str, ...]


@dataclass(frozen=True)
class Slot:
    """One position of the template: a pass that may occur ``lo`` to ``hi`` times in a row."""

    name: str
    lo: int = 0
    hi: int = 1


@dataclass(frozen=True)
class Grammar:
    """An ordered template of slots; a sequence is one repetition count per slot."""

    target: str
    slots: tuple[Slot, ...]

    def sequences(self) -> Iterator[PassSequence]:
        """Every sequence of the template, in a stable order (shorter first, then template order)."""
        counts = [range(s.lo, s.hi + 1) for s in self.slots]
        seqs = {tuple(itertools.chain.from_iterable([s.name] * c for s, c in zip(self.slots, combo)))
                for combo in itertools.product(*counts)}
        rank = {s.name: n for n, s in enumerate(self.slots)}
        yield from sorted(seqs, key=lambda q: (len(q), [rank[p] for p in q]))

    def accepts(self, sequence: PassSequence) -> bool:
        """Whether ``sequence`` is derivable from the template (greedy matching is exact here:
        each pass name occurs in one slot only)."""
        pos = 0
        for slot in self.slots:
            n = 0
            while pos < len(sequence) and sequence[pos] == slot.name and n < slot.hi:
                pos, n = pos + 1, n + 1
            if n < slot.lo:
                return False
        return pos == len(sequence)


CPU_GRAMMAR = Grammar("cpu", (
    Slot("fuse"), Slot("split", 0, 2), Slot("reorder"), Slot("vectorize"), Slot("unroll"),
    Slot("parallel")))

GRAMMARS: dict[str, Grammar] = {"cpu": CPU_GRAMMAR}

assert {s.name for s in CPU_GRAMMAR.slots} == set(PASSES), "the CPU grammar must cover PASSES"


def grammar(target: str, source: str | None = None) -> Grammar:
    """The grammar for ``source -> target`` (see the module docstring: only the target matters
    today). A target without tunable passes gets an empty template (only the empty sequence)."""
    del source
    return GRAMMARS.get(target, Grammar(target, ()))


def enumerate_sequences(target: str, max_len: int = 4, source: str | None = None) -> list[PassSequence]:
    """The distinct sequences of at most ``max_len`` passes, the empty one first, stable order."""
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    return [q for q in grammar(target, source).sequences() if len(q) <= max_len]


def encode(sequence: PassSequence) -> str:
    """``("split", "vectorize")`` -> ``"split>vectorize"``; the empty sequence is ``"none"``."""
    return SEPARATOR.join(sequence) if sequence else EMPTY


def decode(choice: str) -> PassSequence:
    """The inverse of ``encode``; unknown pass names are a ``ValueError``."""
    if choice == EMPTY:
        return ()
    seq = tuple(choice.split(SEPARATOR))
    unknown = [p for p in seq if p not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass {unknown[0]!r} in {choice!r}; known: {sorted(PASSES)}")
    return seq


def sequence_choices(target: str, max_len: int = 4, source: str | None = None) -> list[str]:
    """The sequences as strings, for ``trial.suggest_categorical("sequence", ...)`` (Optuna
    categoricals must be plain, stable values; the order never changes between runs, so a
    resumed study sees the same distribution)."""
    return [encode(q) for q in enumerate_sequences(target, max_len, source)]
