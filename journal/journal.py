"""The segmented, append-only journal.

Durability protocol
-------------------
Model of the disk this is built for: a power loss keeps what an fsync made durable; of the
pages written since a file's last fsync it may keep any subset, in any order (a lost page
reads as its old bytes, zeros past the old end), and of the directory changes since the
directory's last fsync it may lose any (a new segment's name vanishes). Every rule below
follows from that model; `testing.PowerLossDisk` implements it for the tests.

- `append` writes one IPC record-batch message per entry to the active segment (page cache).
- `flush` fdatasyncs the active segment, fsyncs the directory when a segment was created
  since its last fsync (and then rewrites the metadata file, which names it), and only
  *then* writes a *flush marker* - a 0-row record batch whose metadata says "every entry up
  to N is flushed" - and the flush hint (`_hint.py`). One fsync per flush, as before.
- Why the marker comes after the fdatasync, not before it: pages of one flush reach the disk
  in any order, so a marker written before the sync can survive a power loss in which an
  earlier page of the same flush was lost - and then it "proves" the lost entries flushed,
  and the journal refuses to open. Written after the sync, a marker only ever claims entries
  that were durable when it was written, so a marker found on recovery is always true. The
  price: a flush's own marker becomes durable with the *next* fdatasync, not with its own.
  The alternative - a CRC32C of the covered byte range inside a marker written before the
  sync - proves no more after a power loss (damage in the newest flush looks the same either
  way), costs a second pass over the bytes on recovery and a range checksum per flush, and
  needs markers to know their range. The reorder costs nothing: same fsyncs, one more
  pwrite (the hint) per flush; `raybee bench journal` measures it.
- The flush hint is a 30-byte file rewritten in place after each flush's fdatasync and not
  fsynced (so it is free): it never claims more than was durable, it is fsynced only when the
  flushed index goes down (`truncate_after` below it, `reset`), and recovery takes it as one
  more proof. It exists for damage a segment cannot show: a clean cut of the last segment
  at a message boundary removes the entries *and* every marker after them.
- A segment is rolled before an append would take it past `segment_size_bytes_max`. Rolling
  seals the old segment first: fdatasync (always: the last flush's marker is not durable
  yet), fsync of the directory if the segment is new since its last fsync, and a metadata
  rewrite recording it as flushed - all before the new segment is created. So only the
  newest segment can hold unflushed data or an undurable name, a power loss never leaves a
  later segment without an earlier one, and the flushed index a roll advances (which
  `partitions/raft_storage.py` relies on) is durable, names included.
- Recovery on open scans every segment (header bytes, CRC32C of every message, index
  continuity). The last flushed index is proven by the metadata file, the flush hint and
  the flush markers (including markers found *after* damage). A damaged or partial tail
  whose entries all lie past it is truncated and reported in `recovery_report`; damage at
  or below it, a segment missing from the start (the metadata file keeps the first index)
  or from the end (it names the newest segment it recorded), and a journal that ends before
  the proven index raise `CorruptedJournalError` naming the file (and offset).

Limits, on purpose
------------------
- The metadata file is not rewritten on every flush (that would be a second fsync per flush,
  about halving append throughput). Between rewrites the flushed index of the newest segment
  is proven by markers and the hint, neither fsynced by its own flush. So, after a power loss
  that kept neither the newest marker nor the newest hint, damage that removes exactly the
  entries flushed since the metadata file's last rewrite (at most the newest segment's) - a
  clean cut at a message boundary, or the newest segment file deleted - looks like an
  unflushed tail lost to that power loss and is not reported. Without the power loss (after
  a process crash, or a clean close) the hint is there and every such cut is reported.
  `test_boundary_cuts_the_design_cannot_see` shows the boundary.
- Damage to entries that no proof covers - the newest flush, once a power loss took its
  marker and its hint - is cut as a torn tail (reported in `recovery_report`, not raised):
  that flush may not have completed, and its pages may have been lost in any order, so such
  damage is exactly what a power loss leaves.
- Reads copy the bytes they need with pread (1 MiB chunks) instead of handing out batches
  that point into an mmap: `truncate_after` shrinks files, and touching an mmap past the end
  of its file kills the process with SIGBUS. Recovery, which hands nothing out, uses mmap.
- Not thread-safe; one open `Journal` per directory (an flock enforces it).
"""

