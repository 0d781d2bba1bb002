"""Messages on one partition: intermediate catch events and receive tasks, correlation in both
orders, time-to-live and expiry, message ids, one message per process, message start events
(one instance per correlation key while it is active), variables, and what closes a
subscription. Each rule names its source (Zeebe's docs "Messages" / "Message events")."""

from raybee.partitions.protocol import (
    MessageIntent,
    MessageStartEventSubscriptionIntent,
    MessageSubscriptionIntent,
    ProcessInstanceIntent,
    ProcessMessageSubscriptionIntent,
    RecordType,
    RejectionType,
    ValueType,
)
from raybee.partitions.testing import (
    bpmn_message,
    cancel_instance,
    message_definition,
    publish,
    set_variables,
)

MS = MessageSubscriptionIntent
PMS = ProcessMessageSubscriptionIntent


def catch_process(xml, process_id="waits", kind="catch", outputs=(), key="=key", name="go"):
    """start -> an intermediate message catch event (or receive task) -> end."""
    if kind == "catch":
        io = xml.io((), outputs)
        extension = f"<bpmn:extensionElements>{io}</bpmn:extensionElements>" if io else ""
        waiter = (
            f'<bpmn:intermediateCatchEvent id="wait">{extension}{message_definition("m")}'
            f"</bpmn:intermediateCatchEvent>"
        )
    else:
        io = xml.io((), outputs)
        extension = f"<bpmn:extensionElements>{io}</bpmn:extensionElements>" if io else ""
        waiter = f'<bpmn:receiveTask id="wait" messageRef="m">{extension}</bpmn:receiveTask>'
    body = xml.start() + waiter + xml.end() + xml.chain("start", "wait", "end")
    return xml.process(process_id, body, extra=bpmn_message("m", name, key))


def published(bpmn, *args, **kwargs):
    answer = bpmn.execute(publish(*args, **kwargs))
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    assert answer.intent == MessageIntent.PUBLISHED
    return answer


def test_an_open_subscription_takes_the_message_and_its_variables(bpmn, xml):
    bpmn.deploy(catch_process(xml))
    key = bpmn.create("waits", {"key": "order-1"})
    assert bpmn.lifecycle("wait") == ["ELEMENT_ACTIVATING", "ELEMENT_ACTIVATED"]
    (registered,) = bpmn.records(ValueType.MESSAGE_SUBSCRIPTION, MS.CREATED)
    assert (registered.value.message_name, registered.value.correlation_key) == ("go", "order-1")
    published(bpmn, "go", "order-1", {"paid": True})
    assert bpmn.lifecycle("wait")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.completed(key)
    # "By default, all message variables are merged into the process instance."
    (paid,) = [r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "paid"]
    assert paid.value.scope_key == key and paid.value.value is True
    assert [r.intent for r in bpmn.records(ValueType.PROCESS_MESSAGE_SUBSCRIPTION)] == [
        PMS.CREATING,
        PMS.CREATED,
        PMS.CORRELATED,
    ]


def test_a_message_for_another_key_or_name_is_not_correlated(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml))
    key = bpmn.create("waits", {"key": "order-1"})
    published(bpmn, "go", "order-2")
    published(bpmn, "stop", "order-1")
    assert not bpmn.completed(key)
    assert not bpmn.records(ValueType.MESSAGE_SUBSCRIPTION, MS.CORRELATING)


def test_a_buffered_message_is_correlated_when_the_subscription_opens(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml, kind="receive"))
    published(bpmn, "go", "order-1", {"n": 1}, time_to_live_ms=10_000)
    published(bpmn, "go", "order-1", {"n": 2}, time_to_live_ms=10_000)
    first = bpmn.create("waits", {"key": "order-1"})
    second = bpmn.create("waits", {"key": "order-1"})
    assert bpmn.completed(first) and bpmn.completed(second)
    # "In case multiple messages match, the first published message is correlated" - and a
    # message goes to one instance of a process only, so the second takes the second message.
    n = {
        r.value.scope_key: r.value.value
        for r in bpmn.records(ValueType.VARIABLE)
        if r.value.name == "n"
    }
    assert n == {first: 1, second: 2}


