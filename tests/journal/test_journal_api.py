"""The journal's API: appends, reads, flush, truncation, compaction, reset, bad input."""

from __future__ import annotations

import dataclasses
import os

import pyarrow as pa
import pytest

from raybee.journal import (
    CommitFloorError,
    EntryTooLargeError,
    IndexOutOfRangeError,
    InvalidEntryMetadataError,
    Journal,
    JournalClosedError,
    JournalEntry,
    JournalError,
    JournalLockedError,
    NotARecordBatchError,
    SchemaMismatchError,
    TermRegressionError,
)
from raybee.journal import constants as c
from raybee.journal.testing import SCHEMA, make_batch, segment_files, snapshot_files

SMALL = c.segment_size_bytes_min


def test_append_read_entry_and_terms(jdir):
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    assert (j.first_index, j.last_index, j.last_flushed_index) == (1, 0, 0)
    for i in range(1, 201):
        assert j.append(1 + i // 50, make_batch(i * 10, 3), {"n": b"%d" % i}) == i
    # Rolling seals (flushes) the old segment; the active one is not flushed yet.
    assert j.last_index == 200 and 0 < j.last_flushed_index < 200
    assert len(segment_files(jdir)) > 5, "small segments must roll"
    e = j.entry(137)
    assert isinstance(e, JournalEntry)
    assert (e.index, e.term) == (137, 3)
    assert e.batch.equals(make_batch(1370, 3))
    assert dict(e.metadata) == {b"n": b"137"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.index = 3  # type: ignore[misc]
    assert [x.index for x in j.read_from(1)] == list(range(1, 201))
    assert [x.index for x in j.read_from(199)] == [199, 200]
    assert list(j.read_from(201)) == []
    assert [j.term_at(i) for i in (1, 49, 50, 99, 100, 200)] == [1, 1, 2, 2, 3, 5]
    assert j.flush() == 200 and j.last_flushed_index == 200
    j.close()
    assert j.closed


def test_every_segment_is_a_plain_arrow_stream(jdir):
    with Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL) as j:
        for i in range(1, 101):
            j.append(1, make_batch(i, 4))
            if i % 10 == 0:
                j.flush()
    rows = []
    for name in segment_files(jdir):
        reader = pa.ipc.open_stream(pa.OSFile(os.path.join(jdir, name)))
        assert reader.schema.equals(SCHEMA)
        while True:
            try:
                batch, md = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            if md is not None and b"raybee:index" in md:
                rows.extend(batch.column(0).to_pylist())
            else:
                assert batch.num_rows == 0  # a flush marker
    assert rows == [k for i in range(1, 101) for k in range(i, i + 4)]


def test_reopen_keeps_everything(jdir):
    with Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL) as j:
        for i in range(1, 61):
            j.append(2, make_batch(i, 2), {b"kind": b"noop"} if i == 7 else None)
    j = Journal.open(jdir, segment_size_bytes_max=SMALL)
    assert (j.first_index, j.last_index, j.last_flushed_index) == (1, 60, 60)
    assert not j.recovery_report.repaired
    assert j.entry(7).metadata == {b"kind": b"noop"}
    assert j.append(2, make_batch(61, 2)) == 61
    j.close()


def test_zero_row_entries_with_metadata(jdir):
    with Journal.open(jdir, schema=SCHEMA) as j:
        empty = pa.RecordBatch.from_pylist([], schema=SCHEMA)
        assert j.append(1, empty, {"raft": b"membership"}) == 1
        assert j.append(1, make_batch(0, 1)) == 2
    with Journal.open(jdir) as j:
        e = j.entry(1)
        assert e.batch.num_rows == 0 and e.metadata == {b"raft": b"membership"}
        assert j.entry(2).metadata == {}