from __future__ import annotations

import fcntl
import logging
import os
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

import pyarrow as pa

from raybee.journal import _ipc
from raybee.journal import constants as c
from raybee.journal._hint import encode_hint, read_hint
from raybee.journal._meta import Meta, fsync_dir, read_meta, write_meta
from raybee.journal._segment import (
    Segment,
    SegmentReader,
    parse_segment_name,
    scan_segment,
    segment_name,
)
from raybee.journal.entry import JournalEntry, RecoveryReport, TruncatedTail
from raybee.journal.errors import (
    CommitFloorError,
    CorruptedJournalError,
    EntryTooLargeError,
    IndexOutOfRangeError,
    InvalidEntryMetadataError,
    JournalClosedError,
    JournalFailedError,
    JournalLockedError,
    NotARecordBatchError,
    SchemaMismatchError,
    TermRegressionError,
)

log = logging.getLogger(__name__)

FaultInjector = Callable[[str], None]


def _no_fault(_point: str) -> None:
    pass


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise IndexOutOfRangeError(f"{name}={value} is outside [{low}, {high}]")
    return value


def _check_schema(schema: object) -> pa.Schema:
    if not isinstance(schema, pa.Schema):
        raise TypeError(f"schema must be a pyarrow.Schema, got {type(schema).__name__}")
    for f in schema:
        if pa.types.is_dictionary(f.type):
            # RecordBatch.serialize does not carry dictionaries; refuse rather than lose them.
            raise SchemaMismatchError(f"field {f.name!r}: dictionary types are not supported")
    return schema


def _user_pairs(metadata: Mapping | None) -> list[tuple[bytes, bytes]]:
    if metadata is None:
        return []
    if not isinstance(metadata, Mapping):
        raise InvalidEntryMetadataError(
            f"metadata must be a mapping of bytes|str to bytes, got {type(metadata).__name__}"
        )
    if len(metadata) > c.entry_metadata_keys_max:
        raise InvalidEntryMetadataError(
            f"metadata has {len(metadata)} keys, at most {c.entry_metadata_keys_max} allowed"
        )
    pairs = []
    total = 0
    for key, value in metadata.items():
        if isinstance(key, str):
            key = key.encode()
        if not isinstance(key, bytes) or not key:
            raise InvalidEntryMetadataError(f"metadata key {key!r} is not non-empty bytes or str")
        if key.startswith(c.key_prefix_reserved):
            raise InvalidEntryMetadataError(
                f"metadata key {key!r} uses the reserved prefix {c.key_prefix_reserved!r}"
            )
        if not isinstance(value, bytes | bytearray | memoryview):
            raise InvalidEntryMetadataError(
                f"metadata value of {key!r} must be bytes, got {type(value).__name__}"
            )
        value = bytes(value)
        total += len(key) + len(value)
        pairs.append((key, value))
    if total > c.entry_metadata_bytes_max:
        raise InvalidEntryMetadataError(
            f"metadata holds {total} bytes, at most {c.entry_metadata_bytes_max} allowed"
        )
    return pairs


