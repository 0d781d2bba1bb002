"""Arrow IPC messages at the byte level: framing, and the few flatbuffer fields we need.

pyarrow serializes a record batch without per-batch custom metadata (`RecordBatch.serialize`),
and its stream writer cannot append to an existing file without writing a second schema. So the
journal writes the messages itself: it serializes the batch once, then wraps the untouched
RecordBatch table of that message in a new Message table that adds `custom_metadata`. The body
is written as is (zero-copy), so the CRC32C is computed over exactly the bytes on disk, and
every segment stays a plain Arrow IPC stream that `pyarrow.ipc.open_stream` reads.

Reading parses the Message table by hand (pyarrow does not expose a message's custom metadata)
with bounds checks everywhere: damaged bytes must raise `MessageDamaged`, never crash or loop.

Flatbuffer layout reminder (Arrow format/Message.fbs): Message { version: short (slot 0);
header_type: ubyte (slot 1); header: offset (slot 2); bodyLength: long (slot 3);
custom_metadata: [KeyValue] (slot 4) }, KeyValue { key: string (0); value: string (1) }.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import crc32c

from raybee.journal import constants as c

HEADER_TYPE_SCHEMA = 1
HEADER_TYPE_RECORD_BATCH = 3

_u16 = struct.Struct("<H").unpack_from
_u16x4 = struct.Struct("<4H").unpack_from
_i16 = struct.Struct("<h").unpack_from
_u32 = struct.Struct("<I").unpack_from
_i32 = struct.Struct("<i").unpack_from
_i64 = struct.Struct("<q").unpack_from
_prefix = struct.Struct("<4si")
_pair_header = struct.Struct("<II")

# The new Message table: a fixed 48-byte head (root offset, vtable, table), then the
# custom_metadata vector at offset 48. See `build_metadata`.
_MESSAGE_VTABLE = struct.pack("<7H", 14, 24, 20, 22, 4, 8, 16)
_HEAD = struct.Struct(
    "<I14s6xiIqIhBx"
)  # root, vtable, pad, soffset, header, bodyLen, cm, ver, type
_KV_VTABLE = struct.pack("<4H", 8, 12, 4, 8)
_HEAD_BYTES = 48
CRC_PLACEHOLDER = b"00000000"  # hex digits of the CRC32C, patched in after it is computed
assert _HEAD.size == _HEAD_BYTES


class MessageDamaged(Exception):
    """The bytes at an offset are not a well-formed message (internal; mapped to recovery)."""


class Message(NamedTuple):
    """One parsed IPC message: where it is and what its metadata says."""

    offset: int
    metadata_bytes: int  # flatbuffer length (the prefix is 8 bytes before it)
    header_type: int
    body_bytes: int
    custom_metadata: list[tuple[bytes, bytes]]
    last_value_offset: int  # absolute offset of the last pair's value bytes (-1: no pairs)

    @property
    def body_offset(self) -> int:
        return self.offset + c.ipc_prefix_bytes + self.metadata_bytes

    @property
    def end(self) -> int:
        return self.body_offset + self.body_bytes


def _pad(n: int, alignment: int) -> int:
    return (-n) % alignment


def _field(buf, table: int, vtable: int, vtable_bytes: int, slot: int) -> int:
    """Absolute position of a table field, or 0 when the field is absent."""
    o = 4 + 2 * slot
    if o + 2 > vtable_bytes:
        return 0
    fo = _u16(buf, vtable + o)[0]
    return table + fo if fo else 0


def _within(pos: int, size: int, lo: int, hi: int) -> int:
    if not (lo <= pos and pos + size <= hi):
        raise MessageDamaged(f"field at {pos} out of bounds")
    return pos


def _table(buf, pos: int, lo: int, hi: int) -> tuple[int, int, int]:
    if not (lo <= pos and pos + 4 <= hi):
        raise MessageDamaged(f"table offset {pos} out of bounds")
    vtable = pos - _i32(buf, pos)[0]
    if not (lo <= vtable and vtable + 4 <= hi):
        raise MessageDamaged(f"vtable offset {vtable} out of bounds")
    vtable_bytes = _u16(buf, vtable)[0]
    if vtable_bytes < 4 or vtable_bytes % 2 or vtable + vtable_bytes > hi:
        raise MessageDamaged("malformed vtable")
    return pos, vtable, vtable_bytes


def _deref(buf, pos: int, lo: int, hi: int) -> int:
    if not (lo <= pos and pos + 4 <= hi):
        raise MessageDamaged(f"offset field {pos} out of bounds")
    target = pos + _u32(buf, pos)[0]
    if target + 4 > hi:
        raise MessageDamaged(f"offset target {target} out of bounds")
    return target


def parse_message(buf, offset: int, limit: int) -> Message | None:
    """Parse the message at `offset` of `buf` (bytes-like), not reading at or past `limit`.

    Returns None at a clean end: exactly `limit`. Raises
    `MessageDamaged` when the bytes are not a complete, well-formed message (a torn tail
    included); the caller decides whether that is a torn tail or corruption.
    """
    if offset == limit:
        return None
    if offset + c.ipc_prefix_bytes > limit:
        raise MessageDamaged("incomplete message prefix")
    marker, meta_len = _prefix.unpack_from(buf, offset)
    if marker != c.ipc_continuation:
        raise MessageDamaged("no continuation marker")
    if meta_len == 0:
        # The journal never writes an end-of-stream marker; seeing one means a torn tail
        # (a continuation marker followed by zeros), so it is not a clean end.
        raise MessageDamaged("end-of-stream marker inside a segment")
    if meta_len < 0 or meta_len > c.ipc_metadata_bytes_max or meta_len % c.ipc_alignment_bytes:
        raise MessageDamaged(f"implausible metadata length {meta_len}")
    lo = offset + c.ipc_prefix_bytes
    hi = lo + meta_len
    if hi > limit:
        raise MessageDamaged("incomplete message metadata")
    try:
        root, vt, vt_bytes = _table(buf, _deref(buf, lo, lo, hi), lo, hi)
        pos = _field(buf, root, vt, vt_bytes, 1)
        header_type = buf[_within(pos, 1, lo, hi)] if pos else 0
        pos = _field(buf, root, vt, vt_bytes, 3)
        body_bytes = _i64(buf, _within(pos, 8, lo, hi))[0] if pos else 0
        if body_bytes < 0 or body_bytes % c.ipc_alignment_bytes:
            raise MessageDamaged(f"implausible body length {body_bytes}")
        pairs: list[tuple[bytes, bytes]] = []
        value_offset = -1
        pos = _field(buf, root, vt, vt_bytes, 4)
        if pos:
            vec = _deref(buf, pos, lo, hi)
            count = _u32(buf, vec)[0]
            if vec + 4 + 4 * count > hi:
                raise MessageDamaged("custom metadata vector out of bounds")
            # Inlined (this loop is most of the cost of a scan): KeyValue tables, each with a
            # vtable holding both fields, each field an offset to a length-prefixed string.
            for p in range(vec + 4, vec + 4 + 4 * count, 4):
                kv = p + _u32(buf, p)[0]
                if kv + 12 > hi:
                    raise MessageDamaged("custom metadata pair out of bounds")
                kvt = kv - _i32(buf, kv)[0]
                if kvt < lo or kvt + 8 > hi:
                    raise MessageDamaged("custom metadata vtable out of bounds")
                kvt_bytes, _, ko, vo = _u16x4(buf, kvt)
                if kvt_bytes < 8 or kvt + kvt_bytes > hi or not ko or not vo:
                    raise MessageDamaged("custom metadata pair without key or value")
                kp = kv + ko
                vp = kv + vo
                if kp + 4 > hi or vp + 4 > hi:
                    raise MessageDamaged("custom metadata field out of bounds")
                ks = kp + _u32(buf, kp)[0] + 4
                vs = vp + _u32(buf, vp)[0] + 4
                if ks > hi or vs > hi:
                    raise MessageDamaged("custom metadata string out of bounds")
                ke = ks + _u32(buf, ks - 4)[0]
                ve = vs + _u32(buf, vs - 4)[0]
                if ke > hi or ve > hi:
                    raise MessageDamaged("custom metadata string out of bounds")
                pairs.append((bytes(buf[ks:ke]), bytes(buf[vs:ve])))
                value_offset = vs
    except (struct.error, IndexError) as e:  # a read past the end of buf
        raise MessageDamaged(f"metadata out of bounds: {e}") from None
    if hi + body_bytes > limit:
        raise MessageDamaged("incomplete message body")
    return Message(offset, meta_len, header_type, body_bytes, pairs, value_offset)


def _old_message_fields(serialized) -> tuple[int, int, int, int, int]:
    """(metadata length, version, header type, header table position, body length)."""
    marker, meta_len = _prefix.unpack_from(serialized, 0)
    assert marker == c.ipc_continuation and meta_len > 0, "pyarrow wrote an unexpected prefix"
    lo = c.ipc_prefix_bytes
    hi = lo + meta_len
    root, vt, vt_bytes = _table(serialized, _deref(serialized, lo, lo, hi), lo, hi)
    pos = _field(serialized, root, vt, vt_bytes, 0)
    version = _i16(serialized, pos)[0] if pos else 0
    pos = _field(serialized, root, vt, vt_bytes, 1)
    header_type = serialized[pos] if pos else 0
    header = _deref(serialized, _field(serialized, root, vt, vt_bytes, 2), lo, hi)
    pos = _field(serialized, root, vt, vt_bytes, 3)
    body_bytes = _i64(serialized, pos)[0] if pos else 0
    return meta_len, version, header_type, header - lo, body_bytes


def build_message(serialized, pairs: list[tuple[bytes, bytes]]) -> tuple[bytes, memoryview]:
    """Wrap a serialized record-batch message in a Message that carries `pairs` and, last,
    their CRC32C together with the body's.

    Returns (prefix + new metadata, body); written one after the other they form one valid,
    8-byte aligned IPC message.
    """
    meta_len, version, header_type, header_pos, body_bytes = _old_message_fields(serialized)
    assert header_type == HEADER_TYPE_RECORD_BATCH
    view = memoryview(serialized)
    old_meta = view[c.ipc_prefix_bytes : c.ipc_prefix_bytes + meta_len]
    body = view[c.ipc_prefix_bytes + meta_len :]
    assert len(body) == body_bytes, "serialized body length disagrees with its metadata"
    pairs = [*pairs, (c.key_crc32c, CRC_PLACEHOLDER)]

    count = len(pairs)
    vector_pos = _HEAD_BYTES
    kv_vtable_pos = vector_pos + 4 + 4 * count
    tables_pos = kv_vtable_pos + len(_KV_VTABLE)  # 8 bytes: stays 4-aligned
    strings_pos = tables_pos + 12 * count
    vector = bytearray(struct.pack("<I", count))
    tables = bytearray()
    strings = bytearray()
    value_pos = 0
    for i, (key, value) in enumerate(pairs):
        table = tables_pos + 12 * i
        vector += struct.pack("<I", table - (vector_pos + 4 + 4 * i))
        key_pos = strings_pos + len(strings)
        strings += struct.pack("<I", len(key)) + key + b"\0"
        strings += b"\0" * _pad(len(strings), 4)
        value_pos = strings_pos + len(strings)
        strings += struct.pack("<I", len(value)) + value + b"\0"
        strings += b"\0" * _pad(len(strings), 4)
        tables += struct.pack(
            "<iII", table - kv_vtable_pos, key_pos - (table + 4), value_pos - (table + 8)
        )
    old_base = strings_pos + len(strings)
    old_base += _pad(old_base, c.ipc_alignment_bytes)
    head = _HEAD.pack(
        24,
        _MESSAGE_VTABLE,
        20,
        old_base + header_pos - 28,
        body_bytes,
        vector_pos - 40,
        version,
        header_type,
    )
    meta = b"".join(
        (head, vector, _KV_VTABLE, tables, strings, b"\0" * (old_base - strings_pos - len(strings)))
    )
    assert len(meta) == old_base
    new_len = old_base + meta_len
    assert new_len % c.ipc_alignment_bytes == 0
    head = bytearray(b"".join((_prefix.pack(c.ipc_continuation, new_len), meta, old_meta)))
    crc_at = c.ipc_prefix_bytes + value_pos + 4  # the CRC pair is the last one built
    assert head[crc_at : crc_at + len(CRC_PLACEHOLDER)] == CRC_PLACEHOLDER
    crc = crc32c.crc32c(body, crc32c.crc32c(head))
    head[crc_at : crc_at + len(CRC_PLACEHOLDER)] = b"%08x" % crc
    return head, body


def message_crc32c(buf, msg: Message) -> int:
    """CRC32C of the whole message - prefix, metadata and body - with the digits of the CRC
    value itself read as the placeholder, so no byte of a message goes unchecked."""
    at = msg.last_value_offset
    assert msg.offset < at and at + len(CRC_PLACEHOLDER) <= msg.body_offset
    crc = crc32c.crc32c(buf[msg.offset : at])
    crc = crc32c.crc32c(CRC_PLACEHOLDER, crc)
    return crc32c.crc32c(buf[at + len(CRC_PLACEHOLDER) : msg.end], crc)
