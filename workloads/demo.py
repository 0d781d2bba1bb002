"""`raybee demo` (make demo): what raybee does today, on this machine, end to end.

1. The journal: records appended as Arrow IPC entries, flushed; a crash leaves a torn tail;
   reopening cuts the torn part, keeps every flushed entry, and appends continue.
2. The engine: jobs created, activated, failed, timed out and completed through the stream
   processor on RocksDB; a snapshot; a "crash"; recovery = snapshot + replay, and the state is
   byte-identical to the leader's.
3. The figures: short runs of the benchmarks (`raybee bench <area> --json` measures them fully).
"""

import logging
import os
import tempfile
from pathlib import Path

from raybee.journal import Journal
from raybee.partitions.engine import ENGINE_FAMILIES, EngineState
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream
from raybee.partitions.protocol import (
    RECORD_SCHEMA,
    JobIntent,
    JobRecordValue,
    Record,
    RecordType,
    ValueType,
    batch_to_records,
    records_to_batch,
)
from raybee.partitions.snapshots import SnapshotStore
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock, activate, create, job_command
from raybee.state import RocksDBStore


def say(text: str = "") -> None:
    print(text, flush=True)


def _journal_part(root: Path) -> None:
    say("== 1. The journal: append, crash with a torn tail, recover")
    path = root / "journal"
    journal = Journal.open(path, schema=RECORD_SCHEMA)
    position = 0
    for _ in range(5):
        records = []
        for _record in range(100):
            position += 1
            value = JobRecordValue(type="payment", retries=3, variables={"order": position})
            records.append(
                Record(
                    ValueType.JOB,
                    JobIntent.CREATED,
                    value,
                    RecordType.EVENT,
                    key=position,
                    position=position,
                )
            )
        journal.append(1, records_to_batch(records))
    journal.flush()
    flushed = journal.last_index
    journal.append(1, records_to_batch(records[:50]))  # written, never flushed
    segment = sorted(p for p in path.iterdir() if p.suffix == ".arrow" or "segment" in p.name)[-1]
    size = segment.stat().st_size
    journal._abandon()  # the process dies: no flush, no close
    say(f"  appended 6 entries of Arrow record batches; flushed through index {flushed}")
    with open(segment, "r+b") as handle:  # and the last entry reached the disk only in part
        handle.truncate(size - 700)
    say(f"  crash: cut {segment.name} from {size} to {size - 700} bytes (a torn last entry)")
    journal = Journal.open(path)
    for tail in journal.recovery_report.truncated:
        say(
            f"  recovery: cut {tail.bytes_dropped} bytes at offset {tail.offset} of {Path(tail.path).name}: {tail.reason}"
        )
    say(
        f"  after recovery: entries {journal.first_index}..{journal.last_index}, all flushed entries intact: {journal.last_index == flushed}"
    )
    decoded = sum(len(batch_to_records(e.batch)) for e in journal.read_from(journal.first_index))
    say(f"  every record decodes and checks its CRC32C: {decoded} records")
    index = journal.append(1, records_to_batch(records[:10]))
    say(f"  the next append gets index {index}")
    journal.close()
    say()


def _engine_part(root: Path) -> None:
    say("== 2. The engine: jobs through the stream processor, snapshot, crash, recovery")
    clock = FakeClock()
    log = JournalLogStream.open(root / "log")
    partition = LocalPartition(RocksDBStore(root / "state", ENGINE_FAMILIES), log, 1, clock)
    created = [
        partition.execute(create("payment", retries=2, variables={"order": i})) for i in range(6)
    ]
    keys = [r.key for r in created]
    say(f"  created 6 jobs of type 'payment': keys {keys[0]} .. {keys[-1]} (partition 1 << 51)")
    batch = partition.execute(
        activate("payment", max_jobs=4, timeout_ms=30_000, worker="demo-worker")
    )
    say(f"  a worker activated {len(batch.value.job_keys)} of them for 30 s")
    for key in batch.value.job_keys[:2]:
        partition.execute(job_command(JobIntent.COMPLETE, key, variables={"paid": True}))
    failed = partition.execute(
        job_command(
            JobIntent.FAIL, batch.value.job_keys[2], retries=1, error_message="card declined"
        )
    )
    say(f"  completed 2, failed 1 ({failed.intent.name}, {failed.value.retries} retry left)")
    again = partition.execute(job_command(JobIntent.COMPLETE, batch.value.job_keys[0]))
    say(
        f"  completing a completed job again: {again.rejection_type.name}: {again.rejection_reason}"
    )
    snapshots = SnapshotStore(root / "snapshots")
    snapshot = snapshots.take(partition.store, partition.processor.last_processed_position, clock())
    say(f"  snapshot at processed position {snapshot.position}")
    clock.advance(31_000)
    partition.tick()
    state = EngineState(1, partition.store.view()).jobs
    say(
        f"  31 s later the 4th activated job timed out and is {state.state(batch.value.job_keys[3])} again"
    )
    for _ in range(3):
        partition.execute(create("shipping"))
    leader_digest = partition.store.digest()
    partition.store.close()
    say(f"  crash: the leader's RocksDB is gone; the log holds {log.last_position} records")
    latest = snapshots.latest_valid()
    store = RocksDBStore.open_checkpoint(latest.state_path, root / "recovered", ENGINE_FAMILIES)
    applied = StreamProcessor(store, log, 1, clock).replay()
    say(f"  recovery: snapshot {latest.position} + replay of {applied} events")
    say(f"  recovered state is byte-identical to the leader's: {store.digest() == leader_digest}")
    store.close()
    log.close()
    say()


def _figures() -> None:
    say("== 3. Figures (short runs; `raybee bench <area> --json` for the full ones)")
    from raybee.workloads import bench_engine, bench_journal, bench_protocol

    for name, module, args in (
        ("journal", bench_journal, ["--batches", "500", "--repeats", "1"]),
        ("protocol", bench_protocol, ["--seconds", "0.2"]),
        ("engine", bench_engine, ["--jobs", "3000", "--snapshot-keys", "200000"]),
    ):
        figures = module.run(args)
        shown = ", ".join(
            f"{k}={v:,.0f}" if isinstance(v, float) and v > 100 else f"{k}={v}"
            for k, v in figures.items()
        )
        say(f"  {name}: {shown}")


def run_demo(directory: str | None = None) -> int:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    logging.basicConfig(level=logging.WARNING, format="  [%(name)s] %(message)s")
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        root = Path(tmp)
        _journal_part(root)
        _engine_part(root)
    _figures()
    return 0
