"""The shared conformance corpus (`../shared/bpmn`, see its README): every file either parses
into the expected processes or is refused with exactly the expected problems, each naming the
element and the reason. The execute-tier files must parse: they will be run later."""

import contextlib
import time

import pytest

from raybee.partitions.engine.bpmn import (
    BpmnElementType,
    BpmnValidationError,
    parse_bpmn,
)

NOT_EXECUTABLE = 'the process is not executable (isExecutable="false")'
NO_FLAG = "the process is not executable (no isExecutable attribute)"
NO_CONDITION = "without a condition and is not its default flow"

# file -> the process ids it deploys, or every problem it is refused for (element id, reason).
EXPECTED: dict[str, list[str] | list[tuple[str, str]]] = {
    # Execute tier: these parse.
    "clients/pyzeebe-test.bpmn": ["test"],
    "clients/order-process-4.bpmn": ["order-process-4"],
    "clients/nested-subprocesses.bpmn": ["rootProcess"],
    "miwg/C.8.1.bpmn": ["VacationRequestProcess"],
    "miwg/C.9.1.bpmn": ["requestDocument_en"],
    "miwg/C.9.2.bpmn": ["ManualCheck"],
    # Needs a DMN decision the suite does not ship.
    "miwg/C.9.0.bpmn": [
        (
            "BusinessRuleTask_CheckApplicationAutomatically",
            "calls a DMN decision (zeebe:calledDecision), and raybee has no DMN engine",
        )
    ],
    # Parse tier: interchange files that were never meant to run.
    "miwg/A.1.0.bpmn": [("WFP-6-", NOT_EXECUTABLE)],
    "miwg/A.2.0.bpmn": [("WFP-6-", NOT_EXECUTABLE)],
    "miwg/A.2.1.bpmn": [("_To9ZoTOCEeSknpIVFCxNIQ", NOT_EXECUTABLE)],
    "miwg/A.3.0.bpmn": [("WFP-6-", NOT_EXECUTABLE)],
    "miwg/A.4.0.bpmn": [("WFP-6-1", NOT_EXECUTABLE), ("WFP-6-2", NOT_EXECUTABLE)],
    "miwg/A.4.1.bpmn": [
        ("sid-34746A54-1D7D-46CA-B219-0C4CEAE51170", NOT_EXECUTABLE),
        ("sid-54D696FD-DEDC-45F3-99DB-1404DA433FC4", NOT_EXECUTABLE),
    ],
    "miwg/B.1.0.bpmn": [
        ("Process_ba16239e-181e-4b9f-bc5b-0bb2ee973450", NOT_EXECUTABLE),
        ("WFP-6-1", NOT_EXECUTABLE),
        ("WFP-6-2", NOT_EXECUTABLE),
        ("WFP-0-", NOT_EXECUTABLE),
    ],
    "miwg/B.2.0.bpmn": [
        ("Process_ba16239e-181e-4b9f-bc5b-0bb2ee973450", NOT_EXECUTABLE),
        ("WFP-6-1", NOT_EXECUTABLE),
        ("WFP-6-2", NOT_EXECUTABLE),
        ("WFP-0-", NOT_EXECUTABLE),
    ],
    # Written for engines whose conditions are JUEL (C.1.0) or XPath (C.1.1).
    "miwg/C.1.0.bpmn": [
        ("archiveInvoice", "service task needs a zeebe:taskDefinition"),
        ("invoiceApproved", "the condition '${approved}' is not valid FEEL"),
        ("invoiceNotApproved", "the condition '${!approved}' is not valid FEEL"),
        ("reviewSuccessful", "the condition '${clarified == 'yes'}' is not valid FEEL"),
        ("reviewNotSuccessful", "the condition '${clarified == 'no'}' is not valid FEEL"),
    ],
    "miwg/C.1.1.bpmn": [
        ("archiveInvoice", "service task needs a zeebe:taskDefinition"),
        ("invoiceApproved", "the condition 'bpmn:getDataObject('approved')' is not valid FEEL"),
        ("invoiceNotApproved", "is not valid FEEL"),
        ("reviewSuccessful", "is not valid FEEL"),
        ("reviewNotSuccessful", "is not valid FEEL"),
    ],
    "miwg/C.2.0.bpmn": [
        ("WFP-Page_1-1", NOT_EXECUTABLE),
        ("WFP-Page_1-2", NOT_EXECUTABLE),
        ("WFP-Page_1-3", NOT_EXECUTABLE),
        ("WFP-Page_1-4", NOT_EXECUTABLE),
    ],
    "miwg/C.3.0.bpmn": [
        ("_cd6f230f-13c3-4027-aa3e-57de601a1ab2", "needs exactly one none start event, it has 0"),
        ("_b99800c3-c340-460c-a43e-098014a365d0", NO_CONDITION),
        ("_437e5969-1e61-4cb9-aa76-4f8854f32eeb", NO_CONDITION),
        ("_ada039b6-94dd-4a15-a6b1-c7fe662c64ee", NO_CONDITION),
        ("_cddf9325-a85b-4347-8c57-8b909fa77ae9", NO_CONDITION),
        ("_be893987-caec-4605-b078-bd96b7cd6c12", "'Service Level == 'Premium'' is not valid FEEL"),
        ("_cf380e47-1401-4e7e-b710-193b626e49eb", NO_CONDITION),
        ("_3fb323d5-2c59-487a-af63-804208f6c5cb", NO_CONDITION),
        ("Bpmn_BoundaryEvent_LwKtwhqHEeWDuOtG0oS24A", "needs a correlation key"),
    ],
    "miwg/C.4.0.bpmn": [
        ("_42cba3a9-a8ab-40b5-b9a4-2e8f32be364e", NO_FLAG),
        ("_f0035388-f829-470c-b82b-0b15c3da3399", NO_FLAG),
        ("_da743a6f-d9e5-4fcf-8a96-d2fd5cfb73d4", NO_FLAG),
        ("_3486bf55-0a7f-4ff1-be15-1555669f58ad", NO_FLAG),
    ],
    "miwg/C.5.0.bpmn": [
        ("_3d1ef204-2d4c-4643-8fc5-c319cc032ec0", NO_FLAG),
        ("_774bc005-0917-43d5-ab70-0f9fe123fbd1", NO_FLAG),
    ],
    "miwg/C.6.0.bpmn": [("_898aa942-9a96-4405-ae71-22b5e2e3d235", NO_FLAG)],
    "miwg/C.7.0.bpmn": [("_4a690dd7-809a-4fa9-ad63-515ac6685375", NO_FLAG)],
    "miwg/C.8.0.bpmn": [("VacationRequestProcess", NOT_EXECUTABLE)],
}


