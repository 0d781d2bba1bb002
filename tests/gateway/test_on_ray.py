"""End to end on a real Ray cluster: `raybee gateway --embedded` (3 Ray nodes on 127.0.0.1,
one broker each, 3 partitions) as its own process, driven by zbctl and pyzeebe exactly as the
in-process tests drive the test backend.

One cluster for the module (~10 s to start). The module holds /tmp/raybee-ray.lock while its
cluster runs (other work that starts Ray clusters by hand on this machine takes the same lock),
and stops what it started: SIGTERM to the gateway (which shuts its cluster down); if that does
not end it, every process the gateway started is killed by process id."""

import asyncio
import contextlib
import fcntl
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.errors import BusinessError, ProcessInstanceNotFoundError

LOCK_FILE = Path("/tmp/raybee-ray.lock")
LOCK_WAIT_S = 600
START_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60
RESULT_TIMEOUT_MS = 20_000
PARTITIONS = 3


def _children(pid: int) -> list[int]:
    """Every process below pid (from /proc), deepest last."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@contextlib.contextmanager
def ray_lock():
    LOCK_FILE.touch(exist_ok=True)
    with LOCK_FILE.open() as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{LOCK_FILE} stayed locked for {LOCK_WAIT_S} s")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class GatewayProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "raybee.workloads.cli", "gateway", "--embedded",
             "--partitions", str(PARTITIONS), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self.address = None
        self.lines = []
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            self.lines.append(line)
            if not line and self.process.poll() is not None:
                break
            match = re.search(r" on (127\.0\.0\.1:\d+) ", line)
            if match:
                self.address = match.group(1)
                return
        self.stop()
        pytest.fail(f"raybee gateway --embedded did not start: {self.lines}")

    def stop(self) -> int | None:
        """SIGTERM, wait; kill what is left by process id. The gateway's exit code."""
        started = _children(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT_S)
        code = self.process.poll()
        leftovers = [pid for pid in started + _children(self.process.pid) if _alive(pid)]
        if self.process.poll() is None:
            leftovers.append(self.process.pid)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.leftovers = leftovers
        return code


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def ray_gateway():
    with ray_lock():
        gateway = GatewayProcess()
        try:
            yield gateway
        finally:
            gateway.stop()


@pytest.fixture
def ray_zbctl(ray_gateway, zbctl_factory):
    return zbctl_factory(ray_gateway.address, "--insecure")


def test_status_shows_three_brokers_and_a_leader_per_partition(ray_zbctl):
    out = ray_zbctl("status").stdout
    assert "Cluster size: 3" in out and f"Partitions count: {PARTITIONS}" in out
    leaders = re.findall(r"Partition (\d+) : Leader", out)
    assert sorted(map(int, leaders)) == list(range(1, PARTITIONS + 1)), out


def test_zbctl_deploys_creates_activates_completes_fails_and_cancels(ray_zbctl, bpmn_files):
    ray_zbctl("deploy", str(bpmn_files["order.bpmn"]))
    ray_zbctl("deploy", str(bpmn_files["flaky.bpmn"]))
    keys = [
        int(ray_zbctl.json("create", "instance", "order")["processInstanceKey"])
        for _ in range(PARTITIONS)
    ]
    assert len({key >> 51 for key in keys}) == PARTITIONS  # round-robin over the partitions
    jobs = []
    deadline = time.monotonic() + 20
    while len(jobs) < PARTITIONS and time.monotonic() < deadline:
        jobs += ray_zbctl.json("activate", "jobs", "work", "--maxJobsToActivate", "10")["jobs"]
    assert sorted(int(j["processInstanceKey"]) for j in jobs) == sorted(keys)
    for job in jobs:
        ray_zbctl("complete", "job", job["key"])
    again = ray_zbctl("complete", "job", jobs[0]["key"], check=False)
    assert "code = NotFound" in again.stderr
    ray_zbctl("create", "instance", "flaky")
    (job,) = ray_zbctl.json("activate", "jobs", "flaky", "--maxJobsToActivate", "1")["jobs"]
    assert "Failed job" in ray_zbctl("fail", "job", job["key"], "--retries", "0").stdout
    key = ray_zbctl.json("create", "instance", "order")["processInstanceKey"]
    assert "Canceled" in ray_zbctl("cancel", "instance", key).stdout
    assert "code = NotFound" in ray_zbctl("cancel", "instance", key, check=False).stderr


def test_pyzeebe_workers_complete_fail_and_throw_on_the_cluster(ray_gateway, bpmn_files):
    attempts = []

    async def flow():
        channel = create_insecure_channel(ray_gateway.address)
        client = ZeebeClient(channel)
        for name in ("order.bpmn", "flaky.bpmn", "guarded.bpmn"):
            await client.deploy_resource(str(bpmn_files[name]))
        worker = ZeebeWorker(channel, name="ray", stream_enabled=True, request_timeout=1_000)

        @worker.task(task_type="work")
        async def work(amount: int):
            return {"total": amount + 1}

        @worker.task(task_type="flaky")
        async def flaky():
            attempts.append(1)
            if len(attempts) < 2:
                raise RuntimeError("first attempt fails")
            return {"attempts": len(attempts)}

        @worker.task(task_type="risky")
        async def risky():
            raise BusinessError("NO_FUNDS")

        @worker.task(task_type="handle")
        async def handle():
            return {"handled": True}

        task = asyncio.create_task(worker.work())
        try:
            results = await asyncio.gather(
                *[
                    client.run_process_with_result(
                        "order", {"amount": n}, timeout=RESULT_TIMEOUT_MS
                    )
                    for n in range(6)
                ]
            )
            assert sorted(r.variables["total"] for r in results) == list(range(1, 7))
            assert len({r.process_instance_key >> 51 for r in results}) == PARTITIONS
            flaky_result = await client.run_process_with_result(
                "flaky", {}, timeout=RESULT_TIMEOUT_MS
            )
            assert flaky_result.variables == {"attempts": 2}
            guarded = await client.run_process_with_result("guarded", {}, timeout=RESULT_TIMEOUT_MS)
            assert guarded.variables == {"handled": True}
            created = await client.run_process("guarded", {})
            await client.cancel_process_instance(created.process_instance_key)
        finally:
            await worker.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 10)
        # The instance was cancelled or had already ended: either way it is gone now.
        with pytest.raises(ProcessInstanceNotFoundError):
            await client.cancel_process_instance(created.process_instance_key)

    asyncio.run(flow())


def test_a_message_reaches_instances_on_every_partition(ray_gateway, bpmn_files):
    """Messages go to their correlation key's partition; the instances waiting for them were
    created round-robin, so most correlations cross partitions."""

    async def flow():
        client = ZeebeClient(create_insecure_channel(ray_gateway.address))
        await client.deploy_resource(str(bpmn_files["waiting.bpmn"]))
        for n in range(PARTITIONS):
            await client.publish_message(
                "paid", f"ray-{n}", {"paid": n}, time_to_live_in_milliseconds=60_000
            )
        results = await asyncio.gather(
            *[
                client.run_process_with_result(
                    "waiting", {"orderId": f"ray-{n}"}, timeout=RESULT_TIMEOUT_MS
                )
                for n in range(PARTITIONS)
            ]
        )
        assert sorted(r.variables["paid"] for r in results) == list(range(PARTITIONS))

    asyncio.run(flow())


def test_zz_the_gateway_stops_its_cluster_on_sigterm(ray_gateway):
    """Last in the module: stopping the gateway ends every process it started."""
    assert ray_gateway.stop() == 0
    assert ray_gateway.leftovers == [], "processes left after SIGTERM (killed by pid)"
