"""The processed position and the key generator, both kept in state so replay rebuilds them."""

from raybee.partitions.protocol import encode_key, partition_of_key

from ..families import POSITIONS

LAST_PROCESSED = "last_processed_position"
NEXT_KEY = "next_key"


class PositionStore:
    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    @property
    def last_processed_position(self) -> int:
        return self._reader.get(POSITIONS, LAST_PROCESSED, -1)

    def mark_processed(self, position: int) -> None:
        assert position > self.last_processed_position, (
            f"processed position goes backwards: {position} after {self.last_processed_position}"
        )
        self._writer.put(POSITIONS, LAST_PROCESSED, position)


class KeyGenerator:
    """Keys are (partition << 51) + counter; the next counter lives in state. The leader moves it
    when it hands out a key; replay moves it past every key an event carries, so a follower
    promoted to leader never hands out a key twice."""

    def __init__(self, partition_id: int, reader, writer):
        assert writer is not None, "keys are issued only where they are also written"
        self.partition_id = partition_id
        self._reader = reader
        self._writer = writer
        self._key_base = encode_key(partition_id, 0)
        # Read once per batch: the generator is the only writer of NEXT_KEY, so the cached
        # counter stays true for the life of the transaction it was built on.
        self._cached_counter: int | None = None
        self._first_counter = 1  # the counter as this transaction found it (read with it)
        self._dirty = False

    def _next_counter(self) -> int:
        if self._cached_counter is None:
            self._cached_counter = self._first_counter = self._reader.get(POSITIONS, NEXT_KEY, 1)
        return self._cached_counter

    def is_new(self, key: int) -> bool:
        """Whether `key` was first handed out (or first seen by replay) in this transaction:
        nothing committed before it can be stored under such a key."""
        if key < 0 or partition_of_key(key) != self.partition_id:
            return False
        self._next_counter()
        return key - self._key_base >= self._first_counter

    def _set_next_counter(self, counter: int) -> None:
        # Written once per transaction by flush(), not once per key.
        self._cached_counter = counter
        self._dirty = True

    def flush(self) -> None:
        """Write the counter into the transaction; the stream processor calls it before every
        commit."""
        if self._dirty:
            self._writer.put(POSITIONS, NEXT_KEY, self._cached_counter)
            self._dirty = False

    def next_key(self) -> int:
        counter = self._next_counter()
        self._set_next_counter(counter + 1)
        return encode_key(self.partition_id, counter)

    def observe(self, key: int) -> None:
        if key < 0 or partition_of_key(key) != self.partition_id:
            return
        counter = key - self._key_base
        if counter >= self._next_counter():
            self._set_next_counter(counter + 1)
