"""Appliers of TIMER events: a created timer is stored (and due); a triggered or cancelled one
is gone (a cycle's next repetition is a new timer, created by its own event)."""


def created(state, record):
    state.timers.create(record.key, record.value)


def removed(state, record):
    """TRIGGERED and CANCELED alike."""
    state.timers.remove(record.key)
