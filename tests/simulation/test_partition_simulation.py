"""The partition simulator over many seeds: three replicas on real journals (and RocksDB on a
quarter of the seeds), clients retrying with the same request ids, every fault kind. Every
invariant of history.py must hold on every seed, and every fault kind must have happened.

A failing seed prints its replay command: `python -m raybee.partitions.simulation SEED --trace`
(RAYBEE_SIM_SEEDS=N runs N seeds here; RAYBEE_SIM_SEED=S runs only seed S).
"""

import logging
import os
from collections import Counter

import pytest

from raybee.partitions.simulation.faults import FAULT_KINDS
from raybee.partitions.simulation.simulator import (
    SimOptions,
    SimulationFailure,
    run_simulation,
)

SEEDS = int(os.environ.get("RAYBEE_SIM_SEEDS", "300"))
# Shorter runs than the benchmark's (1.5 s of faults): 300 seeds in about a minute and a half.
CI_OPTIONS = SimOptions(fault_ms=1_000)


@pytest.fixture(autouse=True)
def quiet_journal_repairs():
    # Torn tails cut on open are the faults working; their warnings would flood the output.
    logging.disable(logging.WARNING)
    yield
    logging.disable(logging.NOTSET)


def seeds():
    if "RAYBEE_SIM_SEED" in os.environ:
        return [int(os.environ["RAYBEE_SIM_SEED"])]
    return range(SEEDS)


def test_every_invariant_holds_on_every_seed_and_every_fault_happens():
    faults, counts, failures = Counter(), Counter(), []
    promotion_ms = []
    for seed in seeds():
        try:
            report = run_simulation(seed, CI_OPTIONS)
        except SimulationFailure as failure:
            failures.append(str(failure))
            continue
        faults.update(report.faults)
        counts.update(report.counts)
        promotion_ms += report.promotion_ms
        # Liveness: once faults stopped, every request was answered.
        assert report.counts["acked"] == report.counts["requests"], seed
    assert not failures, f"{len(failures)} seeds failed; the first:\n{failures[0]}"
    print(f"faults: {dict(faults)}")
    print(f"counts: {dict(counts)}")
    if len(seeds()) >= 300:
        missing = [kind for kind in FAULT_KINDS if not faults[kind]]
        assert not missing, f"fault kinds never injected in {len(seeds())} seeds: {missing}"
        # What the checker compared: a run that checks nothing passes trivially.
        for what in ("digests_compared", "retries_in_log", "unknown_outcomes", "rebuilds"):
            assert counts[what] > 0, what
        assert counts["snapshots_installed"] > 0 and counts["promotions"] > 0


def test_a_seed_replays_exactly():
    first, second = run_simulation(7, CI_OPTIONS), run_simulation(7, CI_OPTIONS)
    assert first == second