def test_an_expired_message_is_not_correlated_and_is_removed(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml))
    published(bpmn, "go", "order-1", time_to_live_ms=5_000)
    bpmn.clock.advance(5_000)  # the deadline is now: its time-to-live is over
    key = bpmn.create("waits", {"key": "order-1"})
    assert not bpmn.completed(key)
    assert not bpmn.records(ValueType.MESSAGE, MessageIntent.EXPIRED), "not removed before a tick"
    bpmn.partition.tick()
    (expired,) = bpmn.records(ValueType.MESSAGE, MessageIntent.EXPIRED)
    assert expired.value.correlation_key == "order-1"
    assert not bpmn.completed(key)


def test_a_message_without_time_to_live_goes_only_to_open_subscriptions(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml))
    published(bpmn, "go", "order-1", time_to_live_ms=0)
    key = bpmn.create("waits", {"key": "order-1"})
    assert not bpmn.completed(key)
    published(bpmn, "go", "order-1", time_to_live_ms=0)
    assert bpmn.completed(key)


def test_a_message_id_is_unique_while_its_message_is_buffered(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml))
    published(bpmn, "go", "order-1", time_to_live_ms=5_000, message_id="m-1")
    again = bpmn.execute(publish("go", "order-1", time_to_live_ms=5_000, message_id="m-1"))
    assert again.rejection_type == RejectionType.ALREADY_EXISTS
    assert "m-1" in again.rejection_reason
    published(bpmn, "go", "order-2", time_to_live_ms=5_000, message_id="m-1")  # other key
    bpmn.clock.advance(5_001)
    bpmn.partition.tick()
    published(bpmn, "go", "order-1", time_to_live_ms=5_000, message_id="m-1")  # expired: free


def test_a_message_goes_to_one_instance_per_process_and_to_every_process(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml, "first"), name="first.bpmn")
    bpmn.deploy(catch_process(xml, "second"), name="second.bpmn")
    a1 = bpmn.create("first", {"key": "k"})
    a2 = bpmn.create("first", {"key": "k"})
    b1 = bpmn.create("second", {"key": "k"})
    published(bpmn, "go", "k", time_to_live_ms=0)
    done = [k for k in (a1, a2, b1) if bpmn.completed(k)]
    assert done == [a1, b1], "the oldest subscription of each process"
    published(bpmn, "go", "k", time_to_live_ms=0)
    assert bpmn.completed(a2)


def test_output_mappings_take_the_message_variables_locally(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml, kind="receive", outputs=[("=amount * 2", "doubled")]))
    key = bpmn.create("waits", {"key": "k"})
    published(bpmn, "go", "k", {"amount": 21})
    assert bpmn.completed(key)
    variables = {r.value.name: r.value for r in bpmn.records(ValueType.VARIABLE)}
    assert variables["amount"].scope_key != key, "local to the receive task"
    assert variables["doubled"].scope_key == key and variables["doubled"].value == 42


def test_a_number_correlation_key_is_its_text(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml, key="=orderId"))
    key = bpmn.create("waits", {"orderId": 42})
    published(bpmn, "go", "42")
    assert bpmn.completed(key)


def test_a_correlation_key_that_is_no_string_is_an_incident_retried_on_resolve(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml))
    key = bpmn.create("waits", {})
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "EXTRACT_VALUE_ERROR"
    assert "correlation key" in incident.error_message
    assert bpmn.lifecycle("wait") == ["ELEMENT_ACTIVATING"]
    bpmn.write(set_variables(key, {"key": "k"}))
    assert bpmn.resolve(incident_key).record_type == RecordType.EVENT
    published(bpmn, "go", "k")
    assert bpmn.completed(key)


