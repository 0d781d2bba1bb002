"""The byte-level IPC layer: messages pyarrow reads, and damage that never crashes the parser."""

from __future__ import annotations

import os
import random

import pyarrow as pa

from raybee.journal import _ipc
from raybee.journal.testing import SCHEMA, make_batch


def _message(pairs):
    head, body = _ipc.build_message(make_batch(7, 5).serialize(), pairs)
    return bytes(head) + bytes(body)


def test_built_messages_are_read_by_pyarrow_with_their_metadata():
    pairs = [(b"raybee:index", b"12"), (b"raybee:term", b"3"), (b"kind", b"\x00\xff")]
    data = SCHEMA.serialize().to_pybytes() + _message(pairs) + _message(pairs[:2])
    reader = pa.ipc.open_stream(data)
    batch, md = reader.read_next_batch_with_custom_metadata()
    assert batch.equals(make_batch(7, 5))
    assert [(k, md[k]) for k in (b"raybee:index", b"raybee:term", b"kind")] == pairs
    msg = _ipc.parse_message(data, len(SCHEMA.serialize()), len(data))
    assert msg.custom_metadata[:3] == pairs and msg.custom_metadata[3][0] == b"raybee:crc32c"
    assert b"%08x" % _ipc.message_crc32c(data, msg) == msg.custom_metadata[3][1]
    assert msg.offset % 8 == 0 and msg.end % 8 == 0


def test_damaged_bytes_only_ever_raise_message_damaged():
    seed = int(os.environ.get("JOURNAL_IPC_SEED", random.randrange(2**32)))
    print(f"seed {seed} (replay with JOURNAL_IPC_SEED={seed})")
    rng = random.Random(seed)
    good = _message([(b"raybee:index", b"1"), (b"raybee:term", b"1"), (b"k", b"v")])
    outcomes = {"parsed": 0, "damaged": 0, "crc_caught": 0}
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.choice([1, 1, 2, 8])):
            pos = rng.randrange(len(data))
            data[pos] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            msg = _ipc.parse_message(bytes(data), 0, len(data))
        except _ipc.MessageDamaged:
            outcomes["damaged"] += 1
            continue
        outcomes["parsed"] += 1
        if msg is None or data == good:
            continue
        pairs = msg.custom_metadata
        if not pairs or pairs[-1][0] != b"raybee:crc32c" or len(pairs[-1][1]) != 8:
            outcomes["crc_caught"] += 1
            continue
        computed = b"%08x" % _ipc.message_crc32c(bytes(data), msg)
        assert computed != pairs[-1][1], f"damage went unnoticed (seed {seed})"
        outcomes["crc_caught"] += 1
    assert outcomes["damaged"] > 0 and outcomes["parsed"] > 0, outcomes
