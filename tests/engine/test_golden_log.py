"""Golden logs guard released appliers: a log written by an earlier version of raybee, checked
in, must replay to exactly the state digest it gave then. An applier edited in place (instead of
a new version registered beside it) changes that digest and fails here.

Regenerate only when a change to how old logs replay is intended (a new state layout, say) -
never to make a failing applier edit pass:
    RAYBEE_REWRITE_GOLDEN=1 .venv/bin/pytest tests/engine/test_golden_log.py
"""

import json
import os
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import RECORD_SCHEMA, batch_to_records, records_to_batch
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock
from raybee.partitions.workload import run_job_workload
from raybee.state import MemoryStore, RocksDBStore

GOLDEN = Path(__file__).parent / "golden"
REWRITE = os.environ.get("RAYBEE_REWRITE_GOLDEN") == "1"
JOB_LOG_SEED = 7
JOB_LOG_STEPS = 250


def _versions(records) -> Counter:
    return Counter(
        f"{r.value_type.name} {r.intent.name} v{r.record_version}" for r in records if r.is_event
    )


def _write_job_log(path: Path, meta_path: Path) -> None:
    clock = FakeClock()
    partition = LocalPartition(MemoryStore(ENGINE_FAMILIES), MemoryLogStream(), 1, clock)
    run_job_workload(partition, clock, random.Random(JOB_LOG_SEED), JOB_LOG_STEPS)
    records = list(partition.log.read_from(1))
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with (
        pa.OSFile(str(path), "wb") as sink,
        pa.ipc.new_file(sink, RECORD_SCHEMA, options=options) as w,
    ):
        w.write_batch(records_to_batch(records))
    meta = {
        "records": len(records),
        "digest": partition.store.digest(),
        "event_versions": dict(sorted(_versions(records).items())),
        "written_by": f"run_job_workload(seed={JOB_LOG_SEED}, steps={JOB_LOG_STEPS})",
    }
    meta_path.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def _read(path: Path):
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return [r for batch in table.to_batches() for r in batch_to_records(batch)]


@pytest.mark.parametrize("kind", ["memory", "rocksdb"])
def test_the_golden_job_log_replays_to_its_digest(tmp_path, kind):
    path, meta_path = GOLDEN / "jobs.arrow", GOLDEN / "jobs.json"
    if REWRITE and kind == "memory":
        _write_job_log(path, meta_path)
    meta = json.loads(meta_path.read_text())
    records = _read(path)
    assert len(records) == meta["records"]
    assert dict(_versions(records)) == meta["event_versions"]
    log = MemoryLogStream()
    log.append(records)
    store = (
        MemoryStore(ENGINE_FAMILIES)
        if kind == "memory"
        else RocksDBStore(tmp_path / "state", ENGINE_FAMILIES)
    )
    processor = StreamProcessor(store, log, 1, FakeClock())
    processor.replay()
    assert store.digest() == meta["digest"], (
        "replaying the golden job log no longer gives the state it gave when it was written: "
        "an applier of a released version changed; register a new version instead"
    )
    store.close()
