"""What a raybee client raises: every refusal is typed and carries its reason.

- `RejectedError` and its subclasses: the partition processed the command and refused it (the
  rejection record's type and reason, and the record itself).
- `ResourceExhaustedError`: the partition's backpressure refused the command BEFORE it was
  written (nothing happened; retry later). `reason` says which limit and why.
- `UnavailableError`: no leader could be reached for the partition within the deadline
  (nothing is known to have happened).
- `UnknownOutcomeError`: the command may or may not have been applied (the leader was lost
  after the command reached it, and retries with the same request id ran out of time). A retry
  with the same request id is safe; a new command may apply twice.
- `BpmnError`: raised by a job handler to throw a BPMN error (`code`) instead of failing.

This module imports nothing of Ray: handlers and scripts can import it cheaply.
"""

from raybee.partitions.protocol import RejectionType


class RaybeeError(Exception):
    """Base of every error the raybee client raises."""


class RejectedError(RaybeeError):
    """The partition refused the command; `rejection_type` and `reason` say why."""

    def __init__(self, rejection_type: RejectionType, reason: str, record=None) -> None:
        super().__init__(f"{rejection_type.name}: {reason}")
        self.rejection_type = rejection_type
        self.reason = reason
        self.record = record


class InvalidArgumentError(RejectedError):
    pass


class NotFoundError(RejectedError):
    pass


class AlreadyExistsError(RejectedError):
    pass


class InvalidStateError(RejectedError):
    pass


class ProcessingError(RejectedError):
    pass


class ExceededBatchRecordSizeError(RejectedError):
    pass


REJECTION_ERRORS: dict[RejectionType, type[RejectedError]] = {
    RejectionType.INVALID_ARGUMENT: InvalidArgumentError,
    RejectionType.NOT_FOUND: NotFoundError,
    RejectionType.ALREADY_EXISTS: AlreadyExistsError,
    RejectionType.INVALID_STATE: InvalidStateError,
    RejectionType.PROCESSING_ERROR: ProcessingError,
    RejectionType.EXCEEDED_BATCH_RECORD_SIZE: ExceededBatchRecordSizeError,
}


def rejection_error(record) -> RejectedError:
    """The typed exception for a COMMAND_REJECTION record."""
    cls = REJECTION_ERRORS.get(record.rejection_type, RejectedError)
    return cls(record.rejection_type, record.rejection_reason, record)


class ResourceExhaustedError(RaybeeError):
    """RESOURCE_EXHAUSTED: backpressure refused the command before it was written."""

    def __init__(self, partition_id: int, reason: str) -> None:
        super().__init__(f"RESOURCE_EXHAUSTED on partition {partition_id}: {reason}")
        self.partition_id = partition_id
        self.reason = reason


class UnavailableError(RaybeeError):
    """No leader of the partition answered within the deadline; nothing is known to have
    happened."""

    def __init__(self, partition_id: int, reason: str) -> None:
        super().__init__(f"UNAVAILABLE: partition {partition_id}: {reason}")
        self.partition_id = partition_id
        self.reason = reason


class UnknownOutcomeError(RaybeeError):
    """The command may or may not have been applied: retrying it with the same request id is
    safe, sending it anew is not."""

    def __init__(self, partition_id: int, request_id: int, reason: str) -> None:
        super().__init__(
            f"UNKNOWN OUTCOME: partition {partition_id}, request {request_id}: {reason}"
        )
        self.partition_id = partition_id
        self.request_id = request_id
        self.reason = reason


class NotStartedError(RaybeeError):
    """The Ray cluster runs, but raybee was not deployed into it."""


class BpmnError(Exception):
    """Raise from a job handler to throw the BPMN error `code` (caught by an error boundary or
    error event sub-process of the process), instead of failing the job."""

    def __init__(self, code: str, message: str = "", variables: dict | None = None) -> None:
        if not code:
            raise ValueError("a BPMN error needs an error code")
        super().__init__(f"BPMN error {code!r}: {message}" if message else f"BPMN error {code!r}")
        self.code = code
        self.message = message
        self.variables = variables or {}
