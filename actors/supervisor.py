"""The supervisor: a named, detached Ray actor that places brokers and partition replicas, watches
the brokers, re-replicates after a loss and keeps leaders spread.

It holds no state that matters across its own restarts: Ray restarts it (`max_restarts=-1`)
with the same arguments, and it rebuilds its view by listing the named broker actors and asking
each for its status (which replicas it hosts, their roles, terms, members and lag). Broker and
replica ids are allocated past the highest it sees, so ids are never reused.

Every `SUPERVISE_INTERVAL_MS` it:
1. asks every broker for its status (concurrently, each with `STATUS_TIMEOUT_MS`). A broker
   is lost when Ray says its actor died, or cannot be scheduled again, or its node is dead;
   one that does not answer is only suspected - a slow broker keeps its replicas - and lost
   (and killed, so it cannot come back as a zombie) after `BROKER_UNRESPONSIVE_LOST_MS`. A
   restarted broker process (new pid) is noted and keeps its replicas;
2. every `NODE_SCAN_INTERVAL_MS`, places a broker on each live node that advertises the
   `raybee_broker` resource and has none (node joins, as when Ray's autoscaler adds one);
3. once `replication_factor` brokers are ready, creates the partitions (`placement.py`:
   round-robin, election priorities that spread leaders) and bootstraps their founding members;
4. pushes the routes (replica -> broker) and peer handles to every broker when they change;
5. notes leader changes;
6. re-replicates: a member of a partition that no live broker hosts (its broker was lost) is
   replaced - a new replica (new id) on a live broker without one of that partition, added as a
   learner with the lost member's priority, promoted once its lag is at most
   `CATCH_UP_LAG_ENTRIES_MAX`, and then the lost member is removed; each step counts as done
   when the leader reports it (proposed again after `MEMBERSHIP_RETRY_MS` otherwise). With
   no such broker it waits for a node to join (`waiting_for_node`). One replacement runs at a
   time, started only when every partition has had a leader for `REPLACE_QUIET_MS`;
7. when nothing is being repaired and every member is healthy, asks each partition's leader to
   hand leadership to its preferred (highest-priority) replica.

Every decision and observation is an `Event` (events.py) in a bounded log that `raybee status`
prints.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raybee.actors import hosting
from raybee.actors.broker import (
    BROKER_MAX_RESTARTS,
    BROKER_NAME_PREFIX,
    BROKER_RESOURCE,
    NAMESPACE,
    broker_actor_class,
    broker_name,
)
from raybee.actors.broker_core import OK
from raybee.actors.events import EventLog
from raybee.actors.placement import initial_placement, leadership_moves, replacement_host

log = logging.getLogger(__name__)

SUPERVISOR_NAME = "raybee-supervisor"
EVENTS_KEY = "raybee-supervisor-events"
SUPERVISE_INTERVAL_MS = 200
STATUS_TIMEOUT_MS = 1_000
# A broker is lost when Ray says its actor died or its node is gone; one that only stops
# answering is lost (and killed) after this long.
BROKER_UNRESPONSIVE_LOST_MS = 60_000
BROKER_START_TIMEOUT_MS = 60_000
NODE_SCAN_INTERVAL_MS = 1_000
SUSPECT_NODE_SCAN_INTERVAL_MS = 400
ROUTES_REFRESH_MS = 2_000
CATCH_UP_LAG_ENTRIES_MAX = 10
ORPHAN_GRACE_MS = 3_000
REPLACEMENT_TIMEOUT_MS = 120_000
REBALANCE_QUIET_MS = 2_000
REPLACE_QUIET_MS = 1_000
REBALANCE_INTERVAL_MS = 5_000
OPERATION_TIMEOUT_MS = 5_000
MEMBERSHIP_RETRY_MS = 2_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class BrokerView:
    broker_id: int
    handle: object
    node_id: str | None
    state: str  # starting | alive | suspect | lost
    placed_ms: int
    last_ok_ms: int = 0
    pid: int | None = None
    status: dict | None = None


@dataclass
class Replacement:
    partition_id: int
    old_replica: int
    new_replica: int
    broker_id: int
    priority: int
    started_ms: int
    stage: str = "learner"  # learner -> promoted -> (old member gone) done
    caught_up: bool = False
    step_ms: int = 0  # when the current step was last proposed


@dataclass
class PartitionView:
    leader_replica: int | None = None
    leader_broker: int | None = None
    term: int = 0
    members: dict[int, dict] = field(default_factory=dict)  # replica -> {voter, priority}
    lag: dict[int, int] = field(default_factory=dict)


def _members(status: dict) -> dict[int, dict]:
    members = status.get("members", {})
    if isinstance(members, list | tuple | set | frozenset):
        return {int(r): {"voter": True, "priority": 0} for r in members}
    return {int(r): dict(info) for r, info in members.items()}


async def _call(ref, timeout_ms: int = OPERATION_TIMEOUT_MS):
    return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout_ms / 1000)


class Supervisor:
    def __init__(
        self,
        partition_count: int,
        replication_factor: int,
        data_dir: str | None,
        tick_ms: int,
        seed: int = 0,
        replica_settings: dict[str, int] | None = None,
    ) -> None:
        if not 1 <= replication_factor <= hosting.REPLICATION_FACTOR_MAX:
            raise ValueError(
                f"replication factor must lie in 1..{hosting.REPLICATION_FACTOR_MAX}, got "
                f"{replication_factor}"
            )
        if partition_count < 1:
            raise ValueError(f"partition count must be at least 1, got {partition_count}")
        self.partition_count = partition_count
        self.replication_factor = replication_factor
        self.data_dir = data_dir
        self.tick_ms = tick_ms
        self.seed = seed
        self.replica_settings = dict(replica_settings or {})
        self.incarnation = time.time_ns()
        self.events = EventLog()
        self.brokers: dict[int, BrokerView] = {}
        self.partitions: dict[int, PartitionView] = {}
        self.replacements: dict[int, Replacement] = {}
        self.assigned: dict[int, int] = {}  # replica -> broker, assigned but not yet reported
        self.replica_partition: dict[int, int] = {}  # replica -> its partition
        self.created = False
        self.next_broker_id = 1
        self.next_replica_id = 1
        self._task: asyncio.Task | None = None
        self._rebuilt = False
        self._last_node_scan_ms = 0
        self._dead_nodes: set[str] = set()
        self._last_routes: tuple | None = None
        self._last_routes_push_ms = 0
        self._orphan_since: dict[int, int] = {}
        self._waiting_reported: set[int] = set()
        self._last_change_ms = 0
        self._last_leader_change_ms = 0
        self._last_transfer_ms: dict[int, int] = {}
        self._lost_replicas: set[int] = set()
        self._last_failure: tuple[str, str] | None = None
        self.iterations = 0
        self.events.add(now_ms(), "supervisor_started", incarnation=self.incarnation)
        self._load_events()

    # ------------------------------------------------------------------ events across restarts
    def _load_events(self) -> None:
        """The events of earlier incarnations, from Ray's key-value store in the GCS (which
        outlives this actor); without it the log starts afresh."""
        try:
            from ray.experimental.internal_kv import _internal_kv_get

            saved = _internal_kv_get(EVENTS_KEY, namespace=NAMESPACE)
            if saved:
                self.events.load(saved.decode())
        except Exception:
            log.exception("supervisor: the saved events could not be read")

    def _save_events(self) -> None:
        if not self.events.changed:
            return
        self.events.changed = False
        try:
            from ray.experimental.internal_kv import _internal_kv_put

            _internal_kv_put(EVENTS_KEY, self.events.dump(), True, namespace=NAMESPACE)
        except Exception:
            log.exception("supervisor: the events could not be saved")

    # ------------------------------------------------------------------ lifecycle
    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def start(self) -> dict:
        self._ensure_running()
        return {"incarnation": self.incarnation}

    async def _run(self) -> None:
        try:
            self._rebuild()
        except Exception as error:  # keep supervising what can be seen
            log.exception("supervisor: rebuilding the view failed")
            self.events.add(now_ms(), "operation_failed", operation="rebuild", error=repr(error))
        while True:
            started = time.monotonic()
            try:
                await self._supervise_once()
            except Exception as error:
                log.exception("supervisor: iteration failed")
                self.events.add(
                    now_ms(), "operation_failed", operation="supervise", error=repr(error)
                )
            self.iterations += 1
            self._save_events()
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, SUPERVISE_INTERVAL_MS / 1000 - elapsed))

    def _rebuild(self) -> None:
        """After a (re)start: the brokers are the named actors of the namespace."""
        found = []
        for entry in ray.util.list_named_actors(all_namespaces=True):
            name, namespace = entry["name"], entry["namespace"]
            if namespace != NAMESPACE or not name.startswith(BROKER_NAME_PREFIX):
                continue
            broker_id = int(name[len(BROKER_NAME_PREFIX) :])
            try:
                handle = ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:
                continue
            self.brokers[broker_id] = BrokerView(broker_id, handle, None, "starting", now_ms())
            found.append(broker_id)
        if found:
            self.next_broker_id = max(found) + 1
        self._rebuilt = bool(found)

    # ------------------------------------------------------------------ one round
    async def _supervise_once(self) -> None:
        await self._poll()
        if self._rebuilt:
            self._rebuilt = False
            self._after_rebuild()
        now = now_ms()
        suspects = any(v.state == "suspect" for v in self.brokers.values())
        interval = SUSPECT_NODE_SCAN_INTERVAL_MS if suspects else NODE_SCAN_INTERVAL_MS
        if now - self._last_node_scan_ms >= interval:
            self._last_node_scan_ms = now
            self._place_brokers()
        self._observe_partitions()
        if not self.created:
            await self._create_partitions()
        await self._push_routes()
        if self.created:
            await self._re_replicate()
            await self._rebalance()

    def _after_rebuild(self) -> None:
        replicas = [
            int(r)
            for view in self.brokers.values()
            if view.status
            for r in [s["replica_id"] for s in view.status["replicas"].values()]
        ]
        members = [r for p in self.partitions.values() for r in p.members]
        self._observe_partitions()
        members += [r for p in self.partitions.values() for r in p.members]
        if replicas or members:
            self.created = True
            self.next_replica_id = max(replicas + members) + 1
        self.events.add(
            now_ms(),
            "view_rebuilt",
            brokers=sorted(self.brokers),
            partitions=sorted(self.partitions),
        )

    async def _poll(self) -> None:
        views = [v for v in self.brokers.values() if v.state != "lost"]
        results = await asyncio.gather(
            *(_call(v.handle.status.remote(), STATUS_TIMEOUT_MS) for v in views),
            return_exceptions=True,
        )
        now = now_ms()
        for view, result in zip(views, results, strict=True):
            if isinstance(result, dict):
                if view.state != "alive":
                    if view.pid is not None and view.pid != result["pid"]:
                        self.events.add(
                            now, "broker_restarted", broker=view.broker_id, pid=result["pid"]
                        )
                    elif view.pid is None:
                        self.events.add(
                            now,
                            "broker_ready",
                            broker=view.broker_id,
                            node=result["node_id"],
                            pid=result["pid"],
                        )
                elif view.pid != result["pid"]:
                    self.events.add(
                        now, "broker_restarted", broker=view.broker_id, pid=result["pid"]
                    )
                    self._last_routes = None  # a new process: push the routes again
                view.state = "alive"
                view.last_ok_ms = now
                view.pid = result["pid"]
                view.node_id = result["node_id"]
                view.status = result
                continue
            if isinstance(result, ray.exceptions.ActorDiedError):
                self._lose(view, f"actor died: {str(result).splitlines()[0][:200]}")
                continue
            if isinstance(result, ray.exceptions.ActorUnschedulableError):
                self._lose(view, "unschedulable: the node it is pinned to is gone")
                continue
            if view.node_id is not None and view.node_id in self._dead_nodes:
                self._lose(view, "its Ray node died")
                continue
            since = view.last_ok_ms if view.last_ok_ms else view.placed_ms
            limit = BROKER_UNRESPONSIVE_LOST_MS if view.last_ok_ms else BROKER_START_TIMEOUT_MS
            if view.state == "alive":
                view.state = "suspect"
                self.events.add(
                    now, "broker_suspected", broker=view.broker_id, reason=type(result).__name__
                )
            if now - since > limit:
                self._lose(
                    view, f"no answer for {now - since} ms ({type(result).__name__})", fence=True
                )

    def _lose(self, view: BrokerView, reason: str, fence: bool = False) -> None:
        """The broker is gone for good: its replicas will be replaced. Only a broker that
        stopped answering for BROKER_UNRESPONSIVE_LOST_MS while Ray still sees it is killed
        (fenced): one that is merely slow - a starved CPU, a long pause - must keep its
        replicas, or a loaded cluster would lose a majority to its own supervisor."""
        view.state = "lost"
        self._last_change_ms = now_ms()
        if view.status:
            for status in view.status["replicas"].values():
                self._lost_replicas.add(int(status["replica_id"]))
        self.events.add(
            now_ms(), "broker_lost", broker=view.broker_id, node=view.node_id, reason=reason
        )
        if fence:
            with contextlib.suppress(Exception):
                ray.kill(view.handle, no_restart=True)

    # ------------------------------------------------------------------ brokers
    def _place_brokers(self) -> None:
        nodes = ray.nodes()
        self._dead_nodes = {n["NodeID"] for n in nodes if not n.get("Alive")}
        occupied = {v.node_id for v in self.brokers.values() if v.state != "lost"}
        for node in nodes:
            if not node.get("Alive") or node.get("Resources", {}).get(BROKER_RESOURCE, 0) < 1:
                continue
            node_id = node["NodeID"]
            if node_id in occupied:
                continue
            self._place_broker(node_id, "node without a broker")
            occupied.add(node_id)

    def _place_broker(self, node_id: str, reason: str) -> None:
        broker_id = self.next_broker_id
        self.next_broker_id += 1
        handle = (
            broker_actor_class()
            .options(
                name=broker_name(broker_id),
                namespace=NAMESPACE,
                lifetime="detached",
                max_restarts=BROKER_MAX_RESTARTS,
                max_task_retries=0,
                max_concurrency=1_000,
                num_cpus=0,
                resources={BROKER_RESOURCE: 1},
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
            )
            .remote(
                broker_id,
                self.data_dir,
                self.tick_ms,
                self.seed + broker_id,
                self.replica_settings,
            )
        )
        self.brokers[broker_id] = BrokerView(broker_id, handle, node_id, "starting", now_ms())
        self._last_change_ms = now_ms()
        self.events.add(now_ms(), "broker_placed", broker=broker_id, node=node_id, reason=reason)

    def _alive(self) -> list[int]:
        return sorted(b for b, v in self.brokers.items() if v.state == "alive")

    # ------------------------------------------------------------------ partitions
    def _observe_partitions(self) -> None:
        """Leaders, members and lag of every partition, from the brokers' last statuses."""
        seen: dict[int, PartitionView] = {}
        for view in self.brokers.values():
            if view.state == "lost" or not view.status:
                continue
            for key, status in view.status["replicas"].items():
                partition = int(key)
                current = seen.setdefault(partition, PartitionView())
                if status.get("role") == "leader" and status.get("term", 0) >= current.term:
                    current.leader_replica = int(status["replica_id"])
                    current.leader_broker = view.broker_id
                    current.term = status.get("term", 0)
                    current.members = _members(status)
                    current.lag = {int(r): n for r, n in status.get("lag", {}).items()}
        now = now_ms()
        for partition, current in seen.items():
            before = self.partitions.get(partition)
            if not current.members and before is not None:
                current.members = before.members  # no leader now: keep what was known
            if current.leader_replica is not None and (
                before is None
                or (before.leader_replica, before.term) != (current.leader_replica, current.term)
            ):
                self._last_change_ms = now
                self._last_leader_change_ms = now
                self.events.add(
                    now,
                    "leader_changed",
                    partition=partition,
                    leader=current.leader_replica,
                    broker=current.leader_broker,
                    term=current.term,
                )
            self.partitions[partition] = current

    def _routes(self) -> dict[int, int]:
        routes = dict(self.assigned)
        for view in self.brokers.values():
            if view.state == "lost" or not view.status:
                continue
            for partition, status in view.status["replicas"].items():
                replica = int(status["replica_id"])
                routes[replica] = view.broker_id
                self.replica_partition[replica] = int(partition)
                self.assigned.pop(replica, None)
        return routes

    async def _push_routes(self) -> None:
        routes = self._routes()
        hints = {
            p: v.leader_broker for p, v in self.partitions.items() if v.leader_broker is not None
        }
        peers = {b: v.handle for b, v in self.brokers.items() if v.state != "lost"}
        partitions = {r: self.replica_partition[r] for r in routes if r in self.replica_partition}
        key = (tuple(sorted(routes.items())), tuple(sorted(peers)), tuple(sorted(hints.items())))
        now = now_ms()
        if key == self._last_routes and now - self._last_routes_push_ms < ROUTES_REFRESH_MS:
            return
        self._last_routes, self._last_routes_push_ms = key, now
        targets = [v for v in self.brokers.values() if v.state in ("alive", "suspect")]
        await asyncio.gather(
            *(_call(v.handle.set_routes.remote(routes, hints, peers, partitions)) for v in targets),
            return_exceptions=True,
        )

    async def _create_partitions(self) -> None:
        alive = self._alive()
        starting = [b for b, v in self.brokers.items() if v.state == "starting"]
        if len(alive) < self.replication_factor or starting:
            return
        placement = initial_placement(self.partition_count, self.replication_factor, alive)
        replicas: dict[int, list[tuple[int, int, int]]] = {}
        for partition, slots in placement.items():
            replicas[partition] = []
            for slot in slots:
                replicas[partition].append((self.next_replica_id, slot.broker_id, slot.priority))
                self.assigned[self.next_replica_id] = slot.broker_id
                self.replica_partition[self.next_replica_id] = partition
                self.next_replica_id += 1
        self.created = True
        await self._push_routes()
        calls = []
        for partition, members in replicas.items():
            voters = {replica: priority for replica, _, priority in members}
            for replica, broker, _ in members:
                handle = self.brokers[broker].handle
                calls.append(
                    _call(handle.host.remote(partition, replica, self.partition_count, voters))
                )
        results = await asyncio.gather(*calls, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self.events.add(now_ms(), "operation_failed", operation="host", error=repr(result))
        self._last_change_ms = now_ms()
        self.events.add(
            now_ms(),
            "partitions_created",
            placement={p: [[b, r, prio] for r, b, prio in m] for p, m in replicas.items()},
        )

    def _failed(self, operation: str, error: str) -> None:
        """An operation_failed event, unless it repeats the previous one word for word (a
        refusal retried every round would bury every other event)."""
        if self._last_failure == (operation, error):
            return
        self._last_failure = (operation, error)
        self.events.add(now_ms(), "operation_failed", operation=operation, error=error)

    async def _membership(self, partition: int, operation: str, replica: int, priority=None):
        view = self.partitions.get(partition)
        if view is None or view.leader_broker is None:
            return None
        handle = self.brokers[view.leader_broker].handle
        try:
            outcome = await _call(handle.membership.remote(operation, partition, replica, priority))
        except Exception as error:
            self._failed(f"{operation} p{partition}", repr(error))
            return None
        if outcome.kind != OK:
            self._failed(
                f"{operation} p{partition} r{replica}", f"{outcome.kind}: {outcome.reason}"
            )
            return None
        return outcome

    async def _re_replicate(self) -> None:
        routes = self._routes()
        live = {b for b, v in self.brokers.items() if v.state in ("alive", "suspect", "starting")}
        now = now_ms()
        for partition, view in sorted(self.partitions.items()):
            if view.leader_replica is None:
                continue
            op = self.replacements.get(partition)
            if op is not None:
                await self._advance(op, view, now)
                continue
            orphans = []
            for replica in sorted(view.members):
                if routes.get(replica) in live:
                    self._orphan_since.pop(replica, None)
                    continue
                since = self._orphan_since.setdefault(replica, now)
                if replica in self._lost_replicas or now - since >= ORPHAN_GRACE_MS:
                    orphans.append(replica)
            if not orphans:
                self._waiting_reported.discard(partition)
                continue
            # One replacement at a time, and only once leadership has settled: a learner's
            # catch-up loads its leader's loop, and piled onto an election storm it prolongs
            # the storm.
            if self.replacements or now - self._last_leader_change_ms < REPLACE_QUIET_MS:
                continue
            if any(p.leader_replica is None for p in self.partitions.values()):
                continue
            await self._start_replacement(partition, view, orphans[0], routes)

    async def _start_replacement(
        self, partition: int, view: PartitionView, orphan: int, routes: dict[int, int]
    ) -> None:
        alive = set(self._alive())
        hosted: dict[int, set[int]] = {}
        for replica, broker in routes.items():
            if replica in self.replica_partition:
                hosted.setdefault(broker, set()).add(self.replica_partition[replica])
        # A replica of this partition already on a live broker but not a member: an earlier
        # replacement whose add_learner did not go through. Add that one again.
        strays = sorted(
            r
            for r, b in routes.items()
            if self.replica_partition.get(r) == partition and r not in view.members and b in alive
        )
        priority = view.members.get(orphan, {}).get("priority", 0)
        if strays:
            new, host = strays[0], routes[strays[0]]
        else:
            host = replacement_host(partition, sorted(alive), hosted)
            if host is None:
                if partition not in self._waiting_reported:
                    self._waiting_reported.add(partition)
                    self.events.add(now_ms(), "waiting_for_node", partitions=[partition])
                return
            self._waiting_reported.discard(partition)
            new = self.next_replica_id
            self.next_replica_id += 1
            try:
                await _call(
                    self.brokers[host].handle.host.remote(partition, new, self.partition_count)
                )
            except Exception as error:
                self._failed("host", repr(error))
                return
            self.assigned[new] = host
            self.replica_partition[new] = partition
            self._last_routes = None
            await self._push_routes()
        if await self._membership(partition, "add_learner", new, priority) is None:
            return
        self.replacements[partition] = Replacement(partition, orphan, new, host, priority, now_ms())
        self._last_change_ms = now_ms()
        self.events.add(
            now_ms(),
            "learner_added",
            partition=partition,
            replica=new,
            broker=host,
            replaces=orphan,
        )

    async def _advance(self, op: Replacement, view: PartitionView, now: int) -> None:
        if now - op.started_ms > REPLACEMENT_TIMEOUT_MS:
            self.events.add(
                now,
                "operation_failed",
                operation=f"replace p{op.partition_id} r{op.old_replica} by r{op.new_replica}",
                error=f"not done after {REPLACEMENT_TIMEOUT_MS} ms (stage {op.stage})",
            )
            del self.replacements[op.partition_id]
            return
        # Each step is proposed, then confirmed by what the leader reports (a conf change
        # takes effect when the leader appends it; a new leader may not have it): a step not
        # confirmed within MEMBERSHIP_RETRY_MS is proposed again.
        member = view.members.get(op.new_replica)
        voter = member is not None and member.get("voter")
        if op.stage == "learner":
            if not voter:
                lag = view.lag.get(op.new_replica)
                if lag is None or lag > CATCH_UP_LAG_ENTRIES_MAX:
                    return
                if not op.caught_up:
                    op.caught_up = True
                    self.events.add(
                        now, "caught_up", partition=op.partition_id, replica=op.new_replica, lag=lag
                    )
                if now - op.step_ms < MEMBERSHIP_RETRY_MS:
                    return
                if await self._membership(op.partition_id, "promote", op.new_replica) is None:
                    return
                op.step_ms = now
                return
            op.stage = "promoted"
            self.events.add(now, "promoted", partition=op.partition_id, replica=op.new_replica)
            op.step_ms = 0
        if op.stage == "promoted":
            if op.old_replica in view.members:
                if now - op.step_ms < MEMBERSHIP_RETRY_MS:
                    return
                if await self._membership(op.partition_id, "remove", op.old_replica) is not None:
                    op.step_ms = now
                return
            self.events.add(
                now_ms(), "member_removed", partition=op.partition_id, replica=op.old_replica
            )
            del self.replacements[op.partition_id]
            self._orphan_since.pop(op.old_replica, None)
            self._last_change_ms = now_ms()

    async def _rebalance(self) -> None:
        now = now_ms()
        if self.replacements or now - self._last_change_ms < REBALANCE_QUIET_MS:
            return
        if any(v.state in ("starting", "suspect") for v in self.brokers.values()):
            return
        routes = self._routes()
        alive = set(self._alive())
        info = {}
        for partition, view in self.partitions.items():
            members = {}
            for replica, member in view.members.items():
                healthy = routes.get(replica) in alive and (
                    replica == view.leader_replica
                    or view.lag.get(replica, 0) <= CATCH_UP_LAG_ENTRIES_MAX
                )
                members[replica] = {**member, "healthy": healthy}
            info[partition] = {"leader": view.leader_replica, "members": members}
        for partition, current, target in leadership_moves(info):
            if now - self._last_transfer_ms.get(partition, 0) < REBALANCE_INTERVAL_MS:
                continue
            self._last_transfer_ms[partition] = now
            if await self._membership(partition, "transfer_leadership", target) is not None:
                self.events.add(
                    now_ms(),
                    "leadership_transferred",
                    partition=partition,
                    from_replica=current,
                    to_replica=target,
                )

    # ------------------------------------------------------------------ queries
    async def topology(self) -> dict:
        """What clients route by: per partition its leader (replica, broker, term) and members
        (replica -> broker); per broker its handle, node and state."""
        self._ensure_running()
        routes = self._routes()
        return {
            "created": self.created,
            "replica_implementation": hosting.REPLICA_IMPLEMENTATION,
            "job_push": True,
            "partition_count": self.partition_count,
            "replication_factor": self.replication_factor,
            "partitions": {
                p: {
                    "leader_replica": v.leader_replica,
                    "leader_broker": v.leader_broker,
                    "term": v.term,
                    "members": {
                        r: {"broker": routes.get(r), **m} for r, m in sorted(v.members.items())
                    },
                }
                for p, v in sorted(self.partitions.items())
            },
            "brokers": {
                b: {"handle": v.handle, "node_id": v.node_id, "state": v.state, "pid": v.pid}
                for b, v in sorted(self.brokers.items())
            },
        }

    async def status(self, events_since: int = 0) -> dict:
        """Topology, every replica's positions and lag, broker health and loop figures, and
        the events after `events_since` - what `raybee status` prints."""
        self._ensure_running()
        topology = await self.topology()
        for broker in topology["brokers"].values():
            del broker["handle"]
        replicas = []
        for b, view in sorted(self.brokers.items()):
            if not view.status or view.state == "lost":
                continue
            for p, status in sorted(view.status["replicas"].items(), key=lambda kv: int(kv[0])):
                partition = self.partitions.get(int(p))
                lag = None
                if partition is not None:
                    lag = partition.lag.get(int(status["replica_id"]))
                replicas.append(
                    {
                        "partition": int(p),
                        "replica": status["replica_id"],
                        "broker": b,
                        "role": status.get("role"),
                        "term": status.get("term"),
                        "committed": status.get("committed_position"),
                        "processed": status.get("processed_position"),
                        "lag": lag,
                        "health": status.get("health"),
                        "backpressure": status.get("backpressure"),
                    }
                )
        loops = {
            b: {
                **v.status["loop"],
                "faults": v.status["transport"]["faults"],
                "ticks_skipped": v.status["stats"]["ticks_skipped"],
            }
            for b, v in sorted(self.brokers.items())
            if v.status and v.state != "lost"
        }
        return {
            **topology,
            "replica_implementation": hosting.REPLICA_IMPLEMENTATION,
            "supervisor": {"incarnation": self.incarnation, "iterations": self.iterations},
            "replicas": replicas,
            "loops": loops,
            "replacements": [vars(op) for op in self.replacements.values()],
            "events": [e.to_json() for e in self.events.since(events_since)],
        }

    async def broker_handles(self) -> dict[int, object]:
        return {b: v.handle for b, v in self.brokers.items() if v.state != "lost"}


def supervisor_actor_class():
    global _SUPERVISOR_ACTOR
    if _SUPERVISOR_ACTOR is None:
        _SUPERVISOR_ACTOR = ray.remote(Supervisor)
    return _SUPERVISOR_ACTOR


_SUPERVISOR_ACTOR = None
