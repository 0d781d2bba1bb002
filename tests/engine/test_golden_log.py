"""Golden logs guard released appliers: a log written by an earlier version of raybee, checked
in, must replay to exactly the state digest it gave then. An applier edited in place (instead of
a new version registered beside it) changes that digest and fails here.

Regenerate only when a change to how old logs replay is intended (a new state layout, say) -
never to make a failing applier edit pass:
    RAYBEE_REWRITE_GOLDEN=1 .venv/bin/pytest tests/engine/test_golden_log.py
"""

import importlib.util
import json
import os
import random
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.local_cluster import LocalCluster
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import RECORD_SCHEMA, batch_to_records, records_to_batch
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock
from raybee.partitions.workload import run_job_workload
from raybee.state import MemoryStore, RocksDBStore

GOLDEN = Path(__file__).parent / "golden"
REWRITE = os.environ.get("RAYBEE_REWRITE_GOLDEN") == "1"
SEED = 7


def _load(name: str):
    """A workload module under tests/engine/bpmn (test modules are loaded by path)."""
    path = Path(__file__).parent / "bpmn" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"raybee_tests_golden_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jobs() -> dict[int, LocalPartition]:
    clock = FakeClock()
    partition = LocalPartition(MemoryStore(ENGINE_FAMILIES), MemoryLogStream(), 1, clock)
    run_job_workload(partition, clock, random.Random(SEED), 250)
    return {1: partition}


def _bpmn() -> dict[int, LocalPartition]:
    clock = FakeClock()
    partition = LocalPartition(MemoryStore(ENGINE_FAMILIES), MemoryLogStream(), 1, clock)
    _load("bpmn_workload").BpmnWorkload(partition, clock, random.Random(SEED)).run(120)
    return {1: partition}


def _events() -> dict[int, LocalPartition]:
    events = _load("event_workload")
    clock = FakeClock()
    cluster = LocalCluster(events.PARTITIONS, clock, faults=events.FAULTS, seed=SEED)
    events.EventWorkload(cluster, clock, random.Random(SEED)).run(60)
    return cluster.partitions


# name -> how it was written (run again only to rewrite)
WORKLOADS = {"jobs": _jobs, "bpmn": _bpmn, "events": _events}
CASES = [("jobs", 1), ("bpmn", 1), ("events", 1), ("events", 2), ("events", 3)]


def _versions(records) -> Counter:
    return Counter(
        f"{r.value_type.name} {r.intent.name} v{r.record_version}" for r in records if r.is_event
    )


def _path(name: str, partition_id: int) -> Path:
    return GOLDEN / f"{name}-p{partition_id}.arrow"


def _rewrite(name: str) -> None:
    partitions = WORKLOADS[name]()
    meta = {"partition_count": len(partitions), "partitions": {}}
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    for partition_id, partition in partitions.items():
        records = list(partition.log.read_from(1))
        with (
            pa.OSFile(str(_path(name, partition_id)), "wb") as sink,
            pa.ipc.new_file(sink, RECORD_SCHEMA, options=options) as writer,
        ):
            writer.write_batch(records_to_batch(records))
        meta["partitions"][str(partition_id)] = {
            "records": len(records),
            "digest": partition.store.digest(),
            "event_versions": dict(sorted(_versions(records).items())),
        }
    (GOLDEN / f"{name}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


def _read(path: Path):
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return [r for batch in table.to_batches() for r in batch_to_records(batch)]


@pytest.mark.parametrize("kind", ["memory", "rocksdb"])
@pytest.mark.parametrize(("name", "partition_id"), CASES)
def test_a_golden_log_replays_to_its_digest(tmp_path, name, partition_id, kind):
    if REWRITE and kind == "memory" and partition_id == 1:
        _rewrite(name)
    meta = json.loads((GOLDEN / f"{name}.json").read_text())
    expected = meta["partitions"][str(partition_id)]
    records = _read(_path(name, partition_id))
    assert len(records) == expected["records"]
    assert dict(_versions(records)) == expected["event_versions"]
    log = MemoryLogStream()
    log.append(records)
    store = (
        MemoryStore(ENGINE_FAMILIES)
        if kind == "memory"
        else RocksDBStore(tmp_path / "state", ENGINE_FAMILIES)
    )
    processor = StreamProcessor(
        store, log, partition_id, FakeClock(), partition_count=meta["partition_count"]
    )
    processor.replay()
    assert store.digest() == expected["digest"], (
        f"replaying the golden {name} log of partition {partition_id} no longer gives the state "
        "it gave when it was written: an applier of a released version changed; register a new "
        "version instead"
    )
    store.close()
