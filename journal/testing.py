"""Helpers for tests of the journal and of the layers above it (a public testing module)."""

from __future__ import annotations

import os

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
