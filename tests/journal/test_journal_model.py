"""Hypothesis stateful test: the journal against an in-memory model.

Rules: append (also 0-row entries with metadata), refused appends, flush, truncate_after (with
and without a commit floor), compact_before, reset, close + reopen, and crash + reopen.
Replay: the seed is printed; set JOURNAL_MODEL_SEED=<seed> to run the same examples again.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile

from hypothesis import event, note, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from raybee.journal import CommitFloorError, Journal, TermRegressionError
from raybee.journal import constants as c
from raybee.journal._segment import SegmentReader
from raybee.journal.testing import SCHEMA, make_batch

SEED = int(os.environ.get("JOURNAL_MODEL_SEED", random.randrange(2**32)))
print(f"journal model test seed: {SEED} (replay with JOURNAL_MODEL_SEED={SEED})")


class JournalModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        note(f"journal model test seed: {SEED} (replay with JOURNAL_MODEL_SEED={SEED})")
        self.dir = tempfile.mkdtemp(prefix="journal-model-")
        self.path = os.path.join(self.dir, "j")
        self.journal = Journal.open(
            self.path, schema=SCHEMA, segment_size_bytes_max=c.segment_size_bytes_min
        )
        self.first = 1
        self.entries: dict[int, tuple[int, int, int, dict]] = {}  # index -> term, key, rows, md
        self.flushed = 0
        self.counter = 0
        self.reopens = 0

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
        self.journal = Journal.open(self.path, segment_size_bytes_max=c.segment_size_bytes_min)
        self.flushed = self.last
        self.reopens += 1

    @rule()
    def crash_and_reopen(self):
        # A process crash: what was written is in the page cache and survives; only the
        # metadata file may be behind.
        self.journal.crash()
        self.journal = Journal.open(self.path, segment_size_bytes_max=c.segment_size_bytes_min)
        assert not self.journal.recovery_report.truncated
        self.flushed = self.last
        self.reopens += 1

    @rule(data=st.data())
    def power_loss_and_reopen(self, data):
        # A power loss keeps what was fsynced; of the rest, any prefix may survive, possibly
        # followed by zeros (a size update without its data), and a segment file whose
        # directory entry was never fsynced may vanish whole.
        j = self.journal
        flushed = j.last_flushed_index
        seg = j._segments[-1] if j._segments else None
        vanish = seg is not None and j._dir_sync_pending and seg.first_index > flushed
        j.crash()
        if seg is not None and vanish and data.draw(st.booleans(), label="segment vanishes"):
            os.unlink(seg.path)
        elif seg is not None and seg.last_index > flushed:
            reader = SegmentReader(seg, SCHEMA, c.read_chunk_bytes)
            start = 0 if vanish else reader.offset_of(max(flushed + 1, seg.first_index))
            size = os.path.getsize(seg.path)
            cut = data.draw(st.integers(start, size), label="surviving bytes")
            zeros = data.draw(st.booleans(), label="zero-filled")
            with open(seg.path, "r+b") as f:
                if zeros:
                    f.seek(cut)
                    f.write(b"\0" * (size - cut))
                else:
                    f.truncate(cut)
        self.journal = Journal.open(self.path, segment_size_bytes_max=c.segment_size_bytes_min)
        survived = self.journal.last_index
        assert flushed <= survived <= self.last, (flushed, survived, self.last)
        for i in range(survived + 1, self.last + 1):
            del self.entries[i]
        self.flushed = survived
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
        self.journal.close()
        shutil.rmtree(self.dir, ignore_errors=True)


JournalModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("JOURNAL_MODEL_EXAMPLES", 40)),
    stateful_step_count=80,
    deadline=None,
    print_blob=True,
)
TestJournalModel = seed(SEED)(JournalModel.TestCase)
