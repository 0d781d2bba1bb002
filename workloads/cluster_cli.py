"""`raybee start | status | stop`: raybee in a Ray cluster.

- `raybee start [--address auto] [--partitions N] [--replication-factor R] [--data-dir D]`
  deploys the supervisor (which places one broker on every node that advertises the
  `raybee_broker` resource) into the running Ray cluster at `--address`; without `--address`
  it first starts a local cluster of `--nodes` Ray nodes on 127.0.0.1 that outlives this
  command (its process ids are kept in ~/.raybee/local-cluster.json).
- `raybee status [--address A] [--json] [--events N]` prints brokers (health, loop pauses),
  every replica (role, term, positions, lag, backpressure) and the supervisor's last events.
- `raybee stop [--address A]` closes the brokers and removes raybee; for the local cluster it
  also ends every process `raybee start` started (by process id).
"""

import argparse
import json
import sys
import time

DEFAULT_EVENTS_SHOWN = 20


def _connect(address: str | None) -> None:
    """ray.init against the given address, else the local cluster of `raybee start`, else
    the cluster Ray finds ('auto')."""
    from raybee.actors.broker import NAMESPACE
    from raybee.actors.local_cluster import detached_address, init_driver

    if address is None:
        address = detached_address() or "auto"
    init_driver(address, NAMESPACE)


def start(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raybee start")
    parser.add_argument("--address", help="a running Ray cluster ('auto' finds it)")
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--replication-factor", type=int, default=None)
    parser.add_argument("--data-dir", default=None, help="default: the Ray session directory")
    parser.add_argument("--nodes", type=int, default=3, help="local cluster only")
    parser.add_argument("--tick-ms", type=int, default=None)
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="return once the supervisor runs (brokers are placed as nodes join: `ray up`)",
    )
    opts = parser.parse_args(args)
    import ray

    from raybee.actors import deploy
    from raybee.actors.broker import NAMESPACE
    from raybee.actors.local_cluster import STATE_FILE, LocalCluster, detached_address

    started = time.monotonic()
    cluster = None
    if opts.address is None:
        if detached_address() is not None:
            print(
                f"a local raybee cluster is already running (see {STATE_FILE}); "
                "`raybee stop` ends it",
                file=sys.stderr,
            )
            return 1
        cluster = LocalCluster.start(nodes=opts.nodes, detached=True)
        print(f"local Ray cluster of {opts.nodes} nodes on 127.0.0.1 in {cluster.started_s:.1f} s")
        cluster.connect_driver(NAMESPACE)
    else:
        _connect(opts.address)
    try:
        supervisor = deploy.deploy(
            opts.partitions,
            opts.replication_factor,
            opts.data_dir,
            opts.tick_ms,
        )
        if opts.no_wait:
            print(
                "raybee's supervisor runs; it places a broker on every node that advertises "
                "`raybee_broker` and creates the partitions once enough have joined "
                "(`raybee status` shows progress)"
            )
            ray.shutdown()
            return 0
        topology = deploy.wait_serving(supervisor)
    except BaseException:
        if cluster is not None:
            cluster.shutdown()
        raise
    address = cluster.address if cluster is not None else ray.get_runtime_context().gcs_address
    print(
        f"raybee serves {topology['partition_count']} partitions (replication factor "
        f"{topology['replication_factor']}) on {len(topology['brokers'])} brokers at {address}, "
        f"{time.monotonic() - started:.1f} s after start"
    )
    ray.shutdown()
    return 0


def _table(rows: list[list], header: list[str]) -> list[str]:
    cells = [header] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]


def format_status(status: dict, events_shown: int = DEFAULT_EVENTS_SHOWN) -> str:
    lines = [
        f"raybee: {status['partition_count']} partitions, replication factor "
        f"{status['replication_factor']}, "
        f"supervisor incarnation {status['supervisor']['incarnation']}"
    ]
    lines.append("brokers")
    rows = []
    for broker, info in sorted(status["brokers"].items(), key=lambda kv: int(kv[0])):
        loop = status["loops"].get(broker) or status["loops"].get(str(broker)) or {}
        leads = [p for p, v in status["partitions"].items() if v["leader_broker"] == int(broker)]
        rows.append(
            [
                broker,
                info["state"],
                (info["node_id"] or "")[:12],
                info["pid"],
                ",".join(str(p) for p in sorted(leads, key=int)) or "-",
                loop.get("iteration_ms_max"),
                loop.get("iteration_ms_p99"),
                loop.get("tick_late_ms_max"),
                sum(loop.get("faults", {}).values()) if loop else None,
            ]
        )
    lines += _table(
        rows,
        [
            "id",
            "state",
            "node",
            "pid",
            "leads",
            "loop max ms",
            "loop p99 ms",
            "tick late ms",
            "faults",
        ],
    )
    lines.append("replicas")
    rows = []
    for r in status["replicas"]:
        bp = r.get("backpressure") or {}
        rows.append(
            [
                r["partition"],
                r["replica"],
                r["broker"],
                r["role"],
                r["term"],
                r["committed"],
                r["processed"],
                r["lag"],
                r["health"],
                f"{bp.get('in_flight', '')}/{bp.get('limit', '')}" if bp else None,
            ]
        )
    lines += _table(
        rows,
        [
            "partition",
            "replica",
            "broker",
            "role",
            "term",
            "committed",
            "processed",
            "lag",
            "health",
            "in flight/limit",
        ],
    )
    if status["replacements"]:
        lines.append("re-replication under way")
        for op in status["replacements"]:
            lines.append(
                f"  partition {op['partition_id']}: replica {op['new_replica']} on broker "
                f"{op['broker_id']} replaces {op['old_replica']} ({op['stage']})"
            )
    events = status["events"][-events_shown:]
    lines.append(f"events (last {len(events)} of {len(status['events'])})")
    first = events[0]["time_ms"] if events else 0
    for event in events:
        details = " ".join(f"{k}={v}" for k, v in event["fields"].items())
        offset = (event["time_ms"] - first) / 1000
        lines.append(f"  #{event['seq']:<4} +{offset:7.2f}s  {event['kind']:<22} {details}")
    return "\n".join(lines)


def status(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raybee status")
    parser.add_argument("--address", default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS_SHOWN)
    opts = parser.parse_args(args)
    import ray

    from raybee.actors import deploy

    _connect(opts.address)
    try:
        supervisor = deploy.require_supervisor()
        result = ray.get(supervisor.status.remote(), timeout=30)
    finally:
        ray.shutdown()
    if opts.json:
        print(json.dumps(result, sort_keys=True, default=str))
    else:
        print(format_status(result, opts.events))
    return 0


def stop(args: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="raybee stop")
    parser.add_argument("--address", default=None)
    opts = parser.parse_args(args)
    import ray

    from raybee.actors import deploy
    from raybee.actors.local_cluster import detached_address, stop_detached

    local = opts.address is None and detached_address() is not None
    try:
        _connect(opts.address)
        stopped = deploy.undeploy()
        ray.shutdown()
        print(
            f"stopped the supervisor ({'found' if stopped['supervisor'] else 'none running'}) "
            f"and {len(stopped['brokers'])} brokers"
        )
    except ConnectionError as error:
        if not local:
            raise
        print(f"the local cluster does not answer ({error}); ending its processes")
    if local:
        killed = stop_detached()
        print(f"ended the local Ray cluster ({killed} processes)")
    return 0


COMMANDS = {"start": start, "status": status, "stop": stop}


def main(command: str, args: list[str]) -> int:
    return COMMANDS[command](args)
