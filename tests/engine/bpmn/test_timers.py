"""Timers: intermediate timer catch events (durations, dates, FEEL), timer boundary events
(interrupting, and non-interrupting cycles), timer start events (cycles; a new version replaces
the old timers), and what cancels a timer. Due dates come from the command's timestamp and the
fake clock, never the wall clock."""

import datetime as dt

from raybee.partitions.protocol import JobIntent, RecordType, TimerIntent, ValueType
from raybee.partitions.testing import cancel_instance, job_command, timer_definition

SECOND_MS = 1000


def timer_catch_process(xml, kind="timeDuration", value="PT10S"):
    catch = (
        f'<bpmn:intermediateCatchEvent id="timer">{timer_definition(kind, value)}'
        f"</bpmn:intermediateCatchEvent>"
    )
    body = xml.start() + catch + xml.end() + xml.chain("start", "timer", "end")
    return xml.process("timed", body)


def boundary_process(xml, value="PT10S", kind="timeDuration", interrupting=True):
    boundary = (
        f'<bpmn:boundaryEvent id="late" attachedToRef="task" '
        f'cancelActivity="{str(interrupting).lower()}">{timer_definition(kind, value)}'
        f"</bpmn:boundaryEvent>"
    )
    body = (
        xml.start()
        + xml.task("task", "work")
        + boundary
        + xml.task("remind", "remind")
        + xml.end()
        + xml.end("end2")
        + xml.chain("start", "task", "end")
        + xml.chain("late", "remind", "end2")
    )
    return xml.process("guarded", body)


def fire(bpmn, ms: int) -> None:
    bpmn.clock.advance(ms)
    bpmn.partition.tick()


def test_a_duration_timer_fires_when_due_and_not_before(bpmn, xml):
    bpmn.deploy(timer_catch_process(xml))
    created_at = bpmn.clock.now_ms
    key = bpmn.create("timed")
    (created,) = bpmn.records(ValueType.TIMER, TimerIntent.CREATED)
    assert created.value.due_date_ms == created_at + 10 * SECOND_MS
    assert created.value.target_element_id == "timer"
    fire(bpmn, 10 * SECOND_MS - 1)
    assert not bpmn.completed(key)
    fire(bpmn, 1)
    assert bpmn.completed(key)
    assert [r.intent for r in bpmn.records(ValueType.TIMER)] == [
        TimerIntent.CREATED,
        TimerIntent.TRIGGERED,
    ]


def test_a_date_timer_and_a_feel_timer(memory_bpmn, xml):
    bpmn = memory_bpmn
    due = bpmn.clock.now_ms + 60 * SECOND_MS
    text = dt.datetime.fromtimestamp(due / 1000, dt.UTC).isoformat().replace("+00:00", "Z")
    bpmn.deploy(timer_catch_process(xml, "timeDate", text))
    key = bpmn.create("timed")
    fire(bpmn, 59 * SECOND_MS)
    assert not bpmn.completed(key)
    fire(bpmn, SECOND_MS)
    assert bpmn.completed(key)
    bpmn.deploy(timer_catch_process(xml, "timeDuration", "=wait"))
    key = bpmn.create("timed", {"wait": "PT3S"})
    other = bpmn.create("timed", {"wait": 'duration("PT5S")'})  # a string, but not ISO-8601
    ((_, incident),) = bpmn.incidents()
    assert incident.element_instance_key != key and incident.error_type == "EXTRACT_VALUE_ERROR"
    fire(bpmn, 3 * SECOND_MS)
    assert bpmn.completed(key) and not bpmn.completed(other)


def test_an_interrupting_timer_boundary_event_cancels_the_task_and_its_job(bpmn, xml):
    bpmn.deploy(boundary_process(xml))
    key = bpmn.create("guarded")
    ((job_key, _),) = bpmn.activate("work")
    fire(bpmn, 10 * SECOND_MS)
    assert bpmn.lifecycle("task")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.lifecycle("late")[-1] == "ELEMENT_COMPLETED"
    assert bpmn.work("remind") == 1
    assert bpmn.completed(key)
    late = bpmn.execute(job_command(JobIntent.COMPLETE, job_key))
    assert late.record_type == RecordType.COMMAND_REJECTION, "the job was cancelled"


def test_a_task_completed_in_time_cancels_its_timer(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(boundary_process(xml))
    key = bpmn.create("guarded")
    bpmn.work("work")
    assert bpmn.completed(key)
    assert [r.intent for r in bpmn.records(ValueType.TIMER)] == [
        TimerIntent.CREATED,
        TimerIntent.CANCELED,
    ]
    fire(bpmn, 20 * SECOND_MS)
    assert bpmn.activate("remind") == []


def test_a_non_interrupting_cycle_fires_its_repetitions_while_the_task_waits(bpmn, xml):
    bpmn.deploy(boundary_process(xml, "R3/PT10S", "timeCycle", interrupting=False))
    created_at = bpmn.clock.now_ms
    key = bpmn.create("guarded")
    for _ in range(4):
        fire(bpmn, 10 * SECOND_MS)
    dues = [
        r.value.due_date_ms - created_at
        for r in bpmn.records(ValueType.TIMER, TimerIntent.TRIGGERED)
    ]
    assert dues == [10_000, 20_000, 30_000], "three repetitions, each an interval after the last"
    assert bpmn.work("remind") == 3
    assert bpmn.lifecycle("task") == ["ELEMENT_ACTIVATING", "ELEMENT_ACTIVATED"], "not interrupted"
    bpmn.work("work")
    assert bpmn.completed(key)


def test_a_cycle_left_unfinished_is_cancelled_with_its_task(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(boundary_process(xml, "R/PT10S", "timeCycle", interrupting=False))
    key = bpmn.create("guarded")
    fire(bpmn, 10 * SECOND_MS)
    fire(bpmn, 10 * SECOND_MS)
    (last,) = [r for r in bpmn.records(ValueType.TIMER, TimerIntent.CREATED)][-1:]
    assert last.value.repetitions == -1, "R/ repeats forever"
    bpmn.execute(cancel_instance(key))
    assert bpmn.records(ValueType.TIMER)[-1].intent == TimerIntent.CANCELED
    fire(bpmn, 60 * SECOND_MS)
    assert len(bpmn.records(ValueType.TIMER, TimerIntent.TRIGGERED)) == 2


def start_timer_process(xml, cycle="R2/PT1M", task="work"):
    start = f'<bpmn:startEvent id="start">{timer_definition("timeCycle", cycle)}</bpmn:startEvent>'
    body = start + xml.task("task", task) + xml.end() + xml.chain("start", "task", "end")
    return xml.process("scheduled", body)


def test_a_timer_start_event_starts_instances_and_a_new_version_replaces_it(bpmn, xml):
    bpmn.deploy(start_timer_process(xml))
    fire(bpmn, 60 * SECOND_MS)
    assert bpmn.work("work") == 1
    bpmn.deploy(start_timer_process(xml, "R/PT2M", "other"))  # a new version
    (canceled,) = bpmn.records(ValueType.TIMER, TimerIntent.CANCELED)
    assert canceled.value.target_element_id == "start"
    for _ in range(3):
        fire(bpmn, 60 * SECOND_MS)
    assert bpmn.activate("work") == [], "the old version's cycle was cancelled"
    assert bpmn.work("other") == 1
    fire(bpmn, 60 * SECOND_MS)
    assert bpmn.work("other") == 1
