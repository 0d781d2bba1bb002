"""Segmented, append-only journal of Arrow record batches (one entry = one IPC record batch).

On disk, a journal is a directory:
- `journal.meta`: JSON with its own CRC32C - the schema message, first index, last flushed
  index, newest segment, and a pending-reset flag; replaced atomically.
- `journal.lock`: flock-ed while a `Journal` has the directory open.
- `journal.flushed`: the flush hint, "entries up to N were flushed" with a CRC32C, rewritten
  in place after each flush (see `_hint.py`).
- `<first index, 20 digits>.arrow`: segments. Each is a plain Arrow IPC stream
  (`pyarrow.ipc.open_stream` reads it): the schema message, then record-batch messages.
  An entry's custom metadata holds `raybee:index`, `raybee:term`, the user's pairs, and last
  `raybee:crc32c`, the CRC32C of the whole message (prefix, metadata, body) taken with those
  eight hex digits as "00000000". A flush marker is a 0-row batch with `raybee:flushed` and
  `raybee:crc32c`: written just *after* each flush's fdatasync, it proves on recovery that the
  entries up to that index were flushed.

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
