"""Zeebe's job semantics, one rule per test, each with the documentation it follows (the same
sources are beside the rules in partitions/engine/processors/job.py)."""

from raybee.partitions.engine import ENGINE_FAMILIES, EngineState
from raybee.partitions.engine.stores import JobState
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import (
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    RecordType,
    RejectionType,
    ValueType,
    evolve,
)
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import (
    FakeClock,
    activate,
    check_job_indexes,
    create,
    job_command,
)
from raybee.state import MemoryStore

MISSING = (1 << 51) + 999_999


def stored(partition, key):
    return EngineState(1, partition.store.view()).jobs.entry(key)


def activated_job(partition, timeout_ms=1000, worker="w", **fields):
    key = partition.execute(create(**fields)).key
    batch = partition.execute(activate(timeout_ms=timeout_ms, worker=worker))
    assert batch.intent == JobBatchIntent.ACTIVATED and batch.value.job_keys == [key]
    return key, batch.value.jobs[0]


def test_a_slow_worker_may_fail_a_job_that_timed_out(partition, clock):
    # https://docs.camunda.io/docs/apis-tools/orchestration-cluster-api-rest/specifications/fail-job/
    # (409 only "not ACTIVATED or ACTIVATABLE"); https://github.com/camunda/camunda/issues/3757
    key, _ = activated_job(partition, timeout_ms=10)
    clock.advance(11)
    partition.tick()
    assert stored(partition, key)[0] == JobState.ACTIVATABLE, "timed out"
    failed = partition.execute(job_command(JobIntent.FAIL, key, retries=0, error_message="late"))
    assert failed.record_type == RecordType.EVENT and failed.intent == JobIntent.FAILED
    assert stored(partition, key)[0] == JobState.FAILED
    incidents = [r for r in partition.log.read_from(1) if r.value_type == ValueType.INCIDENT]
    assert [(r.intent, r.value.job_key) for r in incidents] == [(IncidentIntent.CREATED, key)]
    check_job_indexes(partition.store)


def test_a_failed_or_parked_job_cannot_be_failed_again(partition):
    key, _ = activated_job(partition)
    partition.execute(job_command(JobIntent.FAIL, key, retries=0))
    refused = partition.execute(job_command(JobIntent.FAIL, key, retries=1))
    assert refused.rejection_type == RejectionType.INVALID_STATE
    assert "in state 'FAILED'" in refused.rejection_reason


def test_the_failed_event_keeps_the_worker_and_deadline_and_the_job_is_released(partition):
    # A failed job's record still names its worker and deadline:
    # https://github.com/camunda/camunda/issues/16884
    key, handed_out = activated_job(partition, timeout_ms=5000, worker="alice")
    failed = partition.execute(job_command(JobIntent.FAIL, key, retries=2))
    assert failed.value.worker == "alice"
    assert failed.value.deadline_ms == handed_out.deadline_ms > 0
    state, job = stored(partition, key)
    assert state == JobState.ACTIVATABLE and job.worker == "" and job.deadline_ms == -1
    assert job.retries == 2
    check_job_indexes(partition.store)


def test_fail_and_throw_error_events_carry_the_commands_variables(partition):
    # gateway.proto FailJobRequest.variables: "instantiate the variables at the local scope of
    # the job's associated task"; ThrowErrorRequest.variables: "... of the error catch event"
    # (https://github.com/camunda/camunda/blob/main/zeebe/gateway-protocol/src/main/proto/gateway.proto)
    key, _ = activated_job(partition, variables={"order": 7})
    failed = partition.execute(job_command(JobIntent.FAIL, key, retries=1, variables={"why": 1}))
    assert failed.value.variables == {"why": 1}
    assert stored(partition, key)[1].variables == {"order": 7}
    thrown = partition.execute(
        job_command(JobIntent.THROW_ERROR, key, error_code="E", variables={"caught": True})
    )
    assert thrown.value.variables == {"caught": True}
    assert stored(partition, key)[1].variables == {"order": 7}


def test_a_job_times_out_only_once_its_deadline_is_strictly_past(partition, clock):
    # "the unix timestamp until when the job is exclusively assigned to this worker. If the
    # deadline is exceeded, it can happen that the job is handed to another worker"
    # (https://hauptmedia.github.io/zeebe-exporter-types/interfaces/jobrecordvalue.html)
    key, job = activated_job(partition, timeout_ms=1000)
    clock.advance(job.deadline_ms - clock())
    partition.tick()
    assert stored(partition, key)[0] == JobState.ACTIVATED, "at the deadline it is the worker's"
    refused = partition.execute(job_command(JobIntent.TIME_OUT, key))
    assert refused.rejection_type == RejectionType.INVALID_STATE
    assert refused.rejection_reason == (
        f"Expected to time out job with key '{key}', but its deadline {job.deadline_ms} is not "
        f"before the command's time {clock()}"
    )
    clock.advance(1)
    partition.tick()
    assert stored(partition, key)[0] == JobState.ACTIVATABLE
    scheduled = [r for r in partition.log.read_from(1) if r.intent == JobIntent.TIME_OUT]
    assert [r.timestamp_ms for r in scheduled if r.request_id < 0] == [job.deadline_ms + 1], (
        "the clock scheduled one TIME_OUT, after the deadline"
    )


def test_time_out_of_an_unknown_job_is_not_found(partition):
    # Every job RPC in gateway.proto: "NOT_FOUND: no job was found with the given key".
    refused = partition.execute(job_command(JobIntent.TIME_OUT, MISSING))
    assert refused.rejection_type == RejectionType.NOT_FOUND
    assert refused.rejection_reason == (
        f"Expected to time out job with key '{MISSING}', but no such job was found"
    )


def test_old_failed_events_keep_replaying_with_the_applier_of_their_version(partition):
    """A FAILED event written before version 2 carried the job as stored (variables merged,
    worker released): replay applies it with version 1, and the state is the one the old
    leader had; a version 2 event keeps the job's own variables."""
    key, _ = activated_job(partition, variables={"a": 1})
    partition.execute(job_command(JobIntent.FAIL, key, retries=1, variables={"b": 2}))
    records = list(partition.log.read_from(1))
    (failed,) = [r for r in records if r.is_event and r.intent == JobIntent.FAILED]
    assert failed.value_type == ValueType.JOB and failed.record_version == 2
    as_written_before = failed._replace(
        record_version=1,
        value=evolve(failed.value, worker="", deadline_ms=-1, variables={"a": 1, "b": 2}),
    )
    for log_records, variables in (
        (records, {"a": 1}),
        ([as_written_before if r is failed else r for r in records], {"a": 1, "b": 2}),
    ):
        log = MemoryLogStream()
        log.append(log_records)
        replayer = StreamProcessor(MemoryStore(ENGINE_FAMILIES), log, 1, FakeClock())
        replayer.replay()
        state, job = EngineState(1, replayer.store.view()).jobs.entry(key)
        assert (state, job.variables, job.worker) == (JobState.ACTIVATABLE, variables, "")
