"""The model the executor reads: one process using every supported element and extension,
read back field by field."""

import dataclasses
import pickle

import pytest

from raybee.partitions.engine.bpmn import (
    USER_TASK_JOB_TYPE,
    BpmnElementType,
    BpmnEventType,
    Expression,
    FlowNode,
    IsoDuration,
    TimerCycle,
    TimerKind,
    parse_bpmn,
    resource_checksum,
)

E = BpmnElementType
V = BpmnEventType

ROOT_ELEMENTS = """
<bpmn:message id="m-paid" name="order-paid">
  <bpmn:extensionElements><zeebe:subscription correlationKey="=orderId"/></bpmn:extensionElements>
</bpmn:message>
<bpmn:message id="m-start" name="=&quot;start-&quot; + region"/>
<bpmn:error id="err" errorCode="E42"/>
<bpmn:error id="err-any"/>
"""

ORDER = """
<bpmn:startEvent id="start" name="Start"/>
<bpmn:startEvent id="msgStart"><bpmn:messageEventDefinition messageRef="m-start"/></bpmn:startEvent>
<bpmn:startEvent id="timerStart">
  <bpmn:timerEventDefinition><bpmn:timeCycle>R/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>
</bpmn:startEvent>
<bpmn:parallelGateway id="fork"/>
<bpmn:serviceTask id="task" name="Pay">
  <bpmn:extensionElements>
    <zeebe:taskDefinition type="=&quot;pay-&quot; + region" retries="5"/>
    <zeebe:taskHeaders><zeebe:header key="a" value="1"/><zeebe:header key="b" value="= not FEEL"/></zeebe:taskHeaders>
    <zeebe:ioMapping>
      <zeebe:input source="=order.total" target="amount"/>
      <zeebe:input source="EUR" target="payment.currency"/>
      <zeebe:output source="=receipt" target="receipt"/>
    </zeebe:ioMapping>
  </bpmn:extensionElements>
</bpmn:serviceTask>
<bpmn:boundaryEvent id="bTimer" attachedToRef="task" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeCycle>R5/PT10S</bpmn:timeCycle></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:boundaryEvent id="bError" attachedToRef="task"><bpmn:errorEventDefinition errorRef="err"/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="bAnyError" attachedToRef="task"><bpmn:errorEventDefinition/></bpmn:boundaryEvent>
<bpmn:boundaryEvent id="bMsg" attachedToRef="task"><bpmn:messageEventDefinition messageRef="m-paid"/></bpmn:boundaryEvent>
<bpmn:exclusiveGateway id="xor" default="f6"/>
<bpmn:sendTask id="send"><bpmn:extensionElements><zeebe:taskDefinition type="mail"/></bpmn:extensionElements></bpmn:sendTask>
<bpmn:userTask id="user">
  <bpmn:extensionElements>
    <zeebe:assignmentDefinition assignee="=boss" candidateGroups="clerks"/>
    <zeebe:formDefinition formKey="camunda-forms:bpmn:form1"/>
    <zeebe:taskSchedule dueDate="2026-01-01T10:00:00Z"/>
    <zeebe:taskHeaders><zeebe:header key="h" value="v"/></zeebe:taskHeaders>
  </bpmn:extensionElements>
</bpmn:userTask>
<bpmn:inclusiveGateway id="incl"/>
<bpmn:eventBasedGateway id="ebg"/>
<bpmn:intermediateCatchEvent id="waitMsg"><bpmn:messageEventDefinition messageRef="m-paid"/></bpmn:intermediateCatchEvent>
<bpmn:intermediateCatchEvent id="waitTimer">
  <bpmn:timerEventDefinition><bpmn:timeDuration>=wait</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:scriptTask id="script">
  <bpmn:extensionElements><zeebe:script expression="=amount * 2" resultVariable="doubled"/></bpmn:extensionElements>
</bpmn:scriptTask>
<bpmn:subProcess id="sub">
  <bpmn:multiInstanceLoopCharacteristics isSequential="true">
    <bpmn:extensionElements>
      <zeebe:loopCharacteristics inputCollection="=items" inputElement="item"
        outputCollection="results" outputElement="=result"/>
    </bpmn:extensionElements>
    <bpmn:completionCondition xsi:type="bpmn:tFormalExpression">=done</bpmn:completionCondition>
  </bpmn:multiInstanceLoopCharacteristics>
  <bpmn:startEvent id="subStart"/>
  <bpmn:serviceTask id="subTask"><bpmn:extensionElements><zeebe:taskDefinition type="sub-work"/></bpmn:extensionElements></bpmn:serviceTask>
  <bpmn:endEvent id="subEnd"/>
  <bpmn:sequenceFlow id="sf1" sourceRef="subStart" targetRef="subTask"/>
  <bpmn:sequenceFlow id="sf2" sourceRef="subTask" targetRef="subEnd"/>
  <bpmn:subProcess id="subEvents" triggeredByEvent="true">
    <bpmn:startEvent id="subErrorStart"><bpmn:errorEventDefinition errorRef="err"/></bpmn:startEvent>
    <bpmn:endEvent id="subErrorEnd"/>
    <bpmn:sequenceFlow id="ef1" sourceRef="subErrorStart" targetRef="subErrorEnd"/>
  </bpmn:subProcess>
</bpmn:subProcess>
<bpmn:callActivity id="call">
  <bpmn:extensionElements>
    <zeebe:calledElement processId="=childId" propagateAllChildVariables="false"/>
  </bpmn:extensionElements>
</bpmn:callActivity>
<bpmn:parallelGateway id="join"/>
<bpmn:intermediateThrowEvent id="throwNone"/>
<bpmn:intermediateThrowEvent id="throwMsg">
  <bpmn:extensionElements><zeebe:taskDefinition type="notify"/></bpmn:extensionElements>
  <bpmn:messageEventDefinition/>
</bpmn:intermediateThrowEvent>
<bpmn:businessRuleTask id="rules"><bpmn:extensionElements><zeebe:taskDefinition type="rules"/></bpmn:extensionElements></bpmn:businessRuleTask>
<bpmn:manualTask id="manual"/>
<bpmn:task id="plain"/>
<bpmn:receiveTask id="receive" messageRef="m-paid"/>
<bpmn:endEvent id="endNone"/>
<bpmn:endEvent id="endTerminate"><bpmn:terminateEventDefinition/></bpmn:endEvent>
<bpmn:endEvent id="endError"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>
<bpmn:endEvent id="endAnyError"/>
<bpmn:endEvent id="endMessage">
  <bpmn:extensionElements><zeebe:taskDefinition type="goodbye"/></bpmn:extensionElements>
  <bpmn:messageEventDefinition/>
</bpmn:endEvent>
<bpmn:subProcess id="events" triggeredByEvent="true">
  <bpmn:startEvent id="eventsStart" isInterrupting="false"><bpmn:messageEventDefinition messageRef="m-paid"/></bpmn:startEvent>
  <bpmn:endEvent id="eventsEnd"/>
  <bpmn:sequenceFlow id="e1" sourceRef="eventsStart" targetRef="eventsEnd"/>
</bpmn:subProcess>
<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork"/>
<bpmn:sequenceFlow id="f2" sourceRef="fork" targetRef="task"/>
<bpmn:sequenceFlow id="f3" sourceRef="task" targetRef="join"/>
<bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="xor"/>
<bpmn:sequenceFlow id="f5" name="big" sourceRef="xor" targetRef="send">
  <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">=amount &gt; 100</bpmn:conditionExpression>
</bpmn:sequenceFlow>
<bpmn:sequenceFlow id="f6" sourceRef="xor" targetRef="user"/>
<bpmn:sequenceFlow id="f7" sourceRef="send" targetRef="incl"/>
<bpmn:sequenceFlow id="f8" sourceRef="user" targetRef="incl"/>
<bpmn:sequenceFlow id="f9" sourceRef="incl" targetRef="ebg"/>
<bpmn:sequenceFlow id="f10" sourceRef="ebg" targetRef="waitMsg"/>
<bpmn:sequenceFlow id="f11" sourceRef="ebg" targetRef="waitTimer"/>
<bpmn:sequenceFlow id="f12" sourceRef="waitMsg" targetRef="script"/>
<bpmn:sequenceFlow id="f13" sourceRef="waitTimer" targetRef="script"/>
<bpmn:sequenceFlow id="f14" sourceRef="script" targetRef="sub"/>
<bpmn:sequenceFlow id="f15" sourceRef="sub" targetRef="call"/>
<bpmn:sequenceFlow id="f16" sourceRef="call" targetRef="join"/>
<bpmn:sequenceFlow id="f17" sourceRef="join" targetRef="throwNone"/>
<bpmn:sequenceFlow id="f18" sourceRef="throwNone" targetRef="throwMsg"/>
<bpmn:sequenceFlow id="f19" sourceRef="throwMsg" targetRef="rules"/>
<bpmn:sequenceFlow id="f20" sourceRef="rules" targetRef="manual"/>
<bpmn:sequenceFlow id="f21" sourceRef="manual" targetRef="plain"/>
<bpmn:sequenceFlow id="f22" sourceRef="plain" targetRef="receive"/>
<bpmn:sequenceFlow id="f23" sourceRef="receive" targetRef="endNone"/>
<bpmn:sequenceFlow id="f24" sourceRef="bTimer" targetRef="endTerminate"/>
<bpmn:sequenceFlow id="f25" sourceRef="bError" targetRef="endError"/>
<bpmn:sequenceFlow id="f26" sourceRef="bMsg" targetRef="endMessage"/>
<bpmn:sequenceFlow id="f27" sourceRef="msgStart" targetRef="fork"/>
<bpmn:sequenceFlow id="f28" sourceRef="timerStart" targetRef="fork"/>
<bpmn:sequenceFlow id="f29" sourceRef="bAnyError" targetRef="endAnyError"/>
"""


