"""Crashes and damage: torn tails at every byte, bit flips, crashes inside a segment roll,
power losses (a page cache model: `PowerLossDisk`) inside a flush and after rolls, a missing
first segment, and clean cuts at message boundaries."""

from __future__ import annotations

import contextlib
import os
import random

import pytest

from raybee.journal import CorruptedJournalError, Journal
from raybee.journal import constants as c
from raybee.journal._meta import read_meta
from raybee.journal.testing import (
    SCHEMA,
    PowerLossDisk,
    make_batch,
    segment_files,
    segment_messages,
    snapshot_files,
    write_in_place,
)

SMALL = c.segment_size_bytes_min
IMAGES_PER_CRASH = 40  # power-loss images opened per crash point


class SimulatedCrash(Exception):
    pass


def _restore(directory: str, files: dict[str, bytes]) -> None:
    for name in os.listdir(directory):
        if name not in files:
            os.unlink(os.path.join(directory, name))
    for name, data in files.items():
        write_in_place(os.path.join(directory, name), data)


def _seed() -> int:
    seed = int(os.environ.get("JOURNAL_CRASH_SEED", random.randrange(2**32)))
    print(f"power-loss seed {seed} (replay with JOURNAL_CRASH_SEED={seed})")
    return seed


def _reopen_images(disk, state, jdir, flushed, last, rng, label, check=None):
    """Open power-loss images of `state`: each opens, keeps every entry up to `flushed`,
    and holds the entries in order. Returns how many images lost entries past `flushed`."""
    lost = 0
    for n in range(IMAGES_PER_CRASH):
        disk.apply(state.image(rng))
        try:
            j = Journal.open(jdir, segment_size_bytes_max=SMALL)
        except CorruptedJournalError as e:
            raise AssertionError(f"{label}: power-loss image {n} does not reopen: {e}") from e
        assert flushed <= j.last_index <= last, (label, n, flushed, j.last_index, last)
        got = [e.index for e in j.read_from(j.first_index)]
        assert got == list(range(j.first_index, j.last_index + 1)), (label, n)
        if check is not None:
            check(j)
        lost += j.last_index < last
        j.crash()
    return lost


def _entries(path: str) -> dict[int, tuple[int, int]]:
    return {n: (o, e) for o, e, kind, n in segment_messages(path) if kind == "entry"}


def test_torn_tail_at_every_byte_of_the_last_two_entries(jdir):
    flushed = 12
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, flushed + 1):
        j.append(1, make_batch(i, 2))
        j.flush()
    j.append(1, make_batch(flushed + 1, 2))
    j.append(2, make_batch(flushed + 2, 3), {"k": b"v"})
    j.crash()  # a crash: no flush, no metadata rewrite
    (name,) = segment_files(jdir)
    path = os.path.join(jdir, name)
    entries = _entries(path)
    start, end_first = entries[flushed + 1]
    start_second, end = entries[flushed + 2]
    assert end_first == start_second and end == os.path.getsize(path)
    original = snapshot_files(jdir)

    reports = 0
    for cut in range(start, end + 1):
        _restore(jdir, original)
        with open(path, "r+b") as f:
            f.truncate(cut)
        j = Journal.open(jdir)
        complete = flushed + (cut >= end_first) + (cut == end)
        assert j.last_index == complete, f"cut at {cut}"
        if cut not in (start, end_first, end):
            (tail,) = j.recovery_report.truncated
            assert (tail.path, tail.offset) == (path, start if cut < end_first else end_first)
            assert tail.bytes_dropped == cut - tail.offset
            reports += 1
        else:
            assert not j.recovery_report.truncated
        assert j.entry(flushed).batch.equals(make_batch(flushed, 2))
        assert [e.index for e in j.read_from(1)] == list(range(1, complete + 1))
        assert j.append(2, make_batch(0, 1)) == complete + 1
        if cut % 16 == 0:  # the appended entry survives a reopen too (sampled: fsyncs cost)
            j.flush()
            j.crash()
            j = Journal.open(jdir)
            assert [e.index for e in j.read_from(1)][-1] == complete + 1
        j.crash()
    assert reports == end - start - 2, "every cut that was not at a boundary was reported"


