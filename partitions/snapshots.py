"""Snapshots of partition state: a RocksDB checkpoint at a processed position, with a manifest
of checksums, so recovery is "newest valid snapshot + replay of the log after it".

Layout: <root>/<position:020d>/ holding `state/` (the checkpoint) and `manifest.json`
({"position", "taken_at_ms", "files": {relative path: {"bytes", "crc32c"}}, and for a
replicated partition "raft": {"index", "term", "conf", "log_position"}: the Raft entry the
snapshot stands for and the last record position of the log up to it}). A snapshot is built in
a `.partial` directory and renamed into place, so a crash leaves either all of it or none.

Between replicas a snapshot travels as its files, never as one blob: the sender reads chunks
at offsets of the *transfer stream* (the files in manifest order, then the manifest itself) and
the receiver writes them into `<root>/incoming/` as they arrive. A chunk is a run of frames,
each (file name, offset in the file, bytes, CRC32C of the bytes); the receiver checks every
frame before writing it, verifies the whole snapshot against the manifest after the last one,
and only then renames it into place (`SnapshotStore.receive`).
"""

import json
import os
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import crc32c

from raybee.partitions.files import fsync_dir, fsync_file, write_atomically

MANIFEST_NAME = "manifest.json"
STATE_DIR_NAME = "state"
SNAPSHOTS_KEPT = 2
SNAPSHOT_INTERVAL_MS = 5 * 60 * 1000
SNAPSHOT_INTERVAL_RECORDS = 1_000_000
_CHECKSUM_CHUNK_BYTES = 1 << 20
INCOMING_DIR_NAME = "incoming"
# A frame of a transfer chunk: name length, offset in the file, payload length, CRC32C; then the
# name (UTF-8) and the payload. The CRC32C covers the fields before it, the name and the
# payload: a damaged offset or name must be caught before it is used (a flipped bit in the
# offset once made the receiver write far past the end of a file: seed 2594).
_FRAME_FIELDS = struct.Struct(">HQI")
_FRAME_HEADER = struct.Struct(">HQII")


def _frame_checksum(name_length: int, file_offset: int, length: int, raw_name, payload) -> int:
    fields = _FRAME_FIELDS.pack(name_length, file_offset, length)
    return crc32c.crc32c(payload, crc32c.crc32c(raw_name, crc32c.crc32c(fields)))


class CorruptedSnapshotError(Exception):
    """A snapshot whose files do not match its manifest; names the file and the reason."""


@dataclass(frozen=True)
class Snapshot:
    position: int
    path: Path

    @property
    def state_path(self) -> Path:
        return self.path / STATE_DIR_NAME


def _file_crc32c(path: Path) -> int:
    checksum = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHECKSUM_CHUNK_BYTES):
            checksum = crc32c.crc32c(chunk, checksum)
    return checksum


