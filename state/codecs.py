"""Typed key and value codecs.

Key codecs turn typed keys into bytes whose *byte order is the key order*, because RocksDB keeps
keys sorted bytewise and range/prefix scans rely on it:

- ints: 8 bytes big-endian with the sign bit flipped (so -1 < 0 < 1 bytewise too);
- strs: utf-8 as is when the str is the whole key; inside a tuple a str (or bytes) component is
  escaped (0x00 -> 0x00 0x01) and terminated by 0x00 0x00, so ("a", 9) < ("ab", 0) and a prefix
  scan for ("a",) returns neither ("ab", ...) nor ("a\x00", ...). (A one-byte terminator with
  0x00 0xFF escapes, as in FoundationDB's tuple layer, needs its type-code bytes: without them
  the escape collides with the next component's first byte.)
- tuples of int/str/bytes components compose the above.

Value codecs are small objects with encode/decode; the store ships bytes/int/str/json ones, and
callers pass their own (the partitions layer passes a msgpack codec) with `ValueCodec(...)`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raybee.state import constants
from raybee.state.errors import CodecError, SchemaError

_sign_flip = 1 << 63
_escape_byte = b"\x00"
_escaped_nul = b"\x00\x01"
_terminator = b"\x00\x00"


def _encode_int(value: object, what: str) -> bytes:
    if type(value) is not int:
        raise CodecError(f"{what}: expected an int, got {type(value).__name__} {value!r}")
    if not constants.int_key_min <= value <= constants.int_key_max:
        raise CodecError(f"{what}: int {value} is outside the signed 64-bit range")
    return (value + _sign_flip).to_bytes(constants.int_key_bytes, "big")


def _decode_int(data: bytes, offset: int) -> tuple[int, int]:
    end = offset + constants.int_key_bytes
    if end > len(data):
        raise CodecError(f"truncated int key component at byte {offset} of {data!r}")
    return int.from_bytes(data[offset:end], "big") - _sign_flip, end


def _utf8(value: object, what: str) -> bytes:
    if type(value) is not str:
        raise CodecError(f"{what}: expected a str, got {type(value).__name__} {value!r}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise CodecError(f"{what}: str {value!r} is not encodable as utf-8 ({error})") from None


def _raw_bytes(value: object, what: str) -> bytes:
    if type(value) is not bytes:
        raise CodecError(f"{what}: expected bytes, got {type(value).__name__} {value!r}")
    return value


def _escape(data: bytes) -> bytes:
    return data.replace(_escape_byte, _escaped_nul) + _terminator


def _unescape(data: bytes, offset: int) -> tuple[bytes, int]:
    """Reads one escaped, terminated component starting at offset; returns it and the next offset."""
    nul = data.find(_escape_byte, offset)
    if nul >= 0 and data[nul + 1 : nul + 2] == _escape_byte:  # no escaped NUL: the common case
        return data[offset:nul], nul + 2
    out = bytearray()
    position = offset
    while True:
        nul = data.find(_escape_byte, position)
        if nul < 0:
            raise CodecError(f"unterminated component at byte {offset} of {data!r}")
        out += data[position:nul]
        if nul + 1 >= len(data):
            raise CodecError(f"truncated escape at byte {nul} of {data!r}")
        if data[nul + 1] == 0x01:
            out += _escape_byte
            position = nul + 2
        elif data[nul + 1] == 0x00:
            return bytes(out), nul + 2
        else:
            raise CodecError(f"bad escape 0x00 0x{data[nul + 1]:02x} at byte {nul} of {data!r}")


class KeyCodec:
    """Encodes keys of one type to order-preserving bytes; subclasses below."""

    name: str = "key"

    def encode(self, key: Any) -> bytes:
        raise NotImplementedError

    def decode(self, data: bytes) -> Any:
        raise NotImplementedError

    def encode_prefix(self, prefix: Any) -> bytes:
        """Bytes every key starting with `prefix` starts with (also used for range bounds)."""
        return self.encode(prefix)

    def __repr__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self))


class IntKey(KeyCodec):
    name = "int"

    def encode(self, key: Any) -> bytes:
        if type(key) is int:
            try:
                return (key + _sign_flip).to_bytes(constants.int_key_bytes, "big")
            except OverflowError:
                pass
        return _encode_int(key, "int key")  # raises the precise error

    def decode(self, data: bytes) -> int:
        if len(data) != constants.int_key_bytes:
            raise CodecError(f"int key must be {constants.int_key_bytes} bytes, got {data!r}")
        return int.from_bytes(data, "big") - _sign_flip


class StrKey(KeyCodec):
    name = "str"

    def encode(self, key: Any) -> bytes:
        return _utf8(key, "str key")

    def decode(self, data: bytes) -> str:
        return data.decode("utf-8")


class BytesKey(KeyCodec):
    name = "bytes"

    def encode(self, key: Any) -> bytes:
        return _raw_bytes(key, "bytes key")

    def decode(self, data: bytes) -> bytes:
        return bytes(data)


_component_types = (int, str, bytes)


class TupleKey(KeyCodec):
    """Composite keys like (int, str): components compared left to right."""

    def __init__(self, *components: type) -> None:
        if len(components) < 2:
            raise SchemaError(f"a tuple key needs at least 2 components, got {components!r}")
        for component in components:
            if component not in _component_types:
                raise SchemaError(
                    f"tuple key components must be int, str or bytes, got {component!r}"
                )
        self.components = tuple(components)
        self.name = "(" + ", ".join(c.__name__ for c in components) + ")"
        self._fast_encoders = tuple(_fast_encoders[c] for c in components)
        self._all_ints = all(c is int for c in components)
        self._int_struct = struct.Struct(">" + "Q" * len(components))
        self._fast_pair = _fast_pairs.get(self.components)
        self._fast_pair_decode = _fast_pair_decoders.get(self.components)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TupleKey) and other.components == self.components

    def __hash__(self) -> int:
        return hash(self.components)

    def _encode_parts(self, parts: tuple, what: str) -> bytes:
        out = []
        for index, (component, part) in enumerate(zip(self.components, parts, strict=False)):
            where = f"{what} {self.name} component {index}"
            if component is int:
                out.append(_encode_int(part, where))
            elif component is str:
                out.append(_escape(_utf8(part, where)))
            else:
                out.append(_escape(_raw_bytes(part, where)))
        return b"".join(out)

    def encode(self, key: Any) -> bytes:
        if type(key) is not tuple or len(key) != len(self.components):
            raise CodecError(
                f"key of {self.name}: expected a tuple of {len(self.components)}, got {key!r}"
            )
        # Fast path; on any failure the careful path below raises the precise CodecError.
        try:
            if self._fast_pair is not None:
                return self._fast_pair(key)
            return b"".join(
                [encode(part) for encode, part in zip(self._fast_encoders, key, strict=True)]
            )
        except (TypeError, ValueError, OverflowError, struct.error):
            return self._encode_parts(key, "key")

    def encode_prefix(self, prefix: Any) -> bytes:
        if type(prefix) is not tuple or not 1 <= len(prefix) <= len(self.components):
            raise CodecError(
                f"prefix of {self.name}: expected a tuple of 1..{len(self.components)} leading "
                f"components, got {prefix!r}"
            )
        return self._encode_parts(prefix, "prefix")

    def decode(self, data: bytes) -> tuple:
        if self._fast_pair_decode is not None:
            decoded = self._fast_pair_decode(data)
            if decoded is not None:
                return decoded
        elif self._all_ints and len(data) == self._int_struct.size:
            return tuple(value - _sign_flip for value in self._int_struct.unpack(data))
        parts: list[object] = []
        offset = 0
        for component in self.components:
            if component is int:
                value, offset = _decode_int(data, offset)
                parts.append(value)
            else:
                raw, offset = _unescape(data, offset)
                parts.append(raw.decode("utf-8") if component is str else raw)
        if offset != len(data):
            raise CodecError(
                f"{len(data) - offset} trailing bytes after a {self.name} key {data!r}"
            )
        return tuple(parts)


def _fast_int(part: Any) -> bytes:
    if type(part) is not int:
        raise TypeError
    return (part + _sign_flip).to_bytes(constants.int_key_bytes, "big")


def _fast_str(part: Any) -> bytes:
    if type(part) is not str:
        raise TypeError
    return part.encode("utf-8").replace(_escape_byte, _escaped_nul) + _terminator


def _fast_bytes(part: Any) -> bytes:
    if type(part) is not bytes:
        raise TypeError
    return part.replace(_escape_byte, _escaped_nul) + _terminator


_fast_encoders = {int: _fast_int, str: _fast_str, bytes: _fast_bytes}
_pair_of_ints = struct.Struct(">QQ")


# The pairs the engine uses most, unrolled: about 2-4x faster than the generic loop.
def _fast_int_int(key: tuple) -> bytes:
    first, second = key
    if type(first) is not int or type(second) is not int:
        raise TypeError
    return _pair_of_ints.pack(first + _sign_flip, second + _sign_flip)


def _fast_int_str(key: tuple) -> bytes:
    first, second = key
    if type(first) is not int or type(second) is not str:
        raise TypeError
    return (first + _sign_flip).to_bytes(8, "big") + _fast_str(second)


def _fast_str_int(key: tuple) -> bytes:
    first, second = key
    if type(first) is not str or type(second) is not int:
        raise TypeError
    return _fast_str(first) + (second + _sign_flip).to_bytes(8, "big")


_fast_pairs = {(int, int): _fast_int_int, (int, str): _fast_int_str, (str, int): _fast_str_int}


# Pair decoders for keys without escaped NULs; None sends the key down the careful path.
def _decode_int_int(data: bytes) -> tuple | None:
    if len(data) != 16:
        return None
    first, second = _pair_of_ints.unpack(data)
    return first - _sign_flip, second - _sign_flip


def _decode_int_str(data: bytes) -> tuple | None:
    end = len(data) - 2
    if end < 8 or data.find(_escape_byte, 8) != end or data[end + 1] != 0:
        return None
    return int.from_bytes(data[:8], "big") - _sign_flip, data[8:end].decode("utf-8")


def _decode_str_int(data: bytes) -> tuple | None:
    end = len(data) - 10
    if end < 0 or data.find(_escape_byte) != end or data[end + 1] != 0:
        return None
    return data[:end].decode("utf-8"), int.from_bytes(data[end + 2 :], "big") - _sign_flip


_fast_pair_decoders = {
    (int, int): _decode_int_int,
    (int, str): _decode_int_str,
    (str, int): _decode_str_int,
}


def tuple_key(*components: type) -> TupleKey:
    return TupleKey(*components)


INT_KEY = IntKey()
STR_KEY = StrKey()
BYTES_KEY = BytesKey()


@dataclass(frozen=True)
class ValueCodec:
    """A value codec: `encode(value) -> bytes`, `decode(bytes) -> value`.

    encode must raise TypeError or ValueError for values it cannot encode; the store turns that
    into a CodecError naming the family. Two codecs are the same codec when all fields are equal
    (the functions compare by identity), so declare a codec once and reuse the object.
    """

    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]


def _encode_bytes(value: Any) -> bytes:
    if type(value) is not bytes:
        raise TypeError(f"expected bytes, got {type(value).__name__}")
    return value


def _encode_int_value(value: Any) -> bytes:
    return _encode_int(value, "int value")


def _decode_int_value(data: bytes) -> int:
    return IntKey().decode(data)


def _encode_str_value(value: Any) -> bytes:
    return _utf8(value, "str value")


def _encode_json(value: Any) -> bytes:
    # sort_keys + compact separators: equal values always give equal bytes (digests, replay).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


BYTES_VALUE = ValueCodec("bytes", _encode_bytes, bytes)
INT_VALUE = ValueCodec("int", _encode_int_value, _decode_int_value)
STR_VALUE = ValueCodec("str", _encode_str_value, lambda data: data.decode("utf-8"))
JSON_VALUE = ValueCodec("json", _encode_json, json.loads)
