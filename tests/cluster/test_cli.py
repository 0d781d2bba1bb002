"""`raybee start`, `raybee status`, `raybee stop` as a user runs them (subprocesses): start leaves
a local 3-node cluster running after the command returns, a driver script joins it, status
prints it, stop ends every process start started."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(240)


def raybee(*args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "raybee.workloads.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def running(pids: list[int]) -> list[int]:
    import ray  # noqa: F401  (puts Ray's psutil on the path)

    # isort: split
    import psutil

    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def test_start_status_a_driver_script_and_stop(tmp_path):
    env = {**os.environ, "RAYBEE_STATE_DIR": str(tmp_path / "state")}
    state = tmp_path / "state" / "local-cluster.json"
    started = raybee("start", "--partitions", "2", env=env)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        assert "raybee serves 2 partitions" in started.stdout
        cluster = json.loads(state.read_text())
        assert running(cluster["pids"])  # outlived the command

        again = raybee("start", env=env)
        assert again.returncode == 1 and "already running" in again.stderr

        script = textwrap.dedent(
            f"""
            import raybee
            from raybee.partitions.testing import one_task_process
            client = raybee.connect(address={cluster["address"]!r})
            client.deploy(("p.bpmn", one_task_process("p", "t")))
            print("KEY", client.create_instance("p").process_instance_key)
            client.close()
            """
        )
        driver = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
        )
        assert driver.returncode == 0, driver.stderr[-3000:]
        assert "KEY " in driver.stdout

        status = raybee("status", env=env)
        assert status.returncode == 0, status.stderr[-3000:]
        for heading in ("brokers", "replicas", "events", "partitions_created"):
            assert heading in status.stdout
        as_json = json.loads(raybee("status", "--json", env=env).stdout)
        assert as_json["partition_count"] == 2 and len(as_json["brokers"]) == 3
        committed = [r["committed"] for r in as_json["replicas"]]
        assert max(committed) > 0  # the driver's deployment and instance
    finally:
        stopped = raybee("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert "stopped the supervisor (found) and 3 brokers" in stopped.stdout
    assert not state.exists()
    assert running(cluster["pids"]) == []
