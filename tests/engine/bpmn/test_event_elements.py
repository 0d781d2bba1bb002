"""Boundary events (message and error; interrupting and not), errors caught up the scope chain
(by code, catch-all, across call activities, a multi-instance body's), event sub-processes
(timer, message, error; interrupting and not) and event-based gateways (the first event wins,
the others are closed)."""

from raybee.partitions.protocol import (
    JobIntent,
    MessageSubscriptionIntent,
    ProcessMessageSubscriptionIntent,
    RecordType,
    TimerIntent,
    ValueType,
)
from raybee.partitions.testing import (
    bpmn_error,
    bpmn_message,
    error_definition,
    job_command,
    message_definition,
    publish,
    set_variables,
    timer_definition,
)

SECOND_MS = 1000


def boundary(event_id, attached_to, definition, interrupting=True, outputs=()):
    return (
        f'<bpmn:boundaryEvent id="{event_id}" attachedToRef="{attached_to}" '
        f'cancelActivity="{str(interrupting).lower()}">{definition}</bpmn:boundaryEvent>'
    )


def throw(bpmn, job_type, code, variables=None):
    ((job_key, _),) = bpmn.activate(job_type)
    answer = bpmn.execute(
        job_command(JobIntent.THROW_ERROR, job_key, error_code=code, variables=variables or {})
    )
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    return job_key


# ---------------------------------------------------------------------- message boundary
def message_boundary_process(xml, interrupting):
    body = (
        xml.start()
        + xml.task("task", "work")
        + boundary("poke", "task", message_definition("m"), interrupting)
        + xml.task("react", "react")
        + xml.end()
        + xml.end("end2")
        + xml.chain("start", "task", "end")
        + xml.chain("poke", "react", "end2")
    )
    return xml.process("poked", body, extra=bpmn_message("m", "poke"))


def test_an_interrupting_message_boundary_event_takes_over_the_task(bpmn, xml):
    bpmn.deploy(message_boundary_process(xml, interrupting=True))
    key = bpmn.create("poked", {"key": "k"})
    bpmn.execute(publish("poke", "k", {"why": "cancelled"}))
    assert bpmn.lifecycle("task")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.records(ValueType.JOB, JobIntent.CANCELED)
    assert bpmn.activate("work") == []
    assert bpmn.work("react") == 1
    assert bpmn.completed(key)
    why = [r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "why"]
    assert why[0].value.scope_key == key


