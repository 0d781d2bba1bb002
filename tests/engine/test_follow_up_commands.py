"""Follow-up commands are processed in the same batch as the command that wrote them, exactly
once, and a processor that keeps writing them is cut off at the bound."""

from raybee.partitions.engine.context import FOLLOW_UP_COMMANDS_PER_BATCH_MAX
from raybee.partitions.protocol import (
    JobIntent,
    JobRecordValue,
    Record,
    RecordType,
    RejectionType,
    ValueType,
    VariableDocumentIntent,
    VariableDocumentRecordValue,
)

SLOT = (int(ValueType.VARIABLE_DOCUMENT), int(VariableDocumentIntent.UPDATE))


def document_update() -> Record:
    return Record(
        ValueType.VARIABLE_DOCUMENT, VariableDocumentIntent.UPDATE, VariableDocumentRecordValue()
    )


class CreatesTwoJobs:
    """A test processor: answers with an event and asks for two jobs as follow-up commands."""

    def process(self, command, ctx):
        ctx.respond(ctx.append_event(ctx.next_key(), VariableDocumentIntent.UPDATED, command.value))
        for job_type in ("a", "b"):
            ctx.append_command(-1, JobIntent.CREATE, JobRecordValue(type=job_type, retries=1))


class Loops:
    def process(self, command, ctx):
        ctx.append_command(-1, VariableDocumentIntent.UPDATE, command.value)


def test_follow_ups_are_processed_in_the_same_batch_once(partition, monkeypatch):
    monkeypatch.setitem(partition.processor.processors._processors, SLOT, CreatesTwoJobs())
    # The VARIABLE_DOCUMENT UPDATED applier changes nothing (variables change by VARIABLE events).
    partition.write_commands([document_update()])
    results = partition.results()
    assert len(results) == 1, "one batch"
    records = results[0].records
    follow_ups = [r for r in records if r.record_type == RecordType.COMMAND]
    created = [
        r for r in records if r.intent == JobIntent.CREATED and r.value_type == ValueType.JOB
    ]
    assert [r.value.type for r in follow_ups] == ["a", "b"]
    assert [r.value.type for r in created] == ["a", "b"]
    assert [r.source_record_position for r in created] == [r.position for r in follow_ups]
    assert all(f.position < c.position for f, c in zip(follow_ups, created, strict=True))
    # Reading the log again does not process the follow-ups a second time.
    partition.processor._process_position = 1
    assert partition.processor.process_batch() is None


def test_a_processor_that_keeps_writing_follow_ups_is_cut_off(partition, monkeypatch):
    monkeypatch.setitem(partition.processor.processors._processors, SLOT, Loops())
    partition.write_commands([document_update()])
    partition.process()
    records = list(partition.log.read_from(1))
    follow_ups = [r for r in records[1:] if r.record_type == RecordType.COMMAND]
    rejections = [r for r in records if r.record_type == RecordType.COMMAND_REJECTION]
    assert len(follow_ups) == FOLLOW_UP_COMMANDS_PER_BATCH_MAX, "the chain stops at the bound"
    (rejection,) = rejections
    assert rejection.rejection_type == RejectionType.PROCESSING_ERROR
    assert (
        f"more than {FOLLOW_UP_COMMANDS_PER_BATCH_MAX} follow-up commands"
        in rejection.rejection_reason
    )
    assert partition.process() == [], "and the partition goes on"