class SnapshotStore:
    def __init__(self, root: str | os.PathLike, kept: int = SNAPSHOTS_KEPT):
        assert kept >= 1
        self.root = Path(root)
        self.kept = kept
        self.root.mkdir(parents=True, exist_ok=True)
        for leftover in self.root.glob("*.partial"):
            shutil.rmtree(leftover)  # a crash while taking a snapshot
        shutil.rmtree(self.root / INCOMING_DIR_NAME, ignore_errors=True)  # or receiving one
        self._incoming: tuple[object, int] | None = None  # (what is received, next offset)
        # The snapshot its owner (Raft's storage) holds: never pruned, whatever is newer.
        self.pinned: Snapshot | None = None

    def take(self, store, position: int, taken_at_ms: int, raft: dict | None = None) -> Snapshot:
        """Checkpoint `store` (between transactions) as the snapshot at `position`; `raft`
        (index, term, conf, log_position) says which Raft entry it stands for."""
        final = self.root / f"{position:020d}"
        if final.exists():
            # Never replaced: Raft may hold it (a snapshot of a position is only ever taken of
            # the same state; the host does not take one where one exists).
            return Snapshot(position, final)
        partial = self.root / f"{position:020d}.partial"
        partial.mkdir()
        store.checkpoint(partial / STATE_DIR_NAME)
        files = {}
        for file in sorted((partial / STATE_DIR_NAME).rglob("*")):
            if file.is_file():
                fsync_file(file)
                files[str(file.relative_to(partial))] = {
                    "bytes": file.stat().st_size,
                    "crc32c": _file_crc32c(file),
                }
        manifest = {"position": position, "taken_at_ms": taken_at_ms, "files": files}
        if raft is not None:
            manifest["raft"] = raft
        write_atomically(partial / MANIFEST_NAME, json.dumps(manifest, sort_keys=True).encode())
        fsync_dir(partial / STATE_DIR_NAME)
        fsync_dir(partial)
        partial.rename(final)
        fsync_dir(self.root)
        taken = Snapshot(position, final)
        self._prune(taken)
        return taken

    def snapshots(self) -> list[Snapshot]:
        """Every complete snapshot, newest first (not verified)."""
        found = [
            Snapshot(int(path.name), path)
            for path in self.root.iterdir()
            if path.is_dir() and path.name.isdigit()
        ]
        return sorted(found, key=lambda s: s.position, reverse=True)

    def verify(self, snapshot: Snapshot) -> None:
        manifest_path = snapshot.path / MANIFEST_NAME
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as error:
            raise CorruptedSnapshotError(
                f"{manifest_path}: unreadable manifest ({error})"
            ) from None
        if manifest.get("position") != snapshot.position:
            raise CorruptedSnapshotError(
                f"{manifest_path}: position {manifest.get('position')} does not match the "
                f"directory name {snapshot.path.name}"
            )
        on_disk = {
            str(f.relative_to(snapshot.path))
            for f in (snapshot.path / STATE_DIR_NAME).rglob("*")
            if f.is_file()
        }
        listed = set(manifest["files"])
        if on_disk != listed:
            raise CorruptedSnapshotError(
                f"{snapshot.path}: files missing {sorted(listed - on_disk)}, "
                f"unexpected {sorted(on_disk - listed)}"
            )
        for name, expected in sorted(manifest["files"].items()):
            file = snapshot.path / name
            size = file.stat().st_size
            if size != expected["bytes"]:
                raise CorruptedSnapshotError(
                    f"{file}: {size} bytes, manifest says {expected['bytes']}"
                )
            actual = _file_crc32c(file)
            if actual != expected["crc32c"]:
                raise CorruptedSnapshotError(
                    f"{file}: crc32c {actual:#010x}, manifest says {expected['crc32c']:#010x}"
                )

    def latest_valid(
        self, on_corrupt: Callable[[Snapshot, Exception], None] | None = None
    ) -> Snapshot | None:
        """The newest snapshot whose files match its manifest; corrupt ones are reported and
        skipped (an older snapshot plus a longer replay gives the same state)."""
        for snapshot in self.snapshots():
            try:
                self.verify(snapshot)
                return snapshot
            except CorruptedSnapshotError as error:
                if on_corrupt is not None:
                    on_corrupt(snapshot, error)
        return None

    def _prune(self, taken: Snapshot) -> None:
        keep = {taken.path} | ({self.pinned.path} if self.pinned is not None else set())
        for old in self.snapshots()[self.kept :]:
            if old.path not in keep:
                shutil.rmtree(old.path)

    def remove_newer_than(self, keep: Snapshot | None) -> list[Snapshot]:
        """Delete the snapshots newer than `keep` (all, when None): taken, but never handed
        to their owner before a crash. Returns them."""
        newer = [s for s in self.snapshots() if keep is None or s.position > keep.position]
        for snapshot in newer:
            shutil.rmtree(snapshot.path)
        return newer

    def manifest(self, snapshot: Snapshot) -> dict:
        return json.loads((snapshot.path / MANIFEST_NAME).read_text())

    def has(self, position: int) -> bool:
        return (self.root / f"{position:020d}").is_dir()

    def remove(self, snapshot: Snapshot) -> None:
        shutil.rmtree(snapshot.path, ignore_errors=True)

    def remove_all_but(self, keep: Snapshot) -> None:
        """Delete every other snapshot (an installed snapshot makes older ones useless: the log
        after them is gone)."""
        for other in self.snapshots():
            if other.path != keep.path:
                shutil.rmtree(other.path)

    # ------------------------------------------------------------------ transfer: sender
    def _transfer_files(self, snapshot: Snapshot) -> list[tuple[str, int]]:
        """(relative name, bytes) of the transfer stream: the files, then the manifest."""
        manifest = self.manifest(snapshot)
        files = [(name, entry["bytes"]) for name, entry in sorted(manifest["files"].items())]
        files.append((MANIFEST_NAME, (snapshot.path / MANIFEST_NAME).stat().st_size))
        return files

    def read_chunk(self, snapshot: Snapshot, offset: int, max_bytes: int) -> tuple[bytes, bool]:
        """The chunk of the transfer stream at `offset` (about `max_bytes` of file bytes) and
        whether it is the last. Empty files get a frame of their own."""
        assert max_bytes >= 1 and offset >= 0
        frames = []
        start = 0
        budget = max_bytes
        end = offset
        for name, size in self._transfer_files(snapshot):
            stop = start + size
            if stop < offset or (stop == offset and size) or budget <= 0:
                start = stop
                continue
            file_offset = max(offset, start) - start
            length = min(size - file_offset, budget)
            with (snapshot.path / name).open("rb") as handle:
                handle.seek(file_offset)
                payload = handle.read(length)
            assert len(payload) == length, (name, file_offset, length, len(payload))
            raw_name = name.encode()
            checksum = _frame_checksum(len(raw_name), file_offset, length, raw_name, payload)
            frames.append(
                _FRAME_HEADER.pack(len(raw_name), file_offset, length, checksum)
                + raw_name
                + payload
            )
            budget -= length
            end = start + file_offset + length
            start = stop
        total = start
        return b"".join(frames), end >= total

    # ------------------------------------------------------------------ transfer: receiver
    def receive(
        self, key: object, offset: int, data: bytes, done: bool
    ) -> tuple[int, Snapshot | None]:
        """Keep a chunk of the snapshot `key` (offset 0 starts over): each frame is checked
        and written into `incoming/`. Returns the next offset and, after the last chunk, the
        snapshot verified and renamed into place. CorruptedSnapshotError if a frame or the
        assembled snapshot fails its check (what was received is dropped)."""
        incoming = self.root / INCOMING_DIR_NAME
        if offset == 0:
            shutil.rmtree(incoming, ignore_errors=True)
            incoming.mkdir()
            self._incoming = (key, 0)
        if self._incoming is None or self._incoming != (key, offset):
            self._incoming = None
            raise CorruptedSnapshotError(
                f"{incoming}: a chunk at offset {offset} of {key} does not continue what was "
                f"received ({self._incoming})"
            )
        try:
            received = self._write_frames(incoming, data)
        except CorruptedSnapshotError:
            self._incoming = None
            raise
        next_offset = offset + received
        self._incoming = (key, next_offset)
        if not done:
            return next_offset, None
        self._incoming = None
        try:
            manifest = json.loads((incoming / MANIFEST_NAME).read_text())
            position = int(manifest["position"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CorruptedSnapshotError(f"{incoming}: no readable manifest ({error})") from None
        final = self.root / f"{position:020d}"
        for file in sorted(incoming.rglob("*")):
            if file.is_file():
                fsync_file(file)
        for directory in sorted({f.parent for f in incoming.rglob("*")} | {incoming}):
            fsync_dir(directory)
        self.verify(Snapshot(position, incoming))
        if final.exists():
            shutil.rmtree(final)
        incoming.rename(final)
        fsync_dir(self.root)
        return next_offset, Snapshot(position, final)

    def _write_frames(self, incoming: Path, data: bytes) -> int:
        view = memoryview(data)
        at = received = 0
        while at < len(view):
            if len(view) - at < _FRAME_HEADER.size:
                raise CorruptedSnapshotError(f"{incoming}: a chunk ends inside a frame header")
            name_length, file_offset, length, checksum = _FRAME_HEADER.unpack_from(view, at)
            at += _FRAME_HEADER.size
            raw_name = view[at : at + name_length]
            at += name_length
            payload = view[at : at + length]
            at += length
            if (
                len(raw_name) != name_length
                or len(payload) != length
                or _frame_checksum(name_length, file_offset, length, raw_name, payload) != checksum
            ):
                raise CorruptedSnapshotError(
                    f"{incoming}: a frame ({bytes(raw_name)!r} at offset {file_offset}) fails "
                    f"its checksum or is cut short"
                )
            name = bytes(raw_name).decode()
            target = incoming / name
            if not target.resolve().is_relative_to(incoming.resolve()) or ".." in Path(name).parts:
                raise CorruptedSnapshotError(f"{incoming}: frame names a file outside: {name!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.pwrite(fd, payload, file_offset)
            finally:
                os.close(fd)
            received += length
        return received


class SnapshotDirector:
    """Decides when to snapshot (by time and by processed records), takes the snapshot, and
    says how far the log may be compacted: to the lower of the oldest kept snapshot's position
    and the slowest exporter's acknowledged position."""

    def __init__(
        self,
        snapshots: SnapshotStore,
        clock: Callable[[], int],
        interval_ms: int = SNAPSHOT_INTERVAL_MS,
        interval_records: int = SNAPSHOT_INTERVAL_RECORDS,
    ):
        assert interval_ms > 0 and interval_records > 0
        self.snapshots = snapshots
        self.clock = clock
        self.interval_ms = interval_ms
        self.interval_records = interval_records
        latest = snapshots.snapshots()
        self.last_position = latest[0].position if latest else 0
        self.last_taken_ms = clock()

    def due(self, processed_position: int) -> bool:
        if processed_position <= self.last_position:
            return False
        return (
            processed_position - self.last_position >= self.interval_records
            or self.clock() - self.last_taken_ms >= self.interval_ms
        )

    def maybe_snapshot(self, store, processed_position: int) -> Snapshot | None:
        if not self.due(processed_position):
            return None
        return self.snapshot_now(store, processed_position)

    def snapshot_now(self, store, processed_position: int) -> Snapshot:
        snapshot = self.snapshots.take(store, processed_position, self.clock())
        self.last_position = processed_position
        self.last_taken_ms = self.clock()
        return snapshot

    def compaction_position(self, exporter_positions: list[int]) -> int:
        """Records below this position are no longer needed by anyone: not by the OLDEST
        snapshot kept (recovery falls back to it when a newer one is damaged, and replays the
        log after it), nor by any exporter. 0 while there is no snapshot: keep everything."""
        kept = self.snapshots.snapshots()
        if not kept:
            return 0
        return min([kept[-1].position, *exporter_positions])
