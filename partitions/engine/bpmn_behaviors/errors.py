"""BPMN errors: thrown by a job worker (JOB THROW_ERROR) or by an error end event, caught by
the nearest matching catch event in the scope chain of the element that threw it.

Catching is the next step of issue 8 (error boundary events, error event sub-processes); this
module is where it plugs in. `find_catch_event` walks the scope chain of the throwing element
and asks each scope for a catch event for the code; none exists yet, so every error is
unhandled: an UNHANDLED_ERROR_EVENT incident (on the job for a job's error, on the end event for
an error end event). When catching lands, `find_catch_event` returns the catch event and
`throw_error` activates it (terminating what an interrupting catch interrupts).
"""

from dataclasses import dataclass

from raybee.partitions.protocol import NO_KEY, JobRecordValue

from .expressions import UNHANDLED_ERROR_EVENT, StepFailed


@dataclass(frozen=True)
class CatchEvent:
    """Where an error is caught: the catch event's id and the element instance it is
    attached to (a boundary event) or the scope that holds it (an event sub-process)."""

    element_id: str
    scope_key: int


def find_catch_event(state, element_instance_key: int, error_code: str) -> CatchEvent | None:
    """The catch event for `error_code` nearest to the element in its scope chain (walking up
    through call activities into parent processes), or None."""
    return None


def throw_job_error(ctx, job_key: int, job: JobRecordValue) -> bool:
    """JOB ERROR_THROWN: True when a catch event took the error (the caller then raises no
    incident). None can yet."""
    if job.element_instance_key == NO_KEY:
        return False
    return find_catch_event(ctx.state, job.element_instance_key, job.error_code) is not None


def throw_error(executor, key: int, error_code: str) -> None:
    """An error end event throws `error_code`: caught, or StepFailed (an incident)."""
    if find_catch_event(executor.state, key, error_code) is None:
        raise StepFailed(
            UNHANDLED_ERROR_EVENT,
            f"Expected to throw an error event with the code '{error_code}', but it was not "
            f"caught: no catch event for it in the scope of the element",
        )
    raise NotImplementedError("catching errors is the next step")  # pragma: no cover
