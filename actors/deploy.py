"""Deploy raybee into a running Ray cluster (the supervisor, which places the brokers), wait
until it serves, and take it down again.

The supervisor is a named, detached actor in the `raybee` namespace; deploying twice finds the
one already there (and refuses a different partition count or replication factor).
"""

import time

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from raybee.actors import hosting
from raybee.actors.broker import BROKER_NAME_PREFIX, NAMESPACE
from raybee.actors.errors import NotStartedError
from raybee.actors.supervisor import EVENTS_KEY, SUPERVISOR_NAME, supervisor_actor_class

PARTITIONS_DEFAULT = 3
READY_TIMEOUT_S = 120.0
READY_POLL_S = 0.1
SHUTDOWN_CALL_TIMEOUT_S = 10.0
HEAD_NODE_RESOURCE = "node:__internal_head__"


def find_supervisor():
    try:
        return ray.get_actor(SUPERVISOR_NAME, namespace=NAMESPACE)
    except ValueError:
        return None


def _head_node_id() -> str:
    """The head node (it holds the GCS: when it goes, the cluster goes), else this driver's."""
    for node in ray.nodes():
        if node.get("Alive") and HEAD_NODE_RESOURCE in node.get("Resources", {}):
            return node["NodeID"]
    return ray.get_runtime_context().get_node_id()


def deploy(
    partitions: int = PARTITIONS_DEFAULT,
    replication_factor: int | None = None,
    data_dir: str | None = None,
    tick_ms: int | None = None,
    seed: int = 0,
    replica_settings: dict[str, int] | None = None,
):
    """The supervisor handle, created if missing (pinned to the head node; Ray restarts its
    process there). tick_ms defaults to `hosting.TICK_MS` (25); `replica_settings` overrides
    the replicas' snapshot settings (`hosting.REPLICA_SETTINGS`), checked here before anything
    starts."""
    if replication_factor is None:
        replication_factor = hosting.REPLICATION_FACTOR_DEFAULT
    if tick_ms is None:
        tick_ms = hosting.default_tick_ms()
    replica_settings = dict(replica_settings or {})
    hosting.replica_config(tick_ms, replica_settings)  # a bad setting fails here, named
    supervisor = find_supervisor()
    if supervisor is not None:
        topology = ray.get(supervisor.topology.remote())
        found = (topology["partition_count"], topology["replication_factor"])
        if found != (partitions, replication_factor):
            raise ValueError(
                f"raybee already runs in this cluster with {found[0]} partitions and "
                f"replication factor {found[1]}; asked for {partitions} and "
                f"{replication_factor} (run `raybee stop` first)"
            )
        return supervisor
    supervisor = (
        supervisor_actor_class()
        .options(
            name=SUPERVISOR_NAME,
            namespace=NAMESPACE,
            lifetime="detached",
            max_restarts=-1,
            max_task_retries=0,
            num_cpus=0,
            # The head node: it holds Ray's GCS, so while the supervisor's node lives the
            # cluster does. Soft affinity was seen to land it on a worker node under load.
            scheduling_strategy=NodeAffinitySchedulingStrategy(_head_node_id(), soft=False),
        )
        .remote(partitions, replication_factor, data_dir, tick_ms, seed, replica_settings)
    )
    ray.get(supervisor.start.remote())
    return supervisor


def serving(topology: dict) -> bool:
    """Created, and every partition has a leader."""
    partitions = topology["partitions"]
    return (
        topology["created"]
        and len(partitions) == topology["partition_count"]
        and all(p["leader_broker"] is not None for p in partitions.values())
    )


def wait_serving(supervisor, timeout_s: float = READY_TIMEOUT_S) -> dict:
    deadline = time.monotonic() + timeout_s
    topology = None
    while time.monotonic() < deadline:
        try:
            topology = ray.get(supervisor.topology.remote(), timeout=5)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            topology = None
        if topology is not None and serving(topology):
            return topology
        time.sleep(READY_POLL_S)
    raise TimeoutError(
        f"raybee did not start serving within {timeout_s:.0f} s; last topology: {_brief(topology)}"
    )


def _brief(topology: dict | None) -> str:
    if topology is None:
        return "none (the supervisor did not answer)"
    brokers = {b: v["state"] for b, v in topology["brokers"].items()}
    leaders = {p: v["leader_broker"] for p, v in topology["partitions"].items()}
    return f"created={topology['created']} brokers={brokers} leaders={leaders}"


def require_supervisor():
    supervisor = find_supervisor()
    if supervisor is None:
        raise NotStartedError(
            "this Ray cluster runs no raybee: start it with `raybee start --address auto` "
            "(or call raybee.connect() without an address for a local cluster)"
        )
    return supervisor


def undeploy() -> dict:
    """Close every broker cleanly, kill the broker actors and the supervisor. Returns what
    was stopped."""
    names = [
        entry["name"]
        for entry in ray.util.list_named_actors(all_namespaces=True)
        if entry["namespace"] == NAMESPACE
    ]
    supervisor = find_supervisor()
    if supervisor is not None:
        ray.kill(supervisor, no_restart=True)  # first: it would replace the brokers
    brokers = []
    for name in names:
        if not name.startswith(BROKER_NAME_PREFIX):
            continue
        try:
            handle = ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            continue
        brokers.append((name, handle))
    refs = [handle.shutdown.remote() for _, handle in brokers]
    ray.wait(refs, num_returns=len(refs), timeout=SHUTDOWN_CALL_TIMEOUT_S)
    for _, handle in brokers:
        ray.kill(handle, no_restart=True)
    from ray.experimental.internal_kv import _internal_kv_del

    _internal_kv_del(EVENTS_KEY, namespace=NAMESPACE)  # a new deployment starts a new log
    return {"supervisor": supervisor is not None, "brokers": [name for name, _ in brokers]}
