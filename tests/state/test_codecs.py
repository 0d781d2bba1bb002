"""Key codecs: byte order is key order, decode inverts encode, prefixes are whole components."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raybee.state import (
    BYTES_KEY,
    INT_KEY,
    INT_VALUE,
    JSON_VALUE,
    STR_KEY,
    CodecError,
    tuple_key,
)

int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Small alphabets with NUL and 0x01/0xFF so the escape bytes and their neighbours collide often.
texts = st.text(
    alphabet=st.sampled_from(["\x00", "\x01", "a", "b", "ÿ", "é", "\U0001f600"]), max_size=4
)
blobs = st.binary(max_size=4).map(lambda b: b.replace(b"\x02", b"\xff"))

cases = [
    (INT_KEY, int64),
    (STR_KEY, texts),
    (BYTES_KEY, blobs),
    (tuple_key(int, str), st.tuples(int64, texts)),
    (tuple_key(str, int), st.tuples(texts, int64)),
    (tuple_key(int, int), st.tuples(int64, int64)),
    (tuple_key(bytes, str, int), st.tuples(blobs, texts, int64)),
]


@pytest.mark.parametrize(("codec", "keys"), cases, ids=[c.name for c, _ in cases])
def test_byte_order_is_key_order_and_decode_inverts(codec, keys) -> None:
    @settings(max_examples=300, derandomize=True, database=None)
    @given(keys, keys)
    def check(first, second) -> None:
        encoded_first, encoded_second = codec.encode(first), codec.encode(second)
        assert codec.decode(encoded_first) == first
        assert (encoded_first < encoded_second) == (first < second)
        assert (encoded_first == encoded_second) == (first == second)

    check()


@pytest.mark.parametrize(
    "codec", [tuple_key(str, int), tuple_key(bytes, int), tuple_key(str, str)], ids=str
)
def test_tuple_prefix_matches_exactly_the_keys_with_that_component(codec) -> None:
    component = str if codec.components[0] is str else bytes
    parts = texts if component is str else blobs
    rest = int64 if codec.components[1] is int else texts

    @settings(max_examples=300, derandomize=True, database=None)
    @given(parts, st.tuples(parts, rest))
    def check(prefix, key) -> None:
        starts = codec.encode(key).startswith(codec.encode_prefix((prefix,)))
        assert starts == (key[0] == prefix)

    check()


def test_int_encoding_is_eight_bytes_with_sign_flip() -> None:
    assert INT_KEY.encode(0) == b"\x80" + bytes(7)
    assert INT_KEY.encode(-1) == b"\x7f" + b"\xff" * 7
    assert INT_KEY.encode(2**63 - 1) == b"\xff" * 8


@pytest.mark.parametrize(
    "data",
    [b"\x00" * 7, b"\x00" * 9],
)
def test_corrupt_int_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(CodecError):
        INT_KEY.decode(data)


@pytest.mark.parametrize(
    "data",
    [b"a", b"a\x00", b"a\x00\x02" + bytes(8), b"a\x00\x00" + bytes(7), b"a\x00\x00" + bytes(9)],
)
def test_corrupt_tuple_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(CodecError):
        tuple_key(str, int).decode(data)


def test_value_codecs_roundtrip_and_are_canonical() -> None:
    assert INT_VALUE.decode(INT_VALUE.encode(-5)) == -5
    assert JSON_VALUE.encode({"b": 1, "a": [1.5, None]}) == b'{"a":[1.5,null],"b":1}'
    assert JSON_VALUE.decode(JSON_VALUE.encode({"b": 1})) == {"b": 1}


def test_codecs_compare_by_kind() -> None:
    assert tuple_key(int, str) == tuple_key(int, str)
    assert tuple_key(int, str) != tuple_key(str, int)
    assert INT_KEY != STR_KEY
    assert repr(tuple_key(int, str)) == "(int, str)"
