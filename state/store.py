"""The store protocol: typed reads through views, writes only inside one atomic transaction.

`Store` holds everything both implementations share (family resolution, codecs, the
transaction overlay, merged iteration, dumps and digests); a backend only supplies committed
state as bytes: `_get`, `_scan`, `_write` (atomic), `_checkpoint`, `_close`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from raybee.state import constants
from raybee.state._merge import merge_overlay, prefix_successor
from raybee.state.errors import (
    CheckpointError,
    CodecError,
    NestedTransactionError,
    NoTransactionError,
    StaleIteratorError,
    StateError,
    StoreClosedError,
    TransactionClosedError,
    UnknownColumnFamilyError,
)
from raybee.state.family import ColumnFamily, check_schema

Changes = dict[str, dict[bytes, bytes | None]]
key_bytes_max = constants.key_bytes_max


def schema_record(family: ColumnFamily) -> str:
    """What a store records about a family when creating it, to refuse a changed declaration:
    reading keys written by another codec would return garbage in the wrong order.
    """
    return f"key={family.key.name} value={family.value.name}"


class _Reader:
    """Typed reads over committed state plus, inside a transaction, its uncommitted writes."""

    __slots__ = ()

    def _source(self) -> tuple[Store, Transaction | None]:
        raise NotImplementedError

    def _open(self) -> tuple[Store, Transaction | None]:
        store, transaction = self._source()
        if store._closed:
            raise StoreClosedError(f"{store!r} is closed")
        if transaction is not None and transaction._closed:
            raise TransactionClosedError(
                "this transaction (or a view of it) was used after it committed or aborted"
            )
        return store, transaction

    def get(self, family: ColumnFamily, key: Any, default: Any = None) -> Any:
        """The value at key, or default when there is none."""
        store, transaction = self._open()
        if store._by_name.get(getattr(family, "name", None)) is not family:  # type: ignore[arg-type]
            family = store._family(family)
        encoded = _encode_key(family, key)
        if transaction is not None:
            changes = transaction._changes.get(family.name)
            if changes is not None and encoded in changes:
                raw = changes[encoded]
                return default if raw is None else family.value.decode(raw)
        raw = store._get(family.name, encoded)
        return default if raw is None else family.value.decode(raw)

    def exists(self, family: ColumnFamily, key: Any) -> bool:
        store, transaction = self._open()
        family = store._family(family)
        encoded = _encode_key(family, key)
        if transaction is not None:
            changes = transaction._changes.get(family.name)
            if changes is not None and encoded in changes:
                return changes[encoded] is not None
        return store._get(family.name, encoded) is not None

    def prefix(
        self, family: ColumnFamily, prefix: Any, *, reverse: bool = False
    ) -> Iterator[tuple[Any, Any]]:
        """(key, value) pairs whose key starts with prefix, in key order (reverse: descending).

        For tuple keys the prefix is a tuple of leading components, e.g. (instance_key,) over
        (int, str) keys; for str and bytes keys a str/bytes prefix.
        """
        store, transaction = self._open()
        family = store._family(family)
        start = _encode_prefix(family, prefix)
        return self._iterate(store, transaction, family, start, prefix_successor(start), reverse)

    def range(
        self, family: ColumnFamily, start: Any = None, stop: Any = None, *, reverse: bool = False
    ) -> Iterator[tuple[Any, Any]]:
        """(key, value) pairs with start <= key < stop, in key order (reverse: descending);
        None means unbounded.

        For tuple keys a bound may be a prefix: stop=(5,) ends before every key whose first
        component is 5; start=(5,) starts at the first such key.
        """
        store, transaction = self._open()
        family = store._family(family)
        low = b"" if start is None else _encode_prefix(family, start)
        high = None if stop is None else _encode_prefix(family, stop)
        return self._iterate(store, transaction, family, low, high, reverse)

    def items(self, family: ColumnFamily, *, reverse: bool = False) -> Iterator[tuple[Any, Any]]:
        """Every (key, value) of one family, in key order (reverse: descending)."""
        return self.range(family, reverse=reverse)

    def first(self, family: ColumnFamily, prefix: Any = None) -> tuple[Any, Any] | None:
        """The smallest (key, value) of the family (or under prefix), or None."""
        iterator = self.items(family) if prefix is None else self.prefix(family, prefix)
        return next(iterator, None)

    def last(self, family: ColumnFamily, prefix: Any = None) -> tuple[Any, Any] | None:
        """The greatest (key, value) of the family (or under prefix), or None.

        E.g. the latest version under (process_id,) of (str, int) keys.
        """
        if prefix is None:
            iterator = self.items(family, reverse=True)
        else:
            iterator = self.prefix(family, prefix, reverse=True)
        return next(iterator, None)

    def count(self, family: ColumnFamily, prefix: Any = None) -> int:
        """How many keys the family holds (or hold under prefix). Linear in that number."""
        store, transaction = self._open()
        family = store._family(family)
        if prefix is None:
            low, high = b"", None
        else:
            low = _encode_prefix(family, prefix)
            high = prefix_successor(low)
        raw = self._source_items(store, transaction, family, low, high)
        return sum(1 for _ in _guarded(store, transaction, raw))

    def _source_items(
        self,
        store: Store,
        transaction: Transaction | None,
        family: ColumnFamily,
        low: bytes,
        high: bytes | None,
        reverse: bool = False,
    ) -> Iterator[tuple[bytes, bytes]]:
        # Taken now, not at the first next(): the iterator sees the transaction's writes made
        # before it was created, never later ones, in both implementations alike.
        overlay: list[tuple[bytes, bytes | None]] = []
        if transaction is not None:
            changes = transaction._changes.get(family.name)
            if changes:
                overlay = sorted(
                    (
                        item
                        for item in changes.items()
                        if item[0] >= low and (high is None or item[0] < high)
                    ),
                    reverse=reverse,
                )
        if high is not None and low >= high:
            return iter(())
        committed = store._scan(family.name, low, high, reverse)
        return merge_overlay(committed, overlay, reverse) if overlay else committed

    def _iterate(
        self,
        store: Store,
        transaction: Transaction | None,
        family: ColumnFamily,
        low: bytes,
        high: bytes | None,
        reverse: bool = False,
    ) -> Iterator[tuple[Any, Any]]:
        raw = self._source_items(store, transaction, family, low, high, reverse)
        return _guarded_decoded(store, transaction, raw, family.key.decode, family.value.decode)


def _guarded(
    store: Store, transaction: Transaction | None, items: Iterator[tuple[bytes, bytes]]
) -> Iterator[tuple[bytes, bytes]]:
    commits = store._commits
    for item in items:
        if store._commits != commits or (transaction is not None and transaction._closed):
            _raise_outlived(store, transaction, commits)
        yield item
    if store._commits != commits:
        _raise_outlived(store, transaction, commits)


def _guarded_decoded(
    store: Store,
    transaction: Transaction | None,
    items: Iterator[tuple[bytes, bytes]],
    decode_key: Callable[[bytes], Any],
    decode_value: Callable[[bytes], Any],
) -> Iterator[tuple[Any, Any]]:
    # _guarded and decoding in one generator: every layer costs per item on the scan path.
    commits = store._commits
    for key, value in items:
        if store._commits != commits or (transaction is not None and transaction._closed):
            _raise_outlived(store, transaction, commits)
        yield decode_key(key), decode_value(value)
    if store._commits != commits:
        _raise_outlived(store, transaction, commits)


def _raise_outlived(store: Store, transaction: Transaction | None, commits: int) -> None:
    if transaction is not None and transaction._closed:
        raise TransactionClosedError("an iterator of a transaction outlived the transaction")
    assert store._commits != commits
    raise StaleIteratorError(
        "an iterator over committed state was advanced after a later commit; "
        "finish iterating (or list() it) before committing"
    )


def _encode_key(family: ColumnFamily, key: Any) -> bytes:
    try:
        encoded = family.key.encode(key)
    except CodecError as error:
        raise CodecError(f"column family {family.name!r}: {error}") from None
    if len(encoded) > key_bytes_max:
        raise CodecError(
            f"column family {family.name!r}: key {key!r:.80} encodes to {len(encoded)} bytes, "
            f"more than key_bytes_max={constants.key_bytes_max}"
        )
    return encoded


def _encode_prefix(family: ColumnFamily, prefix: Any) -> bytes:
    try:
        return family.key.encode_prefix(prefix)
    except CodecError as error:
        raise CodecError(f"column family {family.name!r}: {error}") from None


class ReadView(_Reader):
    """A read-only view: committed state, or a transaction's state when made by txn.view().

    Processors get one of these; only event appliers get the Transaction. A view of a
    transaction fails once that transaction has ended.
    """

    __slots__ = ("_store", "_transaction")

    def __init__(self, store: Store, transaction: Transaction | None = None) -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_transaction", transaction)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a ReadView is immutable")

    def _source(self) -> tuple[Store, Transaction | None]:
        return self._store, self._transaction

    def __repr__(self) -> str:
        scope = "committed" if self._transaction is None else "transaction"
        return f"ReadView({scope} state of {self._store!r})"


class Transaction(_Reader):
    """The one mutable handle: writes are buffered here and committed as one atomic batch."""

    __slots__ = ("_store", "_changes", "_writes", "_closed")

    def __init__(self, store: Store) -> None:
        self._store = store
        self._changes: Changes = {}
        self._writes = 0
        self._closed = False

    def _source(self) -> tuple[Store, Transaction | None]:
        return self._store, self

    def put(self, family: ColumnFamily, key: Any, value: Any) -> None:
        # The hot path of every applier: checks inlined, the careful helpers only on failure.
        store = self._store
        if self._closed or store._closed:
            self._open()  # raises the precise error
        if store._by_name.get(getattr(family, "name", None)) is not family:  # type: ignore[arg-type]
            family = store._family(family)
        encoded_key = _encode_key(family, key)
        try:
            encoded_value = family.value.encode(value)
        except (TypeError, ValueError) as error:
            raise CodecError(
                f"column family {family.name!r}: value {value!r:.80} cannot be encoded by the "
                f"{family.value.name!r} codec: {error}"
            ) from None
        if type(encoded_value) is not bytes:
            raise CodecError(
                f"column family {family.name!r}: the {family.value.name!r} codec returned "
                f"{type(encoded_value).__name__}, not bytes"
            )
        if len(encoded_value) > constants.value_bytes_max:
            raise CodecError(
                f"column family {family.name!r}: value of {len(encoded_value)} bytes exceeds "
                f"value_bytes_max={constants.value_bytes_max}"
            )
        if self._writes >= constants.transaction_writes_max:
            self._record(family.name, encoded_key, encoded_value)  # raises
        self._writes += 1
        changes = self._changes.get(family.name)
        if changes is None:
            changes = self._changes[family.name] = {}
        changes[encoded_key] = encoded_value

    def delete(self, family: ColumnFamily, key: Any) -> None:
        """Removes key (a no-op when it is absent)."""
        store, _ = self._open()
        family = store._family(family)
        self._record(family.name, _encode_key(family, key), None)

    def view(self) -> ReadView:
        """A read-only view of this transaction's state (committed + its own writes)."""
        self._open()
        return ReadView(self._store, self)

    def _record(self, family_name: str, key: bytes, value: bytes | None) -> None:
        if self._writes >= constants.transaction_writes_max:
            raise StateError(
                f"transaction exceeds transaction_writes_max={constants.transaction_writes_max}"
            )
        self._writes += 1
        self._changes.setdefault(family_name, {})[key] = value

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"Transaction({state}, {self._writes} writes on {self._store!r})"


