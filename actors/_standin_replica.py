"""TEMPORARY STAND-IN for `raybee.partitions.replica.PartitionReplica` (issue 9).

The brokers are built against the interface contract of the replicated partition
(/work/notes/replica.md, "The interface the Ray cluster will drive") while that partition is
being written beside them. Until it lands, this module gives the same interface over ONE
unreplicated `LocalPartition` (a journal, RocksDB and the stream processor):

- replication factor 1: `bootstrap` accepts exactly one voter (this replica), the replica is
  always the leader of term 1, `ready().messages` is always empty, and `step`, `add_learner`,
  `promote`, `remove` and `transfer_leadership` refuse with `StandinLimitError`;
- every append is committed when it returns (the journal is flushed on each append), so
  responses leave in the same `ready()` that processed their commands;
- request ids: a retried (request stream id, request id) is answered with the earlier answer
  from an in-memory window (`REQUEST_IDS_KEPT_MAX`), not applied again. The window is lost with
  the process - the real replica keeps it in replicated state.

Delete this module when the real replica lands (`actors/hosting.py` is the one place that
chooses between them).
"""

import json
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from raybee.partitions.engine import ENGINE_FAMILIES, Response
from raybee.partitions.engine.job_streams import JobPush, JobStream
from raybee.partitions.log_stream import JournalLogStream
from raybee.partitions.protocol import Record, RecordType
from raybee.partitions.stream_processor import StreamProcessor
from raybee.state import RocksDBStore

REQUEST_IDS_KEPT_MAX = 100_000
# Processing batches per ready(): the broker's loop must not be held for long at a time.
BATCHES_PER_READY_MAX = 1
VOTERS_FILE = "standin-voters.json"


class StandinLimitError(RuntimeError):
    """An operation of replication that the unreplicated stand-in cannot do."""


class NotLeaderError(RuntimeError):
    """The command reached a replica that is not the leader; `leader_id` names the leader when
    known (the stand-in is always its own leader; the class exists for the contract)."""

    def __init__(self, leader_id: int | None, message: str = "") -> None:
        super().__init__(message or f"not the leader (leader is {leader_id})")
        self.leader_id = leader_id


