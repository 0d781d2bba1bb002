"""What the replicated partition's data path keeps, reads and writes per lifecycle: the
leader's decoded entries, the collector's threshold, fsyncs per ready (group commit), the
request-id window's reads - and that none of it changes an answer.
Figures are measured by `raybee bench replica`, never here."""

import gc
import os
import random

import pytest

from raybee.partitions.protocol import JobIntent
from raybee.partitions.replica.collector import YOUNG_COLLECTION_ALLOCATIONS, tune_collector
from raybee.partitions.replica.request_ids import (
    _KEY,
    REQUEST_ID_FAMILIES,
    REQUEST_IDS,
    RequestIdWindow,
)
from raybee.partitions.simulation import ReplicaGroup
from raybee.partitions.testing import create
from raybee.state import MemoryStore


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


class Aborted(Exception):
    pass


def reads_first(reader, ids, position, window_positions):
    """What the window answered before it kept bounds: both buckets read, always."""
    bucket = position // window_positions
    first = reader.get(REQUEST_IDS, _KEY.pack(bucket, *ids))
    if first is None and bucket > 0:
        first = reader.get(REQUEST_IDS, _KEY.pack(bucket - 1, *ids))
    if first is None or first < position - window_positions:
        return None
    return first


@pytest.mark.parametrize("seed", range(5))
def test_the_request_id_bounds_answer_as_the_reads_do(seed):
    """Ids recorded mostly upwards per stream, with retries, ids out of order, transactions
    that abort after recording, and buckets evicted: the window with its bounds finds exactly
    what reading both buckets finds, through a transaction and through the committed view."""
    rng = random.Random(seed)
    window_positions = 40
    store = MemoryStore(REQUEST_ID_FAMILIES)
    window = RequestIdWindow(1, lambda position: None, window_positions)
    next_id = {stream: 0 for stream in (1, 2, 3)}
    recorded: list[tuple[tuple[int, int], int]] = []
    position = 0
    checked = 0
    for _ in range(150):
        abort = rng.random() < 0.15
        try:
            with store.transaction() as txn:
                for _ in range(rng.randint(1, 6)):
                    position += rng.randint(1, 4)
                    stream = rng.choice((1, 2, 3))
                    if recorded and rng.random() < 0.2:
                        ids = rng.choice(recorded)[0]  # a retry
                    elif rng.random() < 0.1:
                        ids = (stream, rng.randint(0, next_id[stream] + 3))  # out of order
                    else:
                        next_id[stream] += rng.randint(1, 3)
                        ids = (stream, next_id[stream])
                    expected = reads_first(txn, ids, position, window_positions)
                    assert window._first(txn, ids, position) == expected, (ids, position)
                    checked += 1
                    if expected is None:
                        window._record(txn, ids, position)
                        recorded.append((ids, position))
                window._evict(txn, position)
                if abort:
                    raise Aborted
        except Aborted:
            pass
        view = store.view()
        for ids, _ in rng.sample(recorded, min(len(recorded), 10)):
            probe = position + rng.randint(1, window_positions)
            assert window._first(view, ids, probe) == reads_first(
                view, ids, probe, window_positions
            ), (ids, probe)
            checked += 1
    assert checked > 500 and window._id_bounds


class CountingReader:
    def __init__(self, reader):
        self.reader, self.gets = reader, 0

    def get(self, *args):
        self.gets += 1
        return self.reader.get(*args)

    def prefix(self, *args, **kwargs):
        return self.reader.prefix(*args, **kwargs)


def test_fresh_ids_are_not_read():
    store = MemoryStore(REQUEST_ID_FAMILIES)
    window = RequestIdWindow(1, lambda position: None, 1_000)
    with store.transaction() as txn:
        reader = CountingReader(txn)
        for request_id in range(200):
            ids = (7, request_id)
            assert window._first(reader, ids, 1_500 + request_id) is None
            window._record(txn, ids, 1_500 + request_id)
        assert reader.gets == 0
        assert window._first(reader, (7, 150), 1_800) == 1_650  # a retry is read, and found
        assert reader.gets == 1