@pytest.fixture
def resource(bpmn) -> bytes:
    return bpmn.document(bpmn.process(ORDER, process_id="order"), ROOT_ELEMENTS)


@pytest.fixture
def model(resource):
    [model] = parse_bpmn(resource, "order.bpmn")
    return model


def test_the_process_and_its_scope(model, resource):
    assert model.bpmn_process_id == "order"
    assert model.name == "P"
    assert model.resource_name == "order.bpmn"
    assert model.checksum == resource_checksum(resource)
    process = model.process
    assert process.element_type is E.PROCESS and process.flow_scope_id is None
    scope = process.scope
    assert scope.none_start_event_id == "start"
    assert scope.message_start_event_ids == ("msgStart",)
    assert scope.timer_start_event_ids == ("timerStart",)
    assert scope.event_sub_process_ids == ("events",)
    assert scope.event_sub_process_start_event_ids == ("eventsStart",)
    assert "sub" in scope.child_ids and "subTask" not in scope.child_ids
    assert {child.id for child in model.children("order")} == set(scope.child_ids)


def test_every_element_has_its_type_event_type_scope_and_line(model, resource, bpmn):
    expected = {
        "start": (E.START_EVENT, V.NONE),
        "msgStart": (E.START_EVENT, V.MESSAGE),
        "timerStart": (E.START_EVENT, V.TIMER),
        "fork": (E.PARALLEL_GATEWAY, V.UNSPECIFIED),
        "task": (E.SERVICE_TASK, V.UNSPECIFIED),
        "bTimer": (E.BOUNDARY_EVENT, V.TIMER),
        "bError": (E.BOUNDARY_EVENT, V.ERROR),
        "bMsg": (E.BOUNDARY_EVENT, V.MESSAGE),
        "xor": (E.EXCLUSIVE_GATEWAY, V.UNSPECIFIED),
        "send": (E.SEND_TASK, V.UNSPECIFIED),
        "user": (E.USER_TASK, V.UNSPECIFIED),
        "incl": (E.INCLUSIVE_GATEWAY, V.UNSPECIFIED),
        "ebg": (E.EVENT_BASED_GATEWAY, V.UNSPECIFIED),
        "waitMsg": (E.INTERMEDIATE_CATCH_EVENT, V.MESSAGE),
        "waitTimer": (E.INTERMEDIATE_CATCH_EVENT, V.TIMER),
        "script": (E.SCRIPT_TASK, V.UNSPECIFIED),
        "sub": (E.SUB_PROCESS, V.UNSPECIFIED),
        "subEvents": (E.EVENT_SUB_PROCESS, V.UNSPECIFIED),
        "call": (E.CALL_ACTIVITY, V.UNSPECIFIED),
        "throwNone": (E.INTERMEDIATE_THROW_EVENT, V.NONE),
        "throwMsg": (E.INTERMEDIATE_THROW_EVENT, V.MESSAGE),
        "rules": (E.BUSINESS_RULE_TASK, V.UNSPECIFIED),
        "manual": (E.MANUAL_TASK, V.UNSPECIFIED),
        "plain": (E.TASK, V.UNSPECIFIED),
        "receive": (E.RECEIVE_TASK, V.UNSPECIFIED),
        "endTerminate": (E.END_EVENT, V.TERMINATE),
        "endError": (E.END_EVENT, V.ERROR),
        "endMessage": (E.END_EVENT, V.MESSAGE),
        "events": (E.EVENT_SUB_PROCESS, V.UNSPECIFIED),
    }
    for element_id, (element_type, event_type) in expected.items():
        node = model.flow_node(element_id)
        assert (node.element_type, node.event_type) == (element_type, event_type), element_id
        assert node.line == bpmn.line_of(resource, f'id="{element_id}"'), element_id
    assert model.flow_node("subTask").flow_scope_id == "sub"
    assert model.flow_node("subErrorStart").flow_scope_id == "subEvents"
    assert model.flow_node("subEvents").flow_scope_id == "sub"
    assert model.flow_node("task").flow_scope_id == "order"
    flow = model.sequence_flow("f5")
    assert flow.element_type is E.SEQUENCE_FLOW and flow.line == bpmn.line_of(resource, 'id="f5"')
    assert len(model.elements) == len(list(model.flow_nodes())) + len(list(model.sequence_flows()))


