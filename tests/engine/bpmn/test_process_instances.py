"""Process instances: creation (by id, version or key; with variables; awaiting the result),
the element lifecycle of a one-task process, cancellation, and what one instance costs in
records."""

from raybee.partitions.protocol import (
    JobIntent,
    ProcessInstanceCreationIntent,
    ProcessInstanceIntent,
    ProcessInstanceResultIntent,
    RecordType,
    RejectionType,
    ValueType,
    VariableIntent,
)
from raybee.partitions.testing import (
    activate,
    cancel_instance,
    create_instance,
    job_command,
    one_task_process,
)

LIFECYCLE = ["ELEMENT_ACTIVATING", "ELEMENT_ACTIVATED", "ELEMENT_COMPLETING", "ELEMENT_COMPLETED"]


def test_a_one_task_instance_runs_start_task_end_and_completes(bpmn):
    bpmn.deploy(one_task_process("order", "pay"))
    key = bpmn.create("order", {"amount": 10})
    assert bpmn.lifecycle("start") == LIFECYCLE
    assert bpmn.lifecycle("task") == LIFECYCLE[:2], "the task waits for its job"
    assert bpmn.lifecycle("f1") == ["SEQUENCE_FLOW_TAKEN"]
    assert not bpmn.completed(key)
    ((job_key, job),) = bpmn.activate("pay")
    assert job.variables == {"amount": 10}
    bpmn.complete(job_key, {"paid": True})
    assert bpmn.lifecycle("task") == LIFECYCLE
    assert bpmn.lifecycle("end") == LIFECYCLE
    assert bpmn.lifecycle("order") == LIFECYCLE
    assert bpmn.completed(key)
    assert bpmn.active_elements() == [], "nothing of the instance is left"
    assert bpmn.variables(key) == {}, "its variables went with it"
    paid = bpmn.records(ValueType.VARIABLE, VariableIntent.CREATED)[-1]
    assert (paid.value.name, paid.value.value, paid.value.scope_key) == ("paid", True, key)


def test_instances_are_created_by_latest_version_by_version_and_by_key(bpmn):
    v1 = bpmn.deploy(one_task_process("p", "a"))["p"]
    v2 = bpmn.deploy(one_task_process("p", "b"))["p"]
    by_latest = bpmn.execute(create_instance("p"))
    by_version = bpmn.execute(create_instance("p", version=1))
    by_key = bpmn.execute(create_instance(process_definition_key=v2))
    assert [r.value.process_definition_key for r in (by_latest, by_version, by_key)] == [
        v2,
        v1,
        v2,
    ]
    assert [r.value.version for r in (by_latest, by_version, by_key)] == [2, 1, 2]
    assert len(bpmn.activate("a")) == 1 and len(bpmn.activate("b")) == 2


def test_creation_is_refused_for_unknown_processes_and_bad_requests(bpmn, xml):
    bpmn.deploy(one_task_process("msg"))
    for command, rejection, needle in [
        (create_instance("missing"), RejectionType.NOT_FOUND, "'missing'"),
        (create_instance("msg", version=7), RejectionType.NOT_FOUND, "version 7"),
        (create_instance(process_definition_key=12345), RejectionType.NOT_FOUND, "12345"),
        (create_instance(""), RejectionType.INVALID_ARGUMENT, "neither"),
    ]:
        answer = bpmn.execute(command)
        assert answer.rejection_type == rejection, answer
        assert needle in answer.rejection_reason, answer.rejection_reason


def test_a_process_without_a_none_start_event_cannot_be_created(bpmn, xml):
    message_start = xml.process(
        "m",
        '<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="msg"/>'
        "</bpmn:startEvent>" + xml.end("e") + xml.flow("s", "e"),
        extra='<bpmn:message id="msg" name="go"/>',
    )
    bpmn.deploy(message_start)
    answer = bpmn.execute(create_instance("m"))
    assert answer.rejection_type == RejectionType.INVALID_STATE
    assert "none start event" in answer.rejection_reason


