"""`raybee bench engine`: the stream processor on one partition, RocksDB, the Arrow journal,
no Raft.

- job_lifecycles_per_s: jobs taken create -> activate -> complete through the processor
  (clients append commands in batches of 100, activation takes 100 jobs at a time, the log is
  flushed on every append);
- replay_records_per_s: a fresh store replaying that log (records read per second);
- snapshot_s_1m_keys: one snapshot (checkpoint + checksummed manifest) of a store holding
  1 million keys;
- process_instances_per_s, records_per_instance: one-service-task BPMN instances (see
  bench_bpmn.py), and feel_evals_per_s, feel_simple_conditions_evals_per_s (see bench_feel.py),
  so that one command gives every engine figure; `--quick` leaves those two out.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.families import JOBS
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream
from raybee.partitions.protocol import JobIntent, JobRecordValue
from raybee.partitions.snapshots import SnapshotStore
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import FakeClock, activate, create, job_command
from raybee.state import RocksDBStore

CLIENT_BATCH_COMMANDS = 100


def _lifecycles(root: Path, jobs: int) -> tuple[float, JournalLogStream, int]:
    clock = FakeClock()
    log = JournalLogStream.open(root / "log")
    partition = LocalPartition(RocksDBStore(root / "state", ENGINE_FAMILIES), log, 1, clock)
    variables = {"orderId": 1, "amount": 99.5, "note": "x" * 60}
    start = time.perf_counter()
    done = 0
    while done < jobs:
        count = min(CLIENT_BATCH_COMMANDS, jobs - done)
        partition.write_commands([create("bench", variables=variables) for _ in range(count)])
        partition.process()
        partition.write_commands([activate("bench", max_jobs=count, timeout_ms=60_000)])
        (batch,) = [r.record for r in partition.process()]
        assert len(batch.value.job_keys) == count, batch
        partition.write_commands(
            [
                job_command(JobIntent.COMPLETE, key, variables={"ok": True})
                for key in batch.value.job_keys
            ]
        )
        completed = [r.record for r in partition.process()]
        assert all(r.intent == JobIntent.COMPLETED for r in completed), completed[:1]
        done += count
    elapsed = time.perf_counter() - start
    partition.store.close()
    return jobs / elapsed, log, log.last_position


def _replay(root: Path, log: JournalLogStream, records: int) -> float:
    store = RocksDBStore(root / "replayed", ENGINE_FAMILIES)
    start = time.perf_counter()
    StreamProcessor(store, log, 1, FakeClock()).replay()
    elapsed = time.perf_counter() - start
    store.close()
    return records / elapsed


def _snapshot_1m(root: Path, keys: int) -> float:
    store = RocksDBStore(root / "big", ENGINE_FAMILIES)
    job = JobRecordValue(type="bench", retries=3, variables={"n": 1})
    per_txn = 20_000
    for first in range(0, keys, per_txn):
        with store.transaction() as txn:
            for key in range(first, min(first + per_txn, keys)):
                txn.put(JOBS, key, ("ACTIVATABLE", job))
    snapshots = SnapshotStore(root / "snapshots")
    start = time.perf_counter()
    snapshots.take(store, keys, 0)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def _in_own_process(module: str, args: list[str]) -> dict:
    """Run another benchmark in a fresh interpreter: after the jobs and the 1 M-key snapshot,
    this process's heap (and the garbage collector's work over it) taxed the next workload
    (BPMN instances measured ~10 % slower here than on their own)."""
    done = subprocess.run(
        [sys.executable, "-m", f"raybee.workloads.{module}", *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench engine")
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--snapshot-keys", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--dir", help="working directory (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="jobs and replay only")
    opts = parser.parse_args(args)
    load_before = os.getloadavg()
    lifecycles, replays = [], []
    for _ in range(opts.repeats):
        with tempfile.TemporaryDirectory(dir=opts.dir) as tmp:
            root = Path(tmp)
            lifecycles_per_s, log, records = _lifecycles(root, opts.jobs)
            replays.append(_replay(root, log, records))
            lifecycles.append(lifecycles_per_s)
            log.close()
    with tempfile.TemporaryDirectory(dir=opts.dir) as tmp:
        snapshot_s = _snapshot_1m(Path(tmp), opts.snapshot_keys)
    figures = {}
    if not opts.quick:
        repeats = ["--repeats", str(opts.repeats)]
        bpmn = _in_own_process("bench_bpmn", repeats + (["--dir", opts.dir] if opts.dir else []))
        feel = _in_own_process("bench_feel", repeats)
        figures = {
            "process_instances_per_s": bpmn["process_instances_per_s"],
            "process_instances_per_s_runs": bpmn["process_instances_per_s_runs"],
            "records_per_instance": bpmn["records_per_instance"],
            "feel_evals_per_s": feel["feel_evals_per_s"],
            "feel_evals_per_s_runs": feel["feel_evals_per_s_runs"],
            "feel_simple_conditions_evals_per_s": feel["feel_simple_conditions_evals_per_s"],
        }
    return {
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        **figures,
        "jobs": opts.jobs,
        "log_records": records,
        "repeats": opts.repeats,
        "job_lifecycles_per_s": round(max(lifecycles), 1),
        "job_lifecycles_per_s_runs": [round(x) for x in lifecycles],
        "replay_records_per_s": round(max(replays), 1),
        "replay_records_per_s_runs": [round(x) for x in replays],
        "snapshot_keys": opts.snapshot_keys,
        "snapshot_s_1m_keys": round(snapshot_s, 3),
    }
