"""A processor that raises does not wedge the partition: its command is rejected with
PROCESSING_ERROR, an ERROR event is written, the rest of the batch is processed, state is
unchanged by the failed command."""

from raybee.partitions.engine import EngineState
from raybee.partitions.engine.processors.job import CompleteJob
from raybee.partitions.protocol import ErrorIntent, JobIntent, RecordType, RejectionType, ValueType
from raybee.partitions.testing import create, job_command


def test_a_failing_processor_is_rejected_and_the_batch_goes_on(partition, monkeypatch):
    keys = [partition.execute(create("payment")).key for _ in range(3)]
    calls = []
    original = CompleteJob.process

    def flaky(self, command, ctx):
        calls.append(command.key)
        if command.key == keys[1]:
            raise RuntimeError("boom in the processor")
        return original(self, command, ctx)

    monkeypatch.setattr(CompleteJob, "process", flaky)
    partition.write_commands([job_command(JobIntent.COMPLETE, k) for k in keys])
    answers = {r.record.key: r.record for r in partition.process()}
    assert answers[keys[0]].intent == JobIntent.COMPLETED
    assert answers[keys[2]].intent == JobIntent.COMPLETED
    failed = answers[keys[1]]
    assert failed.record_type == RecordType.COMMAND_REJECTION
    assert failed.rejection_type == RejectionType.PROCESSING_ERROR
    assert "RuntimeError: boom in the processor" in failed.rejection_reason
    errors = [r for r in partition.log.read_from(1) if r.value_type == ValueType.ERROR]
    assert len(errors) == 1 and errors[0].intent == ErrorIntent.CREATED
    assert "boom" in errors[0].value.stacktrace
    jobs = EngineState(1, partition.store.view()).jobs
    assert jobs.get(keys[0]) is None and jobs.get(keys[2]) is None
    assert jobs.get(keys[1]) is not None, "the failed command changed nothing"
    # The batch went twice through the first command (aborted once), never applied twice.
    assert calls.count(keys[0]) == 2
    assert (
        partition.execute(job_command(JobIntent.COMPLETE, keys[0])).rejection_type
        == RejectionType.NOT_FOUND
    )