def test_flows_conditions_and_defaults(model):
    assert model.flow_node("fork").outgoing == ("f2", "f4")
    assert model.flow_node("fork").incoming == ("f1", "f27", "f28")
    xor = model.flow_node("xor")
    assert xor.default_flow_id == "f6"
    big, default = model.outgoing_flows("xor")
    assert (big.name, big.source_id, big.target_id) == ("big", "xor", "send")
    assert big.condition == Expression("=amount > 100", is_feel=True)
    assert big.condition.feel == "amount > 100"
    assert default.condition is None
    assert model.sequence_flow("sf1").flow_scope_id == "sub"


def test_jobs_headers_and_io_mappings(model):
    job = model.flow_node("task").job
    assert job.type.is_feel and job.type.feel == '"pay-" + region'
    assert job.retries == Expression.of("5") and not job.retries.is_feel
    assert dict(job.headers) == {"a": "1", "b": "= not FEEL"}  # headers are static text
    mapping = model.flow_node("task").io_mapping
    assert [(m.source.source, m.target) for m in mapping.inputs] == [
        ("=order.total", "amount"),
        ("EUR", "payment.currency"),
    ]
    assert mapping.inputs[1].source.static_value == "EUR"
    assert [(m.source.feel, m.target) for m in mapping.outputs] == [("receipt", "receipt")]
    assert model.flow_node("send").job.type.static_value == "mail"
    assert model.flow_node("send").job.retries.static_value == "3"
    assert model.flow_node("rules").job.type.static_value == "rules"
    assert model.flow_node("throwMsg").job.type.static_value == "notify"
    assert model.flow_node("endMessage").job.type.static_value == "goodbye"
    for no_job in ("manual", "plain", "receive", "script", "call", "throwNone", "endNone"):
        assert model.flow_node(no_job).job is None, no_job


