"""The Parquet exporter writes every record once, atomically, readable by pyarrow and DuckDB."""

import duckdb
import pyarrow.parquet as pq

from raybee.partitions.exporters import ExporterContext, ParquetExporter
from raybee.partitions.protocol import JobIntent, JobRecordValue, Record, RecordType, ValueType


def job_records(first: int, count: int) -> list[Record]:
    return [
        Record(
            ValueType.JOB,
            JobIntent.CREATED,
            JobRecordValue(type=f"type-{p % 3}", retries=p),
            RecordType.EVENT,
            key=p,
            position=p,
        )
        for p in range(first, first + count)
    ]


def test_records_land_in_parquet_and_duckdb_reads_them(tmp_path):
    acks: list[int] = []
    exporter = ParquetExporter(tmp_path, file_records_max=40)
    exporter.open(
        ExporterContext(partition_id=1, last_exported_position=-1, acknowledge=acks.append)
    )
    exporter.export(job_records(1, 100))
    exporter.close()
    assert acks == [40, 80, 100]
    files = sorted(tmp_path.glob("*.parquet"))
    assert len(files) == 3 and not list(tmp_path.glob("*.tmp"))
    table = pq.read_table(tmp_path)
    assert table.num_rows == 100
    assert sorted(table.column("position").to_pylist()) == list(range(1, 101))
    rows = duckdb.sql(
        f"select json_extract_string(value, '$.type') as t, count(*) as n "
        f"from read_parquet('{tmp_path}/*.parquet') where intent_name = 'CREATED' group by t order by t"
    ).fetchall()
    assert rows == [("type-0", 33), ("type-1", 34), ("type-2", 33)]


def test_restart_skips_what_is_on_disk_but_was_not_acknowledged(tmp_path):
    exporter = ParquetExporter(tmp_path, file_records_max=10)
    exporter.open(ExporterContext(1, -1, acknowledge=lambda position: None))  # acks lost
    exporter.export(job_records(1, 20))
    exporter.close()
    acks: list[int] = []
    again = ParquetExporter(tmp_path, file_records_max=10)
    again.open(ExporterContext(1, -1, acknowledge=acks.append))
    assert acks == [20], "it acknowledges what it finds on disk"
    again.export(job_records(1, 25))  # the director replays from its last known position
    again.close()
    positions = pq.read_table(tmp_path).column("position").to_pylist()
    assert sorted(positions) == list(range(1, 26)), "no record exported twice, none lost"


def test_director_exports_a_partition_log_and_survives_a_restart(tmp_path):
    import random

    from raybee.partitions.engine import ENGINE_FAMILIES
    from raybee.partitions.exporters import ExporterDirector
    from raybee.partitions.local import LocalPartition
    from raybee.partitions.log_stream import MemoryLogStream
    from raybee.partitions.testing import FakeClock
    from raybee.partitions.workload import run_job_workload
    from raybee.state import MemoryStore

    clock = FakeClock()
    log = MemoryLogStream()
    partition = LocalPartition(MemoryStore(ENGINE_FAMILIES), log, 1, clock)
    run_job_workload(partition, clock, random.Random(3), steps=100)
    positions = tmp_path / "exporter-positions.json"
    director = ExporterDirector(
        log, [ParquetExporter(tmp_path / "out", file_records_max=50)], positions, 1
    )
    first_count = director.export_available(committed_position=log.last_position // 2)
    director.flush()
    assert director.lowest_position == log.last_position // 2 == first_count
    director.close()
    run_job_workload(partition, clock, random.Random(4), steps=50)
    again = ExporterDirector(
        log, [ParquetExporter(tmp_path / "out", file_records_max=50)], positions, 1
    )
    assert again.lowest_position == first_count, "positions survive the restart"
    again.export_available()
    again.close()
    exported = pq.read_table(tmp_path / "out").column("position").to_pylist()
    assert sorted(exported) == list(range(1, log.last_position + 1))
