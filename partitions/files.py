"""Durable small-file writes shared by the partition's side files (Raft hard state, exporter
positions, snapshot manifests). The journal keeps its own copy with crash-injection points,
since it may not import from partitions."""

import os


def fsync_path(path: str | os.PathLike) -> None:
    """fsync a file (its data) or a directory (its entries: files created, renamed, removed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


fsync_dir = fsync_file = fsync_path


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write temp, fsync, rename over `path`, fsync the directory: old or new, never half."""
    path = os.fspath(path)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(os.path.dirname(os.path.abspath(path)))
