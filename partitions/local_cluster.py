"""Several partitions in one process: `LocalPartition`s that deliver the commands they send
each other (deployment distribution, message subscriptions and correlations; see
partitions/engine/distribution.py), for tests and benchmarks.

Delivery is what the engine expects of any host: after commit, best effort. A `Network` may be
told to drop, duplicate or delay deliveries (each decided by its own seeded `random.Random`, so
a run replays from its seed); a delayed delivery arrives some rounds later, after deliveries
sent after it (the engine does not rely on order). Every fault is counted, so a test can show
that it happened.

One round (`run`): every partition processes what its log holds, then the network delivers what
is due this round (appended to the receiver's log as a command from no client); rounds go on
until no partition has anything to process and nothing is in flight. Time moves only when the
test says (`advance` and `tick`): the sends a lost delivery left pending are sent again by due
work once `RESEND_INTERVAL_MS` has passed.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.context import Response
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream, MemoryLogStream
from raybee.partitions.protocol import Record, RecordType, partition_for_correlation_key
from raybee.state import MemoryStore, RocksDBStore

ROUNDS_PER_RUN_MAX = 10_000


@dataclass
class Faults:
    """What the network does to each delivery (probabilities, decided independently), and how
    many rounds a delayed delivery waits at most."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    delay_rounds_max: int = 3

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "delay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Faults.{name} must be a probability in [0, 1], got {value}")
        if self.delay_rounds_max < 1:
            raise ValueError(
                f"Faults.delay_rounds_max must be at least 1, got {self.delay_rounds_max}"
            )


@dataclass
class NetworkStats:
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    duplicated: int = 0
    delayed: int = 0


@dataclass
class Network:
    """Deliveries between partitions, with faults."""

    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    stats: NetworkStats = field(default_factory=NetworkStats)
    # (round due, sequence, target partition, command); sequence keeps the order of a round.
    _in_flight: list = field(default_factory=list)
    _sequence: int = 0

    def send(self, now_round: int, target: int, command: Record) -> None:
        self.stats.sent += 1
        faults, rng = self.faults, self.rng
        if rng.random() < faults.drop:
            self.stats.dropped += 1
            return
        copies = 1
        if rng.random() < faults.duplicate:
            self.stats.duplicated += 1
            copies = 2
        for _ in range(copies):
            due = now_round
            if rng.random() < faults.delay:
                self.stats.delayed += 1
                due += rng.randint(1, faults.delay_rounds_max)
            self._in_flight.append((due, self._sequence, target, command))
            self._sequence += 1

    def due(self, now_round: int) -> list[tuple[int, Record]]:
        """(target, command) of the deliveries due by now_round, in the order they were sent."""
        ready = sorted(d for d in self._in_flight if d[0] <= now_round)
        self._in_flight = [d for d in self._in_flight if d[0] > now_round]
        self.stats.delivered += len(ready)
        return [(target, command) for _, _, target, command in ready]

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)


class LocalCluster:
    def __init__(
        self,
        partition_count: int,
        clock: Callable[[], int],
        root: Path | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        **options,
    ):
        """`partition_count` partitions numbered from 1, on RocksDB and the journal under
        `root` (in memory when root is None); `faults` for the network between them, decided
        by a random.Random(seed)."""
        if partition_count < 1:
            raise ValueError(f"partition_count must be at least 1, got {partition_count}")
        self.partition_count = partition_count
        self.clock = clock
        self.network = Network(faults or Faults(), random.Random(seed))
        self.partitions: dict[int, LocalPartition] = {}
        for partition_id in range(1, partition_count + 1):
            if root is None:
                store, log = MemoryStore(ENGINE_FAMILIES), MemoryLogStream()
            else:
                directory = Path(root) / f"partition-{partition_id}"
                store = RocksDBStore(directory / "state", ENGINE_FAMILIES)
                log = JournalLogStream.open(directory / "log")
            self.partitions[partition_id] = LocalPartition(
                store, log, partition_id, clock, partition_count=partition_count, **options
            )
        self.round = 0
        self.responses: dict[int, list[Response]] = {p: [] for p in self.partitions}

    # ------------------------------------------------------------------ routing
    def partition_of_correlation_key(self, correlation_key: str) -> int:
        return partition_for_correlation_key(correlation_key, self.partition_count)

    # ------------------------------------------------------------------ commands
    def write(self, partition_id: int, *commands: Record) -> list[Record]:
        """Client commands for one partition (processed by the next `run`)."""
        return self.partitions[partition_id].write_commands(list(commands))

    def execute(self, partition_id: int, command: Record) -> Record:
        """Write one client command, run until quiet, and return its answer."""
        (written,) = self.write(partition_id, command)
        before = len(self.responses[partition_id])
        self.run()
        answers = [
            r.record
            for r in self.responses[partition_id][before:]
            if r.request_id == written.request_id and r.request_stream_id == 1
        ]
        assert len(answers) == 1, f"expected one answer to {written}, got {answers}"
        return answers[0]

    # ------------------------------------------------------------------ running
    def run(self) -> int:
        """Process and deliver until nothing is left to do; the rounds it took."""
        rounds = 0
        while True:
            busy = False
            for partition_id, partition in self.partitions.items():
                responses = partition.process()
                if responses:
                    self.responses[partition_id].extend(responses)
                outbox, partition.outbox = partition.outbox, []
                for target, command in outbox:
                    assert target in self.partitions, f"no partition {target} to send to"
                    self.network.send(self.round, target, command)
            by_target: dict[int, list[Record]] = {}
            for target, command in self.network.due(self.round):
                by_target.setdefault(target, []).append(command)
            for target, commands in by_target.items():
                self._deliver(target, commands)
                busy = True
            self.round += 1
            rounds += 1
            # A partition processed everything it held at the start of this round; only what
            # was delivered since can be waiting.
            if not busy and not self.network.in_flight:
                return rounds
            if rounds >= ROUNDS_PER_RUN_MAX:
                raise RuntimeError(
                    f"the cluster did not settle within {ROUNDS_PER_RUN_MAX} rounds "
                    f"({self.network.in_flight} deliveries in flight)"
                )

    def _deliver(self, target: int, commands: list[Record]) -> None:
        """Append delivered commands to the target's log (as commands from no client)."""
        now_ms = self.clock()
        stamped = []
        for command in commands:
            assert command.record_type == RecordType.COMMAND, command
            stamped.append(command.stamped(timestamp_ms=now_ms, partition_id=target, position=-1))
        self.partitions[target].log.append(stamped)

    def tick(self) -> int:
        """Append every partition's due work (timers, expiries, resends, job deadlines), then
        run; the rounds it took."""
        for partition in self.partitions.values():
            due = partition.processor.due_commands()
            if due:
                partition.log.append(due)
        return self.run()

    def close(self) -> None:
        for partition in self.partitions.values():
            partition.close()
