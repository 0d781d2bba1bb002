"""What a NORMAL Raft entry of a partition holds: one Arrow batch of records.

An entry is a `pyarrow.RecordBatch` of `RECORD_SCHEMA` whose rows have contiguous positions.
Entries written by the stream processor say which of their rows answer a client (a response):
replay cannot tell, since every record a command writes carries the command's request ids, and
a new leader needs it to answer a client's retry with the first answer (see request_ids.py).
The flags ride in the batch's schema metadata under `RESPONSES_KEY` as a bitmap over the rows;
`partitions/raft_storage.py` keeps entry metadata beside the batch in the journal.
"""

import pyarrow as pa

from raybee.partitions.protocol import RECORD_SCHEMA, Record, records_to_batch

# Schema-metadata keys starting with this prefix travel with the entry (raft_storage.py).
ENTRY_METADATA_PREFIX = b"entry:"
RESPONSES_KEY = ENTRY_METADATA_PREFIX + b"responses"
POSITION_COLUMN = RECORD_SCHEMA.get_field_index("position")
RECORD_TYPE_COLUMN = RECORD_SCHEMA.get_field_index("record_type")
SOURCE_COLUMN = RECORD_SCHEMA.get_field_index("source_record_position")
# A bitmap of this many bytes flags up to 8x as many rows; larger batches carry no flags (their
# duplicates are answered with a rejection that names the first command, see request_ids.py).
RESPONSE_FLAGS_BYTES_MAX = 2048


def encode_entry(records: list[Record], response_rows: list[int] = ()) -> pa.RecordBatch:
    """One entry's data: the records as a batch, flagging the rows that are responses."""
    batch = records_to_batch(records)
    if not response_rows:
        return batch
    bitmap = bytearray((len(records) + 7) // 8)
    if len(bitmap) > RESPONSE_FLAGS_BYTES_MAX:
        return batch
    for row in response_rows:
        assert 0 <= row < len(records), (row, len(records))
        bitmap[row >> 3] |= 1 << (row & 7)
    metadata = dict(batch.schema.metadata or {})
    metadata[RESPONSES_KEY] = bytes(bitmap)
    return batch.replace_schema_metadata(metadata)


def response_rows(batch: pa.RecordBatch) -> list[int]:
    """The rows of an entry flagged as responses (empty when none are flagged)."""
    metadata = batch.schema.metadata
    if not metadata:
        return []
    bitmap = metadata.get(RESPONSES_KEY)
    if not bitmap:
        return []
    return [
        byte_index * 8 + bit
        for byte_index, byte in enumerate(bitmap)
        if byte
        for bit in range(8)
        if byte >> bit & 1 and byte_index * 8 + bit < batch.num_rows
    ]


def position_range(batch: pa.RecordBatch) -> tuple[int, int]:
    """(first, last) position of a non-empty entry."""
    column = batch.column(POSITION_COLUMN)
    return column[0].as_py(), column[-1].as_py()
