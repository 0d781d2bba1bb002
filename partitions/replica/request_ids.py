"""Exactly once with client retries: the window of recently processed request ids.

A client that got no answer (a lost response, a leader change, Ray reporting a call as failed
although it ran) sends the command again with the SAME (request stream id, request id). The
partition must not apply it twice. So the state keeps, for every log-read client command
processed within the last `window_positions` positions, (request stream id, request id) -> the
command's position. A later log-read command with the same ids within that window is a retry:

- it is not processed; its answer in the log is a COMMAND_REJECTION of type ALREADY_EXISTS
  naming the first command's position (so every command still has exactly one answer run in
  the log, and replay moves the processed position past it like past any other command);
- the client gets the FIRST answer: the response record the first command got, found in the
  batch being processed, in the leader's recent answers, or in the log (processed entries flag
  their response rows, entries.py). Zeebe's clients need a definite answer: a retried CREATE
  gets the key it created. When that record is gone (compacted, or an answer outside the log
  such as a process instance's awaited result) the client gets the rejection, which says the
  command was applied.

Why the state, not the leader's memory: a new leader must know what the old one processed, and
replay rebuilds the window (followers hold it byte for byte like every other state). The window
is a pure function of the processed command log, decided in log order: a command is a retry
iff an earlier processed command with the same ids lies within `window_positions` before it.
Processing decides per batch before processing it; replay decides when it learns a command
was processed (its root passed), in the same order and against the same window, so both write
the same entries.

Layout: one family, keyed by (bucket, request stream id, request id) -> the command's position,
where bucket = position // window_positions. A lookup reads the command's bucket and the one
before (every entry within the window lies in one of them), unless the request id lies above
every id of its stream the bucket holds: clients number their requests upwards, so a fresh
command's does, and the window keeps an upper bound per (bucket, request stream) - the largest
id there, found by one backwards seek when first needed, raised by every id it records since
(deletions only lower what the state holds). The answer is the reads' answer; fresh commands
skip the reads (one get per command and replica at bench replica's 20,000 lifecycles, two once
positions pass the first window). Whole buckets below the window are deleted when the
processed position moves past them (`EVICTED_BELOW` remembers how far, in state), at the end
of a transaction - the same rule in processing and replay, so at equal processed positions
the bytes agree. One put per command, one delete later, up to two gets (a retry's).

The window is replicated state: every replica of a partition must use the same
`window_positions` (a partition-wide constant, `REQUEST_ID_WINDOW_POSITIONS`). At 25,000
records/s, 1,000,000 positions are ~40 s of traffic, longer than any client's retry deadline;
up to two windows of ids are kept, a small RocksDB entry per client command.
"""

import struct

from raybee.partitions.engine import Response
from raybee.partitions.protocol import Record, RecordType, RejectionType
from raybee.state import BYTES_KEY, INT_VALUE, ColumnFamily

REQUEST_ID_WINDOW_POSITIONS = 1_000_000
# (bucket, request stream id, request id) -> position of the command; big-endian, so buckets
# sort in order (ids are >= 0, buckets too).
_KEY = struct.Struct(">qqq")
REQUEST_IDS = ColumnFamily("request_ids", BYTES_KEY, INT_VALUE)
# In REQUEST_IDS under a key no bucket has (8 bytes): every bucket below it is gone.
EVICTED_BELOW = b"evicted!"
REQUEST_ID_FAMILIES = (REQUEST_IDS,)
# (bucket, request stream id) upper bounds kept before the window starts over (a cache: any
# bound it lacks is read again).
ID_BOUNDS_KEPT_MAX = 100_000
REJECTION_REASON_PREFIX = "Expected to process the command with request id"


def request_ids_of(command: Record) -> tuple[int, int] | None:
    """The ids a client set on a log-read command, or None (the host's own commands)."""
    if command.source_record_position >= 0:
        return None  # a follow-up command: the engine's own
    if command.request_stream_id < 0 or command.request_id < 0:
        return None
    return command.request_stream_id, command.request_id


