"""Keys come from the processing context only: the read-only state a processor sees cannot
issue them (it once returned the key the writer would hand out next - a duplicate key)."""

import pytest

from raybee.partitions.engine import EngineState
from raybee.partitions.engine.context import ReadOnly, ReadOnlyStateError
from raybee.partitions.protocol import (
    JobIntent,
    JobRecordValue,
    Record,
    RejectionType,
    ValueType,
    VariableDocumentIntent,
    VariableDocumentRecordValue,
)

UPDATE_SLOT = (int(ValueType.VARIABLE_DOCUMENT), int(VariableDocumentIntent.UPDATE))


class TakesAKeyFromState:
    def process(self, command, ctx):
        from_state = ctx.state.keys.next_key()
        ctx.respond(
            ctx.append_event(
                ctx.next_key(), JobIntent.CREATED, JobRecordValue(type="t", retries=from_state)
            )
        )


def test_the_read_only_state_issues_no_keys(partition):
    with partition.store.transaction() as txn:
        read_only = EngineState(1, ReadOnly(txn), None)
        with pytest.raises(ReadOnlyStateError, match="ctx.next_key"):
            read_only.keys.next_key()
        writable = EngineState(1, txn, txn)
        first, second = writable.keys.next_key(), writable.keys.next_key()
        assert second == first + 1


def test_a_processor_reaching_for_keys_in_state_is_rejected_not_given_a_duplicate(
    partition, monkeypatch
):
    monkeypatch.setitem(
        partition.processor.processors._processors, UPDATE_SLOT, TakesAKeyFromState()
    )
    answer = partition.execute(
        Record(
            ValueType.VARIABLE_DOCUMENT,
            VariableDocumentIntent.UPDATE,
            VariableDocumentRecordValue(),
        )
    )
    assert answer.rejection_type == RejectionType.PROCESSING_ERROR
    assert "ReadOnlyStateError" in answer.rejection_reason
