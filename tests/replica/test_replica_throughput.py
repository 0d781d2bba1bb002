"""What the replicated partition's data path keeps and writes per lifecycle: the leader's
decoded entries, fsyncs per ready (group commit), and that none of it changes an answer.
Figures are measured by `raybee bench replica`, never here."""

import gc
import os

import pytest

from raybee.partitions.protocol import JobIntent
from raybee.partitions.replica.collector import YOUNG_COLLECTION_ALLOCATIONS, tune_collector
from raybee.partitions.simulation import ReplicaGroup
from raybee.partitions.testing import create


@pytest.fixture
def group(tmp_path):
    group = ReplicaGroup(tmp_path)
    yield group
    group.close()


def test_the_leader_forgets_decoded_entries_its_processor_read(group):
    leader = group.await_leader()
    for _ in range(20):
        group.submit([create(job_type="a") for _ in range(50)])
        group.pump()
    answers = group.answers()
    assert len(answers) == 1_000
    assert all(a.intent == JobIntent.CREATED for a in answers.values())
    view = leader._view
    # Every command was processed: the view holds decoded at most the entries from the one
    # the processor's reader last started in (it held all 40 before, up to 256).
    assert len(view._decoded) <= 2, sorted(view._decoded)
    # A retry of the first command (long forgotten by the cache) still gets its first answer
    # (from the leader's recent answers or the log).
    first = answers[0]
    group.submit([create(job_type="a")], first_request_id=0)
    group.pump()
    retried = [r.record for _, r in group.responses if r.request_id == 0]
    assert retried[-1] == first


def test_opening_a_replica_raises_the_young_collection_threshold_only(tmp_path):
    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        ReplicaGroup(tmp_path / "a", voters=1).close()
        assert gc.get_threshold() == (YOUNG_COLLECTION_ALLOCATIONS, 10, 10)
        gc.set_threshold(YOUNG_COLLECTION_ALLOCATIONS * 2, 5, 5)  # a host's own choice stays
        tune_collector()
        assert gc.get_threshold() == (YOUNG_COLLECTION_ALLOCATIONS * 2, 5, 5)
        gc.set_threshold(0, 10, 10)  # so does a disabled collector
        tune_collector()
        assert gc.get_threshold() == (0, 10, 10)
    finally:
        gc.set_threshold(*saved)


def test_a_leader_ready_syncs_its_journal_once(group, monkeypatch):
    """Group commit: the entries a leader's ready() proposes - its processed batches and the
    clients' commands - reach the journal in one fsync, not one per round."""
    leader = group.await_leader()
    synced = []
    real_fdatasync = os.fdatasync

    def fdatasync(fd):
        synced.append(fd)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    syncs_per_ready = []
    real_ready = leader.ready

    def ready():
        before = len(synced)
        out = real_ready()
        syncs_per_ready.append(len(synced) - before)
        return out

    monkeypatch.setattr(leader, "ready", ready)
    for _ in range(10):  # a client that pipelines: commands go in while earlier ones process
        group.submit([create(job_type="a") for _ in range(30)])
        group.round()
    group.pump()
    assert len(group.answers()) == 300
    assert max(syncs_per_ready) == 1, syncs_per_ready
    assert sum(syncs_per_ready) >= 10
