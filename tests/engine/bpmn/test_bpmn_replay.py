"""Replay equivalence for BPMN workloads: seeded random instances of processes with gateways,
sub-processes, call activities, multi-instance, incidents, cancellation and variables; every
command answered once; the log's own model of the instances agrees with every step and with the
store; replay of only the events, from scratch and from a snapshot taken half way, gives the
same bytes. Seeds print; RAYBEE_SEEDS=7 replays seed 7."""

import os

import pytest

SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1,2,3").split(",")]
STEPS = 300


@pytest.mark.parametrize("seed", SEEDS)
def test_a_random_bpmn_workload_replays_to_the_same_bytes(tmp_path, seed, bpmn_workload):
    print(f"seed={seed} (replay with RAYBEE_SEEDS={seed})")
    report = bpmn_workload.check_bpmn_workload(seed, STEPS, tmp_path / "snapshot")
    assert not report.failed, report.summary()
    assert set(report.problems) == {
        "answers", "errors", "log", "state", "follower in step", "replay from scratch",
        "replay from snapshot",
    }  # fmt: skip
    # The workload did what it is for: every kind of step, and the BPMN it must exercise.
    assert all(report.counts.get(a) for a in ("create", "complete", "cancel", "resolve_element"))
    events = {intent for _, intent in report.intents}
    for intent in ("ELEMENT_TERMINATED", "SEQUENCE_FLOW_TAKEN", "CANCELED", "UPDATED", "RESOLVED"):
        assert intent in events, intent
    completed = report.intents[("PROCESS_INSTANCE", "ELEMENT_COMPLETED")]
    assert completed > 100, report.intents
