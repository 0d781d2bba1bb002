"""Jobs through the stream processor: every transition, and every rejection with its reason."""

import pytest

from raybee.partitions.engine.stores import JobState
from raybee.partitions.protocol import (
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    RecordType,
    RejectionType,
    ValueType,
    partition_of_key,
)
from raybee.partitions.testing import activate, check_job_indexes, create, job_command, resolve


@pytest.fixture(autouse=True)
def indexes_agree_after_each_test(partition):
    yield
    check_job_indexes(partition.store)


def state_of(partition, key):
    from raybee.partitions.engine import EngineState

    return EngineState(1, partition.store.view()).jobs.state(key)


def created_job(partition, **fields):
    event = partition.execute(create(**fields))
    assert event.record_type == RecordType.EVENT and event.intent == JobIntent.CREATED
    return event.key


def activated_job(partition, **fields):
    key = created_job(partition, **fields)
    batch = partition.execute(activate(fields.get("job_type", "payment")))
    assert batch.intent == JobBatchIntent.ACTIVATED and key in batch.value.job_keys
    return key


def test_create_activate_complete(partition, clock):
    key = created_job(partition)
    assert partition_of_key(key) == 1
    assert state_of(partition, key) == JobState.ACTIVATABLE
    batch = partition.execute(activate(timeout_ms=5000, worker="alice"))
    assert batch.value.job_keys == [key]
    (job,) = batch.value.jobs
    assert job.worker == "alice" and job.deadline_ms == clock() + 5000
    assert state_of(partition, key) == JobState.ACTIVATED
    done = partition.execute(job_command(JobIntent.COMPLETE, key, variables={"paid": True}))
    assert done.intent == JobIntent.COMPLETED and done.value.variables == {"paid": True}
    assert state_of(partition, key) is None


def test_activation_hands_out_each_job_once_and_respects_max(partition):
    keys = [created_job(partition) for _ in range(5)]
    first = partition.execute(activate(max_jobs=3))
    second = partition.execute(activate(max_jobs=3))
    third = partition.execute(activate(max_jobs=3))
    assert first.value.job_keys == keys[:3]
    assert second.value.job_keys == keys[3:]
    assert third.value.job_keys == []


def test_activation_only_hands_out_the_requested_type(partition):
    created_job(partition, job_type="a")
    b = created_job(partition, job_type="b")
    assert partition.execute(activate("b")).value.job_keys == [b]


def test_fetch_variables_limits_what_the_worker_gets(partition):
    created_job(partition, variables={"a": 1, "b": 2})
    (job,) = partition.execute(activate(fetch_variables=["b"])).value.jobs
    assert job.variables == {"b": 2}


def test_fail_with_retries_makes_the_job_activatable_again(partition):
    key = activated_job(partition)
    failed = partition.execute(job_command(JobIntent.FAIL, key, retries=2, error_message="boom"))
    assert failed.intent == JobIntent.FAILED and failed.value.retries == 2
    assert state_of(partition, key) == JobState.ACTIVATABLE
    assert partition.execute(activate()).value.job_keys == [key]


def test_fail_with_backoff_waits_then_recurs(partition, clock):
    key = activated_job(partition)
    partition.execute(job_command(JobIntent.FAIL, key, retries=1, retry_backoff_ms=500))
    assert state_of(partition, key) == JobState.FAILED
    assert partition.execute(activate()).value.job_keys == []
    clock.advance(499)
    assert partition.tick() == []
    clock.advance(1)
    (recurred,) = [r.record for r in partition.tick()] or [None]
    assert recurred is None  # scheduled commands have no requester: no response
    assert state_of(partition, key) == JobState.ACTIVATABLE
    assert partition.execute(activate()).value.job_keys == [key]


