"""The tuner: the inner search over the parameters of one pass sequence (``inner``); the outer
study over sequences and the Ray distribution build on its steps."""

from autotune.tuner.inner import InnerResult, Proposal, inner_search

__all__ = ["InnerResult", "Proposal", "inner_search"]
