"""What can be tuned: the grammar of pass sequences per (source, target) (``grammar``), the
parameter space of one sequence on one program with sequential sampling (``params``), mutation
and crossover (``mutate``), and de-duplication by a canonical hash of the resulting program
(``dedup``)."""

from search_space.dedup import Deduplicator, canonical_text, program_hash
from search_space.grammar import decode, encode, enumerate_sequences, grammar, sequence_choices
from search_space.mutate import crossover, mutate
from search_space.params import (
    Candidate,
    Failure,
    replay,
    sample,
    sample_or_failure,
    viable_sequences,
)

__all__ = [
    "Candidate", "Deduplicator", "Failure", "canonical_text", "crossover", "decode", "encode",
    "enumerate_sequences", "grammar", "mutate", "program_hash", "replay", "sample",
    "sample_or_failure", "sequence_choices", "viable_sequences",
]