def test_fail_without_retries_raises_an_incident_and_resolve_brings_it_back(partition):
    key = activated_job(partition)
    partition.write_commands(
        [job_command(JobIntent.FAIL, key, retries=0, error_message="no stock")]
    )
    results = partition.results()
    records = [r for result in results for r in result.records]
    incident = next(r for r in records if r.value_type == ValueType.INCIDENT)
    assert incident.intent == IncidentIntent.CREATED
    assert incident.value.error_type == "JOB_NO_RETRIES" and incident.value.job_key == key
    assert incident.value.error_message == "no stock"
    assert state_of(partition, key) == JobState.FAILED
    refused = partition.execute(resolve(incident.key))
    assert refused.rejection_type == RejectionType.INVALID_STATE
    assert f"job with key '{key}' has no retries left" in refused.rejection_reason
    assert (
        partition.execute(job_command(JobIntent.UPDATE_RETRIES, key, retries=3)).intent
        == JobIntent.RETRIES_UPDATED
    )
    assert state_of(partition, key) == JobState.FAILED, "retries alone do not resolve the incident"
    assert partition.execute(resolve(incident.key)).intent == IncidentIntent.RESOLVED
    assert state_of(partition, key) == JobState.ACTIVATABLE


def test_timeout_makes_the_job_activatable_again(partition, clock):
    key = activated_job(partition)
    clock.advance(1000)  # the deadline itself: the job is still the worker's
    partition.tick()
    assert state_of(partition, key) == JobState.ACTIVATED
    clock.advance(1)
    partition.tick()
    assert state_of(partition, key) == JobState.ACTIVATABLE
    timed_out = [
        r for r in partition.log.read_from(1) if r.intent == JobIntent.TIMED_OUT and r.is_event
    ]
    assert [r.key for r in timed_out] == [key]


def test_time_out_before_the_deadline_is_rejected(partition):
    key = activated_job(partition)
    refused = partition.execute(job_command(JobIntent.TIME_OUT, key))
    assert refused.rejection_type == RejectionType.INVALID_STATE
    assert "deadline" in refused.rejection_reason and str(key) in refused.rejection_reason


def test_throw_error_raises_an_unhandled_error_incident(partition):
    key = activated_job(partition)
    thrown = partition.execute(
        job_command(JobIntent.THROW_ERROR, key, error_code="E42", error_message="bad")
    )
    assert thrown.intent == JobIntent.ERROR_THROWN and thrown.value.error_code == "E42"
    assert state_of(partition, key) == JobState.ERROR_THROWN
    incident = [r for r in partition.log.read_from(1) if r.value_type == ValueType.INCIDENT][-1]
    assert (
        incident.value.error_type == "UNHANDLED_ERROR_EVENT"
        and "E42" in incident.value.error_message
    )


def test_yield_hands_the_job_back(partition):
    key = activated_job(partition)
    assert partition.execute(job_command(JobIntent.YIELD, key)).intent == JobIntent.YIELDED
    assert state_of(partition, key) == JobState.ACTIVATABLE


def test_cancel_removes_the_job_and_resolves_its_incident(partition):
    key = activated_job(partition)
    partition.execute(job_command(JobIntent.FAIL, key, retries=0))
    assert partition.execute(job_command(JobIntent.CANCEL, key)).intent == JobIntent.CANCELED
    assert state_of(partition, key) is None
    resolved = [
        r
        for r in partition.log.read_from(1)
        if r.intent == IncidentIntent.RESOLVED and r.value_type == ValueType.INCIDENT
    ]
    assert len(resolved) == 1


def test_update_timeout_moves_the_deadline(partition, clock):
    key = activated_job(partition)
    updated = partition.execute(job_command(JobIntent.UPDATE_TIMEOUT, key, timeout_ms=10_000))
    assert updated.value.deadline_ms == clock() + 10_000
    clock.advance(5_000)
    partition.tick()
    assert state_of(partition, key) == JobState.ACTIVATED


MISSING = (1 << 51) + 999_999


