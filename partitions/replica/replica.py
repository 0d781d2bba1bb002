"""PartitionReplica: one replica of one partition - Raft, the journal, the stream processor and
RocksDB composed, driven from outside like the Raft core (no threads, sockets, clocks or Ray).

The host (a broker, a test, the simulator) drives it:

    replica = PartitionReplica.open(directory, partition_id=1, replica_id=7, partition_count=3,
                                    clock=clock_ms, rng=random.Random(seed))
    replica.bootstrap({7: 2, 8: 1, 9: 0})   # founding members only, once, on an empty directory
    every tick_ms:        replica.tick()
    on a raft message:    replica.step(message)            # message.to == 7
    on client commands:   replica.submit(commands)         # NotLeaderError, BackpressureError
    then, while replica.has_ready():
        ready = replica.ready()      # everything in it is durable already: send it at once
        send(ready.messages); answer(ready.responses); fail(ready.unknown); ...
        replica.advance(ready)

`ready()` persists before it returns (the Raft Ready's snapshot, entries, fsync, hard state),
so its messages may leave at once; `advance` only acknowledges it.

Data path (the leader)
----------------------
- Client commands submitted between two `ready()` calls are proposed as ONE entry (positions,
  timestamps stamped then), up to `client_batch_records_max` records.
- Only committed commands are processed: the stream processor reads the committed view of the
  Raft log (`RaftLogView`). A processed batch's records are proposed as one entry. Processing
  does not wait for that entry to commit (pipelining: the leader's state runs ahead of commit),
  up to `entries_in_flight_max` uncommitted entries.
- A batch's responses, job pushes and commands for other partitions are held until the entry
  holding its records commits, then handed out in `ready()`.

Followers replay committed events continuously (same appliers), so their state is warm.

Leadership
----------
- Promotion: a new leader first replays every entry its log held when it won (they commit
  with its noop), then processes. Client commands are accepted (and proposed) at once.
- Demotion (or a processor that halted): the leader's state may hold effects of uncommitted
  batches. Pending answers are failed as UNKNOWN (`ready().unknown`: the client may retry with
  the same request ids); if any processed batch is uncommitted the state is rebuilt from the
  latest snapshot and the committed log (the restart path), else replay simply goes on.
- Keys never repeat: replay moves the key counter past every event's key, and a leader
  processes only after replaying its whole log.
- Retries are answered once (`request_ids.py`).

Snapshots, recovery
-------------------
A snapshot is a RocksDB checkpoint at the processed position P, taken only at a committed
state (a follower any time; a leader once nothing it processed is in flight - it pauses new
batches for that). It stands for Raft entry I, the last committed entry whose records all lie
at or below P (`RaftLogView.snapshot_point`); the journal is compacted below the oldest kept
snapshot and the slowest exporter. Raft streams it to lagging replicas as files
(`raft_storage.py`, `snapshots.py`); a replica that installs one replaces its state with it.
On open the runtime state directory is thrown away and rebuilt from Raft's snapshot plus the
committed log: RocksDB runs with its WAL off, so whatever a crash left there is not trusted.

Layout of `directory`: raft/ (JournalStorage: journal, hard state, snapshot.json),
snapshots/ (checkpoints with manifests), state/ (the runtime RocksDB), exporters.json.
"""

import random
import shutil
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from raybee.partitions.engine import ENGINE_FAMILIES, Response
from raybee.partitions.engine.families import POSITIONS
from raybee.partitions.engine.job_streams import JobPush, JobStream
from raybee.partitions.engine.stores.positions import LAST_PROCESSED
from raybee.partitions.exporters.director import ExporterDirector
from raybee.partitions.log_stream import AppendTooLargeError
from raybee.partitions.protocol import RECORD_SCHEMA, Record, RecordType, RejectionType
from raybee.partitions.raft_storage import JournalStorage, raft_section
from raybee.partitions.snapshots import SnapshotStore
from raybee.partitions.stream_processor import ProcessingHaltedError, StreamProcessor
from raybee.raft import (
    ConfChange,
    ConfChangeKind,
    ConfState,
    ProposalDroppedError,
    RaftNode,
    Role,
    bootstrap,
    persist_ready,
)
from raybee.raft import NotLeaderError as RaftNotLeaderError
from raybee.state import MemoryStore, RocksDBStore

