"""Limits and names of the journal, with units in their names.

The relations between them are asserted at import time so a bad edit fails loudly, not at
the first roll of a segment in production.
"""

# A segment is rolled before an append would take it past this size.
segment_size_bytes_max_default = 64 * 1024 * 1024
# The smallest size we allow: a schema header plus a few entries must fit.
segment_size_bytes_min = 16 * 1024

# Sparse index: one (index, offset) point per segment at least every this many entries or
# bytes, so a lookup parses at most this many message headers.
sparse_index_interval_entries = 16
sparse_index_interval_bytes = 64 * 1024
# A single-entry lookup reads this much from its sparse point at first.
lookup_chunk_bytes = 2 * sparse_index_interval_bytes

# Reads fetch the segment file in chunks of this size (one pread each).
read_chunk_bytes = 1024 * 1024

# User metadata of one entry: how much of it we accept.
entry_metadata_bytes_max = 4 * 1024
entry_metadata_keys_max = 64

# Custom-metadata keys of an IPC record-batch message. An entry carries index, term and crc;
# a flush marker (a 0-row batch written just after the fdatasync of a flush) carries `flushed`.
# User keys may not start with the reserved prefix.
key_prefix_reserved = b"raybee:"
key_index = b"raybee:index"
key_term = b"raybee:term"
key_crc32c = b"raybee:crc32c"
key_flushed = b"raybee:flushed"

# Terms and indexes are stored as decimal text and kept within a signed 64-bit range.
index_max = 2**63 - 1
term_max = 2**63 - 1

# File names.
segment_suffix = ".arrow"
segment_name_digits = 20  # enough for index_max, so names sort as numbers
metadata_file_name = "journal.meta"
lock_file_name = "journal.lock"  # flock-ed while open: one Journal per directory
metadata_tmp_suffix = ".tmp"
flush_hint_file_name = "journal.flushed"  # see _hint.py
flush_hint_bytes = 30  # 20 digits, a space, 8 hex digits of CRC32C, a newline
metadata_format_version = 1

# Arrow IPC framing: every message starts with the continuation marker and a little-endian
# int32 length of its flatbuffer metadata; messages and bodies are 8-byte aligned.
ipc_continuation = b"\xff\xff\xff\xff"
ipc_prefix_bytes = 8
ipc_alignment_bytes = 8
# A message whose metadata claims more than this is damaged, not real.
ipc_metadata_bytes_max = 1024 * 1024

assert segment_size_bytes_min <= segment_size_bytes_max_default
assert sparse_index_interval_entries >= 1
assert ipc_alignment_bytes <= sparse_index_interval_bytes <= segment_size_bytes_max_default
assert read_chunk_bytes >= lookup_chunk_bytes >= sparse_index_interval_bytes
assert entry_metadata_bytes_max + 4096 < ipc_metadata_bytes_max
# An entry with maximal metadata and a small batch must fit in the smallest segment.
assert 2 * entry_metadata_bytes_max <= segment_size_bytes_min
assert len(str(index_max)) <= segment_name_digits
assert all(
    key.startswith(key_prefix_reserved) for key in (key_index, key_term, key_crc32c, key_flushed)
)
