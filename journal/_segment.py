"""One segment file: an Arrow IPC stream of entries and flush markers, named by its first index.

Holds the in-memory view of a segment (range, size, sparse index), the scan that recovery
runs over a whole file, and the chunked reader that `entry` / `read_from` use.
"""

from __future__ import annotations

import mmap
import os
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType

import pyarrow as pa

from raybee.journal import _ipc
from raybee.journal import constants as c
from raybee.journal.entry import JournalEntry
from raybee.journal.errors import CorruptedJournalError


def segment_name(first_index: int) -> str:
    return f"{first_index:0{c.segment_name_digits}d}{c.segment_suffix}"


def parse_segment_name(name: str) -> int | None:
    stem = name[: -len(c.segment_suffix)]
    if not name.endswith(c.segment_suffix) or len(stem) != c.segment_name_digits:
        return None
    return int(stem) if stem.isdigit() else None


@dataclass(slots=True)
class Segment:
    path: str
    first_index: int
    last_index: int  # first_index - 1 while the segment holds no entry
    size_bytes: int  # end of the valid data; appends go here
    # Parallel arrays (8 bytes a point, not a Python int object each): a segment of small
    # entries holds many points.
    sparse_indexes: array = field(default_factory=lambda: array("q"))
    sparse_offsets: array = field(default_factory=lambda: array("q"))

    def note_entry(self, index: int, offset: int) -> None:
        """Record entry `index` starting at `offset` in the sparse index when it is due."""
        assert index == self.last_index + 1
        if (
            not self.sparse_indexes
            or index - self.sparse_indexes[-1] >= c.sparse_index_interval_entries
            or offset - self.sparse_offsets[-1] >= c.sparse_index_interval_bytes
        ):
            self.sparse_indexes.append(index)
            self.sparse_offsets.append(offset)
        self.last_index = index

    def seek_point(self, index: int) -> tuple[int, int]:
        """(index, offset) of the nearest sparse point at or before `index`."""
        assert self.first_index <= index <= self.last_index
        i = bisect_right(self.sparse_indexes, index) - 1
        assert i >= 0
        return self.sparse_indexes[i], self.sparse_offsets[i]

    def cut_sparse_after(self, index: int) -> None:
        i = bisect_right(self.sparse_indexes, index)
        del self.sparse_indexes[i:]
        del self.sparse_offsets[i:]


def decode_message(msg: _ipc.Message, buf) -> tuple[str, int, int, dict]:
    """Check a message's CRC and decode it: ("entry", index, term, user) or
    ("marker", flushed, 0, {}). Raises MessageDamaged when anything is off."""
    pairs = msg.custom_metadata
    if not pairs or pairs[-1][0] != c.key_crc32c or len(pairs[-1][1]) != 8:
        raise _ipc.MessageDamaged("message carries no CRC32C")
    # Compare the digits, not their value: int() would read "A" like "a".
    if b"%08x" % _ipc.message_crc32c(buf, msg) != pairs[-1][1]:
        raise _ipc.MessageDamaged("CRC32C mismatch")
    key0, value0 = pairs[0]
    try:
        if key0 == c.key_index:
            if len(pairs) < 3 or pairs[1][0] != c.key_term:
                raise _ipc.MessageDamaged("entry without a term")
            user = {k: v for k, v in pairs[2:-1]}
            return "entry", int(value0), int(pairs[1][1]), user
        if key0 == c.key_flushed and len(pairs) == 2:
            return "marker", int(value0), 0, {}
    except ValueError:
        raise _ipc.MessageDamaged("unreadable index or term") from None
    raise _ipc.MessageDamaged("message is neither an entry nor a flush marker")


@dataclass(slots=True)
class ScanResult:
    segment: Segment
    terms: list[tuple[int, int]]  # (first index of a run, term), in order
    flushed_claim: int  # highest index a valid flush marker vouches for (0 if none)
    header_torn: bool = False  # the file is a strict prefix of the header
    damage_offset: int | None = None
    damage_reason: str = ""
    flushed_claim_past_damage: int = 0  # from valid markers found after resynchronizing
    file_bytes: int = 0


def scan_segment(path: str, first_index: int, header: bytes, previous_term: int) -> ScanResult:
    """Read a whole segment, checking the header, every CRC and index continuity.

    Stops at the first damaged message and records where; then looks further for valid flush
    markers (resynchronizing on the continuation marker at 8-byte boundaries), because a
    marker past the damage proves the damaged entry had been flushed.
    """
    seg = Segment(path, first_index, first_index - 1, 0)
    result = ScanResult(seg, [], 0)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        result.file_bytes = size
        if size == 0:
            result.header_torn = True
            return result
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            view = memoryview(mm)
            try:
                _scan(view, size, header, previous_term, result)
            finally:
                view.release()
    return result


