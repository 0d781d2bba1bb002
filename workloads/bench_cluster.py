"""`raybee bench cluster [--json]`: raybee on a local Ray cluster (3 nodes on 127.0.0.1, one
broker each), driven through the Python client from this process.

Workload: a BPMN process start -> one service task -> end, deployed once; a job worker in this
process completes every job at once (job push, falling back to long-polling activation).

- process_instances_per_s: instances completed per second while `--in-flight` creates are kept
  outstanding for `--seconds` (completed = the worker's COMPLETE was acknowledged, which ends
  the instance in the same batch);
- latency_ms_p50 / latency_ms_p99: instances offered at `--rate`/s for `--latency-seconds`,
  from the create sent to the instance's end (the worker's completion acknowledged);
  result_latency_ms_*: the same through create-with-result (the answer is the instance's
  result; one actor call held open per instance), for half as long;
- failover_s: the node hosting partition 1's leader is killed (all its processes, SIGKILL) ->
  the first command on partition 1 acknowledged by the new leader; rereplication_s: kill ->
  the lost member replaced (learner caught up, promoted, dead member removed). A new node joins
  right after the kill (as Ray's autoscaler would add one) for the replacement broker. Only
  with replication factor >= 3 (else reported as null);
- lost: acknowledged creates whose instance never completed (must be 0);
- elections_under_load: Raft terms begun during the throughput and latency phases, before
  anything was killed (elections nothing called for: a loop or the machine stalled longer
  than the election timeout);
- cpu_share_ray / cpu_share_raybee: CPU seconds during the throughput phase of Ray's own
  processes (GCS, raylets, dashboard and agents, monitors, idle workers) against raybee's
  (broker and supervisor actors, and this driver: load generator, router, worker);
- cores, load average before and after (other work on the machine skews every figure here).
"""

import argparse
import asyncio
import os
import time

LOAD_BATCH_MAX = 64
RESULT_TIMEOUT_MS = 30_000
DRAIN_TIMEOUT_S = 30.0
FAILOVER_PROBE_TIMEOUT_MS = 2_000
FAILOVER_WAIT_S = 30.0
REREPLICATION_TIMEOUT_S = 120.0
PROCESS_ID = "bench-one-task"
JOB_TYPE = "bench-work"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# Threads Ray's C++ core worker (gRPC, io services, object store and GCS clients) names for
# itself inside every worker and driver process; every other thread of a raybee process (the
# Python threads, which keep the process's name, and RocksDB's) is raybee's own work.
RAY_THREAD_PREFIXES = (
    "client.poll",
    "server.poll",
    "event_engine",
    "nexting_thread",
    "gcs_client_io",
    "grpc",
    "timer_manager",
    "worker.io",
    "worker.user_obj",
    "task_event_buff",
    "resolver-execut",
    "default-executo",
    "jemalloc",
    "global.accessor",
)


