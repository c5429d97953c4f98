"""Corpus references: linalg operators (see ``registry`` for the calling convention)."""
