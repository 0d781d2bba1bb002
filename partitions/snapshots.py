"""Snapshots of partition state: a RocksDB checkpoint at a processed position, with a manifest
of checksums, so recovery is "newest valid snapshot + replay of the log after it".

Layout: <root>/<position:020d>/ holding `state/` (the checkpoint) and `manifest.json`
({"position", "taken_at_ms", "files": {relative path: {"bytes", "crc32c"}}}). A snapshot is built
in a `.partial` directory and renamed into place, so a crash leaves either all of it or none.
"""

import json
import os
import shutil
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

    def take(self, store, position: int, taken_at_ms: int) -> Snapshot:
        """Checkpoint `store` (between transactions) as the snapshot at `position`."""
        final = self.root / f"{position:020d}"
        if final.exists():
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
        write_atomically(partial / MANIFEST_NAME, json.dumps(manifest, sort_keys=True).encode())
        fsync_dir(partial / STATE_DIR_NAME)
        fsync_dir(partial)
        partial.rename(final)
        fsync_dir(self.root)
        self._prune()
        return Snapshot(position, final)

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

    def _prune(self) -> None:
        for old in self.snapshots()[self.kept :]:
            shutil.rmtree(old.path)


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
