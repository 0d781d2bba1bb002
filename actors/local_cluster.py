"""A Ray cluster of several nodes on this machine, bound to 127.0.0.1: the embedded default of
`raybee.connect()`, `raybee start`, the demo, the tests and the cluster benchmark.

`ray.cluster_utils.Cluster` starts each node's processes (GCS and dashboard head on the first,
a raylet and agents on each); every node advertises `raybee_broker: 1`, so the supervisor
places one broker on each. No dashboard UI (Ray still runs its minimal head process, bound to
127.0.0.1); `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` makes Ray's address detection agree with
127.0.0.1 on Linux. Node failure detection is tightened (`HEALTH_CHECK_*`) so a killed node is
noticed by Ray in about a second instead of Ray's default fifteen.

`shutdown()` removes every node and then kills by process id whatever is left of the processes
this cluster started (and their children): `Cluster.shutdown()` can leave workers behind. With
`detached=True` the processes outlive this Python process (`raybee start`); their ids are saved
in a state file so that `raybee stop` can end them.
"""

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
BROKER_RESOURCE = "raybee_broker"
NODE_CPUS = 1
NODE_OBJECT_STORE_BYTES = 80 * 1024 * 1024
HEALTH_CHECK_PERIOD_MS = 500
HEALTH_CHECK_TIMEOUT_MS = 500
HEALTH_CHECK_FAILURE_THRESHOLD = 2
TERMINATE_WAIT_S = 3.0
STATE_FILE = (
    Path(os.environ.get("RAYBEE_STATE_DIR", Path.home() / ".raybee")) / "local-cluster.json"
)

log = logging.getLogger(__name__)


