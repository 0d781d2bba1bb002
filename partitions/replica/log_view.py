"""The partition's log as the stream processor sees it: a view of the COMMITTED entries of the
Raft log, whose `append` proposes to Raft.

One log: the Raft journal (`partitions/raft_storage.py`) is the partition's only journal. Each
NORMAL Raft entry holds one Arrow batch of records with contiguous positions (entries.py).

Positions are assigned by the leader when it proposes: the next position is the last position
in its whole log, committed or not, plus one, so positions follow log order. A new leader
continues after the last position of its whole log (`start_leading`): its entries from earlier
terms will commit with its noop; entries of other logs that it does not hold will be truncated,
and their positions (and keys) never reached a client.

Readers (replay and processing) see only committed entries: `committed_position` is the last
position of the newest entry the host handed to `apply_committed`, and `read_from` stops there.
`last_position` is the end of the whole log while this replica leads (its proposals in flight
lie between the two), and the committed position otherwise - so the processor reads back its
own records only when nothing it appended is still uncommitted. After a snapshot the view
starts at the entry the snapshot stands for; the snapshot's state may have processed records
that lie in later entries not received yet, and `last_position` covers them (the log holds
them; they are on their way).

Kept in memory: a sparse map (first position, raft index) of every committed entry with
records, and the decoded records of this leader's recent proposals (it processes commands a
moment after proposing them and need not decode them back). Older entries are read from the
Raft storage in runs and decoded with the reader's record-type filter.
"""

import bisect
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa

from raybee.partitions.log_stream import COMMANDS, NOT_COMMANDS, AppendTooLargeError, LogStream
from raybee.partitions.protocol import Record, batch_to_records
from raybee.raft import EntryKind, RaftNode

from .entries import encode_entry, position_range, response_rows
from .errors import NotLeaderError

# Decoded records of this leader's committed proposals kept for readers (entries).
DECODED_ENTRIES_CACHED_MAX = 256
# Raft entries read from storage at once by a reader that is behind.
READ_ENTRIES_PER_RUN_MAX = 256
# A retried command's first answer is looked for in at most this many entries after it.
ANSWER_SCAN_ENTRIES_MAX = 2_000