def test_an_instance_awaiting_its_result_is_answered_when_it_completes(bpmn):
    bpmn.deploy(one_task_process("order", "pay"))
    answers = bpmn.write(
        create_instance("order", {"a": 1, "b": 2}, await_result=True, fetch_variables=["b", "c"])
    )
    assert answers == [], "no answer while the instance runs"
    created = bpmn.records(
        ValueType.PROCESS_INSTANCE_CREATION, ProcessInstanceCreationIntent.CREATED
    )
    assert created[0].value.awaiting_result
    ((job_key, _),) = bpmn.activate("pay")
    bpmn.partition.write_commands([job_command(JobIntent.COMPLETE, job_key, variables={"c": 3})])
    responses = bpmn.partition.process()
    result = [r for r in responses if r.record.value_type == ValueType.PROCESS_INSTANCE_RESULT]
    assert len(result) == 1
    assert result[0].request_id == created[0].request_id, "answers the creation request"
    assert result[0].record.intent == ProcessInstanceResultIntent.COMPLETED
    assert result[0].record.value.variables == {"b": 2, "c": 3}
    assert bpmn.state().element_instances.awaiting_result(created[0].key) is None


def test_an_instance_without_wait_states_answers_its_result_in_the_same_command(bpmn, xml):
    bpmn.deploy(xml.process("quick", xml.start() + xml.end() + xml.chain("start", "end")))
    (answer,) = bpmn.write(create_instance("quick", {"x": 1}, await_result=True))
    assert answer.value_type == ValueType.PROCESS_INSTANCE_RESULT
    assert answer.value.variables == {"x": 1}


def test_cancel_terminates_every_element_and_cancels_the_jobs(bpmn, xml):
    body = (
        xml.start()
        + xml.gateway("fork", "parallel")
        + xml.task("a", "a")
        + xml.sub_process("sub", xml.start("s2") + xml.task("b", "b") + xml.chain("s2", "b"))
        + xml.chain("start", "fork", "a")
        + xml.flow("fork", "sub")
    )
    bpmn.deploy(xml.process("p", body))
    key = bpmn.create("p")
    assert {e[1] for e in bpmn.active_elements()} == {"p", "a", "sub", "b"}
    answer = bpmn.execute(cancel_instance(key))
    assert (answer.intent, answer.key) == (ProcessInstanceIntent.ELEMENT_TERMINATING, key)
    assert bpmn.lifecycle("a")[-2:] == ["ELEMENT_TERMINATING", "ELEMENT_TERMINATED"]
    assert bpmn.lifecycle("b")[-2:] == ["ELEMENT_TERMINATING", "ELEMENT_TERMINATED"]
    assert bpmn.lifecycle("p")[-1] == "ELEMENT_TERMINATED"
    assert len(bpmn.records(ValueType.JOB, JobIntent.CANCELED)) == 2
    assert bpmn.active_elements() == []
    assert bpmn.activate("a") == [] and bpmn.activate("b") == []
    again = bpmn.execute(cancel_instance(key))
    assert again.rejection_type == RejectionType.NOT_FOUND


def test_cancel_of_an_instance_awaiting_its_result_answers_the_request(bpmn):
    bpmn.deploy(one_task_process("order", "pay"))
    bpmn.write(create_instance("order", await_result=True))
    key = bpmn.records(ValueType.PROCESS_INSTANCE_CREATION)[-1].value.process_instance_key
    bpmn.partition.write_commands([cancel_instance(key)])
    answers = [r.record for r in bpmn.partition.process()]
    rejection = [r for r in answers if r.value_type == ValueType.PROCESS_INSTANCE_CREATION]
    assert rejection and rejection[0].record_type == RecordType.COMMAND_REJECTION
    assert "terminated" in rejection[0].rejection_reason


def test_a_one_task_instance_costs_at_most_30_records_over_the_whole_log(memory_bpmn):
    """Create, activate (100 per batch), complete, completed: every record of the log
    (commands, events, the activation's share) divided by the instances."""
    bpmn = memory_bpmn
    bpmn.deploy(one_task_process("bench", "work"))
    before = bpmn.partition.log.last_position
    instances = 200
    bpmn.partition.write_commands(
        [create_instance("bench", {"orderId": i, "amount": 9.5}) for i in range(instances)]
    )
    bpmn.partition.process()
    keys = []
    while batch := bpmn.execute(activate("work", max_jobs=100, timeout_ms=60_000)).value.job_keys:
        keys += batch
    bpmn.partition.write_commands([job_command(JobIntent.COMPLETE, k) for k in keys])
    bpmn.partition.process()
    completed = [
        r
        for r in bpmn.element_records(ProcessInstanceIntent.ELEMENT_COMPLETED)
        if r.value.bpmn_element_type == "PROCESS"
    ]
    assert len(completed) == instances
    per_instance = (bpmn.partition.log.last_position - before) / instances
    print(f"records per one-task instance: {per_instance:.2f}")
    assert per_instance <= 30, per_instance