class RequestIdWindow:
    """Plugged into the stream processor (its `request_ids`). `answers(position)` finds the
    response to the command at a position (the replica's recent answers, then the log)."""

    def __init__(
        self, partition_id: int, answers, window_positions: int = REQUEST_ID_WINDOW_POSITIONS
    ):
        assert window_positions >= 1
        self.partition_id = partition_id
        self.answers = answers
        self.window_positions = window_positions
        # Replay: log-read commands with ids read but not yet known processed, in log order.
        self._replayed_commands: dict[int, tuple[int, int]] = {}
        self.duplicates_seen = 0
        # (bucket, request stream id) -> a request id at or above every one the state holds
        # there. Only this window writes its family while the processor that owns it lives
        # (a new state comes with a new processor and window), so the bound stays one.
        self._id_bounds: dict[tuple[int, int], int] = {}

    # ------------------------------------------------------------------ decisions
    def _first(self, reader, ids: tuple[int, int], position: int) -> int | None:
        """The position of the processed command with these ids within the window before
        `position`, if any."""
        bucket = position // self.window_positions
        first = None
        if ids[1] <= self._id_bound(reader, bucket, ids[0]):
            first = reader.get(REQUEST_IDS, _KEY.pack(bucket, *ids))
        if first is None and bucket > 0 and ids[1] <= self._id_bound(reader, bucket - 1, ids[0]):
            first = reader.get(REQUEST_IDS, _KEY.pack(bucket - 1, *ids))
        if first is None or first < position - self.window_positions:
            return None  # never seen, or seen too long ago (kept until its bucket goes)
        assert first < position, (ids, first, position)
        return first

    def _id_bound(self, reader, bucket: int, stream: int) -> int:
        """A request id at or above every id of `stream` the state holds in `bucket` (-1: it
        holds none), from one backwards seek the first time."""
        bound = self._id_bounds.get((bucket, stream))
        if bound is None:
            prefix = _KEY.pack(bucket, stream, 0)[:16]
            last = next(iter(reader.prefix(REQUEST_IDS, prefix, reverse=True)), None)
            bound = -1 if last is None else _KEY.unpack(last[0])[2]
            if len(self._id_bounds) >= ID_BOUNDS_KEPT_MAX:
                self._id_bounds.clear()
            self._id_bounds[(bucket, stream)] = bound
        return bound

    def duplicates(self, reader, commands: list[Record]) -> dict[int, int]:
        """Retries among log-read `commands` (in log order): {position: first position}."""
        found: dict[int, int] = {}
        in_batch: dict[tuple[int, int], int] = {}
        for command in commands:
            ids = request_ids_of(command)
            if ids is None:
                continue
            first = in_batch.get(ids)
            if first is None:
                first = self._first(reader, ids, command.position)
            if first is not None:
                found[command.position] = first
            else:
                in_batch[ids] = command.position
        return found

    # ------------------------------------------------------------------ processing
    def processed(
        self,
        txn,
        result,
        commands: list[Record],
        duplicates: dict[int, int],
        next_position: int,
        processed_position: int,
    ) -> None:
        """After the engine processed the batch's fresh commands in `txn`: answer the retries
        (a rejection in the log, the first answer to the client), record the fresh commands'
        ids, forget what left the window."""
        by_source = {
            response.record.source_record_position: response.record
            for response in result.responses
            if response.record.position >= 0
        }
        for command in commands:
            ids = request_ids_of(command)
            if ids is None:
                continue
            first = duplicates.get(command.position)
            if first is None:
                self._record(txn, ids, command.position)
                continue
            self.duplicates_seen += 1
            rejection = self._rejection(command, first, next_position)
            next_position += 1
            result.records.append(rejection)
            answer = by_source.get(first) or self.answers(first)
            result.responses.append(Response(*ids, answer if answer is not None else rejection))
        self._evict(txn, processed_position)

    def _rejection(self, command: Record, first: int, position: int) -> Record:
        rsid, rid = command.request_stream_id, command.request_id
        return Record(
            command.value_type,
            command.intent,
            command.value,
            RecordType.COMMAND_REJECTION,
            key=command.key,
            position=position,
            source_record_position=command.position,
            timestamp_ms=command.timestamp_ms,
            partition_id=self.partition_id,
            rejection_type=RejectionType.ALREADY_EXISTS,
            rejection_reason=(
                f"{REJECTION_REASON_PREFIX} {rid} of request stream {rsid} once, but it was "
                f"already processed at position {first}: a retry is answered with the first "
                f"answer and not applied again"
            ),
            request_stream_id=rsid,
            request_id=rid,
        )

    def _record(self, txn, ids: tuple[int, int], position: int) -> None:
        bucket = position // self.window_positions
        txn.put(REQUEST_IDS, _KEY.pack(bucket, *ids), position)
        # Raised even if the transaction aborts later: a bound too high only costs a read.
        bound = self._id_bounds.get((bucket, ids[0]))
        if bound is not None and ids[1] > bound:
            self._id_bounds[(bucket, ids[0])] = ids[1]

    def _evict(self, txn, processed_position: int) -> None:
        """Delete the buckets wholly below the window of `processed_position`."""
        floor = max(processed_position - self.window_positions, 0) // self.window_positions
        evicted = txn.get(REQUEST_IDS, EVICTED_BELOW, 0)
        if floor <= evicted:
            return
        self._id_bounds = {k: v for k, v in self._id_bounds.items() if k[0] >= floor}
        stale = [
            key
            for key, _ in txn.range(
                REQUEST_IDS, _KEY.pack(evicted, 0, 0)[:8], _KEY.pack(floor, 0, 0)[:8]
            )
        ]
        for key in stale:
            if key != EVICTED_BELOW:
                txn.delete(REQUEST_IDS, key)
        txn.put(REQUEST_IDS, EVICTED_BELOW, floor)

    # ------------------------------------------------------------------ replay
    def replay_read(self, command: Record) -> None:
        """Replay read a log-read command (above the state's position at start)."""
        ids = request_ids_of(command)
        if ids is not None:
            self._replayed_commands[command.position] = ids

    def replayed(self, txn, processed_position: int) -> None:
        """End of a replay transaction: the commands up to `processed_position` are processed;
        record them as processing did (in log order, retries not), and forget the oldest."""
        pending = self._replayed_commands
        if pending:
            done = [p for p in pending if p <= processed_position]  # dicts keep log order
            for position in done:
                ids = pending.pop(position)
                if self._first(txn, ids, position) is None:
                    self._record(txn, ids, position)
        self._evict(txn, processed_position)
