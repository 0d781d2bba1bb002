"""TEMPORARY Raft-backed stand-in for `raybee.partitions.replica.PartitionReplica` (issue 9), so
that the cluster's failover machinery (elections across brokers, Raft messages as actor calls,
learners, promotion, removal, leader following, re-replication) runs before the real replica
lands. Selected per deployment (`replica="raft-standin"`); `actors/hosting.py` lists it.

What it is: state machine replication of COMMANDS. The real `raft.RaftNode` orders client
commands (one entry per `submit`, stamped with the leader's clock); every replica applies each
committed entry to its own in-memory `LocalPartition` (MemoryLogStream + MemoryStore), so every
replica processes every command - deterministic, because the engine reads time from the
command. Request ids are deduplicated AT APPLY, on every replica alike: a command whose
(request stream id, request id) was applied before is answered with the earlier answer and not
applied again, so retries after a leader change apply once.

What it is not (the real replica does these): no persistence (the Raft log, state and dedup
window live in memory: a replica whose process restarts refuses to reopen its directory and is
replaced under a new id, like a lost disk); followers process instead of replaying events; no
snapshots (a learner catches up from the whole log); no job push (streams are leader-local and
would make the replicas' processing diverge; workers activate by long polling); scheduled work
(job timeouts, back-offs) is proposed by the leader as commands.
"""

import contextlib
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from raybee.actors._standin_replica import BackpressureError, StandinLimitError
from raybee.partitions.engine import ENGINE_FAMILIES, Response
from raybee.partitions.engine.job_streams import JobPush, JobStream
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import Record, RecordType
from raybee.raft import (
    ConfChange,
    ConfChangeKind,
    ConfState,
    EntryKind,
    MemoryStorage,
    NotLeaderError,
    ProposalDroppedError,
    RaftConfig,
    RaftNode,
    Role,
    bootstrap,
    persist_ready,
)
from raybee.state import MemoryStore

MARKER_FILE = "raft-standin"
REQUEST_IDS_KEPT_MAX = 100_000


@dataclass(frozen=True)
class RaftStandinConfig:
    tick_ms: int = 20
    election_timeout_ticks: int = 10
    heartbeat_interval_ticks: int = 2
    due_check_ticks: int = 5
    # Client commands waiting for an answer on the leader before submit refuses.
    commands_in_flight_max: int = 20_000


@dataclass
class RaftStandinReady:
    messages: list = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    unknown: list[tuple[int, int]] = field(default_factory=list)
    partition_commands: list[tuple[int, Record]] = field(default_factory=list)
    job_pushes: list[JobPush] = field(default_factory=list)
    raft_ready: object = None


