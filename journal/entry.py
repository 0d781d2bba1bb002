"""Values the journal hands out: one entry, and what recovery did on open."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journal entry: its index and term, its record batch and its user metadata."""

    index: int
    term: int
    batch: pa.RecordBatch
    metadata: Mapping[bytes, bytes]


@dataclass(frozen=True, slots=True)
class TruncatedTail:
    """Recovery cut a damaged or partial tail that lay past the last flushed index."""

    path: str
    offset: int
    bytes_dropped: int
    reason: str


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What `Journal.open` repaired. Empty when the journal was closed cleanly."""

    truncated: tuple[TruncatedTail, ...] = ()
    removed_files: tuple[str, ...] = field(default=())
    last_flushed_index: int = 0

    @property
    def repaired(self) -> bool:
        return bool(self.truncated or self.removed_files)
