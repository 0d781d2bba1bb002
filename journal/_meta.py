"""The journal's metadata file: schema, first index, last flushed index, last segment.

It is replaced atomically (write a temporary file, fsync it, rename it over the old one, fsync
the directory) and carries a CRC32C of its own content, so it is either the old or the new
version, never a mix, and damage is detected. It is rewritten when the set of segments
changes (creation, roll, the first flush of a new segment, truncation, compaction, reset) and
on close - not on every flush: one extra fsync per flush would halve append throughput.
Between rewrites, the last flushed index is carried by the flush markers inside the segments
and by the flush hint file (see journal.py and _hint.py).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass

import crc32c

from raybee.journal import constants as c
from raybee.journal.errors import CorruptedJournalError


@dataclass(frozen=True, slots=True)
class Meta:
    schema_message: bytes  # the exact segment header bytes (Arrow IPC schema message)
    first_index: int
    last_flushed_index: int
    last_segment: int | None  # first index of the newest segment known durable, if any
    reset_pending: bool = False


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode(meta: Meta) -> bytes:
    body = asdict(meta)
    body["schema_message"] = base64.b64encode(meta.schema_message).decode("ascii")
    body["format"] = c.metadata_format_version
    text = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    crc = crc32c.crc32c(text)
    return json.dumps({"body": body, "crc32c": crc}, sort_keys=True).encode() + b"\n"


def read_meta(directory: str) -> Meta | None:
    path = os.path.join(directory, c.metadata_file_name)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None
    try:
        outer = json.loads(raw)
        body = outer["body"]
        text = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        if crc32c.crc32c(text) != outer["crc32c"]:
            raise CorruptedJournalError(path, 0, "metadata file checksum mismatch")
        if body.pop("format") != c.metadata_format_version:
            raise CorruptedJournalError(path, 0, "unknown metadata format version")
        body["schema_message"] = base64.b64decode(body["schema_message"])
        meta = Meta(**body)
    except CorruptedJournalError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise CorruptedJournalError(path, 0, f"metadata file unreadable: {e}") from None
    return meta


def write_meta(directory: str, meta: Meta, fault: Callable[[str], None]) -> None:
    assert meta.last_flushed_index >= meta.first_index - 1
    path = os.path.join(directory, c.metadata_file_name)
    tmp = path + c.metadata_tmp_suffix
    data = _encode(meta)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    fault("meta.tmp_written")
    os.replace(tmp, path)
    fault("meta.renamed")
    fsync_dir(directory)