@pytest.mark.parametrize(
    ("make_command", "setup", "rejection", "reason"),
    [
        (
            lambda k: job_command(JobIntent.COMPLETE, k),
            None,
            RejectionType.NOT_FOUND,
            "Expected to complete job with key '{k}', but no such job was found",
        ),
        (
            lambda k: job_command(JobIntent.FAIL, k, retries=1),
            None,
            RejectionType.NOT_FOUND,
            "Expected to fail job with key '{k}', but no such job was found",
        ),
        (
            lambda k: job_command(JobIntent.FAIL, k, retries=1),
            "error",
            RejectionType.INVALID_STATE,
            "Expected to fail job with key '{k}', but it is in state 'ERROR_THROWN'",
        ),
        (
            lambda k: job_command(JobIntent.FAIL, k, retries=1),
            "failed",
            RejectionType.INVALID_STATE,
            "Expected to fail job with key '{k}', but it is in state 'FAILED'",
        ),
        (
            lambda k: job_command(JobIntent.FAIL, k, retries=1, retry_backoff_ms=-1),
            "activated",
            RejectionType.INVALID_ARGUMENT,
            "Expected a retry back-off between 0 and 604800000 ms to fail job with key '{k}', "
            "got -1",
        ),
        (
            lambda k: job_command(JobIntent.TIME_OUT, k),
            None,
            RejectionType.NOT_FOUND,
            "Expected to time out job with key '{k}', but no such job was found",
        ),
        (
            lambda k: job_command(JobIntent.UPDATE_TIMEOUT, k, timeout_ms=0),
            "activated",
            RejectionType.INVALID_ARGUMENT,
            "Expected a timeout of at least 1 ms to update job with key '{k}', got 0",
        ),
        (
            lambda k: job_command(JobIntent.UPDATE_TIMEOUT, k, timeout_ms=10),
            "created",
            RejectionType.INVALID_STATE,
            "Expected to update the timeout of job with key '{k}', but it is in state "
            "'ACTIVATABLE'",
        ),
        (
            lambda k: job_command(JobIntent.FAIL, k, retries=-1),
            "activated",
            RejectionType.INVALID_ARGUMENT,
            "Expected retries of at least 0 to fail job with key '{k}', got -1",
        ),
        (
            lambda k: job_command(JobIntent.YIELD, k),
            "created",
            RejectionType.INVALID_STATE,
            "Expected to yield job with key '{k}', but it is in state 'ACTIVATABLE'",
        ),
        (
            lambda k: job_command(JobIntent.TIME_OUT, k),
            "created",
            RejectionType.INVALID_STATE,
            "Expected to time out job with key '{k}', but it is in state 'ACTIVATABLE'",
        ),
        (
            lambda k: job_command(JobIntent.UPDATE_RETRIES, k, retries=0),
            "created",
            RejectionType.INVALID_ARGUMENT,
            "Expected retries of at least 1 to update job with key '{k}', got 0",
        ),
        (
            lambda k: job_command(JobIntent.UPDATE_RETRIES, k, retries=2),
            None,
            RejectionType.NOT_FOUND,
            "Expected to update retries of job with key '{k}', but no such job was found",
        ),
        (
            lambda k: job_command(JobIntent.THROW_ERROR, k, error_code=""),
            "activated",
            RejectionType.INVALID_ARGUMENT,
            "Expected an error code to throw an error for job with key '{k}', but it is empty",
        ),
        (
            lambda k: job_command(JobIntent.CANCEL, k),
            None,
            RejectionType.NOT_FOUND,
            "Expected to cancel job with key '{k}', but no such job was found",
        ),
        (
            lambda k: job_command(JobIntent.RECUR_AFTER_BACKOFF, k),
            "activated",
            RejectionType.INVALID_STATE,
            "Expected to recur after back-off job with key '{k}', but it is in state 'ACTIVATED'",
        ),
        (
            lambda k: job_command(JobIntent.COMPLETE, k),
            "error",
            RejectionType.INVALID_STATE,
            "Expected to complete job with key '{k}', but it is in state 'ERROR_THROWN'",
        ),
        (
            lambda k: job_command(JobIntent.COMPLETE, k),
            "failed",
            RejectionType.INVALID_STATE,
            "Expected to complete job with key '{k}', but it is in state 'FAILED'",
        ),
        (
            lambda k: create(job_type=""),
            None,
            RejectionType.INVALID_ARGUMENT,
            "Expected a job type to create a job, but the type is empty",
        ),
        (
            lambda k: create(retries=0),
            None,
            RejectionType.INVALID_ARGUMENT,
            "Expected retries of at least 1 to create a job, got 0",
        ),
        (
            lambda k: activate(max_jobs=0),
            None,
            RejectionType.INVALID_ARGUMENT,
            "Expected max_jobs_to_activate between 1 and 1000, got 0",
        ),
        (
            lambda k: activate(timeout_ms=0),
            None,
            RejectionType.INVALID_ARGUMENT,
            "Expected a job timeout between 1 and 2592000000 ms, got 0",
        ),
        (
            lambda k: activate(job_type=""),
            None,
            RejectionType.INVALID_ARGUMENT,
            "Expected a job type to activate jobs, but the type is empty",
        ),
        (
            lambda k: resolve(k),
            None,
            RejectionType.NOT_FOUND,
            "Expected to resolve incident with key '{k}', but no such incident was found",
        ),
    ],
)
def test_rejections(partition, make_command, setup, rejection, reason):
    key = MISSING
    if setup == "created":
        key = created_job(partition)
    elif setup == "activated":
        key = activated_job(partition)
    elif setup == "error":
        key = activated_job(partition)
        partition.execute(job_command(JobIntent.THROW_ERROR, key, error_code="E"))
    elif setup == "failed":
        key = activated_job(partition)
        partition.execute(job_command(JobIntent.FAIL, key, retries=0))
    before = entity_state(partition)
    answer = partition.execute(make_command(key))
    assert answer.record_type == RecordType.COMMAND_REJECTION
    assert answer.rejection_type == rejection
    assert answer.rejection_reason == reason.format(k=key)
    assert entity_state(partition) == before, (
        "a rejection changes nothing but the processed position"
    )