def test_user_task_runs_as_a_job_worker_task(model):
    user = model.flow_node("user")
    assert user.job.type.static_value == USER_TASK_JOB_TYPE
    assert dict(user.job.headers) == {"h": "v"}
    task = user.user_task
    assert task.assignee.feel == "boss"
    assert task.candidate_groups.static_value == "clerks"
    assert task.form_key == "camunda-forms:bpmn:form1"
    assert task.due_date.static_value == "2026-01-01T10:00:00Z"
    assert task.candidate_users is None and task.follow_up_date is None


def test_messages_timers_and_errors(model):
    paid = model.flow_node("waitMsg").message
    assert (paid.message_id, paid.name.static_value, paid.correlation_key.feel) == (
        "m-paid",
        "order-paid",
        "orderId",
    )
    assert model.flow_node("receive").message == paid
    assert model.flow_node("bMsg").message == paid
    start = model.flow_node("msgStart").message
    assert start.name.feel == '"start-" + region' and start.correlation_key is None
    timer = model.flow_node("bTimer").timer
    assert timer.kind is TimerKind.CYCLE
    assert timer.static_value() == TimerCycle(5, IsoDuration(milliseconds=10_000))
    assert model.flow_node("timerStart").timer.static_value().repetitions is None
    wait = model.flow_node("waitTimer").timer
    assert wait.kind is TimerKind.DURATION and wait.expression.feel == "wait"
    assert model.flow_node("bError").error.error_code.static_value == "E42"
    assert model.flow_node("bAnyError").error.error_code is None  # catches every error
    assert model.flow_node("endError").error.error_id == "err"
    assert model.flow_node("subErrorStart").error.error_code.static_value == "E42"