def test_first_index_and_reset(jdir):
    j = Journal.open(jdir, schema=SCHEMA, first_index=1000)
    assert (j.first_index, j.last_index) == (1000, 999)
    assert j.append(1, make_batch(0, 1)) == 1000
    j.reset(5000)
    assert (j.first_index, j.last_index, j.last_flushed_index) == (5000, 4999, 4999)
    assert segment_files(jdir) == []
    assert j.append(0, make_batch(0, 1)) == 5000, "after reset any term is accepted"
    j.close()
    j = Journal.open(jdir, first_index=5000)
    assert (j.first_index, j.last_index) == (5000, 5000)
    j.close()
    with pytest.raises(IndexOutOfRangeError, match="disagrees"):
        Journal.open(jdir, first_index=1)


def test_truncate_after(jdir):
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    for i in range(1, 101):
        j.append(1 if i < 50 else 2, make_batch(i, 3))
    j.flush()
    segments_before = len(segment_files(jdir))
    j.truncate_after(30)
    assert (j.last_index, j.last_flushed_index) == (30, 30)
    assert len(segment_files(jdir)) < segments_before
    assert j.term_at(30) == 1
    assert j.append(1, make_batch(31, 1)) == 31, "term 1 is fine again once term 2 is gone"
    j.truncate_after(0)
    assert (j.first_index, j.last_index) == (1, 0)
    assert j.append(3, make_batch(1, 1)) == 1
    j.close()
    with Journal.open(jdir) as j:
        assert (j.first_index, j.last_index) == (1, 1) and j.term_at(1) == 3


def test_truncate_refuses_commit_floor_and_bad_range(jdir):
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, 11):
        j.append(1, make_batch(i, 1))
    j.flush()
    before = snapshot_files(jdir)
    with pytest.raises(CommitFloorError, match="commit floor 8"):
        j.truncate_after(5, commit_floor=8)
    j.truncate_after(8, commit_floor=8)  # keeps entry 8: allowed
    assert j.last_index == 8
    with pytest.raises(IndexOutOfRangeError):
        j.truncate_after(9)
    with pytest.raises(IndexOutOfRangeError):
        j.truncate_after(-1)
    assert snapshot_files(jdir) != before  # only the allowed truncation changed files
    j.close()


