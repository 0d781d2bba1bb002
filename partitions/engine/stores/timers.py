"""Timers: the timer (its TimerRecordValue), by due date for the due-work scan, and by owner
(the element instance that waits for it, or the process definition of a timer start event)."""

from collections.abc import Iterator

from raybee.partitions.protocol import NO_KEY, TimerRecordValue

from ..families import EMPTY, TIMER_DUE_DATES, TIMERS, TIMERS_BY_OWNER


def owner_of(timer: TimerRecordValue) -> int:
    """The element instance that waits, or the process definition of a timer start event."""
    if timer.element_instance_key != NO_KEY:
        return timer.element_instance_key
    return timer.process_definition_key


class TimerStore:
    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    def get(self, key: int) -> TimerRecordValue | None:
        return self._reader.get(TIMERS, key)

    def due_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        """(due ms, key) of the timers due at or before time_ms, oldest first."""
        for (due_ms, key), _ in self._reader.range(TIMER_DUE_DATES, None, (time_ms + 1,)):
            yield due_ms, key

    def of_owner(self, owner_key: int) -> list[int]:
        return [key for (_, key), _ in self._reader.prefix(TIMERS_BY_OWNER, (owner_key,))]

    def create(self, key: int, timer: TimerRecordValue) -> None:
        assert self.get(key) is None, f"timer {key} created twice"
        self._writer.put(TIMERS, key, timer)
        self._writer.put(TIMER_DUE_DATES, (timer.due_date_ms, key), EMPTY)
        self._writer.put(TIMERS_BY_OWNER, (owner_of(timer), key), EMPTY)

    def remove(self, key: int) -> None:
        timer = self.get(key)
        assert timer is not None, f"timer {key} does not exist"
        self._writer.delete(TIMERS, key)
        self._writer.delete(TIMER_DUE_DATES, (timer.due_date_ms, key))
        self._writer.delete(TIMERS_BY_OWNER, (owner_of(timer), key))
