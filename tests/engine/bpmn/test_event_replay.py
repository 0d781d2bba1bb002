"""Replay equivalence and the event rules on a seeded random workload of messages, timers,
boundary events, event sub-processes, errors and cancellation across three partitions over a
faulty network (event_workload.py). Seeds print; RAYBEE_SEEDS=7 replays seed 7."""

import importlib.util
import os
from pathlib import Path

import pytest

SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1,2").split(",")]
STEPS = 250
CHECKS = {
    "answers", "errors", "log", "settled", "state", "replay from scratch", "replay from snapshot",
}  # fmt: skip


def load_event_workload():
    path = Path(__file__).with_name("event_workload.py")
    spec = importlib.util.spec_from_file_location("raybee_tests_event_workload", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def event_workload():
    return load_event_workload()


def run(event_workload, bpmn_workload, seed, tmp_path):
    return event_workload.check_event_workload(
        seed, STEPS, tmp_path / "snapshots", bpmn_workload.bpmn_state_problems
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_event_workload_across_partitions_replays_and_keeps_the_rules(
    tmp_path, seed, event_workload, bpmn_workload
):
    print(f"seed={seed} (replay with RAYBEE_SEEDS={seed})")
    report = run(event_workload, bpmn_workload, seed, tmp_path)
    print(report.summary(), dict(report.counts))
    assert not report.failed, report.summary()
    assert set(report.problems) == CHECKS
    # The workload did what it is for: faults happened, and the events it must exercise.
    faults = report.faults
    assert faults.dropped and faults.duplicated and faults.delayed, faults
    events = report.intents
    for pair in [
        ("MESSAGE_SUBSCRIPTION", "CORRELATED"),
        ("PROCESS_MESSAGE_SUBSCRIPTION", "CORRELATED"),
        ("MESSAGE", "EXPIRED"),
        ("TIMER", "TRIGGERED"),
        ("TIMER", "CANCELED"),
        ("MESSAGE_START_EVENT_SUBSCRIPTION", "CORRELATED"),
        ("COMMAND_DISTRIBUTION", "RESENT"),
        ("COMMAND_DISTRIBUTION", "RECEIVED"),
        ("PROCESS_INSTANCE", "ELEMENT_TERMINATED"),
    ]:
        assert events[pair], pair
    started = {
        element
        for (vt, intent), count in events.items()
        for element in [intent]
        if vt == "PROCESS_INSTANCE"
    }
    assert "ELEMENT_COMPLETED" in started
