"""Every rule of validation, one small process each: the refusal names exactly the expected
problems (element id and reason), no fewer and no more."""

import pytest

from raybee.partitions.engine.bpmn import BpmnValidationError, parse_bpmn

START = '<bpmn:startEvent id="start"/>\n'
MESSAGE = (
    '<bpmn:message id="m" name="msg"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=key"/></bpmn:extensionElements></bpmn:message>'
)
NAMELESS_MESSAGE = '<bpmn:message id="m-nameless"/>'
NO_KEY_MESSAGE = '<bpmn:message id="m-nokey" name="msg"/>'
ERRORS = (
    '<bpmn:error id="err" errorCode="E1"/><bpmn:error id="err-nocode"/>'
    '<bpmn:error id="err-feel" errorCode="=code"/>'
)
ROOT = MESSAGE + NAMELESS_MESSAGE + NO_KEY_MESSAGE + ERRORS


def task(task_id: str, extra: str = "", job_type: str = "work") -> str:
    return (
        f'<bpmn:serviceTask id="{task_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/></bpmn:extensionElements>{extra}'
        f"</bpmn:serviceTask>\n"
    )


def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
    if condition is None:
        return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>\n'
    return (
        f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
        f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>\n"
    )


def event(kind: str, event_id: str, definition: str, attributes: str = "") -> str:
    return f'<bpmn:{kind} id="{event_id}"{attributes}>{definition}</bpmn:{kind}>\n'


def timer(form: str, value: str) -> str:
    return (
        f"<bpmn:timerEventDefinition><bpmn:{form}>{value}</bpmn:{form}></bpmn:timerEventDefinition>"
    )


def boundary(event_id: str, attached_to: str, definition: str, attributes: str = "") -> str:
    return (
        event("boundaryEvent", event_id, definition, f' attachedToRef="{attached_to}"{attributes}')
        + f'<bpmn:endEvent id="{event_id}-end"/>'
        + flow(f"{event_id}-f", event_id, f"{event_id}-end")
    )


MSG = '<bpmn:messageEventDefinition messageRef="m"/>'
ERR = '<bpmn:errorEventDefinition errorRef="err"/>'