def _prepare_environment() -> None:
    """Loopback only: Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is imported (this
    process may have imported it already, so its constant is set too) and the node processes
    started from here inherit the variable."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray._private.ray_constants as ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False


def _node_args(head: bool) -> dict:
    args = {
        "node_ip_address": LOOPBACK,
        "num_cpus": NODE_CPUS,
        "resources": {BROKER_RESOURCE: 1},
        "object_store_memory": NODE_OBJECT_STORE_BYTES,
    }
    if head:
        args.update(
            include_dashboard=False,
            dashboard_host=LOOPBACK,
            _system_config={
                "health_check_period_ms": HEALTH_CHECK_PERIOD_MS,
                "health_check_timeout_ms": HEALTH_CHECK_TIMEOUT_MS,
                "health_check_failure_threshold": HEALTH_CHECK_FAILURE_THRESHOLD,
            },
        )
    return args


def _process_ids(node) -> list[int]:
    return [
        info.process.pid
        for infos in node.all_processes.values()
        for info in infos
        if info.process is not None
    ]


def collect_processes(pids: list[int]) -> list:
    """The processes with these ids and all their descendants (taken BEFORE anything is
    stopped: a worker whose raylet is gone is re-parented and no longer found as a child)."""
    import psutil  # Ray's dependency (importable once ray is)

    processes = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            processes.extend(process.children(recursive=True))
            processes.append(process)
        except psutil.NoSuchProcess:
            continue
    return processes


def kill_processes(processes: list) -> int:
    """Terminate the processes; kill what is left after TERMINATE_WAIT_S. Returns how many
    were still running when asked to stop."""
    import psutil

    running = []
    for process in processes:
        try:
            process.terminate()
            running.append(process)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(running, timeout=TERMINATE_WAIT_S)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=TERMINATE_WAIT_S)
    return len(running)


@dataclass
class LocalCluster:
    """`LocalCluster.start(nodes=3)`; `.address`; `.add_node()`; `.kill_node(node_id)`;
    `.shutdown()`."""

    cluster: object
    detached: bool
    started_s: float
    nodes: dict[str, object] = field(default_factory=dict)  # node id -> ray Node
    pids: set[int] = field(default_factory=set)

    @classmethod
    def start(cls, nodes: int = 3, detached: bool = False) -> "LocalCluster":
        if nodes < 1:
            raise ValueError(f"a cluster needs at least one node, got {nodes}")
        _prepare_environment()
        from ray.cluster_utils import Cluster

        started = time.monotonic()
        cluster = Cluster(
            initialize_head=True,
            head_node_args=_node_args(head=True),
            shutdown_at_exit=not detached,
        )
        local = cls(cluster, detached, 0.0)
        local._track(cluster.head_node)
        try:
            for _ in range(nodes - 1):
                local.add_node()
        except BaseException:
            local.shutdown()
            raise
        local.started_s = time.monotonic() - started
        if detached:
            local.save_state()
        return local

    def connect_driver(self, namespace: str, log_to_driver: bool = False) -> None:
        """ray.init for this process, as a driver of this cluster on 127.0.0.1."""
        init_driver(self.address, namespace, log_to_driver)

    @property
    def address(self) -> str:
        return self.cluster.address

    @property
    def head_node_id(self) -> str:
        return self.cluster.head_node.node_id

    def _track(self, node) -> None:
        self.nodes[node.node_id] = node
        self.pids.update(_process_ids(node))

    def add_node(self):
        node = self.cluster.add_node(**_node_args(head=False))
        self._track(node)
        if self.detached:
            self.save_state()
        return node

    def kill_node(self, node_id: str) -> None:
        """Kill every process of a (non-head) node at once, as a machine failure would."""
        if node_id == self.head_node_id:
            raise ValueError("refusing to kill the head node: the whole cluster would go")
        import ray

        if ray.is_initialized() and ray.get_runtime_context().get_node_id() == node_id:
            raise ValueError("refusing to kill the node this driver is attached to")
        node = self.nodes.pop(node_id)
        # Every process of the node dies at the same moment (SIGKILL, workers included), then
        # Ray's own bookkeeping removes the node.
        processes = collect_processes(_process_ids(node))
        for process in processes:
            with contextlib.suppress(Exception):  # already gone
                process.kill()
        self.cluster.remove_node(node, allow_graceful=False)

    def save_state(self) -> None:
        STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        pids = set(self.pids)
        for node in self.nodes.values():
            pids.update(_process_ids(node))
        STATE_FILE.write_text(
            json.dumps({"address": self.address, "pids": sorted(pids), "created_s": time.time()})
        )

    def shutdown(self) -> int:
        """Stop every node; kill by process id what is left. Returns how many of the processes
        this cluster started (and their children) were still running after Ray's shutdown."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        pids = set(self.pids)
        for node in self.nodes.values():
            pids.update(_process_ids(node))
        processes = collect_processes(sorted(pids))
        try:
            self.cluster.shutdown()
        except Exception:  # a node may already be gone; the pids below are the backstop
            log.exception("Cluster.shutdown failed; killing the processes by id")
        leftovers = kill_processes(processes)
        if self.detached and STATE_FILE.exists():
            STATE_FILE.unlink()
        return leftovers


def stop_detached() -> int | None:
    """Stop the cluster `raybee start` left running (None if there is none)."""
    if not STATE_FILE.exists():
        return None
    state = json.loads(STATE_FILE.read_text())
    import ray  # noqa: F401  (makes Ray's psutil importable)

    killed = kill_processes(collect_processes(state["pids"]))
    STATE_FILE.unlink()
    return killed


def init_driver(address: str | None, namespace: str, log_to_driver: bool = False) -> None:
    """ray.init as a driver of the cluster at `address` ("auto": the one Ray finds on this
    machine). A cluster on 127.0.0.1 (ours) needs the driver on 127.0.0.1 too."""
    import ray
    from ray._private.utils import read_ray_address

    resolved = read_ray_address() if address in (None, "auto") else address
    options = {}
    if resolved and resolved.rsplit(":", 1)[0] in (LOOPBACK, "localhost"):
        _prepare_environment()
        options["_node_ip_address"] = LOOPBACK
    ray.init(
        address=address,
        namespace=namespace,
        log_to_driver=log_to_driver,
        logging_level=logging.WARNING,
        **options,
    )


def detached_address() -> str | None:
    if not STATE_FILE.exists():
        return None
    return json.loads(STATE_FILE.read_text())["address"]