def test_a_non_interrupting_message_boundary_event_fires_per_message(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(message_boundary_process(xml, interrupting=False))
    key = bpmn.create("poked", {"key": "k"})
    for n in range(3):
        bpmn.execute(publish("poke", "k", {"n": n}, time_to_live_ms=0))
    assert bpmn.work("react") == 3
    assert bpmn.lifecycle("task") == ["ELEMENT_ACTIVATING", "ELEMENT_ACTIVATED"]
    bpmn.work("work")
    assert bpmn.completed(key)
    # the task's completion closed the subscription on both sides
    assert bpmn.records(ValueType.MESSAGE_SUBSCRIPTION, MessageSubscriptionIntent.DELETED)
    assert (
        bpmn.records(ValueType.PROCESS_MESSAGE_SUBSCRIPTION)[-1].intent
        == ProcessMessageSubscriptionIntent.DELETED
    )


# ---------------------------------------------------------------------- errors
def error_boundary_process(xml, codes=("E1",)):
    errors = "".join(bpmn_error(f"error-{c}", c) for c in codes if c)
    boundaries = "".join(
        boundary(f"catch-{c or 'all'}", "task", error_definition(f"error-{c}" if c else None))
        + xml.end(f"end-{c or 'all'}")
        + xml.flow(f"catch-{c or 'all'}", f"end-{c or 'all'}")
        for c in codes
    )
    body = xml.start() + xml.task("task", "work") + boundaries + xml.end()
    body += xml.chain("start", "task", "end")
    return xml.process("erring", body, extra=errors)


def test_a_job_error_is_caught_by_the_matching_boundary_event(bpmn, xml):
    bpmn.deploy(error_boundary_process(xml, ("E1", "E2", None)))
    key = bpmn.create("erring")
    job_key = throw(bpmn, "work", "E2", {"reason": "no stock"})
    assert bpmn.lifecycle("catch-E2")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.lifecycle("catch-E1") == [] and bpmn.lifecycle("catch-all") == []
    assert bpmn.completed(key) and not bpmn.incidents()
    assert [r.intent for r in bpmn.records(ValueType.JOB) if r.key == job_key][-1] == (
        JobIntent.CANCELED
    )
    (reason,) = [r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "reason"]
    assert reason.value.value == "no stock"
    key = bpmn.create("erring")
    throw(bpmn, "work", "OTHER")
    assert bpmn.lifecycle("catch-all")[-1] == "ELEMENT_COMPLETED", "the catch-all takes the rest"


def test_an_error_no_boundary_matches_is_an_incident(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(error_boundary_process(xml, ("E1",)))
    key = bpmn.create("erring")
    throw(bpmn, "work", "E2")
    ((_, incident),) = bpmn.incidents()
    assert incident.error_type == "UNHANDLED_ERROR_EVENT"
    assert bpmn.lifecycle("catch-E1") == [] and not bpmn.completed(key)


def test_an_error_end_event_is_caught_by_its_sub_process_boundary(memory_bpmn, xml):
    bpmn = memory_bpmn
    inner = xml.start("s2") + xml.end("fail", error_definition("error-E1")) + xml.flow("s2", "fail")
    body = (
        xml.start()
        + xml.sub_process("sub", inner)
        + boundary("caught", "sub", error_definition("error-E1"))
        + xml.end()
        + xml.task("handle", "handle")
        + xml.chain("start", "sub", "end")
        + xml.chain("caught", "handle")
    )
    bpmn.deploy(xml.process("nested", body, extra=bpmn_error("error-E1", "E1")))
    key = bpmn.create("nested")
    assert bpmn.lifecycle("fail") == [
        "ELEMENT_ACTIVATING",
        "ELEMENT_TERMINATING",
        "ELEMENT_TERMINATED",
    ]
    assert bpmn.lifecycle("sub")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.work("handle") == 1 and bpmn.completed(key)


def test_an_error_thrown_in_a_called_process_is_caught_by_the_call_activity(memory_bpmn, xml):
    bpmn = memory_bpmn
    child = xml.process(
        "child",
        xml.start() + xml.task("deep", "deep") + xml.end() + xml.chain("start", "deep", "end"),
        extra=bpmn_error("error-E9", "E9"),
    )
    parent = xml.process(
        "parent",
        xml.start()
        + xml.call("call", "child")
        + boundary("caught", "call", error_definition("error-E9"))
        + xml.end()
        + xml.end("handled")
        + xml.chain("start", "call", "end")
        + xml.flow("caught", "handled"),
        extra=bpmn_error("error-E9", "E9"),
    )
    bpmn.deploy(child, name="child.bpmn")
    bpmn.deploy(parent, name="parent.bpmn")
    key = bpmn.create("parent")
    throw(bpmn, "deep", "E9")
    assert bpmn.lifecycle("call")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.lifecycle("child")[-1] == "ELEMENT_TERMINATED", "the child process went with it"
    assert bpmn.lifecycle("handled")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.completed(key) and not bpmn.incidents()


def test_a_multi_instance_body_catches_the_error_of_an_inner_instance(memory_bpmn, xml):
    bpmn = memory_bpmn
    body = (
        xml.start()
        + xml.task("each", "each", loop=xml.loop("=items", "item"))
        + boundary("caught", "each", error_definition(None))
        + xml.end()
        + xml.end("handled")
        + xml.chain("start", "each", "end")
        + xml.flow("caught", "handled")
    )
    bpmn.deploy(xml.process("many", body))
    key = bpmn.create("many", {"items": [1, 2, 3]})
    jobs = bpmn.activate("each")
    assert len(jobs) == 3
    bpmn.execute(job_command(JobIntent.THROW_ERROR, jobs[1][0], error_code="ANY"))
    assert bpmn.lifecycle("handled")[-1] == "ELEMENT_COMPLETED"
    assert len(bpmn.records(ValueType.JOB, JobIntent.CANCELED)) == 3, "every inner job went"
    assert bpmn.completed(key)


# ---------------------------------------------------------------------- event sub-processes
def event_sub_process(sub_id, start_definition, inner_task, interrupting=True):
    return (
        f'<bpmn:subProcess id="{sub_id}" triggeredByEvent="true">'
        f'<bpmn:startEvent id="{sub_id}-start" isInterrupting="{str(interrupting).lower()}">'
        f"{start_definition}</bpmn:startEvent>"
        f'<bpmn:serviceTask id="{sub_id}-task"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{inner_task}"/></bpmn:extensionElements></bpmn:serviceTask>'
        f'<bpmn:endEvent id="{sub_id}-end"/>'
        f'<bpmn:sequenceFlow id="{sub_id}-f1" sourceRef="{sub_id}-start" targetRef="{sub_id}-task"/>'
        f'<bpmn:sequenceFlow id="{sub_id}-f2" sourceRef="{sub_id}-task" targetRef="{sub_id}-end"/>'
        f"</bpmn:subProcess>"
    )


def esp_process(xml, *sub_processes, extra=""):
    body = xml.start() + xml.task("main", "main") + xml.end() + xml.chain("start", "main", "end")
    return xml.process("host", body + "".join(sub_processes), extra=extra)


def test_an_interrupting_timer_event_sub_process_ends_the_main_flow(bpmn, xml):
    bpmn.deploy(
        esp_process(
            xml, event_sub_process("timeout", timer_definition("timeDuration", "PT1M"), "escalate")
        )
    )
    key = bpmn.create("host")
    bpmn.clock.advance(60 * SECOND_MS)
    bpmn.partition.tick()
    assert bpmn.lifecycle("main")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.activate("main") == []
    assert bpmn.work("escalate") == 1
    assert bpmn.completed(key)


def test_a_non_interrupting_message_event_sub_process_runs_beside(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(
        esp_process(
            xml,
            event_sub_process("note", message_definition("m"), "take-note", interrupting=False),
            extra=bpmn_message("m", "note"),
        )
    )
    key = bpmn.create("host", {"key": "k"})
    bpmn.execute(publish("note", "k", {"text": "a"}, time_to_live_ms=0))
    bpmn.execute(publish("note", "k", {"text": "b"}, time_to_live_ms=0))
    assert bpmn.work("main") == 1
    assert not bpmn.completed(key), "the event sub-processes still run"
    assert bpmn.work("take-note") == 2
    assert bpmn.completed(key)
    texts = [r.value.value for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "text"]
    assert texts == ["a", "b"]


def test_an_error_event_sub_process_catches_an_error_of_its_scope(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(
        esp_process(
            xml,
            event_sub_process("on-error", error_definition("error-E1"), "clean-up"),
            event_sub_process(
                "never", timer_definition("timeDuration", "PT1H"), "late", interrupting=False
            ),
            extra=bpmn_error("error-E1", "E1"),
        )
    )
    key = bpmn.create("host")
    throw(bpmn, "main", "E1")
    assert bpmn.lifecycle("main")[-1] == "ELEMENT_TERMINATED"
    (canceled,) = bpmn.records(ValueType.TIMER, TimerIntent.CANCELED)
    assert canceled.value.target_element_id == "never-start", "the scope's other events closed"
    assert bpmn.work("clean-up") == 1
    assert bpmn.completed(key) and not bpmn.incidents()


# ---------------------------------------------------------------------- event-based gateway
def gateway_process(xml):
    body = (
        xml.start()
        + '<bpmn:eventBasedGateway id="which"/>'
        + f'<bpmn:intermediateCatchEvent id="paid">{message_definition("m")}</bpmn:intermediateCatchEvent>'
        + f'<bpmn:intermediateCatchEvent id="timeout">{timer_definition("timeDuration", "PT1M")}</bpmn:intermediateCatchEvent>'
        + xml.end("end-paid")
        + xml.end("end-timeout")
        + xml.chain("start", "which")
        + xml.chain("which", "paid", "end-paid")
        + xml.chain("which", "timeout", "end-timeout")
    )
    return xml.process("race", body, extra=bpmn_message("m", "paid"))


def test_the_first_event_after_an_event_based_gateway_wins(bpmn, xml):
    bpmn.deploy(gateway_process(xml))
    by_message = bpmn.create("race", {"key": "k"})
    bpmn.execute(publish("paid", "k", {"amount": 5}, time_to_live_ms=0))
    assert bpmn.completed(by_message)
    assert bpmn.lifecycle("end-paid")[-1] == "ELEMENT_COMPLETED"
    assert [r.intent for r in bpmn.records(ValueType.TIMER)] == [
        TimerIntent.CREATED,
        TimerIntent.CANCELED,
    ]
    by_timer = bpmn.create("race", {"key": "k2"})
    bpmn.clock.advance(60 * SECOND_MS)
    bpmn.partition.tick()
    assert bpmn.completed(by_timer)
    assert bpmn.lifecycle("end-timeout")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.records(ValueType.MESSAGE_SUBSCRIPTION, MessageSubscriptionIntent.DELETED)
    bpmn.execute(publish("paid", "k2", time_to_live_ms=0))
    assert bpmn.lifecycle("end-paid").count("ELEMENT_COMPLETED") == 1


def test_a_triggered_event_sub_process_whose_input_mapping_fails_resumes_on_resolve(
    memory_bpmn, xml
):
    bpmn = memory_bpmn
    mapping = xml.io([("=assert(x, x != null)", "checked")])
    sub = event_sub_process("note", message_definition("m"), "take-note", interrupting=False)
    sub = sub.replace(
        'triggeredByEvent="true">',
        f'triggeredByEvent="true"><bpmn:extensionElements>{mapping}</bpmn:extensionElements>',
        1,
    )
    bpmn.deploy(esp_process(xml, sub, extra=bpmn_message("m", "note")))
    key = bpmn.create("host", {"key": "k"})
    bpmn.execute(publish("note", "k", {"text": "a"}, time_to_live_ms=0))
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.element_id == "note" and incident.error_type == "IO_MAPPING_ERROR"
    bpmn.write(set_variables(key, {"x": 1}))
    assert bpmn.resolve(incident_key).record_type == RecordType.EVENT
    assert bpmn.lifecycle("note-start")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.work("take-note") == 1 and bpmn.work("main") == 1
    assert bpmn.completed(key)
