"""BPMN process instances on one partition: RocksDB, the Arrow journal (fsync per append), no
Raft, in one process.

- process_instances_per_s: instances of a one-service-task process (start -> service task ->
  end) taken through create -> activate -> complete -> instance completed. Clients append
  commands in batches of 100 (creations, then one JOB_BATCH ACTIVATE of 100 jobs - polling,
  not job push - then 100 completions); counted as instances completed per second of wall
  time, best of the runs, every run listed;
- records_per_instance: every record of the log (commands, events, the activations' share, the
  deployment) divided by the instances.

Each instance is created with two variables and its job completed with one. `cores` and the
load average before and after say how busy the (shared) machine was.

    python -m raybee.workloads.bench_bpmn [--instances N] [--repeats R] [--json]
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream
from raybee.partitions.protocol import JobIntent, ProcessInstanceIntent, RecordType, ValueType
from raybee.partitions.testing import (
    FakeClock,
    activate,
    create_instance,
    deploy,
    job_command,
    one_task_process,
)
from raybee.state import RocksDBStore

CLIENT_BATCH_COMMANDS = 100
PROCESS_ID = "bench-one-task"
JOB_TYPE = "bench-work"


def _instances(root: Path, instances: int) -> tuple[float, float]:
    """(instances completed per second, records per instance) of one run."""
    clock = FakeClock()
    log = JournalLogStream.open(root / "log")
    partition = LocalPartition(RocksDBStore(root / "state", ENGINE_FAMILIES), log, 1, clock)
    answer = partition.execute(deploy(("bench.bpmn", one_task_process(PROCESS_ID, JOB_TYPE))))
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    start = time.perf_counter()
    completed = 0
    while completed < instances:
        count = min(CLIENT_BATCH_COMMANDS, instances - completed)
        partition.write_commands(
            [
                create_instance(PROCESS_ID, {"orderId": completed + i, "amount": 99.5})
                for i in range(count)
            ]
        )
        created = partition.process()
        assert len(created) == count, created[:1]
        partition.write_commands([activate(JOB_TYPE, max_jobs=count, timeout_ms=60_000)])
        (batch,) = [r.record for r in partition.process()]
        assert len(batch.value.job_keys) == count, batch
        partition.write_commands(
            [
                job_command(JobIntent.COMPLETE, key, variables={"ok": True})
                for key in batch.value.job_keys
            ]
        )
        answers = partition.process()
        assert all(r.record.intent == JobIntent.COMPLETED for r in answers), answers[:1]
        completed += count
    elapsed = time.perf_counter() - start
    done = _completed_instances(log)
    assert done == instances, f"{done} of {instances} instances completed"
    records = log.last_position
    partition.close()
    return instances / elapsed, records / instances


def _completed_instances(log) -> int:
    return sum(
        1
        for r in log.read_from(1, skip_commands=True)
        if r.value_type == ValueType.PROCESS_INSTANCE
        and r.intent == ProcessInstanceIntent.ELEMENT_COMPLETED
        and r.value.bpmn_element_type == "PROCESS"
    )


def run(args: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="raybee bench bpmn")
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--dir", help="working directory (default: a temporary one)")
    opts = parser.parse_args(args)
    load_before = os.getloadavg()
    rates, per_instance = [], []
    for _ in range(opts.repeats):
        with tempfile.TemporaryDirectory(dir=opts.dir) as tmp:
            rate, records = _instances(Path(tmp), opts.instances)
            rates.append(rate)
            per_instance.append(records)
    load_after = os.getloadavg()
    return {
        "instances": opts.instances,
        "repeats": opts.repeats,
        "process_instances_per_s": round(max(rates), 1),
        "process_instances_per_s_runs": [round(x) for x in rates],
        "records_per_instance": round(max(per_instance), 2),
        "activation": "JOB_BATCH ACTIVATE, 100 jobs per command (polling)",
        "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    print(json.dumps(run([a for a in argv if a != "--json"]), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
