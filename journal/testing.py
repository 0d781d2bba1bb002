"""Helpers for tests of the journal and of the layers above it (a public testing module)."""

from __future__ import annotations

import os
import random
import stat
from dataclasses import dataclass

import pyarrow as pa

SCHEMA = pa.schema([("key", pa.int64()), ("value", pa.binary())])


def make_batch(start: int, rows: int, value_bytes: int = 16) -> pa.RecordBatch:
    """A batch of `rows` records keyed start.. with values derived from the key."""
    return pa.record_batch(
        [
            pa.array(range(start, start + rows), pa.int64()),
            pa.array(
                [b"%08d" % (start + r) * max(1, value_bytes // 8) for r in range(rows)],
                pa.binary(),
            ),
        ],
        schema=SCHEMA,
    )


def snapshot_files(directory: str) -> dict[str, bytes]:
    """Every file of a directory and its bytes, to show that a refused call wrote nothing."""
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            out[name] = f.read()
    return out


def segment_files(directory: str) -> list[str]:
    return sorted(n for n in os.listdir(directory) if n.endswith(".arrow"))


def segment_messages(path: str) -> list[tuple[int, int, str, int]]:
    """(offset, end, kind, number) of every message after the header of a segment file:
    kind "entry" (number = index) or "marker" (number = flushed index)."""
    from raybee.journal import _ipc
    from raybee.journal._segment import decode_message

    with open(path, "rb") as f:
        data = f.read()
    header_bytes = len(pa.ipc.read_schema(pa.py_buffer(data)).serialize())
    out = []
    offset = header_bytes
    while (msg := _ipc.parse_message(data, offset, len(data))) is not None:
        kind, number, _, _ = decode_message(msg, data)
        out.append((offset, msg.end, kind, number))
        offset = msg.end
    return out


# ---------------------------------------------------------------------- power-loss model

PAGE_BYTES = 4096  # the unit in which the page cache writes a file back


@dataclass(eq=False)
class _File:
    """One inode of the watched directory: its bytes at its last fsync, and (once it is no
    longer linked in the directory) its bytes when it was unlinked or replaced."""

    durable: bytes = b""
    last: bytes | None = None


@dataclass
class PowerLossCounts:
    """What the power losses built so far took away (a fault test shows its faults happened)."""

    images: int = 0
    pages_lost: int = 0  # written since the file's last fsync, back to the old bytes or zeros
    reordered: int = 0  # a page lost while a later page of the same file survived
    sizes_changed: int = 0  # the file's size is not the one last written
    entries_lost: int = 0  # a directory entry created since the last directory fsync vanished
    entries_revived: int = 0  # a name removed or replaced since then came back


class PowerLossDisk:
    """A model of what a power loss leaves of one directory (its files, not its subfolders).

    While active (`with PowerLossDisk(path) as disk:`) it wraps `os.fsync`, `os.fdatasync`,
    `os.unlink` and `os.replace` to learn what reached the disk: a file's bytes at its last
    fsync, and the directory's entries at its last fsync. `image(rng)` then builds one state a
    power loss may leave, page cache semantics:
    - of the pages of a file written since its last fsync, any subset is lost, in any order
      (a lost page reads as its bytes at the last fsync, zeros past that file's old end), and
      the file's size is anywhere between its synced size and its current size;
    - of the directory changes since the directory's last fsync, each may be lost: a new
      entry vanishes, a removed one comes back (with its synced bytes), a replaced one is
      the old file again.
    `freeze()` keeps one moment, to build many images of it while the directory changes.
    `apply(image)` writes such a state into the directory (the journal must be released
    first, e.g. with `Journal.crash()`), and what it wrote counts as durable.
    With `really_sync=False` the wrapped fsyncs only record (the model, not the disk,
    decides what a power loss keeps): tests that sync thousands of times run faster.
    Not thread-safe; one at a time per process (it patches the `os` module).
    """

    def __init__(self, directory: str, really_sync: bool = True) -> None:
        self.dir = os.path.realpath(directory)
        self.really_sync = really_sync
        self.counts = PowerLossCounts()
        self._live: dict[int, _File] = {}  # inode -> file, for files linked in the directory
        self._durable_names: dict[str, _File] = {}
        self._saved: dict[str, object] = {}

    # --------------------------------------------------------------- patching os

    def __enter__(self) -> PowerLossDisk:
        os.makedirs(self.dir, exist_ok=True)
        self.baseline()
        real = {name: getattr(os, name) for name in ("fsync", "fdatasync", "unlink", "replace")}
        self._saved = real

        def fsync(fd: int) -> None:
            if self.really_sync:
                real["fsync"](fd)
            self._synced(fd)

        def fdatasync(fd: int) -> None:
            if self.really_sync:
                real["fdatasync"](fd)
            self._synced(fd)

        def unlink(path, *args, **kwargs) -> None:
            self._forget(path)
            real["unlink"](path, *args, **kwargs)

        def replace(src, dst, *args, **kwargs) -> None:
            self._forget(dst)
            real["replace"](src, dst, *args, **kwargs)

        os.fsync, os.fdatasync, os.unlink, os.replace = fsync, fdatasync, unlink, replace
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self._saved.items():
            setattr(os, name, fn)
        self._saved = {}

    def _file(self, inode: int) -> _File:
        f = self._live.get(inode)
        if f is None:
            f = self._live[inode] = _File()
        return f

    def _listing(self) -> dict[str, os.stat_result]:
        out = {}
        for name in os.listdir(self.dir):
            st = os.lstat(os.path.join(self.dir, name))
            if stat.S_ISREG(st.st_mode):
                out[name] = st
        return out

    def _synced(self, fd: int) -> None:
        st = os.fstat(fd)
        where = os.readlink(f"/proc/self/fd/{fd}")
        if stat.S_ISDIR(st.st_mode):
            if where == self.dir:
                self._durable_names = {
                    name: self._file(s.st_ino) for name, s in self._listing().items()
                }
        elif os.path.dirname(where) == self.dir and st.st_nlink > 0:
            with open(f"/proc/self/fd/{fd}", "rb") as f:
                self._file(st.st_ino).durable = f.read()

    def _forget(self, path) -> None:
        """`path` is about to be unlinked or replaced: keep its bytes for a revival."""
        path = os.path.realpath(os.fspath(path))
        if os.path.dirname(path) != self.dir:
            return
        try:
            st = os.lstat(path)
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        f = self._live.pop(st.st_ino, None) or _File()
        f.last = data

    # --------------------------------------------------------------- power loss

    def baseline(self) -> None:
        """Take the directory as it is now as durable (e.g. after `apply`)."""
        self._live = {}
        names = {}
        for name, st in self._listing().items():
            f = self._file(st.st_ino)
            with open(os.path.join(self.dir, name), "rb") as fh:
                f.durable = fh.read()
            names[name] = f
        self._durable_names = names

    def freeze(self) -> PowerLossState:
        """What a power loss now would choose from; `PowerLossState.image` builds the states
        (many images of one moment, while the directory may change in between)."""
        current = {name: self._file(st.st_ino) for name, st in self._listing().items()}
        names = []
        for name in sorted(set(current) | set(self._durable_names)):
            now, durable = current.get(name), self._durable_names.get(name)
            now_bytes = None
            if now is not None:
                with open(os.path.join(self.dir, name), "rb") as fh:
                    now_bytes = (now.durable, fh.read())
            durable_bytes = None
            if durable is not None and durable is not now:
                latest = durable.last if durable.last is not None else durable.durable
                durable_bytes = (durable.durable, latest)
            names.append((name, now_bytes, durable_bytes, durable is now))
        return PowerLossState(tuple(names), self.counts)

    def image(self, rng: random.Random) -> dict[str, bytes]:
        """One state a power loss may leave now: file name -> bytes."""
        return self.freeze().image(rng)

    def apply(self, image: dict[str, bytes]) -> None:
        """Make the directory hold exactly `image`, and take it as durable."""
        real_unlink = self._saved.get("unlink", os.unlink)
        for name in os.listdir(self.dir):
            if name not in image:
                real_unlink(os.path.join(self.dir, name))
        for name, data in image.items():
            write_in_place(os.path.join(self.dir, name), data)
        self.baseline()


def write_in_place(path: str, data: bytes) -> None:
    """Make the file at `path` hold `data`. In place, never truncating to zero first: ext4
    flushes a file that was truncated to zero and rewritten when it is closed, which makes
    loops over many damaged copies slow."""
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    with open(path, "r+b") as f:
        if f.read() != data:
            f.seek(0)
            f.write(data)
            f.truncate(len(data))


@dataclass(frozen=True)
class PowerLossState:
    """The directory at one moment, as a power loss sees it: per name, the file linked now
    (its synced bytes, its current bytes) and the file the last directory fsync saw there."""

    names: tuple[tuple[str, tuple | None, tuple | None, bool], ...]
    counts: PowerLossCounts

    def image(self, rng: random.Random) -> dict[str, bytes]:
        """One state a power loss may leave: file name -> bytes."""
        self.counts.images += 1
        out = {}
        for name, now, durable, same in self.names:
            chosen = now
            if not same and rng.random() < 0.5:
                chosen = durable
                if now is not None:
                    self.counts.entries_lost += 1
                if durable is not None:
                    self.counts.entries_revived += 1
            if chosen is not None:
                out[name] = self._mix(*chosen, rng)
        return out

    def _mix(self, durable: bytes, latest: bytes, rng: random.Random) -> bytes:
        if durable == latest:
            return latest
        low, high = sorted((len(durable), len(latest)))
        size = rng.choice([len(latest), len(latest), low, rng.randint(low, high)])
        if size != len(latest):
            self.counts.sizes_changed += 1
        out = bytearray(size)
        lost_before = False
        for start in range(0, size, PAGE_BYTES):
            old = durable[start : start + PAGE_BYTES].ljust(PAGE_BYTES, b"\0")
            new = latest[start : start + PAGE_BYTES].ljust(PAGE_BYTES, b"\0")
            page = new
            if old != new:
                if rng.random() < 0.5:
                    page = old
                    self.counts.pages_lost += 1
                    lost_before = True
                elif lost_before:
                    self.counts.reordered += 1
                    lost_before = False  # count each out-of-order survival once
            out[start : start + PAGE_BYTES] = page[: size - start]
        return bytes(out)
