"""Limits and tuning of the state store, with units in their names."""

# Column family names are short identifiers: they name RocksDB column families and appear in
# error messages and dumps.
family_name_chars_max = 64

# Keys and values are held in memory by a transaction's overlay and by RocksDB write batches.
# A processed command touches a handful of small records; anything this large is a bug upstream.
key_bytes_max = 4096
value_bytes_max = 64 * 1024 * 1024

# Integer key components are 8 bytes big-endian with the sign bit flipped, so byte order equals
# numeric order over the whole signed 64-bit range.
int_key_bytes = 8
int_key_min = -(2**63)
int_key_max = 2**63 - 1

# One write-buffer budget shared by all column families of a store (RocksDB db_write_buffer_size).
# Without it every family gets its own 64 MiB memtables and memory grows with the family count;
# with it the memtables are flushed early, which also keeps checkpoints (flush + hard links) fast.
write_buffer_bytes_total = 64 * 1024 * 1024

# RocksDB background threads (flush + compaction). The machine is small and shared.
background_jobs_max = 2

# A transaction bigger than this is a runaway loop, not a processed command batch.
transaction_writes_max = 1_000_000

assert int_key_max - int_key_min + 1 == 2 ** (8 * int_key_bytes)
assert 0 < key_bytes_max < value_bytes_max
assert background_jobs_max >= 1
