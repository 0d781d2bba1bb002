"""`raybee demo` (make demo) runs the cluster demo (workloads/demo_cluster.py). What it showed
before the Ray cluster existed is kept as `run_local_tour`:

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
    journal.crash()  # the process dies: no flush, no close
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


def _raft_part(root: Path) -> None:
    say(
        "== 3. Raft: three replicas of a partition's log, the leader dies, nothing acknowledged is lost"
    )
    from raybee.partitions.raft_storage import JournalStorage
    from raybee.raft import Role
    from raybee.workloads.bench_raft import JournalGroup

    class RecordGroup(JournalGroup):
        def _open(self, node_id: int) -> JournalStorage:
            return JournalStorage.open(root / "raft" / f"replica-{node_id}", RECORD_SCHEMA)

    group = RecordGroup(str(root / "raft"), seed=7)
    leader = group.elect(1)
    position = 0

    def batch_of(count: int):
        nonlocal position
        records = []
        for _ in range(count):
            position += 1
            value = JobRecordValue(type="payment", retries=3, variables={"n": position})
            records.append(
                Record(ValueType.JOB, JobIntent.CREATE, value, key=position, position=position)
            )
        return records_to_batch(records)

    leader.propose_many([batch_of(100) for _ in range(10)])
    group.stabilize(keep_batches=True)
    acknowledged = group.committed_records[1]
    say(
        f"  replica 1 leads term {leader.term}; 1,000 records committed on all three: "
        f"{[group.committed_records[i] for i in (1, 2, 3)]} (each replica fsyncs its journal)"
    )
    crashed = group.nodes.pop(1)  # the broker holding the leader is gone: no ticks, no messages
    say(f"  replica 1 crashes (it led term {crashed.term})")
    ticks = 0
    while not any(n.role == Role.LEADER for n in group.nodes.values()):
        for node in group.nodes.values():
            node.tick()
        group.stabilize(keep_batches=True)
        ticks += 1
    new_leader = next(n for n in group.nodes.values() if n.role == Role.LEADER)
    say(f"  after {ticks} ticks replica {new_leader.id} leads term {new_leader.term}")
    new_leader.propose_many([batch_of(100) for _ in range(5)])
    group.stabilize(keep_batches=True)
    survivors = [group.committed_records[i] for i in sorted(group.nodes)]
    applied_positions = [
        sorted(p for b in group.applied_batches[i] for p in b.column("position").to_pylist())
        for i in sorted(group.nodes)
    ]
    intact = all(ps == list(range(1, position + 1)) for ps in applied_positions)
    say(
        f"  500 more records committed on the survivors: {survivors}; every record, the "
        f"{acknowledged} acknowledged before the crash included, applied once on each: {intact}"
    )
    group.committed_records[1] = 0  # its state machine restarts empty and re-applies the log
    group.restart(1)  # the crashed replica restarts from its own disk
    for _ in range(3):
        for node in group.nodes.values():
            node.tick()
        group.stabilize(keep_batches=True)
    last_indexes = {i: group.nodes[i].commit_index for i in sorted(group.nodes)}
    say(
        f"  replica 1 restarts from its journal and catches up: commit index per replica "
        f"{last_indexes}; it applied all {group.committed_records[1]} records again"
    )
    group.close()
    say()


def _figures() -> None:
    say("== 4. Figures (short runs; `make bench` and docs/benchmarks.md for the full ones)")
    from raybee.workloads import bench_engine, bench_journal, bench_raft

    journal = bench_journal.run(["--batches", "1000", "--repeats", "1"])
    engine = bench_engine.run(["--jobs", "3000", "--snapshot-keys", "200000", "--repeats", "1"])
    raft = bench_raft.run(["--seeds", "20", "--commit-seconds", "2"])
    rows = [
        (
            "journal append, fsync per 100-record batch",
            journal["append_records_per_s"],
            ">= 300,000 records/s",
        ),
        ("journal read", journal["read_records_per_s"], ">= 1,000,000 records/s"),
        ("journal recovery", journal["recovery_s_per_gib"], "<= 2 s/GiB"),
        ("raft commits, 3 replicas, fsync on", raft["commits_per_s"], ">= 200,000 records/s"),
        (f"raft safety violations in {raft['seeds']} seeds", raft["violations"], "0"),
        ("job lifecycles through the engine", engine["job_lifecycles_per_s"], ">= 10,000 /s"),
        ("engine replay", engine["replay_records_per_s"], ">= 100,000 records/s"),
        ("snapshot of 200,000 keys", engine["snapshot_s_1m_keys"], "<= 1 s for 1 M keys"),
    ]
    for name, value, target in rows:
        shown = f"{value:,.3f}" if isinstance(value, float) and value < 100 else f"{value:,.0f}"
        say(f"  {name:<46} {shown:>12}   target {target}")


def run_demo(directory: str | None = None) -> int:
    """`raybee demo`: raybee on an embedded 3-node Ray cluster (workloads/demo_cluster.py)."""
    from raybee.workloads import demo_cluster

    return demo_cluster.run([] if directory is None else ["--dir", directory])


def run_local_tour(directory: str | None = None) -> int:
    """The single-process tour `raybee demo` gave before the cluster existed: the journal's
    recovery, the engine's snapshot + replay, a Raft group in one process, short figures."""
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    logging.basicConfig(level=logging.WARNING, format="  [%(name)s] %(message)s")
    # The demo prints the journal's recovery report itself, in plainer words.
    logging.getLogger("raybee.journal").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        root = Path(tmp)
        _journal_part(root)
        _engine_part(root)
        _raft_part(root)
    _figures()
    return 0
