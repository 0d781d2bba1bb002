"""What terminating an element instance must close besides the instance itself.

Termination of an element is ONE behaviour (`Executor.terminate`): it writes TERMINATING,
calls every registered closer for the instance, terminates its children (and the child process
of a call activity), and writes TERMINATED. Whatever an element holds open registers a closer
here: its job and its incident (jobs.py, incidents.py), its message subscriptions and timers
(events.py, which the executor also calls at ELEMENT_COMPLETING). A closer reads its own state
by element instance key and writes the events that close it; it must do nothing for an element
that holds nothing of its kind.
"""

from collections.abc import Callable

# closer(executor, element instance key, entry)
Closer = Callable[[object, int, object], None]
CLOSERS: list[Closer] = []


def closes_on_termination(closer: Closer) -> Closer:
    """Register `closer` to run for every element instance that is terminated."""
    assert closer not in CLOSERS, f"{closer} registered twice"
    CLOSERS.append(closer)
    return closer
