"""Corpus references: data operators (see ``registry`` for the calling convention)."""
