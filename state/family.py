"""Column family declarations: a name, a key codec and a value codec."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from raybee.state import constants
from raybee.state.codecs import KeyCodec, ValueCodec
from raybee.state.errors import SchemaError

_name_pattern = re.compile(r"[a-z][a-z0-9_]*")
# RocksDB always has a column family named "default"; the store keeps it empty.
_reserved_names = frozenset({"default"})


@dataclass(frozen=True)
class ColumnFamily:
    """One typed keyspace of a store, e.g. ColumnFamily("jobs", INT_KEY, msgpack_codec).

    The declaration is the handle: pass it to get/put/prefix. A store rejects a family it was
    not opened with, including one with the same name but other codecs.
    """

    name: str
    key: KeyCodec
    value: ValueCodec

    def __post_init__(self) -> None:
        if type(self.name) is not str or not _name_pattern.fullmatch(self.name):
            raise SchemaError(
                f"column family name {self.name!r} must match [a-z][a-z0-9_]* "
                "(it names a RocksDB column family)"
            )
        if len(self.name) > constants.family_name_chars_max:
            raise SchemaError(
                f"column family name {self.name!r} is longer than "
                f"{constants.family_name_chars_max} chars"
            )
        if self.name in _reserved_names:
            raise SchemaError(f"column family name {self.name!r} is reserved by RocksDB")
        if not isinstance(self.key, KeyCodec):
            raise SchemaError(f"column family {self.name!r}: key {self.key!r} is not a KeyCodec")
        if not isinstance(self.value, ValueCodec):
            raise SchemaError(
                f"column family {self.name!r}: value {self.value!r} is not a ValueCodec"
            )

    def __repr__(self) -> str:
        return f"ColumnFamily({self.name!r}, key={self.key!r}, value={self.value.name})"


def check_schema(families: Iterable[ColumnFamily]) -> tuple[ColumnFamily, ...]:
    """Validates a store's declarations; returns them sorted by name (the dump order)."""
    declared = tuple(families)
    for family in declared:
        if not isinstance(family, ColumnFamily):
            raise SchemaError(f"expected ColumnFamily declarations, got {family!r}")
    names = [family.name for family in declared]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SchemaError(f"column families declared twice: {duplicates}")
    return tuple(sorted(declared, key=lambda family: family.name))
