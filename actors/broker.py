"""The broker: a Ray actor, one per Ray node and pinned there, hosting partition replicas.

An asyncio actor. Every inbound call (Raft messages from peers, client commands, job streams,
the supervisor's operations) runs on the actor's one event-loop thread and goes straight into
the `BrokerCore`; the broker's loop task wakes on each tick (`tick_ms`, a real clock) or when a
call brought work, and runs one `BrokerCore.run_once`. Outgoing Raft messages leave through
`PeerTransport` (fire-and-forget, batched per destination broker per iteration, bounded in
flight). Callers wait on futures that the core resolves; the loop itself never awaits a peer.

Disk work (journal appends with fsync, RocksDB write batches) runs inside the replica's
ready/advance on the loop thread: it is short (~0.2 ms per fsync here) and it must finish
before the messages that promise it leave. The loop measures how long each iteration held the
thread (`iteration_ms_max`, `iteration_ms_p99`) and how late ticks ran (`tick_late_ms_max`):
`raybee status` shows both.

Identity and data: broker ids are allocated by the supervisor and never reused; the actor is
named `raybee-broker-<id>` in the raybee namespace. Data lives under
`<data dir>/broker-<id>/` (default data dir: `<Ray session dir of the node>/raybee`). When Ray
restarts the actor's process (`BROKER_MAX_RESTARTS`, same node by hard node affinity), the new
process reopens its replicas from there. A broker whose node died is not restarted elsewhere:
the supervisor places a new broker (a new id, an empty disk) and re-replicates.
"""

import asyncio
import contextlib
import logging
import os
import random
import tempfile
import time
from collections import deque
from pathlib import Path

import ray

from raybee.actors import broker_core
from raybee.actors.broker_core import BrokerCore, Outcome
from raybee.actors.transport import FaultPlan, PeerTransport, decode, encode
from raybee.partitions.engine.job_streams import JobStream

log = logging.getLogger(__name__)

NAMESPACE = "raybee"
BROKER_NAME_PREFIX = "raybee-broker-"
BROKER_RESOURCE = "raybee_broker"
BROKER_MAX_RESTARTS = 5
ITERATION_SAMPLES_KEPT = 2_000
# Latency samples kept for `raybee status` (each figure: the last this many).
LATENCY_SAMPLES_KEPT = 2_000
TAKE_JOBS_WAIT_MS_MAX = 2_000


def broker_name(broker_id: int) -> str:
    return f"{BROKER_NAME_PREFIX}{broker_id}"


def default_data_dir() -> Path:
    """The node's Ray session directory (kept until the session ends), else the temp dir."""
    try:
        node = ray._private.worker.global_worker.node
        return Path(node.get_session_dir_path()) / "raybee"
    except Exception:  # no session (unit tests): a directory of our own
        return Path(tempfile.gettempdir()) / "raybee"


class Samples:
    """The last `kept` values of a figure, for its p50/p99/max in `raybee status`."""

    def __init__(self, kept: int = LATENCY_SAMPLES_KEPT) -> None:
        self.values: deque[float] = deque(maxlen=kept)

    def add(self, value: float) -> None:
        self.values.append(value)

    def clear(self) -> None:
        self.values.clear()

    def summary(self) -> dict:
        ordered = sorted(self.values)
        if not ordered:
            return {"n": 0}
        last = len(ordered) - 1
        return {
            "n": len(ordered),
            "p50": round(ordered[int(last * 0.5)], 2),
            "p99": round(ordered[int(last * 0.99)], 2),
            "max": round(ordered[-1], 2),
        }


def _resolve(future: asyncio.Future, outcome: Outcome) -> None:
    if not future.done():
        future.set_result(outcome)


