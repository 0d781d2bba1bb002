"""The partition's record stream: positions, appends, sequential reads.

`MemoryLogStream` keeps records in a list (tests, and beside the real thing);
`JournalLogStream` keeps them in the Arrow IPC journal, one journal entry per append.
Without Raft every append is committed once it returns; with Raft the partition decides.

An append either happens whole or not at all: `AppendTooLargeError` (the records do not fit
one entry) is raised before anything is written; any other error (ENOSPC, EIO) may leave the
underlying journal failed until it is reopened, and the caller must treat the log as unknown
(the stream processor stops and is rebuilt from snapshot + log).
"""

import bisect
import itertools
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Mapping, Sequence

from raybee.journal import EntryTooLargeError, Journal
from raybee.partitions.protocol import (
    RECORD_SCHEMA,
    Record,
    RecordType,
    batch_to_records,
    records_to_batch,
)

COMMANDS = frozenset({int(RecordType.COMMAND)})
NOT_COMMANDS = frozenset(int(t) for t in RecordType) - COMMANDS
RECENT_APPENDS_CACHED = 64


class AppendTooLargeError(ValueError):
    """The records of one append do not fit one log entry; nothing was written."""


class LogStream(ABC):
    @property
    @abstractmethod
    def last_position(self) -> int:
        """Position of the newest record, 0 when empty (positions start at 1)."""

    @property
    def committed_position(self) -> int:
        """Position of the newest record readers may see. Without replication every append is
        committed at once; a replicated log appends before it commits."""
        return self.last_position

    @property
    @abstractmethod
    def first_position(self) -> int:
        """Position of the oldest record kept (compaction drops older ones); when the log is
        empty, the position the next record will get."""

    @abstractmethod
    def _append(self, records: list[Record]) -> None: ...

    @abstractmethod
    def read_from(
        self,
        position: int,
        skip_commands: bool = False,
        commands_only: bool = False,
        command_headers: bool = False,
        value_models: Mapping[tuple[int, int, int], type | None] | None = None,
    ) -> Iterator[Record]:
        """Records with position >= position, in order. Processing reads with commands_only;
        replay with command_headers: events and rejections decoded, commands with value None
        (replay needs to know which commands the processor wrote, never what they ask).
        skip_commands leaves commands out. Neither decodes what it does not need. Records of
        a (value type, intent, record version) in value_models may come back with their value
        decoded by the model it names, or None for None (replay: what the applier reads of
        them); records this stream holds decoded come back as they are."""

    def append(self, records: Sequence[Record]) -> list[Record]:
        """Append records as one unit; a record with position -1 gets the next position, one
        that has a position must have exactly that one. Returns the positioned records."""
        if not records:
            return []
        next_position = self.last_position + 1
        positioned = []
        for offset, record in enumerate(records):
            expected = next_position + offset
            if record.position == -1:
                record = record.stamped(position=expected)
            elif record.position != expected:
                raise ValueError(
                    f"record {offset} of the append has position {record.position}, but the "
                    f"log's next position is {expected}: positions are contiguous"
                )
            positioned.append(record)
        self._append(positioned)
        return positioned

    def append_result(self, result) -> list[Record]:
        """Append the records of a processed batch (a ProcessingResult) as one unit. A log
        that keeps more than records (the replicated one flags which answer a client)
        overrides this."""
        return self.append(result.records)

    @abstractmethod
    def close(self) -> None: ...


class MemoryLogStream(LogStream):
    def __init__(self) -> None:
        self._records: list[Record] = []

    @property
    def last_position(self) -> int:
        return len(self._records)

    def _append(self, records: list[Record]) -> None:
        self._records.extend(records)

    @property
    def first_position(self) -> int:
        return 1

    def close(self) -> None:
        pass

    def read_from(
        self,
        position: int,
        skip_commands: bool = False,
        commands_only: bool = False,
        command_headers: bool = False,
        value_models: Mapping[tuple[int, int, int], type | None] | None = None,
    ) -> Iterator[Record]:
        index = max(position, 1) - 1
        while index < len(self._records):
            record = self._records[index]
            if not (
                (skip_commands and record.is_command) or (commands_only and not record.is_command)
            ):
                yield record
            index += 1