from .collector import tune_collector
from .config import UNCOMMITTED_ENTRIES_SUBMIT_MAX_FACTOR, ReplicaConfig
from .errors import BackpressureError, NotLeaderError, ReplicaClosedError
from .log_view import RaftLogView
from .request_ids import REQUEST_ID_FAMILIES, RequestIdWindow

FAMILIES = (*ENGINE_FAMILIES, *REQUEST_ID_FAMILIES)
RAFT_DIR, SNAPSHOTS_DIR, STATE_DIR, EXPORTERS_FILE = "raft", "snapshots", "state", "exporters.json"
# The leader's recent answers by command position, for retries (the log is the fallback).
RECENT_ANSWERS_MAX = 10_000
REJECTION_REASON_CHARS_KEPT = 1_000

FOLLOWER, PROMOTING, LEADER = "follower", "promoting", "leader"


class RocksDBState:
    """The runtime state on RocksDB (the default): a directory, rebuilt from a checkpoint."""

    name = "rocksdb"

    def open(self, path: Path):
        return RocksDBStore(path, FAMILIES)

    def open_checkpoint(self, checkpoint: Path, path: Path):
        return RocksDBStore.open_checkpoint(checkpoint, path, FAMILIES)


class MemoryState:
    """The runtime state in memory (its checkpoints are still files): for simulation seeds
    that would spend most of their time opening RocksDB's 37 column families."""

    name = "memory"

    def open(self, path: Path):
        return MemoryStore(FAMILIES)

    def open_checkpoint(self, checkpoint: Path, path: Path):
        return MemoryStore.open_checkpoint(checkpoint, FAMILIES)


# Where a test's fault hook may stop the replica (the simulator crashes it there).
FAULT_POINTS = (
    "after_batch",  # a batch processed: state committed, its entry proposed, nothing persisted
    "after_persist",  # a Raft Ready persisted: its messages not sent
    "after_commit",  # committed entries applied: their responses not handed out
    "after_snapshot_taken",  # a checkpoint written: Raft does not hold it yet
    "install_before_state",  # Raft storage installed a snapshot: the state not yet replaced
    "rebuild_before_state",  # a demoted leader's state is being rebuilt
)


@dataclass
class ReplicaReady:
    messages: list = field(default_factory=list)  # raft messages; each has .to (a replica id)
    responses: list[Response] = field(default_factory=list)  # committed answers
    # (request stream id, request id) whose outcome is unknown (leadership lost before commit):
    # the client may retry with the same ids.
    unknown: list[tuple[int, int]] = field(default_factory=list)
    partition_commands: list[tuple[int, Record]] = field(default_factory=list)  # after commit
    job_pushes: list[JobPush] = field(default_factory=list)  # after commit

    def is_empty(self) -> bool:
        return not (
            self.messages
            or self.responses
            or self.unknown
            or self.partition_commands
            or self.job_pushes
        )


@dataclass
class _Batch:
    """A processed batch whose side effects wait for its entry to commit."""

    index: int
    responses: list[Response]
    partition_commands: list[tuple[int, Record]]
    job_pushes: list[JobPush]
    answered: set[tuple[int, int]]  # request ids its records answer


def _no_fault(_point: str) -> None:
    return None


