"""Corpus references: reductions operators (see ``registry`` for the calling convention)."""
