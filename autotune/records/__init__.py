"""Durable records of a tuning run: workloads, candidates and their measurements."""

from autotune.records.store import (
    RecordStore,
    RecordStoreError,
    StoreNotFound,
    default_url,
    host_provenance,
    sha256,
)

__all__ = ["RecordStore", "RecordStoreError", "StoreNotFound", "default_url", "host_provenance",
           "sha256"]
