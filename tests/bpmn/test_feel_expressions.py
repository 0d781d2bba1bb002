"""Every place a FEEL expression can stand is compiled at deployment: a syntax error anywhere
refuses the resource, naming the element, what the expression is for, and FEEL's reason."""

import pytest

from raybee.partitions.engine.bpmn import parse_bpmn

BAD = "a +"  # FEEL that does not compile
ROOT = (
    '<bpmn:message id="m" name="msg"><bpmn:extensionElements>'
    f'<zeebe:subscription correlationKey="={BAD}"/></bpmn:extensionElements></bpmn:message>'
    f'<bpmn:message id="m-name" name="={BAD}"><bpmn:extensionElements>'
    '<zeebe:subscription correlationKey="=k"/></bpmn:extensionElements></bpmn:message>'
    f'<bpmn:error id="err" errorCode="={BAD}"/>'
)
START = '<bpmn:startEvent id="start"/>'


def service(extensions: str, inner: str = "") -> str:
    return (
        f'<bpmn:serviceTask id="t"><bpmn:extensionElements>{extensions}'
        f"</bpmn:extensionElements>{inner}</bpmn:serviceTask>"
    )


TASK_DEFINITION = '<zeebe:taskDefinition type="w"/>'
LOOP = "<bpmn:multiInstanceLoopCharacteristics><bpmn:extensionElements>{}</bpmn:extensionElements>{}</bpmn:multiInstanceLoopCharacteristics>"

CASES = {
    "condition": (
        '<bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="x" targetRef="e">'
        f"<bpmn:conditionExpression>={BAD}</bpmn:conditionExpression></bpmn:sequenceFlow>",
        "f",
        "the condition",
    ),
    "condition without '='": (
        '<bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="x" targetRef="e">'
        f"<bpmn:conditionExpression>{BAD}</bpmn:conditionExpression></bpmn:sequenceFlow>",
        "f",
        "the condition",
    ),
    "input mapping": (
        service(
            TASK_DEFINITION + f'<zeebe:ioMapping><zeebe:input source="={BAD}" target="x"/>'
            "</zeebe:ioMapping>"
        ),
        "t",
        "the input mapping to 'x'",
    ),
    "output mapping": (
        service(
            TASK_DEFINITION + f'<zeebe:ioMapping><zeebe:output source="={BAD}" target="y"/>'
            "</zeebe:ioMapping>"
        ),
        "t",
        "the output mapping to 'y'",
    ),
    "job type": (service(f'<zeebe:taskDefinition type="={BAD}"/>'), "t", "the job type"),
    "job retries": (
        service(f'<zeebe:taskDefinition type="w" retries="={BAD}"/>'),
        "t",
        "the job retries",
    ),
    "correlation key": (
        '<bpmn:receiveTask id="r" messageRef="m"/>',
        "r",
        "the correlation key",
    ),
    "message name": (
        '<bpmn:receiveTask id="r" messageRef="m-name"/>',
        "r",
        "the message name",
    ),
    "timer": (
        '<bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition>'
        f"<bpmn:timeDuration>={BAD}</bpmn:timeDuration></bpmn:timerEventDefinition>"
        "</bpmn:intermediateCatchEvent>",
        "c",
        "the timer timeDuration",
    ),
    "error code thrown": (
        '<bpmn:endEvent id="e"><bpmn:errorEventDefinition errorRef="err"/></bpmn:endEvent>',
        "e",
        "the error code",
    ),
    "script": (
        '<bpmn:scriptTask id="s"><bpmn:extensionElements>'
        f'<zeebe:script expression="={BAD}" resultVariable="r"/>'
        "</bpmn:extensionElements></bpmn:scriptTask>",
        "s",
        "the script",
    ),
    "called process id": (
        '<bpmn:callActivity id="c"><bpmn:extensionElements>'
        f'<zeebe:calledElement processId="={BAD}"/></bpmn:extensionElements></bpmn:callActivity>',
        "c",
        "the called process id",
    ),
    "assignee": (
        '<bpmn:userTask id="u"><bpmn:extensionElements>'
        f'<zeebe:assignmentDefinition assignee="={BAD}"/></bpmn:extensionElements>'
        "</bpmn:userTask>",
        "u",
        "the assignee",
    ),
    "input collection": (
        service(
            TASK_DEFINITION,
            LOOP.format(f'<zeebe:loopCharacteristics inputCollection="={BAD}"/>', ""),
        ),
        "t",
        "the inputCollection",
    ),
    "output element": (
        service(
            TASK_DEFINITION,
            LOOP.format(
                '<zeebe:loopCharacteristics inputCollection="=xs" outputCollection="ys"'
                f' outputElement="={BAD}"/>',
                "",
            ),
        ),
        "t",
        "the outputElement",
    ),
    "completion condition": (
        service(
            TASK_DEFINITION,
            LOOP.format(
                '<zeebe:loopCharacteristics inputCollection="=xs"/>',
                f"<bpmn:completionCondition>={BAD}</bpmn:completionCondition>",
            ),
        ),
        "t",
        "the completionCondition",
    ),
    "unknown function": (
        service(
            TASK_DEFINITION + '<zeebe:ioMapping><zeebe:input source="=no such function(1)"'
            ' target="x"/></zeebe:ioMapping>'
        ),
        "t",
        "the input mapping to 'x'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_feel_is_refused_where_it_stands(case, bpmn):
    body, element_id, label = CASES[case]
    error = bpmn.refusal(bpmn.single(START + body, ROOT))
    [problem] = [p for p in error.problems if "is not valid FEEL" in p.reason]
    assert problem.element_id == element_id
    assert problem.reason.startswith(label), problem.reason
    assert "FEEL expression" in problem.reason  # FEEL's own reason follows


def test_valid_feel_in_the_same_places_deploys(bpmn):
    body = (
        START + '<bpmn:exclusiveGateway id="x"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f" sourceRef="x" targetRef="e">'
        '<bpmn:conditionExpression>Vacation Approval = "Approved"</bpmn:conditionExpression>'
        "</bpmn:sequenceFlow>"
        + service(
            '<zeebe:taskDefinition type="=&quot;w-&quot; + kind" retries="=3"/>'
            '<zeebe:ioMapping><zeebe:input source="= string join(risks, &quot;, &quot;)"'
            ' target="x"/></zeebe:ioMapping>',
            LOOP.format(
                '<zeebe:loopCharacteristics inputCollection="=for i in 1..3 return i"/>',
                "<bpmn:completionCondition>=count(done) &gt;= 2</bpmn:completionCondition>",
            ),
        )
    )
    [model] = parse_bpmn(bpmn.single(body), "valid.bpmn")
    assert model.flow_node("t").job.retries.feel == "3"
