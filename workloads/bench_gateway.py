"""`raybee bench gateway [--json]`: what the Zeebe-compatible gRPC gateway costs.

One run, one cluster, two ways in, the same workload:
- direct: the Python client (`raybee.connect`) - its job worker (`@client.worker`, job push)
  completes every job at once;
- gateway: `raybee gateway --address <the cluster>` as its own process, driven over gRPC by
  pyzeebe 4.7 - a `ZeebeWorker` with job streaming (StreamActivatedJobs) completes every job
  at once, `ZeebeClient.run_process_with_result` creates.

Workload: a BPMN process start -> one service task -> end (one process per way in, so the two
workers never take each other's jobs). Each way in is measured twice, as `raybee bench cluster`
measures the cluster:
- throughput (`process_instances_per_s`): instances completed per second (the worker's
  COMPLETE acknowledged, which ends the instance) while `--in-flight` creates are kept
  outstanding for `--seconds`; then the backlog drains before the next phase;
- latency (`latency_ms_p50`, `latency_ms_p99`): create-with-result round trips (create sent ->
  the instance's result) at `--rate` instances/s offered for `--latency-seconds`.

`gateway_cost_share` = 1 - gateway throughput / direct throughput (target: <= 0.20). The load
generator runs in this process for both ways in; the gateway's own work runs in its process,
as a Zeebe gateway does. Where the CPU went during each throughput phase, in CPU milliseconds
per completed instance: `cpu_ms_per_instance_{direct,grpc}` (`driver`: this process - load
generator, client or pyzeebe, workers; `gateway`: the gateway process; `rest`: everything else
on the machine, mostly the cluster).

`--in-process` measures without Ray: the in-process test backend (ONE partition in this
process) behind a gateway in a thread, against the same backend called directly (the client
library's AsyncClient over it, and a job loop of activate and complete). It says nothing about
the cluster; it exists for when the cluster is not usable, and says so in `backend`.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

PROCESS_DIRECT = "bench-gateway-direct"
PROCESS_GRPC = "bench-gateway-grpc"
JOB_DIRECT = "bench-direct-work"
JOB_GRPC = "bench-grpc-work"
RESULT_TIMEOUT_MS = 30_000
GATEWAY_START_TIMEOUT_S = 120.0
GATEWAY_STOP_TIMEOUT_S = 20.0
WARM_UP_INSTANCES = 20
WORKER_CONCURRENCY = 64
DRAIN_TIMEOUT_S = 30.0


CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _process_cpu_s(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S
    return 0.0


def _machine_cpu_s() -> float:
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    busy = sum(int(f) for i, f in enumerate(fields) if i not in (3, 4))  # not idle, iowait
    return busy / CLOCK_TICKS_PER_S


class CpuMeter:
    """CPU seconds of this process, of a gateway process, and of the whole machine."""

    def __init__(self, gateway_pid: int | None = None) -> None:
        self.gateway_pid = gateway_pid
        self.start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        gateway = _process_cpu_s(self.gateway_pid) if self.gateway_pid else 0.0
        return _process_cpu_s(os.getpid()), gateway, _machine_cpu_s()

    def per_instance_ms(self, instances: int) -> dict:
        end = self._sample()
        driver, gateway, machine = (b - a for a, b in zip(self.start, end, strict=True))
        per = 1000 / max(instances, 1)
        return {
            "driver": round(driver * per, 3),
            "gateway": round(gateway * per, 3),
            "rest": round((machine - driver - gateway) * per, 3),
        }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _closed_loop(
    create, completed, seconds: float, in_flight: int, gateway_pid: int | None
) -> dict:
    """`in_flight` creators, each creating again as soon as its create was acknowledged, for
    `seconds`; instances completed meanwhile (`completed()` counts them) per second. Then wait
    (up to DRAIN_TIMEOUT_S) until every instance created has completed."""
    created, errors = 0, 0
    end = time.monotonic() + seconds

    async def creator() -> None:
        nonlocal created, errors
        while time.monotonic() < end:
            try:
                await create()
                created += 1
            except Exception:  # counted; the figure says how many
                errors += 1

    before = completed()
    started = time.monotonic()
    meter = CpuMeter(gateway_pid)
    await asyncio.gather(*[creator() for _ in range(in_flight)])
    elapsed = time.monotonic() - started
    done = completed() - before
    cpu = meter.per_instance_ms(done)
    drain_end = time.monotonic() + DRAIN_TIMEOUT_S
    while completed() - before < created and time.monotonic() < drain_end:
        await asyncio.sleep(0.05)
    return {
        "per_s": done / elapsed,
        "created": created,
        "errors": errors,
        "not_completed": created - (completed() - before),
        "cpu_ms_per_instance": cpu,
    }


async def _open_loop(create, seconds: float, rate: float) -> dict:
    """Create with result at `rate` per second for `seconds`; each round trip's latency."""
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        started = time.monotonic()
        try:
            await create()
            latencies.append((time.monotonic() - started) * 1000)
        except Exception:
            errors += 1

    tasks = []
    start = time.monotonic()
    count = int(seconds * rate)
    for i in range(count):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return {
        "p50": _percentile(latencies, 0.50),
        "p99": _percentile(latencies, 0.99),
        "errors": errors,
        "count": len(latencies),
    }