class Journal:
    """A segmented append-only log of Arrow record batches. Not thread-safe."""

    def __init__(self, *_args: object, **_kwargs: object) -> None:
        raise TypeError("use Journal.open(path, ...)")

    # ------------------------------------------------------------------ open / recovery

    @classmethod
    def open(
        cls,
        path: str | os.PathLike,
        schema: pa.Schema | None = None,
        segment_size_bytes_max: int = c.segment_size_bytes_max_default,
        first_index: int | None = None,
        fault_injector: FaultInjector | None = None,
    ) -> Journal:
        """Open the journal at `path`, creating it (which needs `schema`) when absent.

        `first_index` (default 1) is the index of the first entry of a new journal; for an
        existing one it must be None or agree with the journal. `fault_injector` is called
        with a step name at each crash-relevant point (tests raise from it to simulate crashes).
        """
        self = object.__new__(cls)
        _check_int(
            "segment_size_bytes_max",
            segment_size_bytes_max,
            c.segment_size_bytes_min,
            2**40,
        )
        if first_index is not None:
            _check_int("first_index", first_index, 1, c.index_max)
        if schema is not None:
            _check_schema(schema)
        self._dir = os.fspath(path)
        self._segment_size_bytes_max = segment_size_bytes_max
        self._fault = fault_injector or _no_fault
        self._segments: list[Segment] = []
        self._segment_firsts: list[int] = []
        self._term_starts: list[int] = []
        self._term_values: list[int] = []
        self._fd: int | None = None  # write fd of the active (last) segment
        # A segment was created since the directory's last fsync: its name is not durable.
        self._dir_sync_pending = False
        self._hint_fd: int | None = None
        self._hint_index = -1  # what the hint file says (-1: unknown)
        self._closed = False
        self._failed = False
        self._lock_fd: int | None = None
        try:
            self._lock()
            self._recover(schema, first_index)
        except BaseException:
            self._release()
            raise
        return self

    def _lock(self) -> None:
        os.makedirs(self._dir, exist_ok=True)
        fd = os.open(os.path.join(self._dir, c.lock_file_name), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLockedError(f"journal {self._dir!r} is already open") from None
        self._lock_fd = fd

    def _recover(self, schema: pa.Schema | None, first_index: int | None) -> None:
        meta, firsts = self._load_meta(schema, first_index)
        meta, firsts, removed = self._drop_leftovers(meta, firsts, first_index)
        proofs = {"the metadata file": meta.last_flushed_index}
        hint = read_hint(self._dir)
        if hint is not None:
            proofs["the flush hint file"] = hint
        flushed, truncated = self._scan_segments(meta, firsts, removed, proofs)
        self._first_index_empty = meta.first_index
        last = self.last_index
        if flushed > last:
            source = max(proofs, key=proofs.__getitem__)
            raise CorruptedJournalError(
                self._segments[-1].path if self._segments else self._dir,
                None,
                f"flushed entries are gone: {source} says entries up to {flushed} were "
                f"flushed, but the journal ends at {last}",
            )
        self._flushed_index = flushed
        self._hint_index = hint if hint is not None else -1
        self._hint_fd = os.open(
            os.path.join(self._dir, c.flush_hint_file_name), os.O_RDWR | os.O_CREAT, 0o644
        )
        if self._segments:
            self._fd = os.open(self._segments[-1].path, os.O_WRONLY | os.O_APPEND)
            # O_APPEND writes at the end of the file: it must be where the valid data ends.
            assert os.fstat(self._fd).st_size == self._segments[-1].size_bytes
        # Whatever survived recovery becomes flushed: fdatasync it (cheaper than rewriting
        # the metadata file). Every proof of a flushed index is written after the directory
        # was fsynced, so a segment holding a proven entry is durably named; the name of a
        # newer one (or a removal above) may not be: fsync the directory then.
        self._dir_sync_pending = bool(removed) or (
            bool(self._segments) and self._segments[-1].first_index > flushed
        )
        self._sync_active(marker=True)
        assert self._flushed_index == last
        self._meta = replace(
            meta,
            first_index=self.first_index,
            last_segment=self._segments[-1].first_index if self._segments else None,
        )
        if self._meta != meta:  # the set of segments changed: record it
            self._write_meta()
        self.recovery_report = RecoveryReport(tuple(truncated), tuple(removed), last)
        if self.recovery_report.repaired:
            log.warning("journal %s repaired on open: %s", self._dir, self.recovery_report)

    def _load_meta(self, schema: pa.Schema | None, first_index: int | None) -> tuple[Meta, list]:
        """Read (or create) the metadata file; returns it and the sorted segment first indexes."""
        meta = read_meta(self._dir)
        tmp = os.path.join(self._dir, c.metadata_file_name + c.metadata_tmp_suffix)
        if os.path.exists(tmp):
            os.unlink(tmp)  # an interrupted metadata write; the old file is authoritative
        firsts = sorted(
            first for n in os.listdir(self._dir) if (first := parse_segment_name(n)) is not None
        )
        if meta is None:
            if firsts:
                raise CorruptedJournalError(
                    os.path.join(self._dir, c.metadata_file_name),
                    None,
                    f"metadata file missing beside {len(firsts)} segment files",
                )
            if schema is None:
                raise TypeError(f"journal {self._dir!r} does not exist; open it with a schema")
            start = 1 if first_index is None else first_index
            meta = Meta(schema.serialize().to_pybytes(), start, start - 1, None)
            write_meta(self._dir, meta, self._fault)
            fsync_dir(os.path.dirname(os.path.abspath(self._dir)))
        stored = pa.ipc.read_schema(pa.py_buffer(meta.schema_message))
        if schema is not None and not schema.equals(stored, check_metadata=True):
            raise SchemaMismatchError(
                f"journal {self._dir!r} holds schema {stored}, open was given {schema}"
            )
        self._schema = stored
        self._header = meta.schema_message
        self._marker_serialized = pa.RecordBatch.from_pylist([], schema=stored).serialize()
        # Room kept free in a segment for the flush marker that may follow its last entry.
        self._marker_reserve_bytes = self._marker_size(c.index_max)
        return meta, firsts

    def _drop_leftovers(
        self, meta: Meta, firsts: list[int], first_index: int | None
    ) -> tuple[Meta, list[int], list[str]]:
        """Finish an interrupted reset or compaction; check the arguments against the files."""
        removed: list[str] = []
        if meta.reset_pending:
            for first in reversed(firsts):
                removed.append(self._unlink_segment(first))
            firsts = []
            meta = replace(meta, reset_pending=False)
        elif firsts and firsts[0] < meta.first_index:
            # Leftovers of an interrupted compaction: whole segments below the first index.
            keep = [f for f in firsts if f >= meta.first_index]
            if not keep or keep[0] != meta.first_index:
                raise CorruptedJournalError(
                    os.path.join(self._dir, segment_name(meta.first_index)),
                    None,
                    f"first segment {meta.first_index} named by the metadata is missing",
                )
            for first in firsts[: len(firsts) - len(keep)]:
                removed.append(self._unlink_segment(first))
            firsts = keep
        if firsts and firsts[0] > meta.first_index:
            # The first segment is named by the first index, which the metadata file keeps;
            # a roll fsyncs the directory before the next segment exists, so no power loss
            # leaves a later segment without the first one.
            raise CorruptedJournalError(
                os.path.join(self._dir, segment_name(meta.first_index)),
                None,
                f"first segment file is missing: the journal starts at {meta.first_index} "
                f"(metadata file) but the first segment found starts at {firsts[0]}, so "
                f"entries {meta.first_index}..{firsts[0] - 1} are lost",
            )
        start = firsts[0] if firsts else meta.first_index
        if first_index is not None and first_index != start:
            raise IndexOutOfRangeError(
                f"first_index={first_index} disagrees with journal {self._dir!r}, which starts "
                f"at {start} (first_index applies when a journal is created; see reset)"
            )
        if meta.last_segment is not None and meta.last_segment not in firsts:
            raise CorruptedJournalError(
                os.path.join(self._dir, segment_name(meta.last_segment)),
                None,
                "segment file named by the metadata is missing",
            )
        return meta, firsts, removed

    def _scan_segments(
        self, meta: Meta, firsts: list[int], removed: list[str], proofs: dict[str, int]
    ) -> tuple[int, list[TruncatedTail]]:
        """Scan every segment in order; returns the last flushed index and the cut tails.

        `proofs` holds the flushed index each source vouches for (source -> index); the
        flush markers found are added to it."""
        flushed = max(proofs.values())
        truncated: list[TruncatedTail] = []
        expected = firsts[0] if firsts else meta.first_index
        term = 0
        for position, first in enumerate(firsts):
            path = os.path.join(self._dir, segment_name(first))
            is_last = position == len(firsts) - 1
            if first != expected:
                raise CorruptedJournalError(
                    path, None, f"segment starts at {first}, expected {expected} (a gap)"
                )
            scan = scan_segment(path, first, self._header, term)
            if scan.flushed_claim > flushed:
                proofs["a flush marker"] = flushed = scan.flushed_claim
            vouched = max(flushed, scan.flushed_claim_past_damage)
            damage = scan.damage_offset
            if scan.header_torn or (damage is not None and damage < len(self._header)):
                # A segment whose creation was not flushed yet may be lost to a power loss
                # in any way (empty, cut, zeros): fine while none of its entries was flushed.
                offset = damage or 0
                reason = scan.damage_reason or "segment header incomplete"
                if not is_last or first <= vouched:
                    raise CorruptedJournalError(path, offset, reason)
                truncated.append(TruncatedTail(path, 0, scan.file_bytes, reason))
                removed.append(self._unlink_segment(first))
                continue
            if scan.damage_offset is not None:
                bad = scan.segment.last_index + 1
                if bad <= vouched:
                    reason = f"{scan.damage_reason} (entry {bad} was flushed: up to {vouched})"
                    raise CorruptedJournalError(path, scan.damage_offset, reason)
                if not is_last:
                    reason = f"{scan.damage_reason} (segments follow it)"
                    raise CorruptedJournalError(path, scan.damage_offset, reason)
                cut = scan.damage_offset
                tail = TruncatedTail(path, cut, scan.file_bytes - cut, scan.damage_reason)
                truncated.append(tail)
                self._truncate_file(path, cut)
                scan.segment.size_bytes = cut
            for start, t in scan.terms:
                self._term_starts.append(start)
                self._term_values.append(t)
            if scan.terms:
                term = scan.terms[-1][1]
            self._segments.append(scan.segment)
            self._segment_firsts.append(first)
            expected = scan.segment.last_index + 1
        return flushed, truncated

    def _unlink_segment(self, first: int) -> str:
        path = os.path.join(self._dir, segment_name(first))
        os.unlink(path)
        return path

    @staticmethod
    def _truncate_file(path: str, size: int) -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _marker_size(self, flushed: int) -> int:
        head, body = self._marker_message(flushed)
        return len(head) + len(body)

    def _marker_message(self, flushed: int) -> tuple[bytes, memoryview]:
        return _ipc.build_message(self._marker_serialized, [(c.key_flushed, b"%d" % flushed)])

    # ------------------------------------------------------------------ properties

    @property
    def path(self) -> str:
        return self._dir

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    @property
    def first_index(self) -> int:
        """Index of the first entry; last_index + 1 when the journal is empty."""
        return self._segments[0].first_index if self._segments else self._first_index_empty

    @property
    def last_index(self) -> int:
        """Index of the last entry; first_index - 1 when the journal is empty."""
        return self._segments[-1].last_index if self._segments else self._first_index_empty - 1

    @property
    def last_flushed_index(self) -> int:
        return self._flushed_index

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return self.last_index - self.first_index + 1

    def __repr__(self) -> str:
        return (
            f"Journal({self._dir!r}, first_index={self.first_index}, "
            f"last_index={self.last_index}, last_flushed_index={self._flushed_index})"
        )

    # ------------------------------------------------------------------ writing

    def _check_usable(self) -> None:
        if self._failed:
            raise JournalFailedError(f"journal {self._dir!r} failed; reopen it to recover")
        if self._closed:
            raise JournalClosedError(f"journal {self._dir!r} is closed")

    @contextmanager
    def _all_or_fail(self) -> Iterator[None]:
        """Steps that change files and memory together: if one fails half-way, memory no
        longer matches disk, so the journal refuses further work until it is reopened."""
        try:
            yield
        except BaseException:
            self._failed = True
            raise

    def append(self, term: int, batch: pa.RecordBatch, metadata: Mapping | None = None) -> int:
        """Append one entry; returns its index. Durable only after `flush`."""
        self._check_usable()
        if not isinstance(batch, pa.RecordBatch):
            raise NotARecordBatchError(
                f"append takes a pyarrow.RecordBatch, got {type(batch).__name__}"
            )
        if not batch.schema.equals(self._schema, check_metadata=False):
            raise SchemaMismatchError(
                f"batch schema {batch.schema} differs from the journal's {self._schema}"
            )
        if not isinstance(term, int) or isinstance(term, bool):
            raise TypeError(f"term must be an int, got {type(term).__name__}")
        last_term = self._term_values[-1] if self._term_values else 0
        if not last_term <= term <= c.term_max:
            raise TermRegressionError(
                f"term {term} is lower than the last entry's term {last_term}"
                if term < last_term
                else f"term {term} is outside [0, {c.term_max}]"
            )
        pairs = _user_pairs(metadata)
        index = self.last_index + 1
        if index > c.index_max:
            raise IndexOutOfRangeError(f"journal is full at index {c.index_max}")
        pairs[:0] = [(c.key_index, b"%d" % index), (c.key_term, b"%d" % term)]
        head, body = _ipc.build_message(batch.serialize(), pairs)
        size = len(head) + len(body)
        room = self._segment_size_bytes_max - len(self._header) - self._marker_reserve_bytes
        if size > room:
            raise EntryTooLargeError(
                f"entry of {size} bytes does not fit a segment of "
                f"{self._segment_size_bytes_max} bytes (at most {room} for one entry)"
            )
        seg = self._segments[-1] if self._segments else None
        if seg is None or seg.size_bytes + size + self._marker_reserve_bytes > (
            self._segment_size_bytes_max
        ):
            seg = self._roll(index)
        offset = seg.size_bytes
        self._write(seg, (head, body))
        seg.note_entry(index, offset)
        if not self._term_values or self._term_values[-1] != term:
            self._term_starts.append(index)
            self._term_values.append(term)
        return index

    def _write(self, seg: Segment, parts: tuple) -> None:
        """Write all of `parts` at the end of the active segment, or leave it unchanged."""
        assert self._fd is not None
        total = sum(len(p) for p in parts)
        try:
            written = os.writev(self._fd, parts)
            if written != total:  # a short write: finish it piece by piece
                rest = memoryview(b"".join(bytes(p) for p in parts))[written:]
                while rest:
                    rest = rest[os.write(self._fd, rest) :]
        except BaseException:
            try:
                os.ftruncate(self._fd, seg.size_bytes)
            except OSError:
                self._failed = True
            raise
        seg.size_bytes += total

    def _roll(self, first: int) -> Segment:
        """Seal the active segment and start a new one at `first`.

        Sealing makes the old segment durable (fdatasync, and the directory when the segment
        is new since its last fsync) and records it in the metadata file - before the new
        segment exists, so a power loss never leaves a later segment without the earlier
        ones, and the flushed index a roll advances is never a lie."""
        with self._all_or_fail():
            if self._segments:
                # Unconditionally: the marker of the last flush is not durable yet, and once a
                # segment follows, any damage in this one is reported, never cut.
                self._sync_active(marker=False, seal=True)
                # No marker: the metadata file is the proof for a sealed segment.
                self._write_meta()
                self._fault("roll.sealed")
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._fault("roll.before_create")
            path = os.path.join(self._dir, segment_name(first))
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            seg = Segment(path, first, first - 1, 0)
            self._segments.append(seg)
            self._segment_firsts.append(first)
            self._dir_sync_pending = True
            self._fault("roll.created")
            self._write(seg, (self._header,))
            self._fault("roll.header_written")
        return seg

    def _sync_active(self, marker: bool, seal: bool = False) -> bool:
        """Make every appended entry durable, then say so. Returns whether the directory was
        fsynced (a segment was created since its last fsync).

        Order matters: fdatasync the segment, fsync the directory, and only then write the
        flush marker and the hint. A marker written before the fdatasync could reach the disk
        while an earlier page of the same flush did not, and then "prove" lost entries
        flushed; written after it, it claims only what is already durable. The marker itself
        becomes durable with the next fdatasync of the segment."""
        last = self.last_index
        dir_synced = False
        if last > self._flushed_index or self._dir_sync_pending or seal:
            self._fault("flush.before_sync")
            if self._fd is not None:
                os.fdatasync(self._fd)  # a failure leaves the page cache unknown: callers fail
            self._fault("flush.synced")
            dir_synced = self._dir_sync_pending
            if dir_synced:
                fsync_dir(self._dir)
                self._dir_sync_pending = False
                self._fault("flush.dir_synced")
            if last > self._flushed_index:
                self._flushed_index = last
                if marker and self._segments:
                    self._write(self._segments[-1], self._marker_message(last))
                    self._fault("flush.marker_written")
        # Also when nothing was synced: recovery may prove more (by a marker) than the hint
        # it found says, and the hint must catch up, or a later cut goes unseen.
        if self._flushed_index > self._hint_index:
            self._write_hint(self._flushed_index, durable=False)
        return dir_synced

    def _write_hint(self, flushed: int, durable: bool) -> None:
        """Record `flushed` in the hint file (see _hint.py): in place, fsynced only when
        `durable` (when the flushed index goes down)."""
        assert self._hint_fd is not None
        record = encode_hint(flushed)
        written = os.pwrite(self._hint_fd, record, 0)
        assert written == len(record), "a 30-byte pwrite at offset 0 is never short"
        if durable:
            os.fsync(self._hint_fd)
        self._hint_index = flushed

    def flush(self) -> int:
        """Make every appended entry durable; returns the last flushed index."""
        self._check_usable()
        with self._all_or_fail():
            if self._sync_active(marker=True):
                self._write_meta()  # a new segment: the metadata file names it
        return self._flushed_index

    def _write_meta(self, **changes: object) -> None:
        """Replace the metadata file with the current state (`changes` override fields).

        It names the newest segment, so a segment created since the directory's last fsync
        is made durable first (its header, then its name): the metadata file must never
        name a segment a power loss can take away.
        """
        if self._dir_sync_pending:
            if self._fd is not None:
                os.fdatasync(self._fd)
            fsync_dir(self._dir)
            self._dir_sync_pending = False
        fields: dict[str, object] = {
            "first_index": self.first_index,
            "last_flushed_index": self._flushed_index,
            "last_segment": self._segments[-1].first_index if self._segments else None,
        }
        fields.update(changes)
        self._meta = replace(self._meta, **fields)
        write_meta(self._dir, self._meta, self._fault)

    # ------------------------------------------------------------------ reading

    def _segment_of(self, index: int) -> int:
        i = bisect_right(self._segment_firsts, index) - 1
        assert i >= 0 and self._segments[i].first_index <= index <= self._segments[i].last_index
        return i

    def entry(self, index: int) -> JournalEntry:
        """The entry at `index` (first_index <= index <= last_index)."""
        self._check_usable()
        _check_int("index", index, self.first_index, self.last_index)
        seg = self._segments[self._segment_of(index)]
        reader = SegmentReader(seg, self._schema, c.lookup_chunk_bytes)
        return next(iter(reader.iter_from(index, index)))

    def read_from(self, index: int) -> Iterator[JournalEntry]:
        """Entries from `index` through the last index at the time of the call.

        `index` may be last_index + 1 (nothing to read). Truncating or compacting the
        journal while iterating is not supported.
        """
        self._check_usable()
        _check_int("index", index, self.first_index, self.last_index + 1)
        return self._read_from(index, self.last_index)

    def _read_from(self, index: int, last: int) -> Iterator[JournalEntry]:
        if index > last:
            return
        i = self._segment_of(index)
        while index <= last:
            seg = self._segments[i]
            stop = min(seg.last_index, last)
            if stop >= index:
                reader = SegmentReader(seg, self._schema, c.read_chunk_bytes)
                yield from reader.iter_from(index, stop)
                index = stop + 1
            i += 1

    def term_at(self, index: int) -> int:
        """Term of the entry at `index`, from memory (no disk read)."""
        self._check_usable()
        _check_int("index", index, self.first_index, self.last_index)
        return self._term_values[bisect_right(self._term_starts, index) - 1]

    # ------------------------------------------------------------------ truncation

    def truncate_after(self, index: int, commit_floor: int | None = None) -> None:
        """Drop every entry after `index`. Refuses to drop entries at or below `commit_floor`."""
        self._check_usable()
        if commit_floor is not None:
            _check_int("commit_floor", commit_floor, 0, c.index_max)
            if isinstance(index, int) and index < commit_floor:
                raise CommitFloorError(
                    f"truncate_after({index}) would drop committed entries "
                    f"{index + 1}..{commit_floor} (commit floor {commit_floor})"
                )
        _check_int("index", index, self.first_index - 1, self.last_index)
        if index == self.last_index:
            return
        with self._all_or_fail():
            keep = self._segment_of(index + 1)
            seg = self._segments[keep]
            cut = SegmentReader(seg, self._schema, c.read_chunk_bytes).offset_of(index + 1)
            # Hint and metadata first: they must never claim a flushed index the files no
            # longer hold (the hint is fsynced here since it goes down).
            if self._hint_index > index:
                self._write_hint(index, durable=True)
            self._flushed_index = min(self._flushed_index, index)
            dropped = self._segments[keep + 1 :]
            self._write_meta(last_segment=seg.first_index)
            self._fault("truncate.meta_written")
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            for old in reversed(dropped):  # newest first: a crash never leaves a gap
                os.unlink(old.path)
            del self._segments[keep + 1 :]
            del self._segment_firsts[keep + 1 :]
            self._truncate_file(seg.path, cut)
            if dropped:
                fsync_dir(self._dir)
            seg.size_bytes = cut
            seg.last_index = index if index >= seg.first_index else seg.first_index - 1
            seg.cut_sparse_after(index)
            t = bisect_right(self._term_starts, index)
            del self._term_starts[t:]
            del self._term_values[t:]
            self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND)

    def compact_before(self, index: int) -> int:
        """Drop whole segments whose entries all lie before `index`; returns the new first index.

        The active segment is never dropped, so first_index may stay below `index`.
        """
        self._check_usable()
        _check_int("index", index, 0, self.last_index + 1)
        drop = 0
        while drop + 1 < len(self._segments) and self._segments[drop].last_index < index:
            drop += 1
        if drop == 0:
            return self.first_index
        with self._all_or_fail():
            dropped = self._segments[:drop]
            del self._segments[:drop]
            del self._segment_firsts[:drop]
            # Metadata first (first_index moves up), then the files oldest first: a crash leaves
            # only whole leftover segments below first_index, which recovery removes.
            self._write_meta()
            self._fault("compact.meta_written")
            for old in dropped:
                os.unlink(old.path)
            fsync_dir(self._dir)
            first = self.first_index
            t = bisect_right(self._term_starts, first) - 1
            del self._term_starts[:t]
            del self._term_values[:t]
            self._term_starts[0] = first
        return first

    def reset(self, first_index: int) -> None:
        """Drop every entry; the journal restarts empty at `first_index` (e.g. after a Raft
        snapshot install)."""
        self._check_usable()
        _check_int("first_index", first_index, 1, c.index_max)
        with self._all_or_fail():
            if self._hint_index > first_index - 1:
                self._write_hint(first_index - 1, durable=True)
            self._write_meta(
                first_index=first_index,
                last_flushed_index=first_index - 1,
                last_segment=None,
                reset_pending=True,
            )
            self._fault("reset.meta_written")
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            for old in reversed(self._segments):
                os.unlink(old.path)
            fsync_dir(self._dir)
            self._segments.clear()
            self._segment_firsts.clear()
            self._term_starts.clear()
            self._term_values.clear()
            self._first_index_empty = first_index
            self._flushed_index = first_index - 1
            self._dir_sync_pending = False
            self._write_meta(reset_pending=False)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Flush, record the state in the metadata file, and release the files. Idempotent."""
        if self._closed:
            return
        try:
            if not self._failed:
                self.flush()
                self._write_meta()
        finally:
            self._release()

    def crash(self) -> None:
        """Release the files without flushing or writing anything, as a process crash would:
        what was not flushed may be lost or torn at the next open. For tests, the demo and the
        benchmarks."""
        self._release()

    def _release(self) -> None:
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._hint_fd is not None:
            os.close(self._hint_fd)
            self._hint_fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