class Store:
    """Base of RocksDBStore and MemoryStore; see the module docstring."""

    def __init__(self, families: Iterable[ColumnFamily]) -> None:
        self._families = check_schema(families)
        self._by_name = {family.name: family for family in self._families}
        self._transaction: Transaction | None = None
        self._commits = 0
        self._closed = False

    # ---------------------------------------------------------------- backend interface

    def _get(self, family_name: str, key: bytes) -> bytes | None:
        raise NotImplementedError

    def _scan(
        self, family_name: str, low: bytes, high: bytes | None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Committed (key, value) with low <= key < high (high None: unbounded), in key order
        or, with reverse, descending.
        """
        raise NotImplementedError

    def _write(self, changes: Changes) -> None:
        """Applies all changes atomically (value None deletes)."""
        raise NotImplementedError

    def _checkpoint(self, directory: Path) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- public API

    @property
    def families(self) -> tuple[ColumnFamily, ...]:
        """The declared column families, sorted by name."""
        return self._families

    def family(self, name: str) -> ColumnFamily:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownColumnFamilyError(
                f"no column family {name!r} in this store; declared: {sorted(self._by_name)}"
            ) from None

    def view(self) -> ReadView:
        """A read-only view of committed state (live: it sees later commits)."""
        self._check_open()
        return ReadView(self)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """`with store.transaction() as txn:` commits every write as one atomic batch when the
        block ends normally; when it raises, nothing is written and the exception propagates.
        """
        self._check_open()
        if self._transaction is not None:
            raise NestedTransactionError(
                f"a transaction is already open on {self!r}; transactions do not nest"
            )
        transaction = Transaction(self)
        self._transaction = transaction
        try:
            yield transaction
            self._check_open()
            if transaction._changes:
                self._write(transaction._changes)
                self._commits += 1
        finally:
            transaction._closed = True
            self._transaction = None

    def put(self, family: ColumnFamily, key: Any, value: Any) -> None:
        raise NoTransactionError(
            "writes go through a transaction: `with store.transaction() as txn: txn.put(...)`"
        )

    def delete(self, family: ColumnFamily, key: Any) -> None:
        raise NoTransactionError(
            "writes go through a transaction: `with store.transaction() as txn: txn.delete(...)`"
        )

    def checkpoint(self, directory: str | Path) -> Path:
        """Writes a consistent copy of committed state into directory (which must not exist)."""
        self._check_open()
        directory = Path(directory)
        if self._transaction is not None:
            raise CheckpointError(
                f"cannot checkpoint {self!r} into {directory}: a transaction is open "
                "(checkpoint between transactions so the snapshot matches a log position)"
            )
        if directory.exists():
            raise CheckpointError(f"checkpoint directory {directory} already exists")
        if not directory.parent.is_dir():
            raise CheckpointError(f"parent of checkpoint directory {directory} does not exist")
        self._checkpoint(directory)
        return directory

    def dump(self) -> Iterator[tuple[str, bytes, bytes]]:
        """Every committed (family name, key bytes, value bytes), by family name then key."""
        self._check_open()
        for family in self._families:
            for key, value in _guarded(self, None, self._scan(family.name, b"", None)):
                yield family.name, key, value

    def digest(self) -> str:
        """sha256 hex over dump(): equal digests mean byte-identical committed state."""
        digest = hashlib.sha256()
        for family_name, key, value in self.dump():
            for part in (family_name.encode(), key, value):
                digest.update(len(part).to_bytes(8, "big"))
                digest.update(part)
        return digest.hexdigest()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---------------------------------------------------------------- helpers

    def _schema_mismatches(self, stored: dict[str, str]) -> list[str]:
        """Declared families whose codecs differ from those recorded when they were created."""
        return [
            f"{family.name!r} was created as {stored[family.name]}, now declared as "
            f"{schema_record(family)}"
            for family in self._families
            if family.name in stored and stored[family.name] != schema_record(family)
        ]

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError(f"{self!r} is closed")

    def _family(self, family: ColumnFamily) -> ColumnFamily:
        declared = self._by_name.get(getattr(family, "name", None))  # type: ignore[arg-type]
        if declared is family:
            return declared
        if declared is None:
            raise UnknownColumnFamilyError(
                f"unknown column family {family!r}; this store declares {sorted(self._by_name)}"
            )
        if declared != family:
            raise UnknownColumnFamilyError(
                f"column family {family!r} differs from the declared {declared!r}"
            )
        return declared
