"""An exporter that writes records as Parquet files anyone can query (pyarrow, DuckDB, pandas).

One file per flushed run of records, named by its first and last position, written to a
temporary name, fsynced and renamed, so a reader never sees half a file. The value is stored as
its JSON text, so `json_extract(value, '$.type')` works in DuckDB.
"""

import os
import re
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from raybee.partitions.files import fsync_dir, fsync_file
from raybee.partitions.protocol import RECORD_SCHEMA, Record, records_to_batch

from .exporter import Exporter, ExporterContext

PARQUET_FILE_RECORDS_MAX = 100_000
_FILE_NAME = re.compile(r"^records-p(\d+)-(\d{20})-(\d{20})\.parquet$")

EXPORT_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.string(), nullable=False) if f.name == "value" else f
        for f in RECORD_SCHEMA
    ]
    + [
        pa.field("value_type_name", pa.string(), nullable=False),
        pa.field("intent_name", pa.string(), nullable=False),
        pa.field("record_type_name", pa.string(), nullable=False),
    ]
)


class ParquetExporter(Exporter):
    def __init__(
        self, directory: str | os.PathLike, file_records_max: int = PARQUET_FILE_RECORDS_MAX
    ):
        assert file_records_max > 0
        self.exporter_id = "parquet"
        self.directory = Path(directory)
        self.file_records_max = file_records_max
        self._pending: list[Record] = []
        self._context: ExporterContext | None = None
        self._last_written_position = -1

    def open(self, context: ExporterContext) -> None:
        self._context = context
        self.directory.mkdir(parents=True, exist_ok=True)
        # A crash between a rename and its acknowledgement leaves a file the director does not
        # know about: skip what is already on disk instead of writing it twice.
        self._last_written_position = max(
            [context.last_exported_position]
            + [
                int(m.group(3))
                for name in os.listdir(self.directory)
                if (m := _FILE_NAME.match(name)) and int(m.group(1)) == context.partition_id
            ]
        )
        if self._last_written_position > context.last_exported_position:
            context.acknowledge(self._last_written_position)

    def export(self, records: Sequence[Record]) -> None:
        assert self._context is not None, "export before open"
        for record in records:
            if record.position <= self._last_written_position:
                continue
            assert not self._pending or record.position > self._pending[-1].position, (
                "records must arrive in increasing position order"
            )
            self._pending.append(record)
            if len(self._pending) >= self.file_records_max:
                self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        assert self._context is not None
        records, self._pending = self._pending, []
        first, last = records[0].position, records[-1].position
        table = pa.Table.from_batches([_to_export_batch(records)])
        name = f"records-p{self._context.partition_id}-{first:020d}-{last:020d}.parquet"
        temporary = self.directory / (name + ".tmp")
        pq.write_table(table, temporary, compression="zstd")
        fsync_file(temporary)
        os.replace(temporary, self.directory / name)
        fsync_dir(self.directory)
        self._last_written_position = last
        self._context.acknowledge(last)


def _to_export_batch(records: Sequence[Record]) -> pa.RecordBatch:
    batch = records_to_batch(records)
    columns = []
    for field in EXPORT_SCHEMA:
        if field.name == "value":
            columns.append(
                pa.array([v.decode() for v in batch.column("value").to_pylist()], pa.string())
            )
        elif field.name == "value_type_name":
            columns.append(pa.array([r.value_type.name for r in records], pa.string()))
        elif field.name == "intent_name":
            columns.append(pa.array([r.intent.name for r in records], pa.string()))
        elif field.name == "record_type_name":
            columns.append(pa.array([r.record_type.name for r in records], pa.string()))
        else:
            columns.append(batch.column(field.name))
    return pa.RecordBatch.from_arrays(columns, schema=EXPORT_SCHEMA)