class Broker:
    """See the module docstring. Created by the supervisor with `Broker.options(...)`."""

    def __init__(
        self,
        broker_id: int,
        data_dir: str | None,
        tick_ms: int,
        seed: int,
        replica_settings: dict[str, int] | None = None,
    ) -> None:
        self.broker_id = broker_id
        root = Path(data_dir) if data_dir else default_data_dir()
        self.root = root / f"broker-{broker_id}"
        self.incarnation = time.time_ns()
        self.pid = os.getpid()
        self.node_id = ray.get_runtime_context().get_node_id()
        rng = random.Random(seed ^ self.incarnation)
        self.peers: dict[int, object] = {}
        self.transport = PeerTransport(broker_id, self._peer, random.Random(rng.getrandbits(64)))
        self.core = BrokerCore(
            broker_id,
            self.root,
            broker_core.wall_clock_ms,
            rng,
            tick_ms,
            self.transport.send,
            self._send_commands,
            replica_settings,
        )
        self.recovered = self.core.recover()
        self.core.on_jobs = self._jobs_arrived
        self._job_waiters: dict[int, asyncio.Future] = {}
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task | None = None
        self._stopped = False
        self._iteration_ms: deque[float] = deque(maxlen=ITERATION_SAMPLES_KEPT)
        self._iteration_ms_max = 0.0
        self._tick_late_ms_max = 0.0
        # Where a command's time goes (`raybee status`, loop.latency): a peer's Raft batch
        # from its send to this loop's deliver (Ray's call path and this loop being busy), a
        # wake-up from the call that brought work to the iteration that does it, a client
        # command from its arrival here to its answer (replication and processing).
        self._transit_ms = Samples()
        self._wake_ms = Samples()
        self._answer_ms = Samples()
        self._poked_at: float | None = None
        # The loop's share of wall time spent in iterations since the last reset.
        self._busy_ms = 0.0
        self._busy_since = time.perf_counter()
        self._peer_lookup_failures: dict[int, float] = {}
        log.info("broker %d pid %d recovered partitions %s", broker_id, self.pid, self.recovered)

    # ------------------------------------------------------------------ the loop
    def _ensure_loop(self) -> None:
        if self._loop_task is None and not self._stopped:
            self._wake = asyncio.Event()
            self.core.restart_clock()
            self._loop_task = asyncio.get_running_loop().create_task(self._run())

    def _poke(self) -> None:
        self._ensure_loop()
        if self._poked_at is None:
            self._poked_at = time.perf_counter()
        self._wake.set()

    async def _run(self) -> None:
        core = self.core
        while not self._stopped:
            wait_ms = core.next_wake_ms() - broker_core.wall_clock_ms()
            if wait_ms > 0 and not self._wake.is_set() and not core.has_work():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait_ms / 1000)
            self._wake.clear()
            if self._poked_at is not None:
                self._wake_ms.add((time.perf_counter() - self._poked_at) * 1000)
                self._poked_at = None
            late_ms = broker_core.wall_clock_ms() - core.next_wake_ms()
            if late_ms > self._tick_late_ms_max:
                self._tick_late_ms_max = late_ms
            started = time.perf_counter()
            try:
                core.run_once()
            except Exception:
                # Crash-only: state in memory may disagree with the disk now. Ray restarts the
                # process (same node) and the replicas recover from their directories.
                log.exception("broker %d: loop iteration failed; restarting", self.broker_id)
                os._exit(1)
            elapsed_ms = (time.perf_counter() - started) * 1000
            self._iteration_ms.append(elapsed_ms)
            self._busy_ms += elapsed_ms
            if elapsed_ms > self._iteration_ms_max:
                self._iteration_ms_max = elapsed_ms
            await asyncio.sleep(0)  # let calls that arrived meanwhile in before the next turn

    def _peer(self, broker: int):
        handle = self.peers.get(broker)
        if handle is None:
            # After a restart the routes came back from disk, the handles did not: look the
            # peer up by name, at most once a second per peer.
            now = time.monotonic()
            if now - self._peer_lookup_failures.get(broker, -10.0) < 1.0:
                return None
            try:
                handle = ray.get_actor(broker_name(broker), namespace=NAMESPACE)
                self.peers[broker] = handle
            except ValueError:
                self._peer_lookup_failures[broker] = now
                return None
        return handle

    def _send_commands(self, broker: int, partition_id: int, records: list, hops: int) -> None:
        handle = self._peer(broker)
        if handle is not None:
            handle.partition_commands.remote(partition_id, records, hops)

    def _jobs_arrived(self, stream_id: int) -> None:
        waiter = self._job_waiters.pop(stream_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ------------------------------------------------------------------ identity, membership
    async def ping(self) -> dict:
        self._ensure_loop()
        return {
            "broker_id": self.broker_id,
            "node_id": self.node_id,
            "pid": self.pid,
            "incarnation": self.incarnation,
        }

    async def host(
        self,
        partition_id: int,
        replica_id: int,
        partition_count: int,
        voters: dict[int, int] | None = None,
    ) -> dict:
        self._poke()
        return self.core.host(partition_id, replica_id, partition_count, voters)

    async def unhost(self, partition_id: int, replica_id: int) -> bool:
        self._poke()
        return self.core.unhost(partition_id, replica_id)

    async def set_routes(
        self,
        routes: dict[int, int],
        leader_hints: dict[int, int],
        peers: dict[int, object],
        partitions: dict[int, int] | None = None,
    ) -> None:
        self._poke()
        self.peers.update({int(b): h for b, h in peers.items() if int(b) != self.broker_id})
        for broker in [b for b in self.peers if b not in peers]:
            del self.peers[broker]  # a broker that left the cluster
        self.core.set_routes(routes, leader_hints, partitions)

    async def membership(
        self, operation: str, partition_id: int, replica_id: int, priority: int | None = None
    ) -> Outcome:
        self._poke()
        return self.core.membership(operation, partition_id, replica_id, priority)

    # ------------------------------------------------------------------ the data path
    async def deliver(self, from_broker: int, messages: bytes, sent_ns: int = 0) -> None:
        """Raft messages from a peer (pickled by its transport), sent at `sent_ns`
        (time.time_ns() of the sender: the brokers of one cluster share a clock or nearly)."""
        del from_broker
        if sent_ns:
            self._transit_ms.add((time.time_ns() - sent_ns) / 1e6)
        self.core.deliver(decode(messages))
        self._poke()

    async def submit(
        self,
        partition_id: int,
        commands: bytes,
        timeout_ms: int = broker_core.REQUEST_TIMEOUT_MS_DEFAULT,
    ) -> bytes:
        """Client commands (a pickled list of Records, `transport.encode`); returns their
        Outcomes, pickled the same way, once every one is answered."""
        self._ensure_loop()
        arrived = time.perf_counter()
        commands = decode(commands)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        resolvers = [lambda outcome, f=f: _resolve(f, outcome) for f in futures]
        self.core.submit(partition_id, commands, resolvers, timeout_ms)
        self._poke()
        outcomes = await asyncio.gather(*futures)
        self._answer_ms.add((time.perf_counter() - arrived) * 1000)
        return encode(list(outcomes))

    async def partition_commands(self, partition_id: int, records: list, hops: int) -> None:
        self.core.accept_partition_commands(partition_id, records, hops)
        self._poke()

    async def leader_of(self, partition_id: int) -> int | None:
        """The broker this one believes leads the partition (None while unknown)."""
        self._ensure_loop()
        return self.core._leader_broker(partition_id)

    # ------------------------------------------------------------------ job push
    async def open_stream(
        self,
        partition_id: int,
        stream_id: int,
        job_type: str,
        worker: str,
        timeout_ms: int,
        fetch_variables: tuple[str, ...],
        capacity: int,
    ) -> Outcome:
        self._poke()
        stream = JobStream(stream_id, job_type, worker, timeout_ms, tuple(fetch_variables))
        return self.core.open_stream(partition_id, stream, capacity)

    async def take_jobs(self, stream_id: int, jobs_max: int, wait_ms: int) -> tuple[bytes, bool]:
        """Pushed jobs for a stream (a pickled list of JobPush), waiting up to wait_ms for the
        first; and whether the stream is still open here."""
        self._ensure_loop()
        jobs, still_open = self.core.take_jobs(stream_id, jobs_max)
        if jobs or not still_open or wait_ms <= 0:
            return encode(jobs), still_open
        waiter = asyncio.get_running_loop().create_future()
        previous = self._job_waiters.pop(stream_id, None)
        if previous is not None and not previous.done():
            previous.set_result(None)
        self._job_waiters[stream_id] = waiter
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, min(wait_ms, TAKE_JOBS_WAIT_MS_MAX) / 1000)
        jobs, still_open = self.core.take_jobs(stream_id, jobs_max)
        return encode(jobs), still_open

    async def close_stream(self, stream_id: int) -> None:
        self.core.close_stream(stream_id)
        self._jobs_arrived(stream_id)
        self._poke()

    # ------------------------------------------------------------------ observation, tests
    def _loop_status(self) -> dict:
        samples = sorted(self._iteration_ms)
        p99 = samples[int(len(samples) * 0.99)] if samples else 0.0
        p50 = samples[len(samples) // 2] if samples else 0.0
        return {
            "iteration_ms_max": round(self._iteration_ms_max, 2),
            "iteration_ms_p99": round(p99, 2),
            "iteration_ms_p50": round(p50, 2),
            "tick_late_ms_max": round(self._tick_late_ms_max, 2),
            "busy_share": round(
                self._busy_ms / max((time.perf_counter() - self._busy_since) * 1000, 1.0), 3
            ),
            "iterations": self.core.stats.iterations,
            "latency": {
                "transit_ms": self._transit_ms.summary(),
                "wake_ms": self._wake_ms.summary(),
                "answer_ms": self._answer_ms.summary(),
            },
            "running": self._loop_task is not None and not self._loop_task.done(),
        }

    async def status(self) -> dict:
        self._ensure_loop()
        status = self.core.status()
        status.update(
            node_id=self.node_id,
            pid=self.pid,
            incarnation=self.incarnation,
            recovered=self.recovered,
            root=str(self.root),
            loop=self._loop_status(),
            transport=self.transport.status(),
        )
        return status

    async def reset_loop_stats(self) -> None:
        self._iteration_ms.clear()
        self._iteration_ms_max = 0.0
        self._tick_late_ms_max = 0.0
        for samples in (self._transit_ms, self._wake_ms, self._answer_ms):
            samples.clear()
        self._busy_ms = 0.0
        self._busy_since = time.perf_counter()

    async def configure_backpressure(self, partition_id: int, limit: int) -> dict:
        """Pin a partition's AIMD limit (operators and tests); returns the limiter's status."""
        limiter = self.core.limiters[partition_id]
        limiter.limit = limiter.limit_min = limiter.limit_max = limit
        return limiter.status()

    async def set_faults(self, plan: dict | None) -> dict:
        """Install (or with None remove) a fault plan on outgoing Raft batches; returns the
        fault counts so far."""
        self.transport.plan = None if plan is None else FaultPlan.from_dict(plan)
        return dict(self.transport.stats.faults)

    async def read_committed(self, partition_id: int, from_position: int, records_max: int):
        hosted = self.core.replicas.get(partition_id)
        if hosted is None:
            return []
        return hosted.replica.read_committed(from_position, records_max)

    async def digest(self, partition_id: int) -> str:
        return self.core.replicas[partition_id].replica.digest()

    async def processed_digest(self, partition_id: int) -> tuple[int, str]:
        """The replica's processed position and its state digest, taken together."""
        replica = self.core.replicas[partition_id].replica
        return replica.processed_position, replica.digest()

    async def shutdown(self) -> None:
        """Close the replicas cleanly (then the caller kills the actor)."""
        self._stopped = True
        if self._wake is not None:
            self._wake.set()
        self.core.close()


def broker_actor_class():
    """The Ray actor class (made on first use, so importing this module starts nothing)."""
    global _BROKER_ACTOR
    if _BROKER_ACTOR is None:
        _BROKER_ACTOR = ray.remote(Broker)
    return _BROKER_ACTOR


_BROKER_ACTOR = None
