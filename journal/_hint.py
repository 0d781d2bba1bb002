"""The flush hint: a tiny side file saying "every entry up to N was flushed".

Written in place (one pwrite) after each flush's fdatasync and never fsynced on that path, so
it costs no second fsync: it may reach the disk late or not at all, but it never claims more
than was durable when it was written. It is fsynced only when the flushed index goes *down*
(`truncate_after` below it, `reset`), before anything is removed, so a stale higher value
cannot come back after a power loss. Recovery takes it as one more proof of the last flushed
index, beside the metadata file and the flush markers; a torn or damaged hint proves nothing
and is ignored. Why it exists: a clean cut of the last segment at a message boundary removes
the entries and every marker after them, so only a file other than the segment can tell.
"""

from __future__ import annotations

import os

import crc32c

from raybee.journal import constants as c


def encode_hint(flushed: int) -> bytes:
    digits = b"%020d" % flushed
    record = b"%s %08x\n" % (digits, crc32c.crc32c(digits))
    assert len(record) == c.flush_hint_bytes
    return record


def read_hint(directory: str) -> int | None:
    """The flushed index the hint file proves, or None (absent, torn or damaged)."""
    try:
        with open(os.path.join(directory, c.flush_hint_file_name), "rb") as f:
            raw = f.read(c.flush_hint_bytes + 1)
    except FileNotFoundError:
        return None
    if len(raw) != c.flush_hint_bytes or not raw[:20].isdigit():
        return None
    flushed = int(raw[:20])
    return flushed if encode_hint(flushed) == raw else None
