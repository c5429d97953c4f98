"""Corpus references: norm operators (see ``registry`` for the calling convention)."""