def test_boundary_events_and_interrupting_flags(model):
    task = model.flow_node("task")
    assert task.boundary_event_ids == ("bTimer", "bError", "bAnyError", "bMsg")
    assert all(model.flow_node(b).attached_to_id == "task" for b in task.boundary_event_ids)
    assert model.flow_node("bTimer").interrupting is False
    assert model.flow_node("bError").interrupting is True
    assert model.flow_node("eventsStart").interrupting is False
    assert model.flow_node("events").interrupting is False
    assert model.flow_node("subEvents").interrupting is True


def test_event_based_gateway_lists_its_events(model):
    assert model.flow_node("ebg").event_ids == ("waitMsg", "waitTimer")


def test_script_call_activity_and_multi_instance(model):
    script = model.flow_node("script").script
    assert (script.expression.feel, script.result_variable) == ("amount * 2", "doubled")
    called = model.flow_node("call").called_element
    assert called.process_id.feel == "childId"
    assert called.propagate_all_child_variables is False
    assert called.propagate_all_parent_variables is True
    loop = model.flow_node("sub").multi_instance
    assert loop.is_sequential is True
    assert loop.input_collection.feel == "items" and loop.input_element == "item"
    assert loop.output_collection == "results" and loop.output_element.feel == "result"
    assert loop.completion_condition.feel == "done"
    sub_scope = model.flow_node("sub").scope
    assert sub_scope.none_start_event_id == "subStart"
    assert sub_scope.event_sub_process_start_event_ids == ("subErrorStart",)
    assert model.flow_node("subEvents").scope.start_event_id == "subErrorStart"


def test_the_model_is_immutable_and_picklable(model):
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.flow_node("task").name = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        model.elements["x"] = model.process  # type: ignore[index]
    copy = pickle.loads(pickle.dumps(model))
    assert copy == model
    assert hash(copy.flow_node("task")) == hash(model.flow_node("task"))


def test_parsing_is_deterministic_and_the_checksum_tells_changed_resources_apart(resource):
    first = parse_bpmn(resource, "order.bpmn")
    assert parse_bpmn(resource, "order.bpmn") == first
    changed = resource.replace(b'name="Pay"', b'name="Pay now"')
    [other] = parse_bpmn(changed, "order.bpmn")
    assert other.checksum != first[0].checksum
    assert other.checksum == resource_checksum(changed)


def test_one_resource_may_hold_several_processes_and_non_executable_ones_are_skipped(bpmn):
    simple = '<bpmn:startEvent id="{0}s"/><bpmn:endEvent id="{0}e"/>' + (
        '<bpmn:sequenceFlow id="{0}f" sourceRef="{0}s" targetRef="{0}e"/>'
    )
    xml = bpmn.document(
        bpmn.process(simple.format("a"), process_id="a"),
        bpmn.process(simple.format("b"), process_id="b", executable=False),
        bpmn.process(simple.format("c"), process_id="c"),
    )
    models = parse_bpmn(xml, "many.bpmn")
    assert [m.bpmn_process_id for m in models] == ["a", "c"]
    assert models[0].checksum == models[1].checksum
    assert "cs" in models[1].elements and "as" not in models[1].elements


def test_expressions():
    assert Expression.of("=x").is_feel and Expression.of("  = x ").feel == "x"
    assert not Expression.of("x = 1").is_feel
    assert Expression.condition("x = 1").feel == "x = 1"
    assert Expression.condition("= x").feel == "x"
    with pytest.raises(AssertionError):
        _ = Expression.of("static").feel
    with pytest.raises(AssertionError):
        _ = Expression.of("=feel").static_value


def test_a_flow_node_refuses_inconsistent_fields():
    with pytest.raises(AssertionError):
        FlowNode(id="x", name="", line=1, element_type=E.SERVICE_TASK)  # no flow scope
    with pytest.raises(AssertionError):
        FlowNode(
            id="x", name="", line=1, element_type=E.START_EVENT, flow_scope_id="p"
        )  # an event without an event type