class RaftLogView(LogStream):
    def __init__(
        self,
        storage,
        partition_id: int,
        base_index: int,
        base_position: int,
        snapshot_position: int = 0,
    ) -> None:
        self._storage = storage
        self.partition_id = partition_id
        self._node: RaftNode | None = None
        self._leading = False
        self.reset(base_index, base_position, snapshot_position)

    def reset(self, base_index: int, base_position: int, snapshot_position: int = 0) -> None:
        """Start over after a snapshot: entries after `base_index` come next, and the records
        of entries up to it end at `base_position`. The snapshot's state was processed up to
        `snapshot_position`: the records up to it exist in the log (some may lie in entries
        after the base this replica has not received yet)."""
        assert base_index >= 0 and base_position >= 0, (base_index, base_position)
        self._base_index = base_index
        self._snapshot_position = snapshot_position
        self._committed_index = base_index
        self._committed_position = base_position
        self._firsts: list[int] = []  # first position of each committed entry with records
        self._indexes: list[int] = []  # its raft index
        self._proposed: dict[int, tuple[int, list[Record]]] = {}  # index -> (term, records)
        self._decoded: OrderedDict[int, list[Record]] = OrderedDict()
        self._last_position = base_position
        self.last_proposed_index = 0
        self._response_rows: list[int] = []

    def bind(self, node: RaftNode) -> None:
        self._node = node

    # ------------------------------------------------------------------ positions
    @property
    def committed_index(self) -> int:
        return self._committed_index

    @property
    def committed_position(self) -> int:
        return self._committed_position

    @property
    def last_position(self) -> int:
        if self._leading:
            return self._last_position
        return max(self._committed_position, self._snapshot_position)

    @property
    def first_position(self) -> int:
        return self._firsts[0] if self._firsts else self._committed_position + 1

    @property
    def base_index(self) -> int:
        return self._base_index

    def snapshot_point(self, processed_position: int) -> tuple[int, int]:
        """(raft index I, last position at I) for a snapshot of state processed up to
        `processed_position`: I is the last committed entry whose records all lie at or below
        it, so the log after I holds every record above it (and perhaps some below it, of
        commands the state has processed, which replay skips by their root)."""
        assert processed_position <= self._committed_position, (
            processed_position,
            self._committed_position,
        )
        if processed_position >= self._committed_position:
            return self._committed_index, self._committed_position
        slot = bisect.bisect_right(self._firsts, processed_position + 1) - 1
        # The state holds at least what the base snapshot holds, and the first entry after it
        # starts right after the base position.
        assert slot >= 0, (processed_position, self._firsts[:1], self._base_index)
        return self._indexes[slot] - 1, self._firsts[slot] - 1

    def entry_index_of(self, position: int) -> int:
        """The raft index of the committed entry holding `position` (past the committed log:
        the index the next entry will have)."""
        if position > self._committed_position or not self._indexes:
            return self._committed_index + 1
        slot = bisect.bisect_right(self._firsts, position) - 1
        return self._indexes[max(slot, 0)]

    # ------------------------------------------------------------------ the host's side
    def apply_committed(self, entries: Sequence) -> None:
        """Raft committed these entries (in order; already-known ones are skipped)."""
        for entry in entries:
            if entry.index <= self._committed_index:
                continue
            assert entry.index == self._committed_index + 1, (entry.index, self._committed_index)
            self._committed_index = entry.index
            if entry.kind != EntryKind.NORMAL or entry.data.num_rows == 0:
                self._proposed.pop(entry.index, None)
                continue
            first, last = position_range(entry.data)
            if first != self._committed_position + 1:
                raise AssertionError(
                    f"partition {self.partition_id}: committed entry {entry.index} starts at "
                    f"position {first}, but the committed log ends at "
                    f"{self._committed_position}: positions must be contiguous"
                )
            self._firsts.append(first)
            self._indexes.append(entry.index)
            self._committed_position = last
            proposed = self._proposed.pop(entry.index, None)
            if proposed is not None and proposed[0] == entry.term:
                self._decoded[entry.index] = proposed[1]
                if len(self._decoded) > DECODED_ENTRIES_CACHED_MAX:
                    self._decoded.popitem(last=False)

    def index_committed_log(self, commit_index: int) -> None:
        """On open: the entries up to `commit_index` on disk are committed (the stored commit
        index); take them in without handing them to Raft again."""
        index = self._committed_index + 1
        while index <= commit_index:
            hi = min(commit_index + 1, index + READ_ENTRIES_PER_RUN_MAX)
            self.apply_committed(self._storage.entries(index, hi))
            index = hi

    def start_leading(self) -> None:
        """This replica leads: positions continue after the last one of its whole log."""
        assert self._node is not None
        last = self._committed_position
        lo, hi = self._committed_index + 1, self._node.last_index + 1
        for entry in self._node.entries(lo, hi) if lo < hi else ():
            if entry.kind == EntryKind.NORMAL and entry.data.num_rows:
                first, end = position_range(entry.data)
                assert first == last + 1, (entry.index, first, last)
                last = end
        self._last_position = last
        self._leading = True

    def stop_leading(self) -> None:
        self._leading = False
        self._proposed.clear()
        self._last_position = self._committed_position

    def compact(self, first_index: int) -> None:
        """Forget entries before `first_index` (the storage no longer holds them)."""
        keep = bisect.bisect_left(self._indexes, first_index)
        if keep:
            del self._indexes[:keep]
            del self._firsts[:keep]
        for index in [i for i in self._decoded if i < first_index]:
            del self._decoded[index]

    # ------------------------------------------------------------------ appends (proposals)
    def append_result(self, result) -> list[Record]:
        """Append a processed batch, flagging which of its records answer a client."""
        rows = {id(record): row for row, record in enumerate(result.records)}
        self._response_rows = sorted(
            rows[id(r.record)] for r in result.responses if id(r.record) in rows
        )
        try:
            return self.append(result.records)
        finally:
            self._response_rows = []

    def _append(self, records: list[Record]) -> None:
        node = self._node
        if node is None or not self._leading:
            raise NotLeaderError(
                None if node is None else node.leader_id,
                f"partition {self.partition_id}: cannot append {len(records)} records: this "
                f"replica does not lead",
            )
        batch = encode_entry(records, self._response_rows)
        size = pa.ipc.get_record_batch_size(batch)
        room = self._storage.entry_bytes_max
        if size > room:
            raise AppendTooLargeError(
                f"an append of {len(records)} records at positions {records[0].position}.."
                f"{records[-1].position} takes {size} bytes; one log entry holds {room}"
            )
        index = node.propose(batch)  # NotLeaderError / ProposalDroppedError: nothing appended
        self._proposed[index] = (node.term, records)
        self._last_position = records[-1].position
        self.last_proposed_index = index

    # ------------------------------------------------------------------ reads
    def read_from(
        self,
        position: int,
        skip_commands: bool = False,
        commands_only: bool = False,
        command_headers: bool = False,
        value_models: Mapping[tuple[int, int, int], type | None] | None = None,
    ) -> Iterator[Record]:
        if position > self._committed_position or not self._indexes:
            return
        slot = max(bisect.bisect_right(self._firsts, position) - 1, 0)
        wanted = NOT_COMMANDS if skip_commands else COMMANDS if commands_only else None
        headers_only = COMMANDS if command_headers else frozenset()
        index, last = self._indexes[slot], self._committed_index
        if commands_only:
            self._forget_decoded_before(index)
        while index <= last:
            hi = min(last + 1, index + READ_ENTRIES_PER_RUN_MAX)
            for entry in self._read_entries(index, hi):
                if entry.kind != EntryKind.NORMAL or entry.data.num_rows == 0:
                    continue
                decoded = self._decoded.get(entry.index)
                if decoded is None:
                    records = batch_to_records(entry.data, wanted, headers_only, value_models)
                else:
                    records = decoded
                for record in records:
                    if record.position < position:
                        continue
                    if decoded is not None and (
                        (skip_commands and record.is_command)
                        or (commands_only and not record.is_command)
                    ):
                        continue
                    yield record
            index = hi

    def _forget_decoded_before(self, index: int) -> None:
        """The processor's command reader starts at entry `index`: the decoded entries before
        it have served it, the reader they are kept for (it reads forward, each command once).
        Kept until DECODED_ENTRIES_CACHED_MAX pushed them out, a leader held 63,400 decoded
        records after 20,000 job lifecycles (`raybee bench replica`), objects that every
        full collection of Python's garbage collector walks. A reader further behind (an
        exporter) decodes them from storage instead."""
        decoded = self._decoded
        while decoded:
            oldest = next(iter(decoded))
            if oldest >= index:
                return
            del decoded[oldest]

    def _read_entries(self, lo: int, hi: int) -> list:
        if lo > self._storage.snapshot_meta().index:
            return self._storage.entries(lo, hi)
        return self._storage.retained_entries(lo, hi)  # below Raft's snapshot, still on disk

    def answer_to(self, command_position: int) -> Record | None:
        """The record flagged as the response to the command at `command_position`, if the
        log still holds it (a client's retry is answered with it)."""
        if command_position >= self._committed_position or not self._indexes:
            return None
        slot = max(bisect.bisect_right(self._firsts, command_position) - 1, 0)
        index, last = self._indexes[slot], self._committed_index
        stop = min(last, index + ANSWER_SCAN_ENTRIES_MAX)
        while index <= stop:
            hi = min(stop + 1, index + READ_ENTRIES_PER_RUN_MAX)
            for entry in self._read_entries(index, hi):
                if entry.kind != EntryKind.NORMAL or entry.data.num_rows == 0:
                    continue
                rows = response_rows(entry.data)
                if not rows:
                    continue
                records = self._decoded.get(entry.index) or batch_to_records(entry.data)
                for row in rows:
                    if records[row].source_record_position == command_position:
                        return records[row]
            index = hi
        return None

    def close(self) -> None:
        """Nothing to release: the storage belongs to the replica, which closes it."""
