"""Errors of the state store. Every one says what was wrong, where, and why."""


class StateError(Exception):
    """Base of every error raised by raybee.state."""


class CodecError(StateError, TypeError):
    """A key or value does not fit the codec of its column family (wrong type, out of range)."""


class SchemaError(StateError, ValueError):
    """Column family declarations are invalid (bad or duplicate names, bad codecs)."""


class UnknownColumnFamilyError(StateError, LookupError):
    """A column family that this store was not opened with."""


class NoTransactionError(StateError):
    """A write was attempted outside a transaction."""


class NestedTransactionError(StateError):
    """A transaction was opened while another one is open on the same store."""


class TransactionClosedError(StateError):
    """A transaction (or a view or iterator of it) was used after it committed or aborted."""


class StaleIteratorError(StateError):
    """An iterator over committed state was advanced after a later commit changed that state."""


class StoreClosedError(StateError):
    """The store was used after close()."""


class CheckpointError(StateError):
    """A checkpoint could not be written or opened."""
