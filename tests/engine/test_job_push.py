"""Job push: a streaming worker gets each job the moment it becomes activatable."""

from raybee.partitions.engine import EngineState
from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.engine.stores import JobState
from raybee.partitions.protocol import JobBatchIntent, JobIntent, ValueType
from raybee.partitions.testing import activate, create, job_command


def test_created_jobs_are_pushed_round_robin(partition, clock):
    got = {1: [], 2: []}
    partition.open_job_stream(
        JobStream(1, "payment", "w1", 5000), lambda push: got[1].append(push) or True
    )
    partition.open_job_stream(
        JobStream(2, "payment", "w2", 5000), lambda push: got[2].append(push) or True
    )
    keys = [partition.execute(create("payment", variables={"i": i})).key for i in range(4)]
    assert [p.job_key for p in got[1]] == keys[0::2]
    assert [p.job_key for p in got[2]] == keys[1::2]
    assert got[1][0].job.worker == "w1" and got[1][0].job.deadline_ms == clock() + 5000
    jobs = EngineState(1, partition.store.view()).jobs
    assert all(jobs.state(k) == JobState.ACTIVATED for k in keys)
    assert partition.execute(activate("payment")).value.job_keys == [], "nothing left to poll"
    # The push is in the log as an activation, so a replica replaying it agrees.
    activations = [
        r
        for r in partition.log.read_from(1)
        if r.intent == JobBatchIntent.ACTIVATED and r.value_type == ValueType.JOB_BATCH
    ]
    assert sorted(k for r in activations for k in r.value.job_keys) == sorted(keys)
    pushed = got[1][0]
    assert (
        partition.execute(job_command(JobIntent.COMPLETE, pushed.job_key)).intent
        == JobIntent.COMPLETED
    )


def test_other_types_and_closed_streams_are_not_pushed(partition):
    got = []
    partition.open_job_stream(
        JobStream(1, "payment", "w", 1000), lambda push: got.append(push) or True
    )
    partition.execute(create("shipping"))
    partition.close_job_stream(1)
    partition.execute(create("payment"))
    assert got == []


def test_a_push_the_worker_cannot_take_is_yielded_back(partition):
    partition.open_job_stream(JobStream(1, "payment", "w", 1000), lambda push: False)
    key = partition.execute(create("payment")).key
    partition.process()  # the YIELD command written after the failed delivery
    assert partition.undelivered_pushes == 1
    assert EngineState(1, partition.store.view()).jobs.state(key) == JobState.ACTIVATABLE
    assert partition.execute(activate("payment")).value.job_keys == [key]


def test_timed_out_and_failed_jobs_are_pushed_again(partition, clock):
    got = []
    key = partition.execute(create("payment", retries=3)).key
    partition.execute(activate("payment", timeout_ms=100))
    partition.open_job_stream(
        JobStream(9, "payment", "w", 1000), lambda push: got.append(push) or True
    )
    clock.advance(101)  # a job times out once its deadline is strictly in the past
    partition.tick()
    assert [p.job_key for p in got] == [key], "pushed after its time-out"
    partition.execute(job_command(JobIntent.FAIL, key, retries=2))
    assert [p.job_key for p in got] == [key, key], "pushed again after a failure with retries"
