"""The lifecycle commands ACTIVATE_ELEMENT, COMPLETE_ELEMENT and TERMINATE_ELEMENT: engine code
may ask for a step as a follow-up command (the seam messages and timers will use to move a wait
state on); a client may not write them."""

from raybee.partitions.protocol import (
    ProcessInstanceIntent,
    ProcessInstanceRecordValue,
    Record,
    RejectionType,
    ValueType,
    VariableDocumentIntent,
)
from raybee.partitions.testing import set_variables

SLOT = (int(ValueType.VARIABLE_DOCUMENT), int(VariableDocumentIntent.UPDATE))


def waiting_process(xml):
    receive = '<bpmn:receiveTask id="wait" messageRef="msg"/>'
    message = (
        '<bpmn:message id="msg" name="go"><bpmn:extensionElements>'
        '<zeebe:subscription correlationKey="=id"/></bpmn:extensionElements></bpmn:message>'
    )
    body = xml.start() + receive + xml.end() + xml.chain("start", "wait", "end")
    return xml.process("waits", body, extra=message)


def lifecycle_command(intent, key=-1, **fields):
    return Record(ValueType.PROCESS_INSTANCE, intent, ProcessInstanceRecordValue(**fields), key=key)


def test_clients_cannot_write_lifecycle_commands(bpmn, xml):
    bpmn.deploy(waiting_process(xml))
    key = bpmn.create("waits", {"id": "1"})
    wait = next(r.key for r in bpmn.element_records() if r.value.element_id == "wait")
    for command in (
        lifecycle_command(ProcessInstanceIntent.COMPLETE_ELEMENT, wait),
        lifecycle_command(ProcessInstanceIntent.TERMINATE_ELEMENT, wait),
        lifecycle_command(
            ProcessInstanceIntent.ACTIVATE_ELEMENT, flow_scope_key=key, element_id="end"
        ),
    ):
        answer = bpmn.execute(command)
        assert answer.rejection_type == RejectionType.INVALID_ARGUMENT, answer
        assert "follow-up" in answer.rejection_reason
    assert bpmn.lifecycle("wait") == ["ELEMENT_ACTIVATING", "ELEMENT_ACTIVATED"], "it waits"


class CompletesTheScope:
    """A stand-in for a future trigger (a correlated message): moves the element named by the
    command's scope key on with a follow-up COMPLETE_ELEMENT."""

    def process(self, command, ctx):
        ctx.append_command(
            command.value.scope_key,
            ProcessInstanceIntent.COMPLETE_ELEMENT,
            ProcessInstanceRecordValue(),
        )


def test_a_follow_up_complete_element_moves_a_wait_state_on(bpmn, xml, monkeypatch):
    bpmn.deploy(waiting_process(xml))
    key = bpmn.create("waits", {"id": "1"})
    wait = next(r.key for r in bpmn.element_records() if r.value.element_id == "wait")
    processors = bpmn.partition.processor.processors._processors
    monkeypatch.setitem(processors, SLOT, CompletesTheScope())
    bpmn.write(set_variables(wait, {}))
    assert bpmn.lifecycle("wait")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.completed(key)
