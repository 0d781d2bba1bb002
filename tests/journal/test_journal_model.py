"""Hypothesis stateful test: the journal against an in-memory model.

Rules: append (also 0-row entries with metadata), refused appends, flush, truncate_after (with
and without a commit floor), compact_before, reset, close + reopen, crash + reopen, and damage:
- power loss (`PowerLossDisk`: of what was written since the last fsync, any pages lost in any
  order, sizes anywhere in between; directory entries since the directory's last fsync lost
  or revived), between operations and at every fault point inside an append (a roll) or a
  flush - the journal must reopen with every entry it called flushed;
- a missing first segment file - reported, never silently lost;
- a clean cut of the last segment at a message boundary - reported when it takes an entry
  the journal called flushed, otherwise just an unflushed tail lost.
Replay: the seed is printed; set JOURNAL_MODEL_SEED=<seed> to run the same examples again.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile

import pytest
from hypothesis import event, note, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from raybee.journal import CommitFloorError, CorruptedJournalError, Journal, TermRegressionError
from raybee.journal import constants as c
from raybee.journal.testing import (
    SCHEMA,
    PowerLossDisk,
    make_batch,
    segment_messages,
    write_in_place,
)

SEED = int(os.environ.get("JOURNAL_MODEL_SEED", random.randrange(2**32)))
print(f"journal model test seed: {SEED} (replay with JOURNAL_MODEL_SEED={SEED})")

# Where a power loss may strike inside an append (a roll) or a flush.
POWER_LOSS_POINTS = (
    "flush.before_sync",
    "flush.synced",
    "flush.dir_synced",
    "flush.marker_written",
    "roll.sealed",
    "roll.before_create",
    "roll.created",
    "roll.header_written",
    "meta.tmp_written",
    "meta.renamed",
)
# What the damage rules did, over the whole run (a fault test shows its faults happened).
FAULTS = {
    "power losses inside an operation": 0,
    "missing first segments reported": 0,
    "boundary cuts of flushed entries reported": 0,
    "boundary cuts of unflushed entries": 0,
}


class SimulatedCrash(Exception):
    pass


class JournalModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        note(f"journal model test seed: {SEED} (replay with JOURNAL_MODEL_SEED={SEED})")
        self.dir = tempfile.mkdtemp(prefix="journal-model-")
        self.path = os.path.join(self.dir, "j")
        # The model decides what a power loss keeps; real fsyncs would only cost time.
        self.disk = PowerLossDisk(self.path, really_sync=False).__enter__()
        self.armed: str | None = None
        self.journal = Journal.open(
            self.path,
            schema=SCHEMA,
            segment_size_bytes_max=c.segment_size_bytes_min,
            fault_injector=self._fault,
        )
        self.first = 1
        self.entries: dict[int, tuple[int, int, int, dict]] = {}  # index -> term, key, rows, md
        self.flushed = 0
        self.counter = 0
        self.reopens = 0

    def _fault(self, point: str) -> None:
        if point == self.armed:
            self.armed = None
            raise SimulatedCrash(point)

    def _open(self) -> Journal:
        return Journal.open(
            self.path,
            segment_size_bytes_max=c.segment_size_bytes_min,
            fault_injector=self._fault,
        )

    @property
    def last(self) -> int:
        return self.first + len(self.entries) - 1

    def last_term(self) -> int:
        return self.entries[self.last][0] if self.entries else 0

    @rule(
        bump=st.sampled_from([0, 0, 0, 1, 3]),
        rows=st.integers(0, 8),
        tagged=st.booleans(),
        count=st.sampled_from([1, 1, 10, 30, 60]),
    )
    def append(self, bump, rows, tagged, count):
        term = self.last_term() + bump
        for _ in range(count):  # runs of appends make segments roll within a few steps
            self.counter += 1
            md = {b"kind": b"tag%d" % self.counter} if tagged else {}
            index = self.journal.append(term, make_batch(self.counter, rows), md)
            assert index == self.last + 1
            self.entries[index] = (term, self.counter, rows, md)

    @precondition(lambda self: self.last_term() > 0)
    @rule()
    def append_lower_term_is_refused(self):
        try:
            self.journal.append(self.last_term() - 1, make_batch(0, 1))
        except TermRegressionError:
            return
        raise AssertionError("a lower term was accepted")

    @rule()
    def flush(self):
        assert self.journal.flush() == self.last
        self.flushed = self.last

    @precondition(lambda self: self.entries)
    @rule(data=st.data(), use_floor=st.booleans())
    def truncate_after(self, data, use_floor):
        index = data.draw(st.integers(self.first - 1, self.last))
        floor = data.draw(st.integers(self.first - 1, self.last)) if use_floor else None
        if floor is not None and index < floor:
            try:
                self.journal.truncate_after(index, commit_floor=floor)
            except CommitFloorError:
                return
            raise AssertionError("truncation below the commit floor was accepted")
        self.journal.truncate_after(index, commit_floor=floor)
        for i in range(index + 1, self.last + 1):
            del self.entries[i]
        self.flushed = min(self.flushed, index)

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def compact_before(self, data):
        index = data.draw(st.integers(self.first, self.last + 1))
        new_first = self.journal.compact_before(index)
        assert self.first <= new_first <= max(index, self.first)
        for i in range(self.first, new_first):
            del self.entries[i]
        self.first = new_first

    @rule(offset=st.integers(0, 50))
    def reset(self, offset):
        self.journal.reset(self.last + 1 + offset)
        self.first = self.last + 1 + offset
        self.entries.clear()
        self.flushed = self.first - 1

    @rule()
    def close_and_reopen(self):
        self.journal.close()
        self.journal = self._open()
        self.flushed = self.last
        self.reopens += 1

    @rule()
    def crash_and_reopen(self):
        # A process crash: what was written is in the page cache and survives; only the
        # metadata file may be behind.
        self.journal.crash()
        self.journal = self._open()
        assert not self.journal.recovery_report.truncated
        self.flushed = self.last
        self.reopens += 1

    def _power_loss(self, rng: random.Random) -> None:
        """Power loss now: the journal must reopen with every entry it called flushed."""
        flushed = self.journal.last_flushed_index
        self.journal.crash()
        self.disk.apply(self.disk.image(rng))
        self.journal = self._open()
        survived = self.journal.last_index
        assert flushed <= survived <= self.last, (flushed, survived, self.last)
        for i in range(survived + 1, self.last + 1):
            del self.entries[i]
        self.flushed = survived
        self.reopens += 1

    @rule(rng=st.randoms(use_true_random=False))
    def power_loss_and_reopen(self, rng):
        self._power_loss(rng)

    @rule(
        point=st.sampled_from(POWER_LOSS_POINTS),
        count=st.sampled_from([1, 10, 40]),
        rng=st.randoms(use_true_random=False),
    )
    def power_loss_inside_append_or_flush(self, point, count, rng):
        self.armed = point
        try:
            for _ in range(count):
                self.counter += 1
                index = self.journal.append(self.last_term(), make_batch(self.counter, 4))
                self.entries[index] = (self.last_term(), self.counter, 4, {})
            self.journal.flush()
            self.flushed = self.last
        except SimulatedCrash:
            FAULTS["power losses inside an operation"] += 1
            event(f"power loss at {point}")
        self.armed = None
        self._power_loss(rng)

    @precondition(
        lambda self: (
            len(self.journal._segments) >= 2
            or self.journal._segments
            and self.journal.last_flushed_index >= self.first
        )
    )
    @rule()
    def missing_first_segment_is_reported(self):
        first = self.journal._segments[0].path
        self.journal.crash()
        with open(first, "rb") as f:
            data = f.read()
        os.unlink(first)
        try:
            self.journal = self._open()
        except CorruptedJournalError as e:
            assert e.path == first and "missing" in e.reason, e
        else:
            raise AssertionError(f"{first} is missing and the journal opened")
        FAULTS["missing first segments reported"] += 1
        write_in_place(first, data)
        self.disk.baseline()
        self.journal = self._open()
        self.reopens += 1

    @precondition(lambda self: self.journal._segments)
    @rule(data=st.data())
    def boundary_cut_of_the_last_segment(self, data):
        claimed = self.journal.last_flushed_index
        seg = self.journal._segments[-1]
        self.journal.crash()
        messages = segment_messages(seg.path)
        with open(seg.path, "rb") as f:
            original = f.read()
        cuts = [(offset, None) for offset, _, _, _ in messages] + [(len(original), None)]
        kept = seg.first_index - 1
        for n, (_, _, kind, number) in enumerate(messages):
            cuts[n] = (cuts[n][0], kept)
            kept = number if kind == "entry" else kept
        cuts[-1] = (len(original), kept)
        cut, kept = data.draw(st.sampled_from(cuts), label="cut")
        with open(seg.path, "r+b") as f:
            f.truncate(cut)
        if kept < claimed:
            try:
                self._open()
            except CorruptedJournalError as e:
                assert "flushed entries are gone" in e.reason, e
            else:
                raise AssertionError(f"cut at {cut} took flushed entries {kept + 1}..{claimed}")
            FAULTS["boundary cuts of flushed entries reported"] += 1
            write_in_place(seg.path, original)
        elif kept < self.last:
            FAULTS["boundary cuts of unflushed entries"] += 1
        self.disk.baseline()
        self.journal = self._open()
        for i in range(self.journal.last_index + 1, self.last + 1):
            del self.entries[i]
        assert self.journal.last_index == self.last
        self.flushed = self.last
        self.reopens += 1

    @invariant()
    def matches_model(self):
        j = self.journal
        assert (j.first_index, j.last_index) == (self.first, self.last)
        assert j.last_flushed_index >= self.flushed
        read = list(j.read_from(self.first))
        assert [e.index for e in read] == list(self.entries)
        event(f"segments: {min(len(j._segments), 4)}{'+' if len(j._segments) >= 4 else ''}")
        for e in read:
            term, key, rows, md = self.entries[e.index]
            assert e.term == term == j.term_at(e.index)
            assert e.batch.equals(make_batch(key, rows)), e.index
            assert dict(e.metadata) == md

    def teardown(self):
        try:
            self.journal.close()
        finally:
            self.disk.__exit__()
            shutil.rmtree(self.dir, ignore_errors=True)


JournalModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("JOURNAL_MODEL_EXAMPLES", 40)),
    stateful_step_count=80,
    deadline=None,
    print_blob=True,
)
TestJournalModel = seed(SEED)(JournalModel.TestCase)


def test_the_model_damages_the_journal():
    """Runs after TestJournalModel (file order): its damage rules happened."""
    if not any(FAULTS.values()):
        pytest.skip("run with the model test")
    assert all(FAULTS.values()), FAULTS
