"""Corpus references: attention operators (see ``registry`` for the calling convention)."""
