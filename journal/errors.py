"""The journal's exceptions: one base class, corruption, and specific bad-input errors."""

from __future__ import annotations


class JournalError(Exception):
    """Base class of every error the journal raises on purpose."""


class CorruptedJournalError(JournalError):
    """Data on disk that the journal wrote and flushed is damaged or missing.

    `path` is the file and `offset` the byte offset in it where the damage was found
    (`offset` is None when the damage is a missing file as a whole).
    """

    def __init__(self, path: str, offset: int | None, reason: str) -> None:
        self.path = str(path)
        self.offset = offset
        self.reason = reason
        where = self.path if offset is None else f"{self.path} at byte offset {offset}"
        super().__init__(f"corrupted journal: {where}: {reason}")


class JournalClosedError(JournalError):
    """The journal was closed (or failed) and refuses further operations."""


class JournalLockedError(JournalError):
    """The journal directory is already open (in this or another process)."""


class JournalFailedError(JournalClosedError):
    """A write or fsync failed half-way; the journal must be reopened to recover."""


class NotARecordBatchError(JournalError, TypeError):
    """`append` was given something that is not a `pyarrow.RecordBatch`."""


class SchemaMismatchError(JournalError, ValueError):
    """A batch or an `open` call carries a schema other than the journal's."""


class TermRegressionError(JournalError, ValueError):
    """An append's term is lower than the term of the journal's last entry."""


class InvalidEntryMetadataError(JournalError, ValueError):
    """Per-entry user metadata is malformed, too large, or uses a reserved key."""


class EntryTooLargeError(JournalError, ValueError):
    """One entry would not fit in an empty segment."""


class IndexOutOfRangeError(JournalError, IndexError):
    """An index is outside [first_index, last_index] (or the range the operation accepts)."""


class CommitFloorError(JournalError, ValueError):
    """`truncate_after` was asked to drop entries at or below the commit floor."""