def _thread_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of a process: (raybee's threads, Ray's core-worker threads)."""
    ticks = os.sysconf("SC_CLK_TCK")
    base = f"/proc/{pid}/task"
    own = ray_threads = 0.0
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"{base}/{tid}/comm") as handle:
                name = handle.read().strip()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        if name.startswith(RAY_THREAD_PREFIXES):
            ray_threads += seconds
        else:
            own += seconds
    return own, ray_threads


def _cpu_by_kind(cluster_pids: list[int], driver_pid: int) -> dict[str, float]:
    """CPU seconds so far: Ray's own processes (GCS, raylets, dashboard, agents, monitors,
    idle workers); raybee's processes (broker and supervisor actors, this driver) split into
    their Python threads and the Ray core-worker threads inside them."""
    import psutil

    processes = {}
    for pid in cluster_pids:
        try:
            process = psutil.Process(pid)
            processes[pid] = process
            for child in process.children(recursive=True):
                processes[child.pid] = child
        except psutil.NoSuchProcess:
            continue
    processes[driver_pid] = psutil.Process(driver_pid)
    totals = {"ray_processes": 0.0, "raybee_python": 0.0, "ray_threads_in_raybee": 0.0}
    for pid, process in processes.items():
        try:
            name = " ".join(process.cmdline()[:1]) or process.name()
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if pid == driver_pid or "ray::Broker" in name or "ray::Supervisor" in name:
            try:
                python, ray_threads = _thread_seconds(pid)
            except OSError:
                continue
            totals["raybee_python"] += python
            totals["ray_threads_in_raybee"] += ray_threads
        else:
            totals["ray_processes"] += times.user + times.system
    return totals


async def _throughput(client, seconds: float, in_flight: int, completed: list) -> dict:
    aio = client.aio
    acked: dict[int, float] = {}
    errors: dict[str, int] = {}
    stop_at = time.monotonic() + seconds
    done_at_start = len(completed)

    async def one(i: int) -> None:
        while time.monotonic() < stop_at:
            try:
                instance = await aio.create_instance(PROCESS_ID, {"i": i})
                acked[instance.process_instance_key] = time.monotonic()
            except Exception as error:  # counted: backpressure, failover
                errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                await asyncio.sleep(0.01)

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(in_flight)))
    elapsed = time.monotonic() - started
    done = len(completed) - done_at_start
    return {"acked": acked, "elapsed_s": elapsed, "completed": done, "errors": errors}


async def _latency(
    client, rate: float, seconds: float, done_at: dict[int, float], with_result: bool
) -> tuple[list[float], dict]:
    """Instances offered at `rate`/s: from the create sent to the instance's end - the
    worker's completion acknowledged (`done_at`, instance key -> time), or, with_result, the
    create-with-result answered (one actor call held open per instance)."""
    aio = client.aio
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent_at: dict[int, float] = {}
    count = int(rate * seconds)
    start = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        sent = time.monotonic()
        try:
            if with_result:
                await aio.create_instance_with_result(
                    PROCESS_ID, {"i": i}, timeout_ms=RESULT_TIMEOUT_MS
                )
                latencies.append((time.monotonic() - sent) * 1000)
            else:
                instance = await aio.create_instance(PROCESS_ID, {"i": i})
                sent_at[instance.process_instance_key] = sent
        except Exception as error:
            errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1

    await asyncio.gather(*(one(i) for i in range(count)))
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while not with_result and time.monotonic() < deadline and not set(sent_at) <= set(done_at):
        await asyncio.sleep(0.05)
    latencies += [(done_at[k] - sent) * 1000 for k, sent in sent_at.items() if k in done_at]
    missing = len(set(sent_at) - set(done_at))
    if missing:
        errors["not_completed"] = missing
    return latencies, errors


def _failover(client, cluster) -> dict:
    """Kill the node of a partition leader (not the head node, which holds Ray's GCS) and add
    a fresh node. failover_s: kill -> the first create on that partition acknowledged (by the
    new leader: the old one is dead); rereplication_s: kill -> every replica the dead broker
    held replaced (member_removed for each of its partitions)."""
    import ray

    topology = client.topology()
    victim = None
    for partition, info in sorted(topology["partitions"].items()):
        broker = info["leader_broker"]
        node_id = ray.get(client.router.handles[broker].ping.remote())["node_id"]
        if node_id != cluster.head_node_id:
            victim = partition, broker, node_id
            break
    if victim is None:
        return {"failover_note": "every leader is on the head node; nothing killed"}
    partition, broker, node_id = victim
    held = [
        p
        for p, info in topology["partitions"].items()
        if any(m["broker"] == broker for m in info["members"].values())
    ]
    events_before = client.status()["events"][-1]["seq"]
    killed_wall_s = time.time()
    killed_at = time.monotonic()
    cluster.kill_node(node_id)
    failover_s = None
    while time.monotonic() - killed_at < FAILOVER_WAIT_S:
        try:
            client._run(_probe(client, partition))
            failover_s = time.monotonic() - killed_at
            break
        except Exception:  # unavailable or unknown while the partition elects
            continue
    cluster.add_node()  # a machine joins, as an autoscaler would add one
    rereplication_s = None
    while time.monotonic() - killed_at < REREPLICATION_TIMEOUT_S:
        removed = [
            e
            for e in client.status()["events"]
            if e["seq"] > events_before and e["kind"] == "member_removed"
        ]
        if {e["fields"]["partition"] for e in removed} >= set(held):
            rereplication_s = max(e["time_ms"] for e in removed) / 1000 - killed_wall_s
            break
        time.sleep(0.2)
    return {
        "failover_s": None if failover_s is None else round(failover_s, 3),
        "rereplication_s": None if rereplication_s is None else round(rereplication_s, 2),
        "failover_killed_broker": broker,
        "failover_partition": partition,
    }


def _terms(client) -> dict[int, int]:
    return {int(p): info["term"] for p, info in client.topology()["partitions"].items()}


async def _probe(client, partition: int) -> None:
    from raybee.partitions.protocol import (
        ProcessInstanceCreationIntent,
        ProcessInstanceCreationRecordValue,
        Record,
        ValueType,
    )

    command = Record(
        ValueType.PROCESS_INSTANCE_CREATION,
        ProcessInstanceCreationIntent.CREATE,
        ProcessInstanceCreationRecordValue(bpmn_process_id=PROCESS_ID),
    )
    await client.router.execute(partition, command, FAILOVER_PROBE_TIMEOUT_MS)


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench cluster")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--replication-factor", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--no-failover", action="store_true")
    opts = parser.parse_args(args)

    import raybee
    from raybee.partitions.testing import one_task_process

    load_before = os.getloadavg()
    started = time.monotonic()
    client = raybee.connect(
        partitions=opts.partitions,
        replication_factor=opts.replication_factor,
    )
    figures: dict = {
        "cores": os.cpu_count(),
        "load_avg_1m_before": round(load_before[0], 2),
        "workload": "BPMN start -> one service task -> end; worker completes at once",
        "cluster_start_s": round(client.cluster.started_s, 2),
        "connect_s": round(time.monotonic() - started, 2),
    }
    try:
        cluster = client.cluster
        topology = client.topology()
        figures["replication_factor"] = topology["replication_factor"]
        figures["partitions"] = opts.partitions
        client.deploy((f"{PROCESS_ID}.bpmn", one_task_process(PROCESS_ID, JOB_TYPE)))
        completed: list[int] = []
        instances_done: set[int] = set()

        @client.worker(JOB_TYPE, concurrency=opts.concurrency)
        async def work(job):
            completed.append(job.key)
            instances_done.add(job.process_instance_key)
            return {}

        for i in range(20):  # warm up every partition's path
            client.create_instance_with_result(PROCESS_ID, {"warm": i})
        import ray

        for handle in client.router.handles.values():
            ray.get(handle.reset_loop_stats.remote())
        terms_before = _terms(client)
        cluster_pids = sorted(cluster.pids)
        cpu_before = _cpu_by_kind(cluster_pids, os.getpid())
        result = client._run(_throughput(client, opts.seconds, opts.in_flight, completed))
        cpu_after = _cpu_by_kind(cluster_pids, os.getpid())
        cpu = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
        total_cpu = sum(cpu.values()) or 1.0
        figures.update(
            process_instances_per_s=round(result["completed"] / result["elapsed_s"], 1),
            creates_acknowledged=len(result["acked"]),
            create_errors=result["errors"],
            throughput_window_s=round(result["elapsed_s"], 2),
            cpu_seconds={k: round(v, 2) for k, v in cpu.items()},
            cpu_share_ray_processes=round(cpu["ray_processes"] / total_cpu, 3),
            cpu_share_ray_threads_in_raybee=round(cpu["ray_threads_in_raybee"] / total_cpu, 3),
            cpu_share_raybee_python=round(cpu["raybee_python"] / total_cpu, 3),
            cpu_cores_busy=round(total_cpu / result["elapsed_s"], 2),
        )
        status = client.status()
        figures["broker_loop_iteration_ms_max"] = max(
            loop["iteration_ms_max"] for loop in status["loops"].values()
        )
        figures["broker_loop_iteration_ms_p99"] = max(
            loop["iteration_ms_p99"] for loop in status["loops"].values()
        )
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline and not set(result["acked"]) <= instances_done:
            time.sleep(0.1)
        figures["lost"] = len(set(result["acked"]) - instances_done)
        done_at = work.worker.stats.completed_at
        latencies, latency_errors = client._run(
            _latency(client, opts.rate, opts.latency_seconds, done_at, with_result=False)
        )
        figures.update(
            offered_per_s=opts.rate,
            latency_ms_p50=round(_percentile(latencies, 0.50), 1),
            latency_ms_p99=round(_percentile(latencies, 0.99), 1),
            latency_samples=len(latencies),
            latency_errors=latency_errors,
        )
        latencies, latency_errors = client._run(
            _latency(client, opts.rate, opts.latency_seconds / 2, done_at, with_result=True)
        )
        figures.update(
            result_latency_ms_p50=round(_percentile(latencies, 0.50), 1),
            result_latency_ms_p99=round(_percentile(latencies, 0.99), 1),
            result_latency_samples=len(latencies),
            result_latency_errors=latency_errors,
        )
        # Raft terms that began under load (each is an election: spurious, nothing failed yet).
        figures["elections_under_load"] = sum(
            term - terms_before.get(p, term) for p, term in _terms(client).items()
        )
        if opts.no_failover or figures["replication_factor"] < 3:
            figures["failover_s"] = None
            figures["rereplication_s"] = None
            figures["failover_note"] = (
                f"not measured: replication factor {figures['replication_factor']}"
                if figures["replication_factor"] < 3
                else "skipped (--no-failover)"
            )
        else:
            figures.update(_failover(client, cluster))
    finally:
        client.close()
    figures["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    figures["total_s"] = round(time.monotonic() - started, 1)
    return figures