def test_cutting_flushed_entries_is_corruption(jdir):
    with Journal.open(jdir, schema=SCHEMA) as j:
        for i in range(1, 11):
            j.append(1, make_batch(i, 2))
    (name,) = segment_files(jdir)
    path = os.path.join(jdir, name)
    entries = _entries(path)
    original = snapshot_files(jdir)
    start, end = entries[10]
    for cut in range(entries[9][0], end, 7):
        _restore(jdir, original)
        with open(path, "r+b") as f:
            f.truncate(cut)
        with pytest.raises(CorruptedJournalError) as info:
            Journal.open(jdir)
        assert info.value.path == path


def _flip(path: str, offset: int, data: bytes) -> None:
    """Write `data` with one bit flipped at `offset` (bit number offset % 8), in place."""
    with open(path, "r+b") as f:
        if os.path.getsize(path) != len(data) or f.read() != data:
            f.seek(0)
            f.write(data)
            f.truncate(len(data))
        f.seek(offset)
        f.write(bytes([data[offset] ^ (1 << (offset % 8))]))


def _unflip(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data[offset : offset + 1])


@pytest.mark.parametrize("closed", [True, False], ids=["after-close", "after-crash"])
def test_bit_flip_in_a_flushed_entry_is_detected(jdir, closed):
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, 9):
        j.append(1, make_batch(i, 2), {"m": b"x"} if i == 5 else None)
        j.flush()
    j.close() if closed else j.crash()  # after a crash only the flush markers vouch
    (name,) = segment_files(jdir)
    path = os.path.join(jdir, name)
    with open(path, "rb") as f:
        data = f.read()
    messages = segment_messages(path)
    targets = [m for m in messages if m[2] == "entry" and m[3] in (5, 8)]
    original = snapshot_files(jdir)
    detected = 0
    for offset, end, _, _ in targets:
        for pos in range(offset, end):
            _flip(path, pos, data)
            with pytest.raises(CorruptedJournalError) as info:
                Journal.open(jdir)
            assert info.value.path == path and info.value.offset == offset, f"flip at {pos}"
            detected += 1
            _unflip(path, pos, data)
            assert snapshot_files(jdir) == original, "a refused open changes nothing"
    assert detected == sum(end - offset for offset, end, _, _ in targets)


@pytest.mark.parametrize("closed", [True, False], ids=["after-close", "after-crash"])
def test_bit_flip_in_a_segment_header_is_detected(jdir, closed):
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    for i in range(1, 80):
        j.append(1, make_batch(i, 2))
        j.flush()
    j.close() if closed else j.crash()  # after a crash the markers in the segment vouch
    names = segment_files(jdir)
    assert len(names) >= 2
    original = snapshot_files(jdir)
    for name in (names[0], names[-1]):
        path = os.path.join(jdir, name)
        with open(path, "rb") as f:
            data = f.read()
        header_bytes = segment_messages(path)[0][0]
        for pos in range(header_bytes):
            _flip(path, pos, data)
            with pytest.raises(CorruptedJournalError) as info:
                Journal.open(jdir)
            assert (info.value.path, info.value.offset) == (path, pos)
            _unflip(path, pos, data)
    _restore(jdir, original)
    Journal.open(jdir).close()


def test_damaged_unflushed_tail_is_truncated_and_reported(jdir):
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, 6):
        j.append(1, make_batch(i, 2))
    j.flush()
    j.append(1, make_batch(6, 2))
    j.append(1, make_batch(7, 2))
    j.crash()
    (name,) = segment_files(jdir)
    path = os.path.join(jdir, name)
    entries = _entries(path)
    with open(path, "rb") as f:
        data = f.read()
    _flip(path, entries[6][0] + 100, data)  # entry 6 is damaged, 7 after it is intact
    j = Journal.open(jdir)
    assert j.last_index == 5
    (tail,) = j.recovery_report.truncated
    assert (tail.offset, tail.bytes_dropped) == (entries[6][0], len(data) - entries[6][0])
    assert "CRC32C" in tail.reason or "metadata" in tail.reason
    j.close()


def test_damage_found_by_a_read_raises(jdir):
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, 6):
        j.append(1, make_batch(i, 4))
    j.flush()
    (name,) = segment_files(jdir)
    path = os.path.join(jdir, name)
    offset, end = _entries(path)[3]
    with open(path, "r+b") as f:
        f.seek(end - 20)
        byte = f.read(1)
        f.seek(end - 20)
        f.write(bytes([byte[0] ^ 0x10]))
    assert j.entry(2).index == 2
    with pytest.raises(CorruptedJournalError) as info:
        j.entry(3)
    assert (info.value.path, info.value.offset) == (path, offset)
    with pytest.raises(CorruptedJournalError):
        list(j.read_from(1))
    j.crash()


