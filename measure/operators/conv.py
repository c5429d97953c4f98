"""Corpus references: conv operators (see ``registry`` for the calling convention)."""