def _scan(view, size: int, header: bytes, term: int, result: ScanResult) -> None:
    seg = result.segment
    if size < len(header) or view[: len(header)] != header:
        n = min(size, len(header))
        same = next((i for i in range(n) if view[i] != header[i]), n)
        if same == size:  # a strict prefix: a header write cut short
            result.header_torn = True
        else:
            result.damage_offset = same
            result.damage_reason = "segment header differs from the journal's schema message"
            result.flushed_claim_past_damage = _claims_past(view, same + 1, size)
        return
    offset = len(header)
    expected = seg.first_index
    while True:
        try:
            msg = _ipc.parse_message(view, offset, size)
            if msg is None:
                break
            if msg.header_type != _ipc.HEADER_TYPE_RECORD_BATCH:
                raise _ipc.MessageDamaged(f"unexpected message type {msg.header_type}")
            kind, number, entry_term, _ = decode_message(msg, view)
            if kind == "entry":
                if number != expected:
                    raise _ipc.MessageDamaged(f"entry index {number}, expected {expected}")
                if entry_term < term:
                    raise _ipc.MessageDamaged(f"term {entry_term} after term {term}")
            elif number > expected - 1:
                raise _ipc.MessageDamaged(f"flush marker for {number} past entry {expected - 1}")
        except _ipc.MessageDamaged as e:
            result.damage_offset = offset
            result.damage_reason = str(e)
            result.flushed_claim_past_damage = _claims_past(view, offset + 8, size)
            return
        if kind == "entry":
            if entry_term != term or not result.terms:
                result.terms.append((number, entry_term))
                term = entry_term
            seg.note_entry(number, offset)
            expected += 1
        else:
            result.flushed_claim = max(result.flushed_claim, number)
        offset = msg.end
    assert offset == size, "a scan ends cleanly only at the end of the file"
    seg.size_bytes = offset


def _claims_past(view, start: int, size: int) -> int:
    """Highest index a valid flush marker at an aligned offset >= start claims flushed
    (0 when there is none). Only called on damage, so the search may be slow-ish."""
    claim = 0
    data = view.obj if isinstance(view, memoryview) else view
    pos = start + (-start) % c.ipc_alignment_bytes
    while True:
        pos = data.find(c.ipc_continuation, pos, size)
        if pos < 0:
            return claim
        if pos % c.ipc_alignment_bytes:
            pos += 1
            continue
        try:
            msg = _ipc.parse_message(view, pos, size)
            if msg is not None and msg.header_type == _ipc.HEADER_TYPE_RECORD_BATCH:
                kind, number, _, _ = decode_message(msg, view)
                if kind == "marker":
                    claim = max(claim, number)
        except _ipc.MessageDamaged:
            pass
        pos += c.ipc_alignment_bytes


class SegmentReader:
    """Reads entries of one segment in order from a starting index, in chunks (one pread each)."""

    def __init__(self, seg: Segment, schema: pa.Schema, chunk_bytes: int) -> None:
        self._seg = seg
        self._schema = schema
        self._chunk_bytes = chunk_bytes

    def iter_from(self, index: int, last_index: int) -> Iterator[JournalEntry]:
        seg = self._seg
        assert seg.first_index <= index <= last_index <= seg.last_index
        point, offset = seg.seek_point(index)
        limit = seg.size_bytes
        fd = os.open(seg.path, os.O_RDONLY)
        try:
            chunk = b""
            base = offset
            current = point
            while current <= last_index:
                local = offset - base
                try:
                    msg = _ipc.parse_message(chunk, local, len(chunk))
                    if msg is None:
                        raise _ipc.MessageDamaged("end of chunk")
                except _ipc.MessageDamaged as e:
                    if base + len(chunk) >= limit:  # the chunk already reaches the end
                        raise CorruptedJournalError(seg.path, offset, str(e)) from None
                    want = max(self._chunk_bytes, 2 * (len(chunk) - local))
                    chunk = os.pread(fd, min(want, limit - offset), offset)
                    base = offset
                    continue
                if current < index:  # still walking from the sparse point
                    offset += msg.end - local
                    if _is_entry(msg):
                        current += 1
                    continue
                try:
                    kind, number, term, user = decode_message(msg, chunk)
                except _ipc.MessageDamaged as e:
                    raise CorruptedJournalError(seg.path, offset, str(e)) from None
                if kind == "entry":
                    if number != current:
                        raise CorruptedJournalError(
                            seg.path, offset, f"entry index {number}, expected {current}"
                        )
                    buf = pa.py_buffer(chunk).slice(local, msg.end - local)
                    batch = pa.ipc.read_record_batch(buf, self._schema)
                    yield JournalEntry(number, term, batch, MappingProxyType(user))
                    current += 1
                offset += msg.end - local
        finally:
            os.close(fd)

    def offset_of(self, index: int) -> int:
        """Byte offset where entry `index` starts (index may be last_index + 1: the end)."""
        seg = self._seg
        if index == seg.last_index + 1:
            return seg.size_bytes
        point, offset = seg.seek_point(index)
        with open(seg.path, "rb") as f:
            data = os.pread(f.fileno(), seg.size_bytes - offset, offset)
        local = 0
        current = point
        while True:
            try:
                msg = _ipc.parse_message(data, local, len(data))
            except _ipc.MessageDamaged as e:
                raise CorruptedJournalError(seg.path, offset + local, str(e)) from None
            assert msg is not None, "segment ended before the entry"
            if _is_entry(msg):
                if current == index:
                    return offset + local
                current += 1
            local = msg.end


def _is_entry(msg: _ipc.Message) -> bool:
    return bool(msg.custom_metadata) and msg.custom_metadata[0][0] == c.key_index
