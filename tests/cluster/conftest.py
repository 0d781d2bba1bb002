"""Fixtures for tests on real local Ray clusters (3 nodes on 127.0.0.1, one broker each).

One cluster per test module (starting one costs ~6 s here), torn down in a finalizer that runs
even when a test fails: the client closes, the cluster's nodes are removed, and whatever Ray
leaves running of the processes it started is killed by process id.
"""

import importlib.util
import time
import types
from pathlib import Path

import pytest

from raybee.workloads import cluster_check

EMBEDDED_NODES = 3
EMBEDDED_PARTITIONS = 3


@pytest.fixture(scope="module")
def client():
    import raybee

    started = time.monotonic()
    # The whole log kept: the history checks read it from position 1 (cluster_check.read_log).
    client = raybee.connect(
        partitions=EMBEDDED_PARTITIONS,
        nodes=EMBEDDED_NODES,
        replica_settings=cluster_check.WHOLE_LOG_SETTINGS,
    )
    print(f"embedded cluster serving after {time.monotonic() - started:.1f} s")
    try:
        yield client
    finally:
        client.close()


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.1, fail=True):
    """Poll until predicate() is truthy; return its value or fail naming what was awaited
    (with fail=False return the last value: a precise check follows)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            if not fail:
                return value
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def events_of(client, kind: str, after_seq: int = 0) -> list[dict]:
    return [e for e in client.status()["events"] if e["kind"] == kind and e["seq"] > after_seq]


def last_event_seq(client) -> int:
    events = client.status()["events"]
    return events[-1]["seq"] if events else 0


def _load_history():
    """history.py beside this file (test modules are imported by path, not as a package)."""
    path = Path(__file__).with_name("history.py")
    spec = importlib.util.spec_from_file_location("raybee_tests_cluster_history", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tools():
    """wait_for, events_of, last_event_seq and the history checks, for the test modules."""
    history = _load_history()
    return types.SimpleNamespace(
        wait_for=wait_for,
        events_of=events_of,
        last_event_seq=last_event_seq,
        history=history.history,
        history_problems=history.problems,
    )
