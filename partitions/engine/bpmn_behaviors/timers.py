"""Timers of BPMN elements: when they are due, creating, cancelling and repeating them.

Due dates come from the command's timestamp (never the wall clock): a duration is added to the
time of the command that activated the element, a date is absolute, a cycle's first repetition
is one interval after the activation (or its start date, when that is still ahead). A cycle
repeats from its previous due date (`previous + interval`, so a partition that fires late does
not drift), until its repetitions are spent (`R/` repeats forever, stored as -1); only
non-interrupting boundary events, non-interrupting event sub-process start events and timer
start events repeat - an interrupting timer fires once.

The due-work scan (`TimerDueDates`) proposes TIMER TRIGGER for every timer due; the processor
decides against state (processors/timer.py).

A timer given by a FEEL expression is evaluated when its element is activated, as in Zeebe; the
interval of a FEEL cycle is evaluated again (in the element's variables) for each repetition.
"""

import datetime as dt
from collections.abc import Iterator

from raybee.partitions.engine.bpmn.timers import (
    IsoDuration,
    TimerCycle,
    TimerKind,
    TimerParseError,
    parse_timer,
)
from raybee.partitions.engine.feel import YearsMonthsDuration
from raybee.partitions.protocol import (
    NO_KEY,
    Record,
    TimerIntent,
    TimerRecordValue,
    ValueType,
)

from .expressions import EXTRACT_VALUE_ERROR, StepFailed, evaluate, type_name

REPEAT_FOREVER = -1
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ZERO = dt.timedelta(0)


def timer_value(process, definition, view, now) -> int | IsoDuration | TimerCycle:
    """The timer's value: epoch ms (a date), a duration or a cycle; StepFailed if the FEEL
    result is not one."""
    if not definition.expression.is_feel:
        return definition.static_value()
    value = evaluate(process, definition.expression, view, now)
    kind = definition.kind
    try:
        if type(value) is str:
            return parse_timer(kind, value)
        if kind is TimerKind.DATE and isinstance(value, dt.datetime) and value.tzinfo is not None:
            return (value - _EPOCH) // dt.timedelta(milliseconds=1)
        if kind is TimerKind.DURATION and isinstance(value, dt.timedelta) and value >= _ZERO:
            return IsoDuration(milliseconds=value // dt.timedelta(milliseconds=1))
        months = value.months if isinstance(value, YearsMonthsDuration) else -1
        if kind is TimerKind.DURATION and months >= 0:
            return IsoDuration(months=months)
    except TimerParseError as error:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the timer {kind.value} '{definition.expression.source}' to give a valid "
            f"ISO-8601 value: {error}",
        ) from None
    raise StepFailed(
        EXTRACT_VALUE_ERROR,
        f"Expected the timer {kind.value} '{definition.expression.source}' to be a "
        f"{_expected(kind)}, but it was {type_name(value)} ({value!r:.100})",
    )


def _expected(kind: TimerKind) -> str:
    return {
        TimerKind.DATE: "date and time with a zone (or its ISO-8601 text)",
        TimerKind.DURATION: "non-negative duration (or its ISO-8601 text)",
        TimerKind.CYCLE: "STRING with an ISO-8601 cycle such as R5/PT10S",
    }[kind]


def timer_due(process, definition, view, now, now_ms: int) -> tuple[int, int]:
    """(due ms, repetitions) of a timer created at now_ms."""
    value = timer_value(process, definition, view, now)
    if definition.kind is TimerKind.DATE:
        return value, 1
    if definition.kind is TimerKind.DURATION:
        return value.add_to(now_ms), 1
    repetitions = REPEAT_FOREVER if value.repetitions is None else value.repetitions
    return value.first_due_ms(now_ms), repetitions


def create_timer(executor, owner_key: int, owner_value, trigger) -> None:
    ctx = executor.ctx
    ctx.append_event(
        ctx.next_key(),
        TimerIntent.CREATED,
        TimerRecordValue(
            element_instance_key=owner_key,
            process_instance_key=owner_value.process_instance_key,
            process_definition_key=owner_value.process_definition_key,
            due_date_ms=trigger.due_ms,
            target_element_id=trigger.element_id,
            repetitions=trigger.repetitions,
            tenant_id=owner_value.tenant_id,
        ),
    )


def cancel_timers(executor, owner_key: int) -> None:
    """Cancel every timer of an element instance (or of a process definition's start
    events)."""
    timers = executor.state.timers
    for key in timers.of_owner(owner_key):
        executor.ctx.append_event(key, TimerIntent.CANCELED, timers.get(key))


def repeat(ctx, timer: TimerRecordValue, process, view, now) -> None:
    """After a cycle's repetition fired: the next one, if any is left."""
    if timer.repetitions == 1:
        return
    node = process.node(timer.target_element_id)
    cycle = timer_value(process, node.timer, view, now)
    assert isinstance(cycle, TimerCycle), (timer, cycle)
    repetitions = timer.repetitions - 1 if timer.repetitions > 1 else REPEAT_FOREVER
    due_ms = cycle.interval.add_to(timer.due_date_ms)
    ctx.append_event(
        ctx.next_key(),
        TimerIntent.CREATED,
        TimerRecordValue(
            element_instance_key=timer.element_instance_key,
            process_instance_key=timer.process_instance_key,
            process_definition_key=timer.process_definition_key,
            due_date_ms=due_ms,
            target_element_id=timer.target_element_id,
            repetitions=repetitions,
            tenant_id=timer.tenant_id,
        ),
    )


def is_start_timer(timer: TimerRecordValue) -> bool:
    return timer.element_instance_key == NO_KEY


class TimerDueDates:
    """Due work: TIMER TRIGGER for every timer due at now_ms."""

    name = "timer due dates"

    def due(self, state, now_ms: int) -> Iterator[tuple[int, Record]]:
        for due_ms, key in state.timers.due_before(now_ms):
            yield due_ms, Record(ValueType.TIMER, TimerIntent.TRIGGER, TimerRecordValue(), key=key)
