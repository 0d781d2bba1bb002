"""Failover on a real local Ray cluster: 3 nodes, 3 brokers, 3 partitions, replication factor 3.

- leaders spread: each broker leads exactly one partition (election priorities);
- the Ray node hosting a leader is killed (all its processes at once) under load: the partition
  gets a new leader, every acknowledged create completes exactly once, no job is completed
  twice, no key is issued twice;
- a fresh node joins: the supervisor places a broker there, the lost members are replaced
  (learner, caught up, promoted, dead member removed), replicas agree byte for byte, and the
  leaders are spread again;
- a fault-injecting transport between the brokers (drops, delays, a network partition) under
  load: the same history checks, and the counts of the faults it applied.

After each run under faults, two checks over the committed logs: this directory's history.py
(every acknowledged instance created and completed exactly once, no create request applied
twice, no job completed twice, no key twice) and the replicated partition's own history
checker (partitions/simulation/history.py) fed with every replica's log and state digest and
every answer the clients got.

"""

import asyncio
import random
import time

import pytest
import ray

from raybee.partitions.protocol import (
    ProcessInstanceCreationIntent,
    ProcessInstanceCreationRecordValue,
    Record,
    ValueType,
)
from raybee.partitions.testing import one_task_process
from raybee.workloads import cluster_check

pytestmark = pytest.mark.timeout(300)

PROCESS_ID = "failover"
JOB_TYPE = "failover-work"
LOAD_IN_FLIGHT = 64
ACKNOWLEDGED: set[int] = set()
ANSWERS: list = []  # every acknowledged create's answer record


@pytest.fixture(scope="module")
def cluster_client():
    import raybee

    # The whole log kept: the history checks read it from position 1 (a CI run once compacted
    # a partition below a snapshot and its first instances read as never created).
    client = raybee.connect(
        partitions=3,
        replication_factor=3,
        nodes=3,
        replica_settings=cluster_check.WHOLE_LOG_SETTINGS,
    )
    try:
        client.deploy((f"{PROCESS_ID}.bpmn", one_task_process(PROCESS_ID, JOB_TYPE)))

        @client.worker(JOB_TYPE, concurrency=64)
        async def work(job):
            return {"done": True}

        client.test_worker = work.worker
        yield client
    finally:
        client.close()


CREATE = Record(
    ValueType.PROCESS_INSTANCE_CREATION,
    ProcessInstanceCreationIntent.CREATE,
    ProcessInstanceCreationRecordValue(bpmn_process_id=PROCESS_ID, variables={"n": 1}),
)


async def load(client, seconds: float, acknowledged: set[int], errors: dict) -> None:
    """Creates through the router, keeping the answer records (with their request ids) for
    the replicated partition's history checker."""
    stop_at = time.monotonic() + seconds
    router = client.router

    async def one():
        while time.monotonic() < stop_at:
            try:
                record = await router.execute(router.next_partition(), CREATE)
                ANSWERS.append(record)
                acknowledged.add(record.value.process_instance_key)
            except Exception as error:  # unknown outcomes, unavailability during failover
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                await asyncio.sleep(0.05)

    await asyncio.gather(*(one() for _ in range(LOAD_IN_FLIGHT)))


def check_with_the_replicas_history_checker(client) -> dict:
    """partitions/simulation/history.py over every replica's committed log (raises its
    Violation naming the invariant); returns its counts per partition."""
    counts = cluster_check.check_history(cluster_check.replica_logs(client), ANSWERS)
    assert sum(c["requests_processed"] for c in counts.values()) >= len(ANSWERS)
    return counts


def leaders(client) -> dict[int, int | None]:
    return {p: v["leader_broker"] for p, v in client.topology()["partitions"].items()}


def node_of(client, broker: int) -> str:
    return ray.get(client.router.handles[broker].ping.remote())["node_id"]


def test_each_broker_leads_exactly_one_partition(cluster_client, tools):
    client = cluster_client
    alive = [b for b, v in client.topology()["brokers"].items() if v["state"] == "alive"]
    tools.wait_for(
        lambda: sorted(b for b in leaders(client).values() if b) == sorted(alive),
        30,
        "one leader per broker",
    )