class JournalLogStream(LogStream):
    """Records in a Journal: each append is one entry (one record batch), flushed before
    append returns when `flush_each_append` is on."""

    def __init__(self, journal, flush_each_append: bool = True) -> None:
        self.journal = journal
        self.flush_each_append = flush_each_append
        # The newest appends, decoded: the processor reads what was just appended (commands a
        # moment ago, by clients) and need not decode it back from Arrow.
        self._recent: deque[list[Record]] = deque(maxlen=RECENT_APPENDS_CACHED)
        # Sparse index: first position of every entry, parallel to its journal index.
        self._first_positions: list[int] = []
        self._indexes: list[int] = []
        self._last_position = 0
        for entry in journal.read_from(journal.first_index):
            positions = entry.batch.column("position")
            if len(positions) == 0:
                continue
            self._first_positions.append(positions[0].as_py())
            self._indexes.append(entry.index)
            self._last_position = positions[-1].as_py()

    @classmethod
    def open(cls, path, flush_each_append: bool = True, **journal_options) -> "JournalLogStream":
        return cls(Journal.open(path, schema=RECORD_SCHEMA, **journal_options), flush_each_append)

    @property
    def last_position(self) -> int:
        return self._last_position

    @property
    def first_position(self) -> int:
        return self._first_positions[0] if self._first_positions else self._last_position + 1

    def _append(self, records: list[Record]) -> None:
        try:
            index = self.journal.append(0, records_to_batch(records))
        except EntryTooLargeError as error:
            raise AppendTooLargeError(
                f"an append of {len(records)} records at positions {records[0].position}.."
                f"{records[-1].position} does not fit one journal entry: {error}"
            ) from error
        if self.flush_each_append:
            self.journal.flush()
        self._first_positions.append(records[0].position)
        self._indexes.append(index)
        self._last_position = records[-1].position
        self._recent.append(records)

    def read_from(
        self,
        position: int,
        skip_commands: bool = False,
        commands_only: bool = False,
        command_headers: bool = False,
        value_models: Mapping[tuple[int, int, int], type | None] | None = None,
    ) -> Iterator[Record]:
        recent = self._recent
        if recent and position >= recent[0][0].position:
            # Newest first to the append holding `position` (reads are near the tail), then on.
            start = len(recent) - 1
            while recent[start][0].position > position:
                start -= 1
            appends = list(itertools.islice(recent, start, None))
            offset = max(position - appends[0][0].position, 0)
            for records in appends:
                for record in records[offset:] if offset else records:
                    if skip_commands and record.is_command:
                        continue
                    if commands_only and not record.is_command:
                        continue
                    yield record
                offset = 0
            return
        slot = max(bisect.bisect_right(self._first_positions, position) - 1, 0)
        if slot >= len(self._indexes):
            return
        wanted = NOT_COMMANDS if skip_commands else COMMANDS if commands_only else None
        headers_only = COMMANDS if command_headers else frozenset()
        for entry in self.journal.read_from(self._indexes[slot]):
            for record in batch_to_records(entry.batch, wanted, headers_only, value_models):
                if record.position >= position:
                    yield record

    def compact_before(self, position: int) -> int:
        """Drop whole journal segments holding only records below `position` (records a
        snapshot and every exporter no longer need); returns the first position kept."""
        slot = bisect.bisect_right(self._first_positions, position) - 1
        if slot <= 0:
            return self._first_positions[0] if self._first_positions else 1
        first_index = self.journal.compact_before(self._indexes[slot])
        keep = bisect.bisect_left(self._indexes, first_index)
        del self._indexes[:keep]
        del self._first_positions[:keep]
        while self._recent and self._recent[0][0].position < self._first_positions[0]:
            self._recent.popleft()
        return self._first_positions[0]

    def close(self) -> None:
        self.journal.close()