def test_missing_segment_or_metadata_is_corruption(jdir):
    with Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL) as j:
        for i in range(1, 80):
            j.append(1, make_batch(i, 2))
    names = segment_files(jdir)
    original = snapshot_files(jdir)
    for victim in (names[0], names[1], names[-1], c.metadata_file_name):
        _restore(jdir, original)
        os.unlink(os.path.join(jdir, victim))
        with pytest.raises(CorruptedJournalError, match="missing|gap"):
            Journal.open(jdir)
    _restore(jdir, original)
    meta = os.path.join(jdir, c.metadata_file_name)
    _flip(meta, 30, original[c.metadata_file_name])
    with pytest.raises(CorruptedJournalError, match="metadata"):
        Journal.open(jdir)


ROLL_POINTS = [
    "flush.before_sync",
    "flush.synced",
    "flush.marker_written",
    "roll.sealed",
    "roll.before_create",
    "roll.created",
    "roll.header_written",
    "flush.dir_synced",
    "meta.tmp_written",
    "meta.renamed",
]


@pytest.mark.parametrize("point", ROLL_POINTS)
def test_crash_between_the_steps_of_a_roll(jdir, point):
    hits = []

    def fault(name: str) -> None:
        # Crash at the point, but only during the first roll (two segments exist or are due).
        if name == point and rolling[0]:
            hits.append(name)
            raise SimulatedCrash(name)

    rolling = [False]
    disk = PowerLossDisk(jdir, really_sync=False)
    with disk:
        j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL, fault_injector=fault)
        index = 0
        with pytest.raises(SimulatedCrash):
            while True:
                rolling[0] = len(segment_files(jdir)) >= 1 and (
                    j._segments[-1].size_bytes + 2000 > SMALL or len(segment_files(jdir)) > 1
                )
                index = j.append(1, make_batch(index + 1, 2)) if index == j.last_index else index
                j.flush()
        assert hits == [point], "the crash happened exactly once, at the point"
        flushed = j.last_flushed_index  # what the journal vouched for when it crashed
        last = j.last_index
        j.crash()
        state = disk.freeze()
        before = snapshot_files(jdir)
        # A power loss at that moment: pages and directory entries since the last fsyncs.
        _reopen_images(disk, state, jdir, flushed, last, random.Random(_seed()), point)
        assert disk.counts.pages_lost + disk.counts.entries_lost > 0, disk.counts
    variants = [before]
    # A power loss can also leave the new segment's header half written.
    new = [n for n in sorted(before) if n.endswith(c.segment_suffix)][1:]
    if new and point.startswith("roll."):
        for keep in (0, 1, len(before[new[0]]) // 2):
            cut = dict(before)
            cut[new[0]] = before[new[0]][:keep]
            variants.append(cut)
    for files in variants:
        _restore(jdir, files)
        j = Journal.open(jdir, segment_size_bytes_max=SMALL)
        assert j.last_index >= flushed, f"flushed entries survive the crash at {point}"
        assert [e.index for e in j.read_from(1)] == list(range(1, j.last_index + 1))
        assert j.append(1, make_batch(0, 1)) == j.last_index
        for _ in range(30):  # and the journal keeps rolling afterwards
            j.append(1, make_batch(0, 2))
        j.close()
        with Journal.open(jdir) as j2:
            assert j2.last_index == j.last_index


@pytest.mark.parametrize(
    "point, operation",
    [
        ("truncate.meta_written", "truncate"),
        ("meta.tmp_written", "truncate"),
        ("compact.meta_written", "compact"),
        ("meta.renamed", "compact"),
        ("reset.meta_written", "reset"),
        ("meta.tmp_written", "reset"),
    ],
)
def test_crash_inside_truncate_compact_reset(jdir, point, operation):
    armed = [False]
    hits = []

    def fault(name: str) -> None:
        if armed[0] and name == point:
            hits.append(name)
            armed[0] = False
            raise SimulatedCrash(name)

    disk = PowerLossDisk(jdir, really_sync=False)
    with disk:
        j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL, fault_injector=fault)
        for i in range(1, 151):
            j.append(1 + i // 60, make_batch(i, 2))
        j.flush()
        firsts = [int(n.split(".")[0]) for n in segment_files(jdir)]
        assert len(firsts) >= 4
        armed[0] = True
        with pytest.raises(SimulatedCrash):
            if operation == "truncate":
                j.truncate_after(40)
            elif operation == "compact":
                j.compact_before(firsts[2] + 1)
            else:
                j.reset(1000)
        assert hits == [point]
        j.crash()
        state = disk.freeze()

        def check(j: Journal, power_loss: bool) -> None:
            # The operation is complete or it never happened, and the journal is consistent.
            # After a process crash, a metadata file written (renamed) decides; after a power
            # loss the rename may be lost too, unless the directory was fsynced after it.
            decided = point != "meta.tmp_written" and not (power_loss and point == "meta.renamed")
            if operation == "truncate":
                assert j.last_index in (40, 150) and j.first_index == 1
            elif operation == "compact":
                assert j.first_index in (1, firsts[2]) and j.last_index == 150
                assert not decided or j.first_index == firsts[2]
            else:
                assert (j.first_index, j.last_index) in ((1, 150), (1000, 999))
                assert not decided or j.first_index == 1000

        before = snapshot_files(jdir)
        j = Journal.open(jdir)
        check(j, power_loss=False)
        assert [e.index for e in j.read_from(j.first_index)] == list(
            range(j.first_index, j.last_index + 1)
        )
        assert j.append(9, make_batch(0, 1)) == j.last_index
        j.close()
        _restore(jdir, before)
        # The same crash as a power loss: every image reopens in one of the two states.
        rng = random.Random(_seed())
        last = 999 if operation == "reset" else 150
        _reopen_images(disk, state, jdir, 0, last, rng, point, lambda j: check(j, True))
        assert disk.counts.images == IMAGES_PER_CRASH


def test_unflushed_tail_lost_as_zeros_is_truncated(jdir):
    # A power loss may keep a file's new size but not its data: the tail reads as zeros.
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, 6):
        j.append(1, make_batch(i, 2))
    j.flush()
    for i in range(6, 9):
        j.append(1, make_batch(i, 2))
    j.crash()
    (name,) = segment_files(jdir)
    path = os.path.join(jdir, name)
    start = _entries(path)[6][0]
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.seek(start)
        f.write(b"\0" * (size - start))
    j = Journal.open(jdir)
    assert j.last_index == 5
    (tail,) = j.recovery_report.truncated
    assert (tail.offset, tail.bytes_dropped) == (start, size - start)
    j.close()