class PartitionReplica:
    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use PartitionReplica.open(directory, partition_id=..., ...)")

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        directory,
        *,
        partition_id: int,
        replica_id: int,
        partition_count: int,
        clock: Callable[[], int],
        rng: random.Random,
        config: ReplicaConfig | None = None,
        exporters: list | tuple = (),
        faults: Callable[[str], None] | None = None,
        state: RocksDBState | MemoryState | None = None,
    ) -> "PartitionReplica":
        """Open (creating when empty) the replica in `directory`, recovering from whatever a
        crash left: Raft's snapshot plus the committed log. `exporters` receive every
        committed record; `faults(point)` is a test hook called at FAULT_POINTS (raise to
        crash there); `state` chooses the state backend (RocksDB unless a test says)."""
        if not isinstance(rng, random.Random):
            raise TypeError(f"replica {replica_id}: rng must be a seeded random.Random")
        tune_collector()  # the process hosts replicas: see collector.py
        self = object.__new__(cls)
        self.partition_id = partition_id
        self.replica_id = replica_id
        self.partition_count = partition_count
        self.config = config or ReplicaConfig()
        self._clock = clock
        self._rng = rng
        self._faults = faults or _no_fault
        self._state = state or RocksDBState()
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._closed = False
        self.stats: dict[str, int] = dict.fromkeys(
            (
                "batches",
                "client_entries",
                "promotions",
                "demotions",
                "rebuilds",
                "snapshots_taken",
                "snapshots_installed",
                "retries_answered",
                "unknown_outcomes",
            ),
            0,
        )
        self._snapshots = SnapshotStore(self._dir / SNAPSHOTS_DIR, kept=self.config.snapshots_kept)
        self._storage = JournalStorage.open(
            self._dir / RAFT_DIR,
            RECORD_SCHEMA,
            self.config.segment_size_bytes_max,
            snapshots=self._snapshots,
        )
        self._streams: dict[int, JobStream] = {}
        self._answers: OrderedDict[int, Record] = OrderedDict()
        self._store = None
        self._view = None
        self._processor: StreamProcessor | None = None
        self._load_state(reset_view=True)
        self._exporters = None
        if exporters:
            self._exporters = ExporterDirector(
                self._view, list(exporters), self._dir / EXPORTERS_FILE, partition_id
            )
        self._start_node()
        self._mode = FOLLOWER
        self._term_led = 0
        self._promotion_index = 0
        self._work = False  # new committed entries a leader has not looked at
        self._last_batch_index = 0  # the entry of the last batch this leader processed
        self._pending: deque[_Batch] = deque()
        self._client_batch: list[Record] = []
        self._in_flight: dict[tuple[int, int], None] = {}  # submitted here, not yet answered
        self._out = ReplicaReady()
        self._ready_out: ReplicaReady | None = None
        self._ticks = 0
        self._snapshot_position = self.processed_position
        self._snapshot_ms = clock()
        self._snapshot_wanted = False
        # Promotion timing (the host's clock): leader, processing, first batch processed.
        self.promoted_at_ms: int | None = None
        self.leading_since_ms: int | None = None
        self.first_processed_ms: int | None = None
        return self

    def _start_node(self) -> None:
        self._node = RaftNode(
            self.replica_id,
            self.config.raft,
            self._storage,
            random.Random(self._rng.getrandbits(64)),
            applied=self._view.committed_index,
        )
        self._view.bind(self._node)

    def _load_state(self, reset_view: bool) -> None:
        """The runtime state from Raft's snapshot (or empty), and a processor over it; with
        `reset_view`, the log view too (from the snapshot on, through the stored commit)."""
        snap = self._storage.snapshot()
        state_dir = self._dir / STATE_DIR
        shutil.rmtree(state_dir, ignore_errors=True)
        shutil.rmtree(state_dir.with_name(STATE_DIR + ".partial"), ignore_errors=True)
        if snap.meta.index:
            manifest = self._snapshots.manifest(snap.data)
            section = manifest["raft"]
            base = (section["index"], section["log_position"], manifest["position"])
            self._store = self._state.open_checkpoint(snap.data.state_path, state_dir)
        else:
            base = (0, 0, 0)
            self._store = self._state.open(state_dir)
        if reset_view:
            self._view = RaftLogView(self._storage, self.partition_id, *base)
            commit = max(self._storage.hard_state().commit, snap.meta.index)
            self._view.index_committed_log(commit)
        self._processor = self._new_processor()

    def _new_processor(self) -> StreamProcessor:
        window = RequestIdWindow(
            self.partition_id, self._answer_to, self.config.request_id_window_positions
        )
        processor = StreamProcessor(
            self._store,
            self._view,
            self.partition_id,
            self._clock,
            commands_per_batch_max=self.config.commands_per_batch_max,
            partition_count=self.partition_count,
            request_ids=window,
        )
        for stream in self._streams.values():
            processor.job_streams.add(stream)
        return processor

    def bootstrap(self, voters: dict[int, int]) -> None:
        """Founding members (replica id -> election priority), once, on an empty directory."""
        self._check_open()
        if not voters or self.replica_id not in voters:
            raise ValueError(
                f"partition {self.partition_id}: bootstrap voters {sorted(voters)} must include "
                f"this replica ({self.replica_id})"
            )
        if self._storage.last_index() != 0:
            raise ValueError(
                f"partition {self.partition_id} replica {self.replica_id} is already "
                f"bootstrapped (its log ends at {self._storage.last_index()})"
            )
        priorities = tuple(sorted((int(r), int(p)) for r, p in voters.items()))
        bootstrap(
            self._storage,
            ConfState(voters=frozenset(int(r) for r in voters), priorities=priorities),
        )
        self._start_node()

    # ------------------------------------------------------------------ inputs
    def tick(self) -> None:
        self._check_open()
        self._node.tick()
        self._ticks += 1
        if self._ticks % self.config.due_check_ticks == 0:
            self._follow_role()
            if self._mode == LEADER and self._processor.halted is None:
                self._client_batch.extend(self._processor.due_commands())

    def step(self, message) -> None:
        self._check_open()
        self._node.step(message)

    def submit(self, commands: list[Record]) -> None:
        """Client commands; each carries the request_stream_id and request_id its caller set
        (-1 for the host's own, which nobody awaits). Raises NotLeaderError(leader_id or None)
        on a non-leader, BackpressureError when too much is in flight; then nothing is taken.
        Answers come later through ready().responses (or .unknown)."""
        self._check_open()
        self._follow_role()
        node = self._node
        if node.role != Role.LEADER:
            raise NotLeaderError(
                node.leader_id,
                f"partition {self.partition_id}: replica {self.replica_id} is {node.role.value}, "
                f"leader is {node.leader_id}",
            )
        if node.lead_transferee is not None:
            raise NotLeaderError(
                None,
                f"partition {self.partition_id}: leadership is moving from {self.replica_id} to "
                f"{node.lead_transferee}",
            )
        awaited = []
        for command in commands:
            if command.record_type != RecordType.COMMAND:
                raise ValueError(f"clients submit commands, not {command.record_type.name}")
            if command.request_stream_id >= 0 and command.request_id >= 0:
                awaited.append((command.request_stream_id, command.request_id))
        in_flight = len(self._in_flight)
        if in_flight + len(awaited) > self.config.commands_in_flight_max:
            raise BackpressureError(
                f"partition {self.partition_id}: {in_flight} commands wait for an answer, the "
                f"limit is {self.config.commands_in_flight_max}"
            )
        uncommitted = node.last_index - node.commit_index
        limit = UNCOMMITTED_ENTRIES_SUBMIT_MAX_FACTOR * self.config.entries_in_flight_max
        if uncommitted > limit:
            raise BackpressureError(
                f"partition {self.partition_id}: {uncommitted} log entries wait for a quorum "
                f"to commit them, the limit is {limit}"
            )
        self._client_batch.extend(commands)
        for ids in awaited:
            self._in_flight[ids] = None

    # ------------------------------------------------------------------ ready
    def has_ready(self) -> bool:
        self._check_open()
        self._follow_role()
        return bool(
            self._node.has_ready()
            or not self._out.is_empty()
            or (self._client_batch and self._node.lead_transferee is None)
            or (self._pending and self._pending[0].index <= self._view.committed_index)
            or self._can_process()
            or self._view.committed_position >= self._replay_next()
        )

    def ready(self) -> ReplicaReady:
        """Persist and apply, process, propose - in rounds until nothing moves (bounded);
        returns what to send and hand out. Everything in it is durable.

        Client commands are proposed after processing, so that the batches' entries and the
        clients' entry of a round reach the journal in the next round's ONE fsync (group
        commit): proposed before, they took an fsync of their own (two per leader ready
        instead of one; no message leaves between the two, so the earlier one bought
        nothing)."""
        self._check_open()
        if self._ready_out is not None:
            raise RuntimeError("ready() again before advance() of the previous one")
        self._follow_role()
        for _ in range(self.config.rounds_per_ready_max):
            moved = self._raft_ready()
            moved = self._process_or_replay() or moved
            moved = self._propose_client_batch() or moved
            if not moved:
                break
        self._export()
        self._maybe_snapshot()
        out, self._out = self._out, ReplicaReady()
        self._ready_out = out
        return out

    def advance(self, ready: ReplicaReady) -> None:
        if ready is not self._ready_out:
            raise ValueError("advance() takes the ReplicaReady the last ready() returned")
        self._ready_out = None

    # ------------------------------------------------------------------ the steps of ready
    def _follow_role(self) -> None:
        node = self._node
        leading = node.role == Role.LEADER
        if self._mode != FOLLOWER and (not leading or node.term != self._term_led):
            self._demote()
        if leading and self._mode == FOLLOWER:
            self._promote()

    def _promote(self) -> None:
        node = self._node
        self._mode = PROMOTING
        self._term_led = node.term
        self._promotion_index = node.last_index  # its noop: everything before commits with it
        self._view.start_leading()
        self._last_batch_index = 0
        self.promoted_at_ms = self._clock()
        self.leading_since_ms = None
        self.first_processed_ms = None

    def _demote(self) -> None:
        was_processing = self._mode == LEADER
        self.stats["demotions"] += 1
        self._view.stop_leading()
        self._fail_in_flight()
        self._mode = FOLLOWER
        self._snapshot_wanted = False
        if was_processing:
            ahead = self._last_batch_index > self._view.committed_index
            if ahead or self._processor.halted is not None:
                self._rebuild()
            else:
                # Its state is exactly the committed log's: replay goes on from it.
                self._processor = self._new_processor()

    def _fail_in_flight(self) -> None:
        unknown = list(self._in_flight)
        self._out.unknown.extend(unknown)
        self.stats["unknown_outcomes"] += len(unknown)
        self._in_flight.clear()
        self._pending.clear()
        self._client_batch.clear()
        self._answers.clear()

    def _rebuild(self) -> None:
        """The state holds effects of uncommitted batches: back to Raft's snapshot, then replay
        the committed log (the restart path)."""
        self.stats["rebuilds"] += 1
        self._faults("rebuild_before_state")
        self._store.close()
        self._load_state(reset_view=False)

    def _propose_client_batch(self) -> bool:
        if not self._client_batch or self._node.role != Role.LEADER:
            return False
        if self._node.lead_transferee is not None:
            return False  # proposals are refused while leadership moves; kept until it does
        commands, self._client_batch = self._client_batch, []
        limit = self.config.client_batch_records_max
        for start in range(0, len(commands), limit):
            self._propose_commands(commands[start : start + limit])
        return True

    def _propose_commands(self, commands: list[Record]) -> None:
        now_ms = self._clock()
        position = self._view.last_position
        stamped = []
        for command in commands:
            position += 1
            stamped.append(
                command.stamped(
                    position=position, timestamp_ms=now_ms, partition_id=self.partition_id
                )
            )
        try:
            self._view.append(stamped)
        except AppendTooLargeError as error:
            if len(commands) > 1:  # fewer per entry
                half = len(commands) // 2
                self._propose_commands(commands[:half])
                self._propose_commands(commands[half:])
            else:
                self._refuse_too_large(stamped[0], error)
            return
        except ProposalDroppedError:
            # Raft refused (too much uncommitted): nothing was proposed; the clients may retry.
            self._fail_unproposed(commands)
            return
        self.stats["client_entries"] += 1

    def _refuse_too_large(self, command: Record, error: AppendTooLargeError) -> None:
        """A command that does not fit a log entry alone never reaches the log: its client
        gets a rejection now (outside the log: position -1)."""
        ids = (command.request_stream_id, command.request_id)
        if ids[0] < 0 or ids[1] < 0:
            return
        rejection = Record(
            command.value_type,
            command.intent,
            command.value,
            RecordType.COMMAND_REJECTION,
            key=command.key,
            timestamp_ms=command.timestamp_ms,
            partition_id=self.partition_id,
            rejection_type=RejectionType.EXCEEDED_BATCH_RECORD_SIZE,
            rejection_reason=(
                f"Expected to append the command to the log, but it does not fit one log "
                f"entry: {error}"
            )[:REJECTION_REASON_CHARS_KEPT],
            request_stream_id=ids[0],
            request_id=ids[1],
        )
        self._in_flight.pop(ids, None)
        self._out.responses.append(Response(*ids, rejection))

    def _fail_unproposed(self, commands: list[Record]) -> None:
        for command in commands:
            ids = (command.request_stream_id, command.request_id)
            if ids in self._in_flight:
                del self._in_flight[ids]
                self._out.unknown.append(ids)
                self.stats["unknown_outcomes"] += 1

    def _raft_ready(self) -> bool:
        node = self._node
        if not node.has_ready():
            return False
        rd = node.ready()
        persist_ready(self._storage, rd)  # snapshot, entries, fsync, hard state
        self._faults("after_persist")
        self._out.messages.extend(rd.messages)
        if rd.snapshot is not None:
            self._install(rd.snapshot)
        if rd.committed_entries:
            self._view.apply_committed(rd.committed_entries)
            self._work = True
        node.advance(rd)
        self._faults("after_commit")
        self._follow_role()  # advance may end our leadership (our own removal committed)
        self._release()
        return True

    def _install(self, snapshot) -> None:
        """Raft installed a snapshot received from the leader: the state becomes it."""
        assert self._mode == FOLLOWER, self._mode
        self._faults("install_before_state")
        self.stats["snapshots_installed"] += 1
        self._store.close()
        manifest = self._snapshots.manifest(snapshot.data)
        section = manifest["raft"]
        self._view.reset(section["index"], section["log_position"], manifest["position"])
        self._load_state(reset_view=False)
        self._snapshot_position = self.processed_position

    def _release(self) -> None:
        committed = self._view.committed_index
        while self._pending and self._pending[0].index <= committed:
            batch = self._pending.popleft()
            for ids in batch.answered:
                self._in_flight.pop(ids, None)
            for response in batch.responses:
                self._in_flight.pop((response.request_stream_id, response.request_id), None)
            self._out.responses.extend(batch.responses)
            self._out.partition_commands.extend(batch.partition_commands)
            self._out.job_pushes.extend(batch.job_pushes)

    def _replay_next(self) -> int:
        """The first position a follower has not replayed (beyond the log when leading)."""
        if self._mode != FOLLOWER:
            return self._view.committed_position + 1
        return self._processor.replay_position

    def _can_process(self) -> bool:
        if self._mode == PROMOTING:
            return self._view.committed_index >= self._promotion_index
        return (
            self._mode == LEADER
            and self._work
            and not self._snapshot_wanted
            and self._node.lead_transferee is None
            and self._node.last_index - self._node.commit_index < self.config.entries_in_flight_max
        )

    def _process_or_replay(self) -> bool:
        if self._mode == FOLLOWER:
            if self._view.committed_position < self._replay_next():
                return False
            # One transaction per round: a long catch-up must not hold the host's loop.
            self._processor.replay(transactions_max=1)
            return True
        if not self._can_process():
            return False
        if self._mode == PROMOTING:
            self._processor.become_leader()
            self._mode = LEADER
            self._work = True
            self.stats["promotions"] += 1
            self.leading_since_ms = self._clock()
        return self._process()

    def _process(self) -> bool:
        batches = 0
        while batches < self.config.batches_per_ready_max and self._can_process():
            try:
                result = self._processor.process_batch()
            except ProcessingHaltedError:
                self._halted()
                return True
            if result is None:
                self._work = False
                break
            batches += 1
            self.stats["batches"] += 1
            index = self._view.last_proposed_index
            assert index > self._last_batch_index, (index, self._last_batch_index)
            self._last_batch_index = index
            if self.first_processed_ms is None:
                self.first_processed_ms = self._clock()
            answered = set()
            for record in result.records:
                if record.request_id >= 0 and record.request_stream_id >= 0:
                    answered.add((record.request_stream_id, record.request_id))
            for response in result.responses:
                record = response.record
                if record.position >= 0:
                    self._answers[record.source_record_position] = record
            while len(self._answers) > RECENT_ANSWERS_MAX:
                self._answers.popitem(last=False)
            self._pending.append(
                _Batch(
                    index,
                    result.responses,
                    result.partition_commands,
                    result.job_pushes,
                    answered,
                )
            )
            self._faults("after_batch")
        return batches > 0

    def _halted(self) -> None:
        """The processor stopped after a failure that reached the log: rebuild, and lead again
        (replaying first) if Raft still says so."""
        self._view.stop_leading()
        self._fail_in_flight()
        self._rebuild()
        self._mode = FOLLOWER
        self._follow_role()

    def _answer_to(self, command_position: int) -> Record | None:
        answer = self._answers.get(command_position)
        if answer is None:
            answer = self._view.answer_to(command_position)
        if answer is not None:
            self.stats["retries_answered"] += 1
        return answer

    # ------------------------------------------------------------------ snapshots, exporters
    def _maybe_snapshot(self) -> None:
        if self._mode == PROMOTING or self._processor.halted is not None:
            return
        processed = self.processed_position
        moved = processed - self._snapshot_position
        if moved <= 0:
            return
        due = moved >= self.config.snapshot_interval_positions or (
            self._clock() - self._snapshot_ms >= self.config.snapshot_interval_ms
        )
        if not due:
            return
        if self._mode == LEADER and self._last_batch_index > self._view.committed_index:
            self._snapshot_wanted = True  # no new batch until what is in flight commits
            return
        self._snapshot_wanted = False
        self.snapshot_now()

    def snapshot_now(self) -> bool:
        """Checkpoint the state at its processed position and let Raft hold it (compacting
        the log below the oldest kept snapshot). False when there is nothing new to take."""
        processed = self.processed_position
        if self._mode == LEADER and self._last_batch_index > self._view.committed_index:
            return False
        if self._mode == PROMOTING or processed > self._view.committed_position:
            return False
        index, log_position = self._view.snapshot_point(max(processed, 0))
        if index <= self._storage.snapshot_meta().index or self._snapshots.has(processed):
            return False  # nothing new (a snapshot of this state exists, Raft may hold it)
        term = self._node.term_at(index)
        conf = self._node.conf_at(index)
        files = self._snapshots.take(
            self._store,
            processed,
            self._clock(),
            raft=raft_section(index, term, conf, log_position),
        )
        self._faults("after_snapshot_taken")
        self._storage.retain_from_index = self._exporter_floor()
        self._storage.create_snapshot(index, conf, files)
        self._view.compact(self._storage.first_retained_index)
        self._snapshot_position = processed
        self._snapshot_ms = self._clock()
        self.stats["snapshots_taken"] += 1
        return True

    def _exporter_floor(self) -> int | None:
        if self._exporters is None:
            return None
        return self._view.entry_index_of(self._exporters.lowest_position + 1)

    def _export(self) -> None:
        if self._exporters is not None:
            self._exporters.export_available(self._view.committed_position)

    # ------------------------------------------------------------------ membership
    def add_learner(self, replica_id: int, priority: int = 0) -> None:
        self._change(ConfChange(ConfChangeKind.ADD_LEARNER, replica_id, priority))

    def promote(self, replica_id: int) -> None:
        self._change(ConfChange(ConfChangeKind.PROMOTE, replica_id))

    def remove(self, replica_id: int) -> None:
        self._change(ConfChange(ConfChangeKind.REMOVE, replica_id))

    def _change(self, change: ConfChange) -> None:
        self._check_open()
        try:
            self._node.propose_conf_change(change)
        except RaftNotLeaderError as error:
            raise NotLeaderError(error.leader_id, str(error)) from error

    def transfer_leadership(self, replica_id: int) -> None:
        self._check_open()
        try:
            self._node.transfer_leadership(replica_id)
        except RaftNotLeaderError as error:
            raise NotLeaderError(error.leader_id, str(error)) from error

    # ------------------------------------------------------------------ job push
    def open_job_stream(self, stream: JobStream) -> None:
        self._check_open()
        self._processor.job_streams.add(stream)
        self._streams[stream.stream_id] = stream

    def close_job_stream(self, stream_id: int) -> None:
        self._check_open()
        if self._streams.pop(stream_id, None) is not None:
            self._processor.job_streams.remove(stream_id)

    # ------------------------------------------------------------------ observation
    @property
    def role(self) -> str:
        return self._node.role.value

    @property
    def leader_id(self) -> int | None:
        return self._node.leader_id

    @property
    def term(self) -> int:
        return self._node.term

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def processed_position(self) -> int:
        """The last log-read command the state has processed (one read, no engine object)."""
        return self._store.view().get(POSITIONS, LAST_PROCESSED, -1)

    @property
    def committed_position(self) -> int:
        return self._view.committed_position

    @property
    def has_uncommitted_state(self) -> bool:
        """Whether the state holds effects of batches not yet committed (a leader's)."""
        return self._mode == LEADER and self._last_batch_index > self._view.committed_index

    def status(self) -> dict:
        node = self._node
        conf = node.conf
        snap = self._storage.snapshot_meta()
        lag = {}
        if node.role == Role.LEADER:
            last = node.last_index
            lag = {str(p): last - view.match_index for p, view in node.progress().items()}
        halted = self._processor.halted
        return {
            "partition_id": self.partition_id,
            "replica_id": self.replica_id,
            "role": self.role,
            "mode": self._mode,
            "term": node.term,
            "leader_id": node.leader_id,
            "commit_index": node.commit_index,
            "applied_index": self._view.committed_index,
            "last_index": node.last_index,
            "committed_position": self._view.committed_position,
            "processed_position": self.processed_position,
            "applied_position": self.processed_position,
            "snapshot": {"index": snap.index, "position": self._snapshot_position},
            "lag": lag,
            "members": {
                str(member): {"voter": member in conf.voters, "priority": conf.priority(member)}
                for member in sorted(conf.members)
            },
            "in_flight": len(self._in_flight),
            "health": "halted" if halted is not None else self._mode,
            "promotion": {
                "promoted_at_ms": self.promoted_at_ms,
                "leading_since_ms": self.leading_since_ms,
                "first_processed_ms": self.first_processed_ms,
            },
            "stats": dict(self.stats),
        }

    def digest(self) -> str:
        return self._store.digest()

    def read_committed(self, from_position: int, records_max: int) -> list[Record]:
        """Committed records from a position on (tests check the log)."""
        records = []
        for record in self._view.read_from(from_position):
            records.append(record)
            if len(records) >= records_max:
                break
        return records

    # ------------------------------------------------------------------ closing
    def _check_open(self) -> None:
        if self._closed:
            raise ReplicaClosedError(
                f"partition {self.partition_id} replica {self.replica_id} is closed"
            )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._exporters is not None:
            self._exporters.close()
        self._storage.close()
        self._store.close()

    def crash(self) -> None:
        """Stop as a killed process would: nothing more is flushed (tests, the simulator)."""
        if self._closed:
            return
        self._closed = True
        self._storage.crash()
        self._store.close()  # its files are thrown away on the next open anyway
