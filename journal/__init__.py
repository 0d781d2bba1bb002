"""Segmented, append-only journal of Arrow record batches (one entry = one IPC record batch).

See `journal.py` for the durability protocol and `constants.py` for the limits.
"""

from raybee.journal.entry import JournalEntry, RecoveryReport, TruncatedTail
from raybee.journal.errors import (
    CommitFloorError,
    CorruptedJournalError,
    EntryTooLargeError,
    IndexOutOfRangeError,
    InvalidEntryMetadataError,
    JournalClosedError,
    JournalError,
    JournalFailedError,
    JournalLockedError,
    NotARecordBatchError,
    SchemaMismatchError,
    TermRegressionError,
)
from raybee.journal.journal import Journal

__all__ = [
    "CommitFloorError",
    "CorruptedJournalError",
    "EntryTooLargeError",
    "IndexOutOfRangeError",
    "InvalidEntryMetadataError",
    "Journal",
    "JournalClosedError",
    "JournalEntry",
    "JournalError",
    "JournalFailedError",
    "JournalLockedError",
    "NotARecordBatchError",
    "RecoveryReport",
    "SchemaMismatchError",
    "TermRegressionError",
    "TruncatedTail",
]