class BackpressureError(RuntimeError):
    """Too much is in flight on this partition; `reason` says what."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StandinReplicaConfig:
    tick_ms: int = 10
    # Commands per processing batch: smaller than the processor's default, so that one
    # ready() holds the broker's loop for a few milliseconds only.
    commands_per_batch_max: int = 50
    # Due work (job deadlines, back-offs) is looked for every this many ticks.
    due_check_ticks: int = 10
    commands_in_flight_max: int = 20_000


@dataclass
class StandinReady:
    messages: list = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    unknown: list[tuple[int, int]] = field(default_factory=list)
    partition_commands: list[tuple[int, Record]] = field(default_factory=list)
    job_pushes: list[JobPush] = field(default_factory=list)


class StandinReplica:
    """One partition, replication factor 1. See the module docstring."""

    def __init__(
        self,
        directory: Path,
        partition_id: int,
        replica_id: int,
        partition_count: int,
        clock: Callable[[], int],
        config: StandinReplicaConfig,
    ) -> None:
        self.directory = directory
        self.partition_id = partition_id
        self.replica_id = replica_id
        self.partition_count = partition_count
        self.clock = clock
        self.config = config
        self._voters: dict[int, int] = {}
        voters_file = directory / VOTERS_FILE
        if voters_file.exists():
            self._voters = {int(k): v for k, v in json.loads(voters_file.read_text()).items()}
        self._store = RocksDBStore(directory / "state", ENGINE_FAMILIES)
        self._log = JournalLogStream.open(directory / "log")
        self._processor = StreamProcessor(
            self._store,
            self._log,
            partition_id,
            clock,
            commands_per_batch_max=config.commands_per_batch_max,
            partition_count=partition_count,
        )
        self._processor.become_leader()
        self._ticks = 0
        self._answers: OrderedDict[tuple[int, int], Record] = OrderedDict()
        self._unanswered: set[tuple[int, int]] = set()
        self._ready = StandinReady()
        self._unprocessed = True  # replay may have left commands to process

    # ------------------------------------------------------------------ the contract
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
        config: StandinReplicaConfig | None = None,
    ) -> "StandinReplica":
        del rng  # nothing random without elections
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        return cls(
            path, partition_id, replica_id, partition_count, clock, config or StandinReplicaConfig()
        )

    def bootstrap(self, voters: dict[int, int]) -> None:
        if voters != {self.replica_id: voters.get(self.replica_id)} or len(voters) != 1:
            raise StandinLimitError(
                f"the stand-in replica hosts replication factor 1 only: partition "
                f"{self.partition_id} was bootstrapped with voters {sorted(voters)}, expected "
                f"exactly [{self.replica_id}]"
            )
        if self._voters:
            raise ValueError(
                f"partition {self.partition_id} replica {self.replica_id} is already "
                f"bootstrapped with {self._voters}"
            )
        self._voters = dict(voters)
        (self.directory / VOTERS_FILE).write_text(json.dumps(self._voters))

    @property
    def role(self) -> str:
        return "leader"

    @property
    def leader_id(self) -> int | None:
        return self.replica_id

    @property
    def term(self) -> int:
        return 1

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % self.config.due_check_ticks == 0:
            due = self._processor.due_commands()
            if due:
                self._append(due)

    def step(self, message) -> None:
        raise StandinLimitError(
            f"the stand-in replica of partition {self.partition_id} has no peers; got {message!r}"
        )

    def submit(self, commands: list[Record]) -> None:
        in_flight = len(self._unanswered)
        if in_flight + len(commands) > self.config.commands_in_flight_max:
            raise BackpressureError(
                f"partition {self.partition_id}: {in_flight} commands wait for an answer, the "
                f"limit is {self.config.commands_in_flight_max}"
            )
        fresh = []
        for command in commands:
            if command.record_type != RecordType.COMMAND:
                raise ValueError(f"clients submit commands, not {command.record_type.name}")
            ids = (command.request_stream_id, command.request_id)
            if ids[0] < 0 or ids[1] < 0:
                fresh.append(command)  # the host's own command (a yield): nobody awaits it
                continue
            earlier = self._answers.get(ids)
            if earlier is not None:
                self._ready.responses.append(Response(ids[0], ids[1], earlier))
            elif ids not in self._unanswered:
                self._unanswered.add(ids)
                fresh.append(command)
        if fresh:
            self._append(fresh)

    def _append(self, commands: list[Record]) -> None:
        now_ms = self.clock()
        position = self._log.last_position
        stamped = []
        for command in commands:
            position += 1
            stamped.append(
                command.stamped(
                    position=position, timestamp_ms=now_ms, partition_id=self.partition_id
                )
            )
        self._log.append(stamped)
        self._unprocessed = True

    def has_ready(self) -> bool:
        ready = self._ready
        return self._unprocessed or bool(
            ready.responses or ready.job_pushes or ready.partition_commands
        )

    def ready(self) -> StandinReady:
        for _ in range(BATCHES_PER_READY_MAX):
            if not self._unprocessed:
                break
            result = self._processor.process_batch()
            if result is None:
                self._unprocessed = False
                break
            for response in result.responses:
                ids = (response.request_stream_id, response.request_id)
                if ids[0] >= 0 and ids[1] >= 0:
                    self._unanswered.discard(ids)
                    self._answers[ids] = response.record
                    if len(self._answers) > REQUEST_IDS_KEPT_MAX:
                        self._answers.popitem(last=False)
            self._ready.responses.extend(result.responses)
            self._ready.job_pushes.extend(result.job_pushes)
            self._ready.partition_commands.extend(result.partition_commands)
        ready, self._ready = self._ready, StandinReady()
        return ready

    def advance(self, ready: StandinReady) -> None:
        del ready  # everything was committed when appended

    def add_learner(self, replica_id: int, priority: int = 0) -> None:
        raise StandinLimitError("the stand-in replica cannot add members (replication factor 1)")

    def promote(self, replica_id: int) -> None:
        raise StandinLimitError("the stand-in replica cannot promote members")

    def remove(self, replica_id: int) -> None:
        raise StandinLimitError("the stand-in replica cannot remove members")

    def transfer_leadership(self, replica_id: int) -> None:
        raise StandinLimitError("the stand-in replica has nobody to transfer leadership to")

    def open_job_stream(self, stream: JobStream) -> None:
        self._processor.job_streams.add(stream)

    def close_job_stream(self, stream_id: int) -> None:
        self._processor.job_streams.remove(stream_id)

    def status(self) -> dict:
        processed = self._processor.last_processed_position
        halted = self._processor.halted
        return {
            "partition_id": self.partition_id,
            "replica_id": self.replica_id,
            "role": self.role,
            "term": self.term,
            "leader_id": self.leader_id,
            "committed_position": self._log.committed_position,
            "processed_position": processed,
            "applied_position": processed,
            "members": {
                str(replica): {"voter": True, "priority": priority}
                for replica, priority in self._voters.items()
            },
            "lag": {},
            "health": "halted" if halted is not None else "healthy",
            "standin": True,
        }

    def digest(self) -> str:
        return self._store.digest()

    def read_committed(self, from_position: int, records_max: int) -> list[Record]:
        """Committed records from a position on (tests check the log for exactly-once)."""
        records = []
        for record in self._log.read_from(from_position):
            records.append(record)
            if len(records) >= records_max:
                break
        return records

    def close(self) -> None:
        self._log.close()
        self._store.close()
