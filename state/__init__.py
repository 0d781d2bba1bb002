"""Key-value state of a partition: typed column families on RocksDB, atomic transactions,
checkpoints. Knows nothing of workflows (imports the standard library and rocksdict only).

    from raybee.state import ColumnFamily, RocksDBStore, INT_KEY, BYTES_VALUE
    JOBS = ColumnFamily("jobs", INT_KEY, BYTES_VALUE)
    store = RocksDBStore(path, [JOBS])
    with store.transaction() as txn:
        txn.put(JOBS, 7, b"...")
    store.view().get(JOBS, 7)
"""

from raybee.state.codecs import (
    BYTES_KEY,
    BYTES_VALUE,
    INT_KEY,
    INT_VALUE,
    JSON_VALUE,
    STR_KEY,
    STR_VALUE,
    BytesKey,
    IntKey,
    KeyCodec,
    StrKey,
    TupleKey,
    ValueCodec,
    tuple_key,
)
from raybee.state.errors import (
    CheckpointError,
    CodecError,
    NestedTransactionError,
    NoTransactionError,
    SchemaError,
    StaleIteratorError,
    StateError,
    StoreClosedError,
    TransactionClosedError,
    UnknownColumnFamilyError,
)
from raybee.state.family import ColumnFamily
from raybee.state.memory_store import MemoryStore
from raybee.state.rocksdb_store import RocksDBStore
from raybee.state.store import ReadView, Store, Transaction

__all__ = [
    "BYTES_KEY",
    "BYTES_VALUE",
    "INT_KEY",
    "INT_VALUE",
    "JSON_VALUE",
    "STR_KEY",
    "STR_VALUE",
    "BytesKey",
    "CheckpointError",
    "CodecError",
    "ColumnFamily",
    "IntKey",
    "KeyCodec",
    "MemoryStore",
    "NestedTransactionError",
    "NoTransactionError",
    "ReadView",
    "RocksDBStore",
    "SchemaError",
    "StaleIteratorError",
    "StateError",
    "Store",
    "StoreClosedError",
    "StrKey",
    "Transaction",
    "TransactionClosedError",
    "TupleKey",
    "UnknownColumnFamilyError",
    "ValueCodec",
    "tuple_key",
]