def test_cancelling_the_instance_closes_its_subscription(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(catch_process(xml))
    key = bpmn.create("waits", {"key": "k"})
    bpmn.execute(cancel_instance(key))
    assert [r.intent for r in bpmn.records(ValueType.PROCESS_MESSAGE_SUBSCRIPTION)][-1] == (
        PMS.DELETED
    )
    assert bpmn.records(ValueType.MESSAGE_SUBSCRIPTION, MS.DELETED)
    published(bpmn, "go", "k")
    assert not bpmn.records(ValueType.MESSAGE_SUBSCRIPTION, MS.CORRELATING)


def test_publish_is_refused_for_an_empty_name_or_a_negative_time_to_live(memory_bpmn):
    bpmn = memory_bpmn
    for command in (publish(""), publish("go", time_to_live_ms=-1), publish("x" * 2000)):
        answer = bpmn.execute(command)
        assert answer.rejection_type == RejectionType.INVALID_ARGUMENT, answer
    assert not bpmn.records(ValueType.MESSAGE)


# ---------------------------------------------------------------------- message start events
def start_process(xml, process_id="started", key_expression=None, name="begin"):
    start = f'<bpmn:startEvent id="start">{message_definition("m")}</bpmn:startEvent>'
    body = start + xml.task("work", "work") + xml.end() + xml.chain("start", "work", "end")
    return xml.process(process_id, body, extra=bpmn_message("m", name, key_expression))


def started_instances(bpmn) -> list:
    return [
        r.key
        for r in bpmn.element_records(ProcessInstanceIntent.ELEMENT_ACTIVATING)
        if r.value.bpmn_element_type == "PROCESS"
    ]


def test_a_message_start_event_starts_an_instance_with_the_message_variables(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(start_process(xml))
    published(bpmn, "begin", "", {"order": 7})
    (key,) = started_instances(bpmn)
    assert bpmn.lifecycle("start") == [
        "ELEMENT_ACTIVATING",
        "ELEMENT_ACTIVATED",
        "ELEMENT_COMPLETING",
        "ELEMENT_COMPLETED",
    ]
    assert bpmn.variables(key) == {"order": 7}
    ((_, job),) = bpmn.activate("work")
    assert job.variables == {"order": 7}
    published(bpmn, "begin", "")
    assert len(started_instances(bpmn)) == 2, "no correlation key: every message starts one"


def test_one_instance_per_correlation_key_while_it_is_active(bpmn, xml):
    # "If an instance of this process is active and it was triggered by a message with the same
    # correlationKey, the message is not correlated ... When the active process instance is
    # completed or terminated and a message with the same correlationKey ... is buffered, this
    # message is correlated and a new instance ... is created."
    bpmn.deploy(start_process(xml))
    published(bpmn, "begin", "customer-1", {"n": 1})
    published(bpmn, "begin", "customer-1", {"n": 2})
    published(bpmn, "begin", "customer-2", {"n": 3})
    first, third = started_instances(bpmn)
    assert bpmn.variables(third) == {"n": 3}
    bpmn.work("work")
    assert bpmn.completed(first) and bpmn.completed(third)
    (_, second) = started_instances(bpmn)[1:]
    assert bpmn.variables(second) == {"n": 2}, "the buffered message started the next one"
    bpmn.execute(cancel_instance(second))
    published(bpmn, "begin", "customer-1", {"n": 4})
    assert len(started_instances(bpmn)) == 4, "the terminated instance released its key"


def test_a_new_version_replaces_the_message_start_event(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(start_process(xml, name="begin"))
    bpmn.deploy(start_process(xml, name="commence"))
    intents = [r.intent for r in bpmn.records(ValueType.MESSAGE_START_EVENT_SUBSCRIPTION)]
    assert intents == [
        MessageStartEventSubscriptionIntent.CREATED,
        MessageStartEventSubscriptionIntent.DELETED,
        MessageStartEventSubscriptionIntent.CREATED,
    ]
    published(bpmn, "begin", "", time_to_live_ms=0)
    assert not started_instances(bpmn)
    published(bpmn, "commence", "")
    (key,) = started_instances(bpmn)
    assert bpmn.instance(key).value.version == 2


def test_a_process_that_starts_only_by_message_cannot_be_created(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(start_process(xml))
    from raybee.partitions.testing import create_instance

    answer = bpmn.execute(create_instance("started"))
    assert answer.rejection_type == RejectionType.INVALID_STATE