def test_compact_before_drops_whole_segments_only(jdir):
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    for i in range(1, 301):
        j.append(1 + i // 100, make_batch(i, 3))
    j.flush()
    firsts = [int(n.split(".")[0]) for n in segment_files(jdir)]
    target = firsts[3] + 2  # in the middle of the 4th segment
    assert j.compact_before(target) == firsts[3]
    assert j.first_index == firsts[3] <= target
    assert [int(n.split(".")[0]) for n in segment_files(jdir)] == firsts[3:]
    assert j.term_at(firsts[3]) == 1 + firsts[3] // 100
    with pytest.raises(IndexOutOfRangeError):
        j.entry(firsts[3] - 1)
    assert j.compact_before(j.last_index + 1) == firsts[-1], "the active segment stays"
    assert j.last_index == 300
    j.close()
    with Journal.open(jdir) as j:
        assert (j.first_index, j.last_index) == (firsts[-1], 300)


def test_bad_input_is_refused_and_nothing_is_written(jdir):
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    j.append(5, make_batch(0, 2))
    j.flush()
    before = snapshot_files(jdir)
    other = pa.record_batch([pa.array([1], pa.int32())], names=["key"])
    cases = [
        (NotARecordBatchError, lambda: j.append(5, pa.table(make_batch(0, 1)))),
        (NotARecordBatchError, lambda: j.append(5, b"bytes")),
        (SchemaMismatchError, lambda: j.append(5, other)),
        (TermRegressionError, lambda: j.append(4, make_batch(0, 1))),
        (TypeError, lambda: j.append("5", make_batch(0, 1))),
        (InvalidEntryMetadataError, lambda: j.append(5, make_batch(0, 1), {"raybee:index": b"9"})),
        (InvalidEntryMetadataError, lambda: j.append(5, make_batch(0, 1), {"k": "str"})),
        (InvalidEntryMetadataError, lambda: j.append(5, make_batch(0, 1), {"k": b"x" * 5000})),
        (InvalidEntryMetadataError, lambda: j.append(5, make_batch(0, 1), [(b"k", b"v")])),
        (EntryTooLargeError, lambda: j.append(5, make_batch(0, 100, value_bytes=400))),
        (IndexOutOfRangeError, lambda: j.entry(2)),
        (IndexOutOfRangeError, lambda: j.read_from(3)),
        (IndexOutOfRangeError, lambda: j.term_at(0)),
        (IndexOutOfRangeError, lambda: j.compact_before(10)),
    ]
    for error, call in cases:
        with pytest.raises(error) as info:
            call()
        assert isinstance(info.value, JournalError | TypeError)
        assert str(info.value), "errors say what went wrong"
    assert snapshot_files(jdir) == before
    assert (j.last_index, j.term_at(1)) == (1, 5)
    j.close()
    with pytest.raises(JournalClosedError):
        j.append(5, make_batch(0, 1))


def test_open_refuses_wrong_schema_and_missing_schema(jdir, tmp_path):
    Journal.open(jdir, schema=SCHEMA).close()
    with pytest.raises(SchemaMismatchError):
        Journal.open(jdir, schema=pa.schema([("key", pa.int32())]))
    with pytest.raises(TypeError, match="schema"):
        Journal.open(str(tmp_path / "new"))
    with pytest.raises(SchemaMismatchError, match="dictionary"):
        Journal.open(
            str(tmp_path / "dict"), schema=pa.schema([("d", pa.dictionary(pa.int8(), pa.string()))])
        )
    with pytest.raises(IndexOutOfRangeError):
        Journal.open(str(tmp_path / "tiny"), schema=SCHEMA, segment_size_bytes_max=100)


def test_a_journal_opens_once(jdir):
    j = Journal.open(jdir, schema=SCHEMA)
    with pytest.raises(JournalLockedError):
        Journal.open(jdir)
    j.close()
    Journal.open(jdir).close()


def test_rich_schemas_nulls_and_sliced_batches_round_trip(jdir):
    schema = pa.schema(
        [
            ("i", pa.int64()),
            ("s", pa.string()),
            ("sv", pa.string_view()),
            ("l", pa.list_(pa.int32())),
            ("st", pa.struct([("a", pa.float64()), ("b", pa.binary())])),
            ("ts", pa.timestamp("us")),
        ]
    )
    rows = [
        {
            "i": k,
            "s": None if k % 3 == 0 else "x" * k,
            "sv": f"a long enough string to leave the inline view {k}",
            "l": None if k % 4 == 0 else list(range(k % 5)),
            "st": {"a": k / 3, "b": b"\x00" * (k % 7)},
            "ts": k * 1_000_000,
        }
        for k in range(40)
    ]
    full = pa.RecordBatch.from_pylist(rows, schema=schema)
    batches = [full, full.slice(5, 17), full.slice(39), full.slice(0, 0)]
    with Journal.open(jdir, schema=schema) as j:
        for b in batches:
            j.append(1, b)
    with Journal.open(jdir, schema=schema) as j:
        for index, b in enumerate(batches, start=1):
            assert j.entry(index).batch.to_pylist() == b.to_pylist()
    (name,) = segment_files(jdir)
    read = [b for b in pa.ipc.open_stream(pa.OSFile(os.path.join(jdir, name))) if b.num_rows]
    assert [b.to_pylist() for b in read] == [b.to_pylist() for b in batches if b.num_rows]


def test_entries_larger_than_a_read_chunk(jdir):
    sizes = [1, 3000, 40, 20_000, 2, 9000]  # rows of 256-byte values: up to ~5 MiB entries
    assert max(sizes) * 256 > 4 * c.read_chunk_bytes > 4 * c.lookup_chunk_bytes
    with Journal.open(jdir, schema=SCHEMA) as j:
        for n in sizes:
            j.append(1, make_batch(n, n, value_bytes=256))
    with Journal.open(jdir) as j:
        for index, n in enumerate(sizes, start=1):
            assert j.entry(index).batch.equals(make_batch(n, n, value_bytes=256))
        assert [e.batch.num_rows for e in j.read_from(1)] == sizes
        assert [e.batch.num_rows for e in j.read_from(4)] == sizes[3:]
