"""A group of replicas of one partition in one process, over a lossless network the caller
drives: the "tiny deterministic network" of the replica's tests, and the base the seeded
simulator adds faults to.

Each replica lives in its own directory under `root` (real journal, real RocksDB). Time is a
fake clock in milliseconds that moves only with `tick`; messages are handed over in the order
they were sent, when `pump` runs, unless the caller holds or drops them.
"""

import random
from collections import deque
from collections.abc import Callable
from pathlib import Path

from raybee.partitions.replica import PartitionReplica, ReplicaConfig
from raybee.partitions.testing import FakeClock


class ReplicaGroup:
    def __init__(
        self,
        root,
        voters: dict[int, int] | int = 3,
        partition_id: int = 1,
        partition_count: int = 1,
        config: ReplicaConfig | None = None,
        seed: int = 0,
    ) -> None:
        if isinstance(voters, int):
            voters = dict.fromkeys(range(1, voters + 1), 0)
        self.root = Path(root)
        self.partition_id = partition_id
        self.partition_count = partition_count
        self.config = config or ReplicaConfig()
        self.clock = FakeClock()
        self.rng = random.Random(seed)
        self.replicas: dict[int, PartitionReplica] = {}
        self.in_flight: deque = deque()
        self.responses: list = []  # (replica id, Response)
        self.unknown: list = []  # (replica id, (request stream id, request id))
        self.pushes: list = []  # (replica id, JobPush)
        self.partition_commands: list = []  # (replica id, (partition id, Record))
        self._next_request_id = 0
        # Return True to drop a message (the test decides, e.g. to cut a replica off).
        self.drop: Callable[[object], bool] = lambda message: False
        for replica_id in voters:
            self.open(replica_id)
            self.replicas[replica_id].bootstrap(voters)

    def directory(self, replica_id: int) -> Path:
        return self.root / f"replica-{replica_id}"

    def open(self, replica_id: int, **options) -> PartitionReplica:
        replica = PartitionReplica.open(
            self.directory(replica_id),
            partition_id=self.partition_id,
            replica_id=replica_id,
            partition_count=self.partition_count,
            clock=self.clock,
            rng=random.Random(self.rng.getrandbits(64)),
            config=self.config,
            **options,
        )
        self.replicas[replica_id] = replica
        return replica

    def crash(self, replica_id: int) -> None:
        self.replicas.pop(replica_id).crash()

    def restart(self, replica_id: int, **options) -> PartitionReplica:
        self.crash(replica_id)
        return self.open(replica_id, **options)

    def leader(self) -> PartitionReplica | None:
        leaders = [r for r in self.replicas.values() if r.role == "leader"]
        return max(leaders, key=lambda r: r.term) if leaders else None

    # ------------------------------------------------------------------ driving
    def handle(self, replica_id: int) -> int:
        """Drain one replica's readies; returns how many it produced."""
        replica = self.replicas[replica_id]
        count = 0
        while replica.has_ready():
            ready = replica.ready()
            replica.advance(ready)
            count += 1
            self.in_flight.extend(ready.messages)
            self.responses.extend((replica_id, r) for r in ready.responses)
            self.unknown.extend((replica_id, u) for u in ready.unknown)
            self.pushes.extend((replica_id, p) for p in ready.job_pushes)
            self.partition_commands.extend((replica_id, c) for c in ready.partition_commands)
            assert count < 10_000, f"replica {replica_id} never stops having a ready"
        return count

    def round(self) -> bool:
        """Every replica's readies, then every message sent; whether anything moved."""
        moved = sum(self.handle(i) for i in sorted(self.replicas))
        delivered = 0
        while self.in_flight:
            message = self.in_flight.popleft()
            target = self.replicas.get(message.to)
            if target is None or self.drop(message):
                continue
            target.step(message)
            delivered += 1
        return bool(moved or delivered)

    def pump(self, rounds_max: int = 10_000) -> None:
        """Readies and messages until nothing moves."""
        for _ in range(rounds_max):
            if not self.round():
                return
        raise AssertionError(f"the group did not settle within {rounds_max} rounds")

    def tick(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            self.clock.advance(self.config.tick_ms)
            for replica_id in sorted(self.replicas):
                self.replicas[replica_id].tick()
            self.pump()

    def await_leader(self, ticks_max: int = 500) -> PartitionReplica:
        for _ in range(ticks_max):
            leader = self.leader()
            if leader is not None and leader.mode == "leader":
                return leader
            self.tick()
        raise AssertionError(f"no leader within {ticks_max} ticks")

    def submit(self, commands, request_stream_id: int = 1, first_request_id: int | None = None):
        """Stamp request ids (from `first_request_id`, or the next free ones) and submit to
        the leader; returns the stamped commands."""
        leader = self.await_leader()
        if first_request_id is None:
            first_request_id = self._next_request_id
        stamped = [
            c.stamped(request_stream_id=request_stream_id, request_id=first_request_id + i)
            for i, c in enumerate(commands)
        ]
        self._next_request_id = max(self._next_request_id, first_request_id + len(commands))
        leader.submit(stamped)
        return stamped

    def answers(self, request_stream_id: int = 1) -> dict[int, object]:
        """request id -> the answer record (the first one delivered)."""
        found: dict[int, object] = {}
        for _, response in self.responses:
            if response.request_stream_id == request_stream_id:
                found.setdefault(response.request_id, response.record)
        return found

    def close(self) -> None:
        for replica in self.replicas.values():
            replica.close()
        self.replicas.clear()