def test_the_table_covers_every_file_of_the_corpus(shared_bpmn):
    files = {str(path.relative_to(shared_bpmn)) for path in shared_bpmn.rglob("*.bpmn")}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_file_parses_or_is_refused_as_expected(name, shared_bpmn):
    expected = EXPECTED[name]
    xml = (shared_bpmn / name).read_bytes()
    if all(isinstance(entry, str) for entry in expected):
        models = parse_bpmn(xml, name)
        assert [model.bpmn_process_id for model in models] == expected
        return
    with pytest.raises(BpmnValidationError) as caught:
        parse_bpmn(xml, name)
    problems = caught.value.problems
    found = [(p.element_id, p.reason) for p in problems]
    for element_id, reason in expected:
        assert any(e == element_id and reason in r for e, r in found), (element_id, found)
    assert len(problems) == len(expected), found
    assert all(p.line is not None for p in problems)
    assert name in str(caught.value)


def test_the_execute_tier_models_hold_what_the_executor_will_need(shared_bpmn):
    def model(name):
        [parsed] = parse_bpmn((shared_bpmn / name).read_bytes(), name)
        return parsed

    pyzeebe = model("clients/pyzeebe-test.bpmn")
    assert pyzeebe.process.scope.message_start_event_ids == ("Event_0hg01mt",)
    assert pyzeebe.flow_node("Event_0hg01mt").message.name.static_value == "start_test_process"
    task = pyzeebe.flow_node("test-task")
    assert task.job.type.static_value == "test"
    assert [m.target for m in task.io_mapping.inputs] == ["input", "should_throw"]

    order = model("clients/order-process-4.bpmn")
    assert dict(order.flow_node("collect-money").job.headers) == {"method": "VISA"}

    nested = model("clients/nested-subprocesses.bpmn")
    user_tasks = [n for n in nested.flow_nodes() if n.element_type is BpmnElementType.USER_TASK]
    assert len(user_tasks) == 5
    assert {t.job.type.static_value for t in user_tasks} == {"io.camunda.zeebe:userTask"}
    catch_all = nested.flow_node("sid-C586DCF2-0B1B-4878-8042-F9869023F21B")
    assert catch_all.error.error_code is None
    assert catch_all.attached_to_id == "sid-D0CDA908-DDCE-4E82-88D0-F1A919B8AE8B"
    inner = nested.flow_node("sid-3459D5A6-4E18-4133-8362-0418AC9CE830")
    assert inner.flow_scope_id == "collapsedProcess_2"

    vacation = model("miwg/C.8.1.bpmn")
    assert vacation.flow_node("_1a818a94-ba6f-413b-a7e8-6f8fd2a11e32").job.type.static_value == (
        "DMN"
    )  # a business rule task run as a job
    gateway = vacation.flow_node("_42367c5f-d084-44ee-90c7-960d1ab02a3b")
    assert gateway.default_flow_id == "_2a5ee73c-c495-48a0-945b-3dabab28ca91"
    approved = vacation.sequence_flow("_325973e7-0bc8-4136-b6df-be1e681d8608")
    assert approved.condition.feel == 'Vacation Approval = "Approved"'  # FEEL without '='
    not_found = vacation.flow_node("_f8fcb377-3d7d-4138-9a7e-6ab58b97e29d")
    assert not_found.error.error_code.static_value == "404"

    request = model("miwg/C.9.1.bpmn")
    receive = request.flow_node("ReceiveTask_WaitForDocument")
    assert receive.message.correlation_key.feel == "documentReferenceId"
    daily = request.flow_node("BoundaryEvent_1")
    assert daily.interrupting is False and daily.timer.static_value().repetitions == 6
    assert receive.boundary_event_ids == ("BoundaryEvent_1", "BoundaryEvent_2")

    check = model("miwg/C.9.2.bpmn")
    call = check.flow_node("CallActivity_RequestDocument")
    assert call.called_element.process_id.static_value == "requestDocument_en"
    assert call.multi_instance.input_collection.feel == "documents"
    assert call.multi_instance.is_sequential is False
    assert len(check.process.scope.event_sub_process_start_event_ids) == 3


def test_the_whole_corpus_parses_quickly(shared_bpmn):
    paths = sorted(shared_bpmn.rglob("*.bpmn"))
    started = time.perf_counter()
    for path in paths:
        with contextlib.suppress(BpmnValidationError):
            parse_bpmn(path.read_bytes(), path.name)
    assert time.perf_counter() - started < 5.0
