"""Corpus references: elementwise operators (see ``registry`` for the calling convention)."""
