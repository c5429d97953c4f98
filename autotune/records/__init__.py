"""Durable records of a tuning run: workloads, candidates and their measurements."""

from autotune.records.store import RecordStore, default_url

__all__ = ["RecordStore", "default_url"]
