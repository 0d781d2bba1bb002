"""Catch-up by snapshot on a real local Ray cluster (3 nodes, 2 partitions, replication factor 3).

The replicas snapshot every few thousand positions here, so when a node dies and the supervisor
places a replacement broker on a fresh node, Raft's log no longer reaches back to the start
and each new member is sent the leader's checkpoint (files streamed in checksummed chunks),
installs it and replays the log after it. Checked:

- the fault happened: a node fewer, then a node more, and every partition replaced its member;
- each new member installed a snapshot (its stats count it) and its log starts after it, which
  the history checks refuse by name (`CompactedLogError`) rather than read as lost instances;
- the new members agree byte for byte with the old ones at the same applied position;
- every instance created before and after completes, and the cluster keeps serving.

The other cluster tests keep the whole log (`cluster_check.WHOLE_LOG_SETTINGS`): this is the
one that runs the snapshot path between brokers.
"""

import asyncio

import pytest
import ray

from raybee.partitions.testing import one_task_process
from raybee.workloads import cluster_check

pytestmark = pytest.mark.timeout(300)

PROCESS_ID = "snapshots"
JOB_TYPE = "snapshot-work"
PARTITIONS = 2
# About 80 one-task instances per snapshot on a partition.
SNAPSHOT_INTERVAL_POSITIONS = 2_000
INSTANCES_PER_ROUND = 300
IN_FLIGHT = 32


@pytest.fixture(scope="module")
def cluster_client():
    import raybee

    client = raybee.connect(
        partitions=PARTITIONS,
        replication_factor=3,
        nodes=3,
        replica_settings={"snapshot_interval_positions": SNAPSHOT_INTERVAL_POSITIONS},
    )
    try:
        client.deploy((f"{PROCESS_ID}.bpmn", one_task_process(PROCESS_ID, JOB_TYPE)))

        @client.worker(JOB_TYPE, concurrency=64)
        async def work(job):
            return {"worked": job.variables["n"]}

        yield client
    finally:
        client.close()


async def run_instances(client, first: int, count: int) -> list:
    """`count` instances with results, IN_FLIGHT at a time; returns their results."""
    numbers = iter(range(first, first + count))
    results = []

    async def one():
        for n in numbers:
            results.append(await client.aio.create_instance_with_result(PROCESS_ID, {"n": n}))

    await asyncio.gather(*(one() for _ in range(IN_FLIGHT)))
    return results


def replicas_by_broker(client) -> dict[int, dict]:
    """broker -> its status (replicas by partition), for every live broker."""
    out = {}
    for broker, handle in client.router.handles.items():
        try:
            out[broker] = ray.get(handle.status.remote(), timeout=30)
        except ray.exceptions.RayError:
            continue  # the broker that is gone
    return out


def test_a_replacement_member_catches_up_from_a_snapshot_and_agrees_byte_for_byte(
    cluster_client, tools
):
    client = cluster_client
    cluster = client.cluster
    before = client._run(run_instances(client, 0, INSTANCES_PER_ROUND))
    assert sorted(r.variables["worked"] for r in before) == list(range(INSTANCES_PER_ROUND))
    taken = {
        (broker, int(p)): r["stats"]["snapshots_taken"]
        for broker, s in replicas_by_broker(client).items()
        for p, r in s["replicas"].items()
    }
    assert all(n >= 1 for n in taken.values()), f"every replica snapshotted: {taken}"

    # A non-head node dies; a fresh one joins and the supervisor replaces the lost members.
    topology = client.topology()
    victim = next(
        b
        for b in sorted(topology["brokers"])
        if ray.get(client.router.handles[b].ping.remote())["node_id"] != cluster.head_node_id
    )
    nodes_before = len(cluster.nodes)
    cluster.kill_node(ray.get(client.router.handles[victim].ping.remote())["node_id"])
    assert len(cluster.nodes) == nodes_before - 1
    cluster.add_node()

    def replaced():
        removed = tools.events_of(client, "member_removed", 0)
        return len({e["fields"]["partition"] for e in removed}) == PARTITIONS

    tools.wait_for(replaced, 120, "the lost members replaced", interval_s=0.5)
    new_brokers = [
        b
        for b, v in client.topology()["brokers"].items()
        if b not in topology["brokers"] and v["state"] == "alive"
    ]
    assert len(new_brokers) == 1, client.topology()["brokers"]
    new = new_brokers[0]

    # The cluster serves on: more instances, with leaders wherever the supervisor put them.
    after = client._run(run_instances(client, INSTANCES_PER_ROUND, INSTANCES_PER_ROUND))
    assert len(after) == INSTANCES_PER_ROUND

    statuses = replicas_by_broker(client)
    for partition in range(1, PARTITIONS + 1):
        replica = statuses[new]["replicas"][str(partition)]
        assert replica["stats"]["snapshots_installed"] >= 1, replica["stats"]
        assert replica["snapshot"]["index"] > 0
        with pytest.raises(cluster_check.CompactedLogError, match=f"partition {partition}'s log"):
            cluster_check.read_log(client.router.handles[new], partition)

    # Byte for byte: every member of each partition, once they applied the same log.
    topology = client.topology()
    for partition in topology["partitions"]:
        brokers = [m["broker"] for m in topology["partitions"][partition]["members"].values()]
        assert new in brokers and victim not in brokers, brokers

        def same_digest(partition=partition, brokers=brokers):
            handles = [client.router.handles[b] for b in brokers]
            statuses = ray.get([h.status.remote() for h in handles])
            applied = {s["replicas"][str(partition)].get("applied_position") for s in statuses}
            if len(applied) != 1:
                return None
            digests = set(ray.get([h.digest.remote(partition) for h in handles]))
            return digests if len(digests) == 1 else None

        tools.wait_for(same_digest, 30, f"partition {partition}'s replicas to agree")