def entity_state(partition):
    from raybee.partitions.engine.families import POSITIONS

    return [entry for entry in partition.store.dump() if entry[0] != POSITIONS.name]


def test_a_command_is_processed_once(partition):
    key = created_job(partition)
    partition.write_commands([job_command(JobIntent.CANCEL, key)])
    partition.process()
    events_before = [r for r in partition.log.read_from(1) if r.is_event]
    # Re-reading the log from the start (as after a restart) must not process anything again.
    processor = partition.processor
    processor._next_read_position = 1
    assert processor.process_batch() is None
    assert [r for r in partition.log.read_from(1) if r.is_event] == events_before


def test_activation_finds_a_lower_key_that_became_activatable_again(partition):
    # Activation remembers where the first activatable job of a type was, to skip RocksDB's
    # tombstones below it; a lower key that becomes activatable again must still come first.
    k1, k2, k3 = (created_job(partition) for _ in range(3))
    assert partition.execute(activate(max_jobs=2)).value.job_keys == [k1, k2]
    assert partition.execute(activate(max_jobs=1)).value.job_keys == [k3]
    k4 = created_job(partition)
    partition.execute(job_command(JobIntent.YIELD, k2))
    assert partition.execute(activate(max_jobs=1)).value.job_keys == [k2]
    partition.execute(job_command(JobIntent.FAIL, k1, retries=1))
    assert partition.execute(activate(max_jobs=5)).value.job_keys == [k1, k4]


def test_fetching_some_variables_does_not_drop_the_others(partition, clock):
    key = created_job(partition, variables={"a": 1, "b": 2})
    (first,) = partition.execute(activate(fetch_variables=["a"], timeout_ms=10)).value.jobs
    assert first.variables == {"a": 1}
    clock.advance(11)
    partition.tick()  # timed out
    (second,) = partition.execute(activate()).value.jobs
    assert second.variables == {"a": 1, "b": 2}
    from raybee.partitions.engine import EngineState

    assert EngineState(1, partition.store.view()).jobs.get(key).variables == {"a": 1, "b": 2}


def test_fail_and_throw_error_events_carry_the_commands_variables_and_the_job_keeps_its_own(
    partition,
):
    # The command's variables are for the process scope (the BPMN engine's business): the
    # event carries them, the stored job is not changed by them.
    key = activated_job(partition, variables={"a": 1})
    failed = partition.execute(job_command(JobIntent.FAIL, key, retries=2, variables={"b": 2}))
    assert failed.value.variables == {"b": 2}
    (job,) = partition.execute(activate()).value.jobs
    assert job.variables == {"a": 1}
    thrown = partition.execute(
        job_command(JobIntent.THROW_ERROR, key, error_code="E", variables={"c": 3})
    )
    assert thrown.value.variables == {"c": 3}
    from raybee.partitions.engine import EngineState

    assert EngineState(1, partition.store.view()).jobs.get(key).variables == {"a": 1}
