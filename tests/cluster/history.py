"""Checks over the committed logs of a running cluster: every acknowledged process instance was
created once and completed exactly once, no create request made two instances (a retry applied
twice), no job was completed twice, no key was issued twice.

The logs are read from each partition's leader broker (`Broker.read_committed`); the checks look
only at committed EVENTS, so what a client saw as an unknown outcome cannot hide a duplicate.
They need each log whole, from position 1: a cluster checked this way is started with
`cluster_check.WHOLE_LOG_SETTINGS` (no snapshot, no compaction), and `cluster_check.read_log`
refuses a compacted log by name instead of letting it read as instances never created.
"""

import collections
import time

import ray

from raybee.partitions.protocol import (
    JobIntent,
    ProcessInstanceCreationIntent,
    ProcessInstanceIntent,
    RecordType,
    ValueType,
)
from raybee.workloads import cluster_check

# Events that carry a key the first time it is used: each such key appears once in a log.
KEY_ISSUING_EVENTS = {
    (ValueType.JOB, JobIntent.CREATED),
    (ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_ACTIVATING),
}


def committed_log(client, partition: int, timeout_s: float = 30.0) -> list:
    """The partition's committed records, read from its leader (retried while leadership
    moves or the topology still names a broker that is gone)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            broker = client.topology()["partitions"][partition]["leader_broker"]
            handle = client.router.handles[broker]
            return cluster_check.read_log(handle, partition)
        except (KeyError, ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def history(client) -> dict:
    created = collections.Counter()
    completed = collections.Counter()
    jobs_completed = collections.Counter()
    keys = collections.Counter()
    creations = collections.Counter()  # (request stream id, request id) -> instances created
    for partition in client.router.partitions():
        for record in committed_log(client, partition):
            if record.record_type != RecordType.EVENT:
                continue
            if record.value_type == ValueType.PROCESS_INSTANCE and (
                record.value.bpmn_element_type == "PROCESS"
            ):
                if record.intent == ProcessInstanceIntent.ELEMENT_ACTIVATED:
                    created[record.key] += 1
                elif record.intent == ProcessInstanceIntent.ELEMENT_COMPLETED:
                    completed[record.key] += 1
            elif record.value_type == ValueType.JOB and record.intent == JobIntent.COMPLETED:
                jobs_completed[record.key] += 1
            if (record.value_type, record.intent) in KEY_ISSUING_EVENTS:
                keys[record.key] += 1
            if (
                record.value_type == ValueType.PROCESS_INSTANCE_CREATION
                and record.intent == ProcessInstanceCreationIntent.CREATED
                and record.request_stream_id >= 0
            ):
                creations[(record.request_stream_id, record.request_id)] += 1
    return {
        "created": created,
        "completed": completed,
        "jobs_completed": jobs_completed,
        "keys": keys,
        "creations": creations,
    }


def problems(found: dict, acknowledged: set[int]) -> list[str]:
    """Everything wrong, each named (empty when the history is right)."""
    out = []
    for key in sorted(acknowledged):
        if found["created"][key] != 1:
            out.append(f"instance {key} was acknowledged, created {found['created'][key]} times")
        if found["completed"][key] != 1:
            out.append(
                f"instance {key} was acknowledged, completed {found['completed'][key]} times"
            )
    for kind in ("created", "completed", "jobs_completed", "keys", "creations"):
        twice = [k for k, n in found[kind].items() if n > 1]
        if twice:
            out.append(f"{kind}: {len(twice)} keys more than once, e.g. {twice[:5]}")
    return out