async def _measure(create, create_with_result, completed, opts, gateway_pid=None) -> dict:
    for _ in range(WARM_UP_INSTANCES):
        await create_with_result()
    throughput = await _closed_loop(create, completed, opts.seconds, opts.in_flight, gateway_pid)
    latency = await _open_loop(create_with_result, opts.latency_seconds, opts.rate)
    return {"throughput": throughput, "latency": latency}


# ---------------------------------------------------------------------- gRPC (pyzeebe)
async def _grpc_phase(address: str, bpmn_path: str, opts, gateway_pid: int | None) -> dict:
    from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel

    channel = create_insecure_channel(address)
    client = ZeebeClient(channel)
    await client.deploy_resource(bpmn_path)
    worker = ZeebeWorker(channel, name="bench", stream_enabled=True, request_timeout=1_000)

    @worker.task(
        task_type=JOB_GRPC,
        max_jobs_to_activate=WORKER_CONCURRENCY,
        max_running_jobs=WORKER_CONCURRENCY,
    )
    async def work():
        return {}

    # Completions acknowledged by the gateway, counted where pyzeebe sends them.
    acknowledged = 0
    complete_job = worker.zeebe_adapter.complete_job

    async def counted_complete_job(*args, **kwargs):
        nonlocal acknowledged
        answer = await complete_job(*args, **kwargs)
        acknowledged += 1
        return answer

    worker.zeebe_adapter.complete_job = counted_complete_job
    working = asyncio.create_task(worker.work())
    try:
        await asyncio.sleep(0.5)  # the job streams open

        async def create():
            await client.run_process(PROCESS_GRPC, {})

        async def create_with_result():
            await client.run_process_with_result(PROCESS_GRPC, {}, timeout=RESULT_TIMEOUT_MS)

        return await _measure(create, create_with_result, lambda: acknowledged, opts, gateway_pid)
    finally:
        await worker.stop()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(working, 10)
        await channel.close()


def _start_gateway_process(ray_address: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "raybee.workloads.cli", "gateway", "--address",
               ray_address, "--port", "0"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + GATEWAY_START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            raise RuntimeError(f"raybee gateway exited with {process.returncode}")
        match = re.search(r" on (127\.0\.0\.1:\d+) ", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise RuntimeError("raybee gateway did not start in time")


def _stop_gateway_process(process: subprocess.Popen) -> dict | None:
    """Stop the gateway; the counters it prints as it stops (None if it printed none)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(GATEWAY_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with contextlib.suppress(OSError, ValueError):
        for line in process.stdout.read().splitlines():
            if line.startswith('{"gateway_stats"'):
                return json.loads(line)["gateway_stats"]
    return None


BROKER_FIELDS = ("commands_submitted", "jobs_pushed", "jobs_yielded", "readies", "sends")


def _broker_counts(client) -> dict[str, int]:
    """The brokers' counters (`BrokerStats`) summed over the cluster."""
    import ray

    handles = list(client.router.handles.values())
    statuses = ray.get([handle.status.remote() for handle in handles], timeout=30)
    return {name: sum(s["stats"].get(name, 0) for s in statuses) for name in BROKER_FIELDS}


def _per_instance(before: dict, after: dict, instances: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / max(instances, 1), 2) for k in after}


def _instances(measured: dict) -> int:
    """Instances one way in created: warm-up, throughput phase, latency phase."""
    return WARM_UP_INSTANCES + measured["throughput"]["created"] + measured["latency"]["count"]


# ---------------------------------------------------------------------- the two backends
def _on_ray(opts, files: dict[str, str]) -> dict:
    import raybee

    client = raybee.connect(partitions=opts.partitions, nodes=opts.nodes)
    gateway = None
    try:
        client.deploy(files[PROCESS_DIRECT])

        @client.worker(JOB_DIRECT, concurrency=WORKER_CONCURRENCY)
        def work(job):
            return {}

        async def create():
            await client.aio.create_instance(PROCESS_DIRECT, {})

        async def create_with_result():
            await client.aio.create_instance_with_result(
                PROCESS_DIRECT, {}, timeout_ms=RESULT_TIMEOUT_MS
            )

        stats = work.worker.stats
        router_before = dict(client.router.stats)
        brokers_before = _broker_counts(client)
        direct = asyncio.run(_measure(create, create_with_result, lambda: stats.completed, opts))
        direct["router"] = {
            k: v - router_before.get(k, 0)
            for k, v in client.router.stats.items()
            if isinstance(v, int)
        }
        direct["router"]["activated_by_polling"] = stats.activated_by_polling
        brokers_between = _broker_counts(client)
        direct["brokers"] = _per_instance(brokers_before, brokers_between, _instances(direct))
        gateway, address = _start_gateway_process(client.cluster.address)
        via_grpc = asyncio.run(_grpc_phase(address, files[PROCESS_GRPC], opts, gateway.pid))
        via_grpc["brokers"] = _per_instance(
            brokers_between, _broker_counts(client), _instances(via_grpc)
        )
        via_grpc["gateway_stats"] = _stop_gateway_process(gateway)
        gateway = None
        topology = client.topology()
        backend = (
            f"embedded Ray cluster: {opts.nodes} nodes, {topology['partition_count']} "
            f"partitions, replication factor {topology['replication_factor']}"
        )
        return {"backend": backend, "direct": direct, "grpc": via_grpc}
    finally:
        if gateway is not None:
            _stop_gateway_process(gateway)
        client.close()


async def _direct_in_process(backend, opts) -> dict:
    """The in-process backend called directly: AsyncClient creates, a job loop completes."""
    stop = asyncio.Event()
    completed = 0

    async def job_loop() -> None:
        nonlocal completed
        while not stop.is_set():
            jobs = await backend.activate_jobs(JOB_DIRECT, WORKER_CONCURRENCY, 30_000, "b", 200, [])
            await asyncio.gather(*[backend.complete_job(key, {}) for key, _ in jobs])
            completed += len(jobs)

    loops = [asyncio.create_task(job_loop()) for _ in range(2)]

    async def create():
        await backend.client.create_instance(PROCESS_DIRECT, {})

    async def create_with_result():
        await backend.client.create_instance_with_result(
            PROCESS_DIRECT, {}, timeout_ms=RESULT_TIMEOUT_MS
        )

    try:
        return await _measure(create, create_with_result, lambda: completed, opts)
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)


