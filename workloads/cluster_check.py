"""Checks of a running cluster against what its clients were told, from the committed logs of
every replica (read through the brokers): the replicated partition's own history checker
(`partitions/simulation/history.py`: committed records never differ between replicas, no key
minted twice, no job completed twice, every command answered exactly once, each request
processed fresh at most once, every acknowledged request committed as acknowledged, replicas
at equal processed positions hold equal state) - and, per acknowledged process instance,
whether it exists and whether it ended.

Used by `raybee demo`, the cluster benchmark and the cluster tests, on a quiet cluster (after
the load, once replication caught up). The checks need every log whole, from position 1; a
replica compacts its log below its snapshots, so a cluster checked this way is started with
`replica_settings=WHOLE_LOG_SETTINGS`, and a log that does not start at position 1 is refused by
name (it would read as instances never created).
"""

import ray

from raybee.partitions.protocol import ProcessInstanceIntent, Record, RecordType, ValueType
from raybee.partitions.simulation.history import HistoryChecker

PAGE_RECORDS = 20_000
CALL_TIMEOUT_S = 60
# `raybee.connect(replica_settings=...)`: no snapshot, and so no compaction, for the life of a
# demo or a test (2**40 positions or milliseconds is never reached).
WHOLE_LOG_SETTINGS = {"snapshot_interval_positions": 1 << 40, "snapshot_interval_ms": 1 << 40}


class CompactedLogError(AssertionError):
    """A replica's log does not start at position 1: the checks cannot see its beginning."""


def read_log(handle, partition: int) -> list[Record]:
    """A broker's replica's whole committed log (CompactedLogError if it was compacted)."""
    records, position = [], 1
    while True:
        page = ray.get(
            handle.read_committed.remote(partition, position, PAGE_RECORDS), timeout=CALL_TIMEOUT_S
        )
        records.extend(page)
        if len(page) < PAGE_RECORDS:
            break
        position = page[-1].position + 1
    if records and records[0].position != 1:
        raise CompactedLogError(
            f"partition {partition}'s log starts at position {records[0].position}, not 1 (it "
            f"was compacted below a snapshot): these checks need the whole log (start the "
            f"cluster with replica_settings=WHOLE_LOG_SETTINGS)"
        )
    return records


def replica_logs(client) -> dict[int, dict[int, tuple[list[Record], int, str]]]:
    """partition -> replica id -> (its committed records, processed position, state digest),
    for every replica on a live broker."""
    logs: dict[int, dict[int, tuple[list[Record], int, str]]] = {}
    for handle in client.router.handles.values():
        try:
            status = ray.get(handle.status.remote(), timeout=CALL_TIMEOUT_S)
        except ray.exceptions.RayError:
            continue  # a broker that is gone
        for partition, replica in status["replicas"].items():
            partition = int(partition)
            records = read_log(handle, partition)
            processed, digest = ray.get(
                handle.processed_digest.remote(partition), timeout=CALL_TIMEOUT_S
            )
            logs.setdefault(partition, {})[replica["replica_id"]] = (records, processed, digest)
    return logs


def check_history(logs: dict, acknowledged: list[Record]) -> dict[int, dict]:
    """Run the replicated partition's history checker over every partition; raises its
    Violation (naming the invariant) on the first problem. Returns its counts per partition.
    `acknowledged`: the answer records clients received (each carries its request ids)."""
    counts = {}
    for partition, replicas in sorted(logs.items()):
        checker = HistoryChecker()
        for replica_id, (records, processed, digest) in sorted(replicas.items()):
            checker.on_committed(replica_id, records)
            checker.on_digest(replica_id, processed, digest)
        for record in acknowledged:
            if record.partition_id == partition and record.request_stream_id >= 0:
                checker.on_acked((record.request_stream_id, record.request_id), record)
        checker.check_final()
        counts[partition] = dict(checker.counts)
    return counts


def instances(logs: dict) -> tuple[set[int], set[int]]:
    """Process instance keys created and ended, from the longest log of each partition."""
    created, ended = set(), set()
    for replicas in logs.values():
        records = max((r[0] for r in replicas.values()), key=len, default=[])
        for record in records:
            if (
                record.record_type == RecordType.EVENT
                and record.value_type == ValueType.PROCESS_INSTANCE
                and record.value.bpmn_element_type == "PROCESS"
            ):
                if record.intent == ProcessInstanceIntent.ELEMENT_ACTIVATED:
                    created.add(record.key)
                elif record.intent == ProcessInstanceIntent.ELEMENT_COMPLETED:
                    ended.add(record.key)
    return created, ended