CASES = {
    "no start event": (
        '<bpmn:task id="t"/>',
        [("p", "no none, message or timer start event")],
    ),
    "two none start events": (
        START + '<bpmn:startEvent id="start2"/>',
        [("p", "has 2 none start events")],
    ),
    "duplicate ids": (
        START + '<bpmn:task id="t"/><bpmn:task id="t"/>',
        [("t", "is used more than once")],
    ),
    "sequence flow to a missing element": (
        START + flow("f", "start", "ghost"),
        [("f", "targetRef 'ghost' names no element")],
    ),
    "sequence flow without a sourceRef": (
        START + '<bpmn:sequenceFlow id="f" targetRef="start"/>',
        [("f", "has no sourceRef")],
    ),
    "sequence flow naming a flow": (
        START + '<bpmn:endEvent id="e"/>' + flow("f1", "start", "e") + flow("f2", "f1", "e"),
        [("f2", "names a sequence flow, not a flow node")],
    ),
    "sequence flow across scopes": (
        START
        + '<bpmn:subProcess id="sub"><bpmn:startEvent id="s2"/></bpmn:subProcess>'
        + flow("f", "start", "s2"),
        [("f", "a flow cannot cross a scope")],
    ),
    "boundary attached to nothing": (
        START + boundary("b", "ghost", MSG),
        [("b", "attachedToRef 'ghost' names no element")],
    ),
    "boundary attached to a gateway": (
        START + '<bpmn:parallelGateway id="g"/>' + boundary("b", "g", MSG),
        [("b", "boundary events attach to tasks, sub-processes and call activities only")],
    ),
    "boundary without attachedToRef": (
        START + '<bpmn:boundaryEvent id="b">' + MSG + "</bpmn:boundaryEvent>",
        [("b", "has no attachedToRef")],
    ),
    "default flow that is not outgoing": (
        START
        + '<bpmn:exclusiveGateway id="x" default="f1"/><bpmn:endEvent id="e"/>'
        + flow("f1", "start", "e")
        + flow("f2", "x", "e"),
        [("x", "default flow 'f1' is not an outgoing sequence flow")],
    ),
    "service task without a task definition": (
        START + '<bpmn:serviceTask id="t"/>',
        [("t", "service task needs a zeebe:taskDefinition")],
    ),
    "send task without a task definition": (
        START + '<bpmn:sendTask id="t"/>',
        [("t", "send task needs a zeebe:taskDefinition")],
    ),
    "task definition without a type": (
        START + '<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type=""/>'
        "</bpmn:extensionElements></bpmn:serviceTask>",
        [("t", "zeebe:taskDefinition has no type")],
    ),
    "job retries that are not a number": (
        START + '<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="w"'
        ' retries="many"/></bpmn:extensionElements></bpmn:serviceTask>',
        [("t", "retries 'many' is neither a non-negative integer nor a FEEL expression")],
    ),
    "message end event without a task definition": (
        START + event("endEvent", "e", "<bpmn:messageEventDefinition/>"),
        [("e", "message end event needs a zeebe:taskDefinition")],
    ),
    "receive task without a messageRef": (
        START + '<bpmn:receiveTask id="r"/>',
        [("r", "receive task waits for a message but has no messageRef")],
    ),
    "message catch without a correlation key": (
        START
        + event(
            "intermediateCatchEvent", "c", '<bpmn:messageEventDefinition messageRef="m-nokey"/>'
        ),
        [("c", "needs a correlation key")],
    ),
    "message without a name": (
        START
        + event(
            "intermediateCatchEvent", "c", '<bpmn:messageEventDefinition messageRef="m-nameless"/>'
        ),
        [("c", "the message 'm-nameless' it waits for has no name")],
    ),
    "messageRef to nothing": (
        START
        + event("intermediateCatchEvent", "c", '<bpmn:messageEventDefinition messageRef="x"/>'),
        [("c", "the messageRef 'x' names no <message>")],
    ),
    "message start of an event sub-process without a correlation key": (
        START
        + '<bpmn:subProcess id="ev" triggeredByEvent="true">'
        + event("startEvent", "es", '<bpmn:messageEventDefinition messageRef="m-nokey"/>')
        + "</bpmn:subProcess>",
        [("es", "needs a correlation key")],
    ),
    "timer without a definition": (
        START + event("intermediateCatchEvent", "c", "<bpmn:timerEventDefinition/>"),
        [("c", "needs exactly one of timeDate, timeDuration and timeCycle")],
    ),
    "timer with two definitions": (
        START
        + event(
            "intermediateCatchEvent",
            "c",
            "<bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration>"
            "<bpmn:timeDate>2026-01-01T00:00:00Z</bpmn:timeDate></bpmn:timerEventDefinition>",
        ),
        [("c", "exactly one of timeDate, timeDuration and timeCycle, it has 2")],
    ),
    "empty timer": (
        START + event("intermediateCatchEvent", "c", timer("timeDuration", " ")),
        [("c", "the timer's timeDuration is empty")],
    ),
    "unparsable duration": (
        START + event("intermediateCatchEvent", "c", timer("timeDuration", "10 minutes")),
        [("c", "'10 minutes' is not an ISO-8601 duration")],
    ),
    "unparsable date": (
        START + event("intermediateCatchEvent", "c", timer("timeDate", "tomorrow")),
        [("c", "'tomorrow' is not an ISO-8601 date-time")],
    ),
    "unparsable cycle": (
        START
        + task("t")
        + boundary("b", "t", timer("timeCycle", "R5/10s"), ' cancelActivity="false"'),
        [("b", "'10s' is not an ISO-8601 duration")],
    ),
    "cycle on an intermediate catch": (
        START + event("intermediateCatchEvent", "c", timer("timeCycle", "R2/PT1S")),
        [("c", "intermediate timer catch event cannot use timeCycle")],
    ),
    "duration on a process timer start": (
        event("startEvent", "s", timer("timeDuration", "PT1S")),
        [("s", "a timer start event cannot use timeDuration")],
    ),
    "cycle on an interrupting boundary": (
        START + task("t") + boundary("b", "t", timer("timeCycle", "R2/PT1S")),
        [("b", "interrupting timer boundary event cannot use timeCycle")],
    ),
    "exclusive gateway flows without conditions": (
        START
        + '<bpmn:exclusiveGateway id="x" default="f1"/><bpmn:endEvent id="e"/>'
        + flow("f1", "x", "e")
        + flow("f2", "x", "e")
        + flow("f3", "x", "e", "=ok"),
        [("f2", "leaves exclusive gateway 'x' without a condition")],
    ),
    "inclusive gateway flows without conditions": (
        START
        + '<bpmn:inclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        + flow("f1", "x", "e")
        + flow("f2", "x", "e"),
        [
            ("f1", "leaves inclusive gateway 'x' without a condition"),
            ("f2", "leaves inclusive gateway 'x' without a condition"),
        ],
    ),
    "event-based gateway followed by a task": (
        START
        + '<bpmn:eventBasedGateway id="g"/><bpmn:task id="t"/>'
        + event("intermediateCatchEvent", "c", timer("timeDuration", "PT1S"))
        + flow("f1", "g", "t")
        + flow("f2", "g", "c"),
        [("g", "may lead only to message or timer intermediate catch events, but 't'")],
    ),
    "event-based gateway with one flow": (
        START
        + '<bpmn:eventBasedGateway id="g"/>'
        + event("intermediateCatchEvent", "c", timer("timeDuration", "PT1S"))
        + flow("f1", "g", "c"),
        [("g", "needs at least two outgoing sequence flows, it has 1")],
    ),
    "error end event without an error code": (
        START + event("endEvent", "e", '<bpmn:errorEventDefinition errorRef="err-nocode"/>'),
        [("e", "an error end event needs an errorRef to an <error> with an errorCode")],
    ),
    "errorRef to nothing": (
        START + event("endEvent", "e", '<bpmn:errorEventDefinition errorRef="x"/>'),
        [("e", "the errorRef 'x' names no <error>")],
    ),
    "non-interrupting error boundary": (
        START + task("t") + boundary("b", "t", ERR, ' cancelActivity="false"'),
        [("b", "an error boundary event must be interrupting")],
    ),
    "two error boundaries catching one code": (
        START + task("t") + boundary("b1", "t", ERR) + boundary("b2", "t", ERR),
        [("b2", "'b1' on the same activity already catches error code 'E1'")],
    ),
    "non-interrupting error start": (
        START
        + '<bpmn:subProcess id="ev" triggeredByEvent="true">'
        + event("startEvent", "es", ERR, ' isInterrupting="false"')
        + "</bpmn:subProcess>",
        [("es", "an error start event must be interrupting")],
    ),
    "business rule task without a task definition": (
        START + '<bpmn:businessRuleTask id="r"/>',
        [("r", "it has no DMN engine")],
    ),
    "business rule task calling a decision": (
        START + '<bpmn:businessRuleTask id="r"><bpmn:extensionElements>'
        '<zeebe:calledDecision decisionId="d" resultVariable="x"/>'
        "</bpmn:extensionElements></bpmn:businessRuleTask>",
        [("r", "calls a DMN decision (zeebe:calledDecision), and raybee has no DMN engine")],
    ),
    "signal event": (
        START + event("intermediateCatchEvent", "c", '<bpmn:signalEventDefinition signalRef="s"/>'),
        [("c", "signal events are not supported")],
    ),
    "escalation event": (
        START + event("endEvent", "e", "<bpmn:escalationEventDefinition/>"),
        [("e", "escalation events are not supported")],
    ),
    "compensation event": (
        START + event("intermediateThrowEvent", "e", "<bpmn:compensateEventDefinition/>"),
        [("e", "compensation events are not supported")],
    ),
    "conditional event": (
        START + event("intermediateCatchEvent", "c", "<bpmn:conditionalEventDefinition/>"),
        [("c", "conditional events are not supported")],
    ),
    "link event": (
        START + event("intermediateThrowEvent", "l", '<bpmn:linkEventDefinition name="x"/>'),
        [("l", "link events are not supported")],
    ),
    "two event definitions": (
        START + event("endEvent", "e", "<bpmn:terminateEventDefinition/>" + ERR),
        [("e", "several event definitions are not supported")],
    ),
    "complex gateway": (
        START + '<bpmn:complexGateway id="g"/>',
        [("g", "complex gateways are not supported")],
    ),
    "transaction": (
        START + '<bpmn:transaction id="tx"/>',
        [("tx", "transactions are not supported")],
    ),
    "ad-hoc sub-process": (
        START + '<bpmn:adHocSubProcess id="ad"/>',
        [("ad", "ad-hoc sub-processes are not supported")],
    ),
    "unknown BPMN element": (
        START + '<bpmn:choreographyActivity id="c"/>',
        [("c", "the BPMN element <choreographyActivity> is not supported")],
    ),
    "standard loop": (
        START + task("t", "<bpmn:standardLoopCharacteristics/>"),
        [("t", "standard loops are not supported")],
    ),
    "compensation activity": (
        START + '<bpmn:task id="t" isForCompensation="true"/>',
        [("t", "compensation activities are not supported")],
    ),
    "end event with an outgoing flow": (
        START + '<bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>' + flow("f", "e", "e2"),
        [("e", "an end event cannot have outgoing sequence flows")],
    ),
    "start event with an incoming flow": (
        START + '<bpmn:task id="t"/>' + flow("f", "t", "start"),
        [("start", "a start event cannot have incoming sequence flows")],
    ),
    "boundary event without an outgoing flow": (
        START + task("t") + event("boundaryEvent", "b", MSG, ' attachedToRef="t"'),
        [("b", "a boundary event needs at least one outgoing sequence flow")],
    ),
    "boundary event with an incoming flow": (
        START + task("t") + boundary("b", "t", MSG) + flow("fin", "start", "b"),
        [("b", "a boundary event cannot have incoming sequence flows")],
    ),
    "boundary event without a definition": (
        START + task("t") + boundary("b", "t", ""),
        [("b", "a none boundary event is not supported")],
    ),
    "event sub-process with flows": (
        START
        + '<bpmn:subProcess id="ev" triggeredByEvent="true">'
        + event("startEvent", "es", MSG)
        + "</bpmn:subProcess>"
        + flow("f", "start", "ev"),
        [("ev", "an event sub-process cannot have incoming or outgoing sequence flows")],
    ),
    "sub-process without a start event": (
        START + '<bpmn:subProcess id="sub"><bpmn:task id="t"/></bpmn:subProcess>',
        [("sub", "needs exactly one none start event, it has 0")],
    ),
    "message start in a sub-process": (
        START
        + '<bpmn:subProcess id="sub">'
        + event("startEvent", "ss", MSG)
        + "</bpmn:subProcess>",
        [("ss", "a message start event is not supported in sub process")],
    ),
    "none start in an event sub-process": (
        START + '<bpmn:subProcess id="ev" triggeredByEvent="true"><bpmn:startEvent id="es"/>'
        "</bpmn:subProcess>",
        [("es", "a none start event is not supported in event sub process")],
    ),
    "event sub-process with two start events": (
        START
        + '<bpmn:subProcess id="ev" triggeredByEvent="true">'
        + event("startEvent", "es1", MSG)
        + event("startEvent", "es2", timer("timeDuration", "PT1S"))
        + "</bpmn:subProcess>",
        [("ev", "an event sub-process needs exactly one start event, it has 2")],
    ),
    "error start in a process": (
        START + event("startEvent", "s", ERR),
        [("s", "an error start event is not supported in process")],
    ),
    "none intermediate catch": (
        START + '<bpmn:intermediateCatchEvent id="c"/>',
        [("c", "a none intermediate catch event is not supported")],
    ),
    "timer end event": (
        START + event("endEvent", "e", timer("timeDuration", "PT1S")),
        [("e", "a timer end event is not supported")],
    ),
    "script task without a script": (
        START + '<bpmn:scriptTask id="s"/>',
        [("s", "a script task needs a zeebe:script")],
    ),
    "script that is not FEEL": (
        START + '<bpmn:scriptTask id="s"><bpmn:extensionElements>'
        '<zeebe:script expression="1 + 1" resultVariable="r"/>'
        "</bpmn:extensionElements></bpmn:scriptTask>",
        [("s", "the zeebe:script expression must be a FEEL expression")],
    ),
    "script without a result variable": (
        START + '<bpmn:scriptTask id="s"><bpmn:extensionElements><zeebe:script expression="=1"/>'
        "</bpmn:extensionElements></bpmn:scriptTask>",
        [("s", "zeebe:script has no resultVariable")],
    ),
    "multi-instance without loop characteristics": (
        START + task("t", "<bpmn:multiInstanceLoopCharacteristics/>"),
        [("t", "needs a zeebe:loopCharacteristics with an inputCollection")],
    ),
    "multi-instance over a static collection": (
        START
        + task(
            "t",
            "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
            '<zeebe:loopCharacteristics inputCollection="items"/>'
            "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>",
        ),
        [("t", "the inputCollection must be a FEEL expression")],
    ),
    "multi-instance output collection without element": (
        START
        + task(
            "t",
            "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
            '<zeebe:loopCharacteristics inputCollection="=items" outputCollection="out"/>'
            "</bpmn:extensionElements></bpmn:multiInstanceLoopCharacteristics>",
        ),
        [("t", "outputCollection and outputElement must be given together")],
    ),
    "multi-instance with a cardinality": (
        START
        + task(
            "t",
            "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>"
            '<zeebe:loopCharacteristics inputCollection="=items"/></bpmn:extensionElements>'
            "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
            "</bpmn:multiInstanceLoopCharacteristics>",
        ),
        [("t", "loopCardinality is not supported")],
    ),
    "call activity without a called element": (
        START + '<bpmn:callActivity id="c"/>',
        [("c", "a call activity needs a zeebe:calledElement with a processId")],
    ),
    "called element without a process id": (
        START + '<bpmn:callActivity id="c"><bpmn:extensionElements><zeebe:calledElement/>'
        "</bpmn:extensionElements></bpmn:callActivity>",
        [("c", "zeebe:calledElement has no processId")],
    ),
    "propagation flag that is not a boolean": (
        START + '<bpmn:callActivity id="c"><bpmn:extensionElements><zeebe:calledElement '
        'processId="x" propagateAllChildVariables="yes"/></bpmn:extensionElements>'
        "</bpmn:callActivity>",
        [("c", "propagateAllChildVariables of zeebe:calledElement is 'yes', not true or false")],
    ),
    "condition on a flow leaving a task": (
        START + task("t") + '<bpmn:endEvent id="e"/>' + flow("f", "t", "e", "=ok"),
        [("f", "conditions are supported only on flows leaving exclusive and inclusive gateways")],
    ),
    "condition in another language": (
        START
        + '<bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        + '<bpmn:sequenceFlow id="f" sourceRef="x" targetRef="e"><bpmn:conditionExpression '
        'language="javascript">ok == true</bpmn:conditionExpression></bpmn:sequenceFlow>',
        [("f", "the expression language 'javascript' is not supported")],
    ),
    "empty condition": (
        START
        + '<bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        + flow("f", "x", "e", "  = "),
        [("f", "the condition is empty")],
    ),
    "unknown zeebe extension": (
        START
        + task("t", '<bpmn:extensionElements><zeebe:teleport to="mars"/></bpmn:extensionElements>'),
        [("t", "zeebe:teleport is not supported by raybee")],
    ),
    "execution listeners": (
        START
        + task("t", "<bpmn:extensionElements><zeebe:executionListeners/></bpmn:extensionElements>"),
        [("t", "zeebe:executionListeners are not supported")],
    ),
    "Camunda user task": (
        START + '<bpmn:userTask id="u"><bpmn:extensionElements><zeebe:userTask/>'
        "</bpmn:extensionElements></bpmn:userTask>",
        [("u", "Camunda user tasks (zeebe:userTask) are not supported")],
    ),
    "a zeebe extension given twice": (
        START + '<bpmn:serviceTask id="t"><bpmn:extensionElements><zeebe:taskDefinition type="a"/>'
        '<zeebe:taskDefinition type="b"/></bpmn:extensionElements></bpmn:serviceTask>',
        [("t", "zeebe:taskDefinition is given more than once")],
    ),
    "io mapping without a target": (
        START
        + task(
            "t",
            '<bpmn:extensionElements><zeebe:ioMapping><zeebe:input source="=a"/>'
            "</zeebe:ioMapping></bpmn:extensionElements>",
        ),
        [("t", "zeebe:input has no target")],
    ),
    "a header given twice": (
        START
        + task(
            "t",
            '<bpmn:extensionElements><zeebe:taskHeaders><zeebe:header key="k" value="1"/>'
            '<zeebe:header key="k" value="2"/></zeebe:taskHeaders></bpmn:extensionElements>',
        ),
        [("t", "the task header 'k' is given more than once")],
    ),
    "a caught error code that is FEEL": (
        START + task("t") + boundary("b", "t", '<bpmn:errorEventDefinition errorRef="err-feel"/>'),
        [("b", "a caught error code must be static")],
    ),
    "interrupting flag that is not a boolean": (
        START + task("t") + boundary("b", "t", MSG, ' cancelActivity="maybe"'),
        [("b", "cancelActivity is 'maybe', not true or false")],
    ),
    "incoming naming an unknown flow": (
        START + '<bpmn:task id="t"><bpmn:incoming>nope</bpmn:incoming></bpmn:task>',
        [("t", "<incoming> names 'nope', but no element has that id")],
    ),
    "element without an id": (
        START + "<bpmn:task/>",
        [(None, "a <task> has no id")],
    ),
    "two boundary events waiting for one message": (
        START + task("t") + boundary("b1", "t", MSG) + boundary("b2", "t", MSG),
        [("b2", "'b1' already waits for the message 'msg' beside it (in 't')")],
    ),
    "two message start events for one message": (
        event("startEvent", "s1", MSG) + event("startEvent", "s2", MSG),
        [("s2", "'s1' already waits for the message 'msg' beside it (in 'p')")],
    ),
    "an event-based gateway waiting twice for one message": (
        START
        + '<bpmn:eventBasedGateway id="g"/>'
        + event("intermediateCatchEvent", "c1", MSG)
        + event("intermediateCatchEvent", "c2", MSG)
        + flow("f1", "g", "c1")
        + flow("f2", "g", "c2"),
        [("c2", "'c1' already waits for the message 'msg' beside it (in 'g')")],
    ),
    "a process-level zeebe extension raybee does not run": (
        START.replace(
            "<bpmn:startEvent",
            "<bpmn:extensionElements><zeebe:executionListeners/>"
            "</bpmn:extensionElements><bpmn:startEvent",
        ),
        [("p", "zeebe:executionListeners are not supported")],
    ),
    "receive task that instantiates": (
        START + '<bpmn:receiveTask id="r" messageRef="m" instantiate="true"/>',
        [("r", "instantiating receive tasks are not supported")],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_names_the_element_and_the_reason(case, bpmn):
    body, expected = CASES[case]
    xml = bpmn.single(body, ROOT)
    with pytest.raises(BpmnValidationError) as caught:
        parse_bpmn(xml, "rule.bpmn")
    problems = caught.value.problems
    unmatched = [
        p
        for p in problems
        if not any(
            p.element_id == element_id and reason in p.reason for element_id, reason in expected
        )
    ]
    missing = [
        e for e in expected if not any(p.element_id == e[0] and e[1] in p.reason for p in problems)
    ]
    assert not missing and not unmatched, f"missing {missing}, unexpected {unmatched}"
    for problem in problems:
        assert problem.line is not None
        if problem.element_id is not None:
            assert problem.line >= bpmn.line_of(xml, f'id="{problem.element_id}"')


@pytest.mark.parametrize(
    ("process", "reason"),
    [
        ('<bpmn:process id="p" isExecutable="false"/>', 'not executable (isExecutable="false")'),
        ('<bpmn:process id="p"/>', "not executable (no isExecutable attribute)"),
    ],
)
def test_a_resource_whose_only_process_is_not_executable_is_refused_saying_so(
    process, reason, bpmn
):
    error = bpmn.refusal(bpmn.document(process))
    [problem] = error.problems
    assert problem.element_id == "p" and reason in problem.reason


def test_a_resource_without_a_process_is_refused(bpmn):
    error = bpmn.refusal(bpmn.document('<bpmn:collaboration id="c"/>'))
    assert [(p.element_id, p.reason) for p in error.problems] == [
        ("definitions", "the resource holds no <process>")
    ]


def test_every_problem_is_reported_in_document_order_and_the_message_lists_them_all(bpmn):
    body = (
        '<bpmn:serviceTask id="noType"/>\n'
        + flow("dangling", "noType", "ghost")
        + '<bpmn:intermediateCatchEvent id="badTimer">'
        + timer("timeDuration", "soon")
        + "</bpmn:intermediateCatchEvent>\n"
        + '<bpmn:complexGateway id="complex"/>\n'
    )
    xml = bpmn.document(bpmn.process(body), bpmn.process(START + '<bpmn:task id="t"/>' * 1, "q"))
    error = bpmn.refusal(xml, "many-problems.bpmn")
    found = [(p.element_id, p.line) for p in error.problems]
    assert found == [
        ("p", bpmn.line_of(xml, 'id="p"')),  # no start event: reported at the process
        ("noType", bpmn.line_of(xml, 'id="noType"')),
        ("dangling", bpmn.line_of(xml, 'id="dangling"')),
        ("badTimer", bpmn.line_of(xml, 'id="badTimer"')),
        ("complex", bpmn.line_of(xml, 'id="complex"')),
    ]
    message = str(error)
    assert "'many-problems.bpmn' has 5 problems" in message
    for problem in error.problems:
        assert f"line {problem.line}, element '{problem.element_id}': {problem.reason}" in message


def test_problems_are_sorted_by_line(bpmn):
    body = '<bpmn:serviceTask id="a"/>\n<bpmn:task id="t"/>\n<bpmn:serviceTask id="b"/>'
    error = bpmn.refusal(bpmn.single(body))
    lines = [p.line for p in error.problems]
    assert lines == sorted(lines)
    assert [p.element_id for p in error.problems] == ["p", "a", "b"]