def _in_process(opts, files: dict[str, str]) -> dict:
    from raybee.actors.gateway.inprocess import in_process_backend
    from raybee.actors.gateway.server import GatewayConfig
    from raybee.actors.gateway.threaded import ThreadedGateway

    with ThreadedGateway(in_process_backend, GatewayConfig(port=0)) as gateway:
        resource = (Path(files[PROCESS_DIRECT]).name, Path(files[PROCESS_DIRECT]).read_bytes())
        gateway.run(gateway.backend.deploy([resource]), 30)
        direct = gateway.run(_direct_in_process(gateway.backend, opts))
        address = f"127.0.0.1:{gateway.port}"
        via_grpc = asyncio.run(_grpc_phase(address, files[PROCESS_GRPC], opts, None))
    backend = "in-process test backend (ONE partition, no Ray): not the cluster's figures"
    return {"backend": backend, "direct": direct, "grpc": via_grpc}


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench gateway")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--in-process", action="store_true", help="no Ray (see the docstring)")
    opts = parser.parse_args(args)
    import tempfile

    from raybee.partitions.testing import one_task_process

    with tempfile.TemporaryDirectory(prefix="raybee-bench-gateway-") as directory:
        files = {}
        for process_id, job_type in ((PROCESS_DIRECT, JOB_DIRECT), (PROCESS_GRPC, JOB_GRPC)):
            path = Path(directory) / f"{process_id}.bpmn"
            path.write_text(one_task_process(process_id, job_type))
            files[process_id] = str(path)
        load_before = os.getloadavg()[0]
        measured = _in_process(opts, files) if opts.in_process else _on_ray(opts, files)
        load_after = os.getloadavg()[0]
    direct, grpc = measured["direct"], measured["grpc"]
    direct_per_s = direct["throughput"]["per_s"]
    grpc_per_s = grpc["throughput"]["per_s"]
    return {
        "backend": measured["backend"],
        "process_instances_per_s": round(grpc_per_s, 1),
        "latency_ms_p50": round(grpc["latency"]["p50"], 1),
        "latency_ms_p99": round(grpc["latency"]["p99"], 1),
        "direct_process_instances_per_s": round(direct_per_s, 1),
        "direct_latency_ms_p50": round(direct["latency"]["p50"], 1),
        "direct_latency_ms_p99": round(direct["latency"]["p99"], 1),
        "gateway_cost_share": round(1 - grpc_per_s / direct_per_s, 3) if direct_per_s else None,
        "errors": direct["throughput"]["errors"]
        + grpc["throughput"]["errors"]
        + direct["latency"]["errors"]
        + grpc["latency"]["errors"],
        "cpu_ms_per_instance_direct": direct["throughput"]["cpu_ms_per_instance"],
        "cpu_ms_per_instance_grpc": grpc["throughput"]["cpu_ms_per_instance"],
        "instances_direct": _instances(direct),
        "instances_grpc": _instances(grpc),
        "broker_work_per_instance_direct": direct.get("brokers"),
        "broker_work_per_instance_grpc": grpc.get("brokers"),
        "router_direct": direct.get("router"),
        "gateway_stats": grpc.get("gateway_stats"),
        "in_flight": opts.in_flight,
        "seconds": opts.seconds,
        "rate_offered_per_s": opts.rate,
        "cores": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
    }