def test_failed_write_leaves_nothing_behind(jdir, monkeypatch):
    import errno

    j = Journal.open(jdir, schema=SCHEMA)
    j.append(1, make_batch(1, 2))
    j.flush()
    before = snapshot_files(jdir)
    real_writev = os.writev
    failures = []

    def half_then_enospc(fd, parts):
        data = b"".join(bytes(p) for p in parts)
        os.write(fd, data[: len(data) // 2])
        failures.append(len(data))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "writev", half_then_enospc)
    with pytest.raises(OSError, match="No space"):
        j.append(1, make_batch(2, 2))
    monkeypatch.setattr(os, "writev", real_writev)
    assert failures, "the write failed half-way"
    assert snapshot_files(jdir) == before and j.last_index == 1
    assert j.append(1, make_batch(2, 2)) == 2
    j.close()
    assert [e.index for e in Journal.open(jdir).read_from(1)] == [1, 2]


def test_failed_fsync_fails_the_journal_until_reopened(jdir, monkeypatch):
    import errno

    from raybee.journal import JournalFailedError

    j = Journal.open(jdir, schema=SCHEMA)
    j.append(1, make_batch(1, 2))
    j.flush()
    j.append(1, make_batch(2, 2))

    def eio(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fdatasync", eio)
    with pytest.raises(OSError, match="Input/output"):
        j.flush()
    monkeypatch.undo()
    assert j.last_flushed_index == 1
    with pytest.raises(JournalFailedError):
        j.append(1, make_batch(3, 2))
    with pytest.raises(JournalFailedError):
        j.flush()
    j.close()  # releases the files without writing
    j = Journal.open(jdir)
    assert j.last_index == 2 and j.last_flushed_index == 2
    j.close()


def test_a_roll_failing_half_way_fails_the_journal(jdir):
    import errno

    from raybee.journal import JournalFailedError

    failures = []

    def fault(name: str) -> None:
        if name == "roll.created" and not failures:
            failures.append(name)
            raise OSError(errno.ENOSPC, "No space left on device")

    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL, fault_injector=fault)
    with pytest.raises(OSError, match="No space"):
        for i in range(1, 1000):
            j.append(1, make_batch(i, 2))
    assert failures == ["roll.created"]
    last = j.last_index
    with pytest.raises(JournalFailedError):
        j.append(1, make_batch(0, 2))
    j.close()
    with Journal.open(jdir, segment_size_bytes_max=SMALL) as j:
        assert j.last_index == last, "everything before the failed roll was sealed and kept"
        assert j.append(1, make_batch(0, 2)) == last + 1


def _flush_points(jdir) -> tuple[list[str], list[str]]:
    """The fault points of a journal's first flush (it records the new segment) and of a
    later one."""
    seen: list[str] = []
    j = Journal.open(jdir, schema=SCHEMA, fault_injector=seen.append)
    j.append(1, make_batch(1, 2))
    mark = len(seen)
    j.flush()
    first = seen[mark:]
    j.append(1, make_batch(2, 2))
    mark = len(seen)
    j.flush()
    later = seen[mark:]
    j.crash()
    return list(dict.fromkeys(first)), list(dict.fromkeys(later))


@pytest.mark.parametrize("which", ["first", "later"])
def test_power_loss_inside_a_flush_always_reopens(tmp_path, which):
    """Gap (a): pages of one flush reach the disk in any order; a marker that survives an
    earlier lost page must not 'prove' the lost entries flushed."""
    first_points, later_points = _flush_points(str(tmp_path / "probe"))
    points = first_points if which == "first" else later_points
    assert "flush.synced" in points
    rng = random.Random(_seed())
    totals = PowerLossDisk(str(tmp_path / "x")).counts
    lossy = 0
    for point in [None, *points]:
        jdir = str(tmp_path / f"j-{point}")
        armed = [False]

        def fault(name: str, point=point, armed=armed) -> None:
            if armed[0] and name == point:
                armed[0] = False
                raise SimulatedCrash(name)

        with PowerLossDisk(jdir, really_sync=False) as disk:
            disk.counts = totals
            j = Journal.open(jdir, schema=SCHEMA, fault_injector=fault)
            flushed = 0
            if which == "later":
                for i in range(1, 4):
                    j.append(1, make_batch(i, 8, 160))
                flushed = j.flush()
            for _ in range(16):  # ~1.5 KiB each: one flush spans several pages
                j.append(1, make_batch(j.last_index + 1, 8, 160))
            armed[0] = point is not None
            with contextlib.suppress(SimulatedCrash):
                flushed = j.flush()
            assert not armed[0], f"the crash at {point} happened"
            last = j.last_index
            j.crash()
            state = disk.freeze()
            lossy += _reopen_images(disk, state, jdir, flushed, last, rng, f"at {point}")
    assert totals.reordered > 0 and totals.pages_lost > 0, totals
    assert lossy > 0, "some power losses took unflushed entries"


def test_power_loss_after_rolls_without_flush_keeps_what_was_flushed(jdir):
    """Gap (b): a roll seals (flushes) the old segment; that claim must survive the loss of
    directory entries that were never fsynced."""
    rng = random.Random(_seed())
    with PowerLossDisk(jdir, really_sync=False) as disk:
        j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
        j.append(1, make_batch(1, 2))
        j.flush()
        i = 1
        while len(segment_files(jdir)) < 4:  # three rolls, no flush()
            i += 1
            j.append(1, make_batch(i, 2))
        claimed = j.last_flushed_index
        assert claimed > 1, "the rolls sealed entries"
        last = j.last_index
        j.crash()
        state = disk.freeze()
        _reopen_images(disk, state, jdir, claimed, last, rng, "after rolls")
        assert disk.counts.entries_lost > 0, disk.counts


@pytest.mark.parametrize("how", ["close", "crash", "compacted"])
def test_a_missing_first_segment_is_reported(jdir, how):
    """Gap (c): the first segment file vanishes: raise, naming it, and change nothing."""
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    i = 0
    while len(j._segments) < 5:
        i += 1
        j.append(1, make_batch(i, 2))
        if i % 7 == 0:
            j.flush()
    j.flush()
    if how == "compacted":
        j.compact_before(j._segments[2].first_index)
    first = j.first_index
    j.close() if how != "crash" else j.crash()
    names = segment_files(jdir)
    assert len(names) >= 3 and int(names[0].split(".")[0]) == first
    os.unlink(os.path.join(jdir, names[0]))
    before = snapshot_files(jdir)
    with pytest.raises(CorruptedJournalError, match="missing") as info:
        Journal.open(jdir)
    assert info.value.path == os.path.join(jdir, names[0])
    assert str(first) in info.value.reason
    assert snapshot_files(jdir) == before, "a refused open changes nothing"


def _boundaries(path: str) -> list[tuple[int, int]]:
    """(offset, entries kept) for every message boundary after the header, and the end."""
    out = []
    kept = None
    for offset, _end, kind, number in segment_messages(path):
        out.append((offset, kept))
        if kind == "entry":
            kept = number
    out.append((os.path.getsize(path), kept))
    return out


def _flushed_after_crash(jdir):
    j = Journal.open(jdir, schema=SCHEMA, segment_size_bytes_max=SMALL)
    i = 0
    while len(j._segments) < 3 or j.last_index - j._segments[-1].first_index < 20:
        i += 1
        j.append(1, make_batch(i, 2))
        if i % 3 == 0:
            j.flush()
    j.append(1, make_batch(i + 1, 2))  # and an unflushed tail
    claimed = j.last_flushed_index
    last = j.last_index
    assert last > claimed
    j.crash()
    return claimed, last


def test_cutting_flushed_entries_at_a_message_boundary_is_reported(jdir):
    """Gap (d): a clean cut of the last segment at a message boundary that takes entries
    flush() returned for is reported, not taken for an unflushed tail."""
    claimed, last = _flushed_after_crash(jdir)
    path = os.path.join(jdir, segment_files(jdir)[-1])
    original = snapshot_files(jdir)
    first_of_last = int(os.path.basename(path).split(".")[0])
    raised = opened = 0
    for cut, kept in _boundaries(path):
        kept = first_of_last - 1 if kept is None else kept
        _restore(jdir, original)
        with open(path, "r+b") as f:
            f.truncate(cut)
        if kept < claimed:
            with pytest.raises(CorruptedJournalError, match="flushed") as info:
                Journal.open(jdir)
            assert str(claimed) in info.value.reason, info.value.reason
            raised += 1
        else:
            j = Journal.open(jdir)
            assert j.last_index == kept
            j.crash()
            opened += 1
    assert raised > 5 and opened > 1, (raised, opened)


def test_boundary_cuts_the_design_cannot_see(jdir):
    """The limit of gap (d), shown: the flush hint file is not fsynced on the flush path, so
    a power loss may take it back. Without it, a clean cut at a message boundary is seen
    only where the metadata file's last flushed index reaches; entries flushed since its
    last rewrite (at most the newest segment's) look like an unflushed tail."""
    claimed, last = _flushed_after_crash(jdir)
    os.unlink(os.path.join(jdir, c.flush_hint_file_name))  # as a power loss may leave it
    meta_flushed = read_meta(jdir).last_flushed_index
    path = os.path.join(jdir, segment_files(jdir)[-1])
    first_of_last = int(os.path.basename(path).split(".")[0])
    assert first_of_last <= meta_flushed < claimed, "the window lies in the last segment"
    original = snapshot_files(jdir)
    raised = unseen = 0
    for cut, kept in _boundaries(path):
        kept = first_of_last - 1 if kept is None else kept
        _restore(jdir, original)
        with open(path, "r+b") as f:
            f.truncate(cut)
        if kept < meta_flushed:
            with pytest.raises(CorruptedJournalError, match="flushed entries are gone"):
                Journal.open(jdir)
            raised += 1
        else:
            j = Journal.open(jdir)  # the limit: flushed entries kept+1..claimed, unseen
            assert j.last_index == kept and not j.recovery_report.repaired
            unseen += kept < claimed
            j.crash()
    assert raised > 0 and unseen > 0, (raised, unseen)


def test_recovery_brings_the_hint_up_to_the_markers(jdir):
    """A power loss kept the flush markers but took the hint back (it is not fsynced): the
    reopened journal rewrites the hint from what the markers prove, so a clean cut after the
    next crash is still reported."""
    j = Journal.open(jdir, schema=SCHEMA)
    for i in range(1, 6):
        j.append(1, make_batch(i, 2))
        j.flush()
    j.crash()
    hint = os.path.join(jdir, c.flush_hint_file_name)
    os.unlink(hint)  # as a power loss may leave it
    assert read_meta(jdir).last_flushed_index < 5, "only the markers prove entry 5"
    j = Journal.open(jdir)
    assert j.last_flushed_index == 5 and os.path.exists(hint)
    j.crash()
    path = os.path.join(jdir, segment_files(jdir)[0])
    start = _entries(path)[5][0]
    with open(path, "r+b") as f:
        f.truncate(start)
    with pytest.raises(CorruptedJournalError, match="flushed entries are gone"):
        Journal.open(jdir)