def test_killing_a_leaders_node_under_load_loses_nothing(cluster_client, tools):
    client = cluster_client
    cluster = client.cluster
    seq = tools.last_event_seq(client)
    victim = next(
        (p, b)
        for p, b in sorted(leaders(client).items())
        if node_of(client, b) != cluster.head_node_id
    )
    partition, broker = victim
    errors: dict[str, int] = {}
    acked: set[int] = set()
    future = asyncio.run_coroutine_threadsafe(load(client, 8.0, acked, errors), client._loop.loop)
    time.sleep(3.0)
    nodes_before = len(cluster.nodes)
    killed_at = time.monotonic()
    cluster.kill_node(node_of(client, broker))
    assert len(cluster.nodes) == nodes_before - 1  # the fault happened: one node fewer
    tools.wait_for(lambda: leaders(client)[partition] not in (None, broker), 10, "a new leader")
    new_leader_after_s = time.monotonic() - killed_at
    future.result(timeout=60)
    ACKNOWLEDGED.update(acked)
    lost = tools.wait_for(
        lambda: tools.events_of(client, "broker_lost", seq), 30, "the supervisor noticing"
    )
    assert [e["fields"]["broker"] for e in lost] == [broker]
    on_partition = [k for k in acked if k >> 51 == partition]
    assert on_partition, "nothing was created on the partition that failed over"
    print(
        f"new leader of partition {partition} seen {new_leader_after_s:.2f} s after the kill; "
        f"errors during the run: {errors}"
    )
    done = client.test_worker.stats.completed_at  # instance key -> completion acknowledged
    tools.wait_for(lambda: set(done) >= acked, 60, "completions", fail=False)
    assert not tools.history_problems(tools.history(client), acked)
    print(f"history checker: {check_with_the_replicas_history_checker(client)}")


def test_the_lost_members_are_replaced_on_a_new_node_and_leaders_spread_again(
    cluster_client, tools
):
    client = cluster_client
    seq = tools.last_event_seq(client)
    client.cluster.add_node()

    def replaced():
        removed = tools.events_of(client, "member_removed", 0)
        return len({e["fields"]["partition"] for e in removed}) == 3

    if not tools.wait_for(replaced, 120, "replacement", interval_s=0.5, fail=False):
        status = client.status()
        events = "\n".join(f"{e['kind']} {e['fields']}" for e in status["events"][-40:])
        pytest.fail(
            f"the lost members were not all replaced in 120 s; replacements "
            f"{status['replacements']}\nevents:\n{events}"
        )
    kinds = [e["kind"] for e in client.status()["events"]]
    for kind in ("broker_placed", "learner_added", "caught_up", "promoted"):
        assert kind in kinds, kind
    del seq
    topology = client.topology()
    live = {b for b, v in topology["brokers"].items() if v["state"] == "alive"}
    for partition in topology["partitions"].values():
        hosts = [m["broker"] for m in partition["members"].values()]
        assert len(hosts) == 3 and set(hosts) <= live and len(set(hosts)) == 3
    tools.wait_for(
        lambda: sorted(b for b in leaders(client).values() if b) == sorted(live),
        60,
        "leaders spread over the brokers again",
    )
    # Replicas agree byte for byte once they applied the same log.
    for partition in topology["partitions"]:
        brokers = [m["broker"] for m in topology["partitions"][partition]["members"].values()]

        def same_digest(partition=partition, brokers=brokers):
            handles = [client.router.handles[b] for b in brokers]
            statuses = ray.get([h.status.remote() for h in handles])
            applied = {s["replicas"][str(partition)].get("applied_position") for s in statuses}
            if len(applied) != 1:
                return None
            digests = set(ray.get([h.digest.remote(partition) for h in handles]))
            return digests if len(digests) == 1 else None

        tools.wait_for(same_digest, 30, f"partition {partition}'s replicas to agree")


@pytest.mark.parametrize("seed", [random.randrange(1 << 30)])
def test_a_faulty_network_between_brokers_loses_nothing(cluster_client, tools, seed):
    print(f"seed {seed}")
    client = cluster_client
    handles = list(client.router.handles.items())
    rng = random.Random(seed)
    errors: dict[str, int] = {}
    acked: set[int] = set()
    future = asyncio.run_coroutine_threadsafe(load(client, 9.0, acked, errors), client._loop.loop)
    try:
        plan = {"drop_rate": 0.1, "delay_rate": 0.2, "delay_ms_max": 50}
        ray.get([h.set_faults.remote(plan) for _, h in handles])
        time.sleep(3.0)
        isolated = rng.choice([b for b, _ in handles])
        cut = {"cut_off": [isolated]}
        for broker, handle in handles:
            spec = (
                {"cut_off": [b for b, _ in handles if b != isolated]} if broker == isolated else cut
            )
            ray.get(handle.set_faults.remote(spec))
        time.sleep(3.0)
    finally:
        counts = ray.get([h.set_faults.remote(None) for _, h in handles])
    future.result(timeout=60)
    ACKNOWLEDGED.update(acked)
    faults = {kind: sum(c[kind] for c in counts) for kind in counts[0]}
    print(f"faults applied: {faults}; client errors: {errors}; broker {isolated} cut off")
    assert faults["dropped"] > 0 and faults["delayed"] > 0 and faults["cut_off"] > 0
    done = client.test_worker.stats.completed_at  # instance key -> completion acknowledged
    tools.wait_for(lambda: set(done) >= acked, 60, "completions", fail=False)
    assert not tools.history_problems(tools.history(client), ACKNOWLEDGED)
    print(f"history checker: {check_with_the_replicas_history_checker(client)}")