class RaftStandinReplica:
    def __init__(
        self,
        directory: Path,
        partition_id: int,
        replica_id: int,
        partition_count: int,
        clock: Callable[[], int],
        rng: random.Random,
        config: RaftStandinConfig,
    ) -> None:
        self.directory = directory
        self.partition_id = partition_id
        self.replica_id = replica_id
        self.partition_count = partition_count
        self.clock = clock
        self.config = config
        self._rng = rng
        self.storage = MemoryStorage()
        self._raft_config = RaftConfig(
            election_timeout_ticks=config.election_timeout_ticks,
            heartbeat_interval_ticks=config.heartbeat_interval_ticks,
        )
        self.node = RaftNode(replica_id, self._raft_config, self.storage, rng)
        self.partition = LocalPartition(
            MemoryStore(ENGINE_FAMILIES),
            MemoryLogStream(),
            partition_id,
            clock,
            partition_count=partition_count,
        )
        # Replicated (every replica applies the same entries): answers by request ids, and
        # the ids applied whose answer is still to come (a create awaiting its result).
        self._answers: OrderedDict[tuple[int, int], Record] = OrderedDict()
        self._applied_unanswered: set[tuple[int, int]] = set()
        # Leader-local: the ids submitted here, answered from here.
        self._waiting: set[tuple[int, int]] = set()
        self._out = RaftStandinReady()
        self._was_leader = False
        self._ticks = 0

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
        config: RaftStandinConfig | None = None,
    ) -> "RaftStandinReplica":
        path = Path(directory)
        if (path / MARKER_FILE).exists():
            raise StandinLimitError(
                f"the raft stand-in keeps nothing on disk: replica {replica_id} of partition "
                f"{partition_id} cannot reopen {path}; it must be replaced under a new id"
            )
        path.mkdir(parents=True, exist_ok=True)
        (path / MARKER_FILE).write_text("in memory only\n")
        return cls(
            path,
            partition_id,
            replica_id,
            partition_count,
            clock,
            rng,
            config or RaftStandinConfig(),
        )

    def bootstrap(self, voters: dict[int, int]) -> None:
        if self.replica_id not in voters:
            raise ValueError(f"replica {self.replica_id} is not among the voters {voters}")
        conf = ConfState(voters=frozenset(voters), priorities=tuple(sorted(voters.items())))
        bootstrap(self.storage, conf)
        self.node = RaftNode(self.replica_id, self._raft_config, self.storage, self._rng)

    # ------------------------------------------------------------------ observation
    @property
    def role(self) -> str:
        return self.node.role.value

    @property
    def leader_id(self) -> int | None:
        return self.node.leader_id

    @property
    def term(self) -> int:
        return self.node.term

    # ------------------------------------------------------------------ driving
    def tick(self) -> None:
        self.node.tick()
        self._ticks += 1
        if self.node.role == Role.LEADER and self._ticks % self.config.due_check_ticks == 0:
            due = self.partition.processor.due_commands()
            if due:
                with contextlib.suppress(NotLeaderError, ProposalDroppedError):
                    self.node.propose(tuple(self._stamp(due)))

    def step(self, message) -> None:
        self.node.step(message)

    def _stamp(self, commands: list[Record]) -> list[Record]:
        now_ms = self.clock()
        return [c.stamped(timestamp_ms=now_ms, partition_id=self.partition_id) for c in commands]

    def submit(self, commands: list[Record]) -> None:
        if self.node.role != Role.LEADER:
            raise NotLeaderError(self.replica_id, self.node.leader_id, "accept commands")
        if len(self._waiting) + len(commands) > self.config.commands_in_flight_max:
            raise BackpressureError(
                f"partition {self.partition_id}: {len(self._waiting)} commands wait for an "
                f"answer, the limit is {self.config.commands_in_flight_max}"
            )
        for command in commands:
            if command.record_type != RecordType.COMMAND:
                raise ValueError(f"clients submit commands, not {command.record_type.name}")
        try:
            self.node.propose(tuple(self._stamp(commands)))
        except ProposalDroppedError as error:
            raise BackpressureError(f"partition {self.partition_id}: {error}") from error
        for command in commands:
            if command.request_stream_id >= 0 and command.request_id >= 0:
                self._waiting.add((command.request_stream_id, command.request_id))

    def has_ready(self) -> bool:
        out = self._out
        return self.node.has_ready() or bool(out.responses or out.unknown)

    def ready(self) -> RaftStandinReady:
        out, self._out = self._out, RaftStandinReady()
        if self.node.has_ready():
            rd = self.node.ready()
            persist_ready(self.storage, rd)
            for entry in rd.committed_entries:
                if entry.kind == EntryKind.NORMAL:
                    self._apply(list(entry.data), out)
            out.messages = list(rd.messages)
            out.raft_ready = rd
        leader = self.node.role == Role.LEADER
        if self._was_leader and not leader:
            # Whatever was submitted here and not answered may or may not commit elsewhere.
            out.unknown.extend(sorted(self._waiting))
            self._waiting.clear()
        self._was_leader = leader
        return out

    def advance(self, ready: RaftStandinReady) -> None:
        if ready.raft_ready is not None:
            self.node.advance(ready.raft_ready)

    def _apply(self, commands: list[Record], out: RaftStandinReady) -> None:
        fresh = []
        for command in commands:
            ids = (command.request_stream_id, command.request_id)
            if ids[0] < 0 or ids[1] < 0:
                fresh.append(command)
                continue
            earlier = self._answers.get(ids)
            if earlier is not None:
                if ids in self._waiting:
                    self._waiting.discard(ids)
                    out.responses.append(Response(ids[0], ids[1], earlier))
                continue
            if ids in self._applied_unanswered:
                continue  # applied; its answer comes when the instance completes
            self._applied_unanswered.add(ids)
            fresh.append(command)
        if not fresh:
            return
        log = self.partition.log
        position = log.last_position
        stamped = []
        for command in fresh:
            position += 1
            stamped.append(command.stamped(position=position))
        log.append(stamped)
        responses = self.partition.process()
        # Every replica processed the batch; only the leader sends what it sends other
        # partitions (receivers are idempotent, and the sender resends what is not
        # acknowledged, whoever leads then).
        outbox, self.partition.outbox = self.partition.outbox, []
        if self.node.role == Role.LEADER:
            out.partition_commands.extend(outbox)
        for response in responses:
            ids = (response.request_stream_id, response.request_id)
            if ids[0] < 0 or ids[1] < 0:
                continue
            self._applied_unanswered.discard(ids)
            self._answers[ids] = response.record
            if len(self._answers) > REQUEST_IDS_KEPT_MAX:
                self._answers.popitem(last=False)
            if ids in self._waiting:
                self._waiting.discard(ids)
                out.responses.append(response)

    # ------------------------------------------------------------------ membership
    def add_learner(self, replica_id: int, priority: int = 0) -> None:
        self.node.propose_conf_change(ConfChange(ConfChangeKind.ADD_LEARNER, replica_id, priority))

    def promote(self, replica_id: int) -> None:
        self.node.propose_conf_change(ConfChange(ConfChangeKind.PROMOTE, replica_id))

    def remove(self, replica_id: int) -> None:
        self.node.propose_conf_change(ConfChange(ConfChangeKind.REMOVE, replica_id))

    def transfer_leadership(self, replica_id: int) -> None:
        self.node.transfer_leadership(replica_id)

    def open_job_stream(self, stream: JobStream) -> None:
        del stream  # no push: see the module docstring

    def close_job_stream(self, stream_id: int) -> None:
        del stream_id

    def status(self) -> dict:
        conf = self.node.conf
        lag = {}
        if self.node.role == Role.LEADER:
            commit = self.node.commit_index
            lag = {
                str(peer): max(0, commit - view.match_index)
                for peer, view in self.node.progress().items()
            }
        return {
            "partition_id": self.partition_id,
            "replica_id": self.replica_id,
            "role": self.role,
            "term": self.term,
            "leader_id": self.leader_id,
            "committed_position": self.partition.log.last_position,
            "processed_position": self.partition.processor.last_processed_position,
            "applied_position": self.node.applied_index,
            "commit_index": self.node.commit_index,
            "members": {
                str(member): {"voter": member in conf.voters, "priority": conf.priority(member)}
                for member in sorted(conf.members)
            },
            "lag": lag,
            "health": "healthy",
            "standin": "raft",
        }

    def digest(self) -> str:
        return self.partition.store.digest()

    def read_committed(self, from_position: int, records_max: int) -> list[Record]:
        records = []
        for record in self.partition.log.read_from(from_position):
            records.append(record)
            if len(records) >= records_max:
                break
        return records

    def close(self) -> None:
        self.partition.close()
