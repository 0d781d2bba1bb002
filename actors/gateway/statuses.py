"""gRPC status codes for what raybee answers, as Zeebe's clients expect them.

A command the partition rejected keeps its rejection type (`REJECTION_STATUS`) and gets
Zeebe's message form, "Command 'COMPLETE' rejected with code 'NOT_FOUND': <reason>", with the
engine's own reason ("Expected to ..., but ..."). The client library's other refusals:

| raybee                       | gRPC               | meaning for the caller                         |
|------------------------------|--------------------|------------------------------------------------|
| `ResourceExhaustedError`     | RESOURCE_EXHAUSTED | backpressure refused it before it was written  |
| `UnavailableError`           | UNAVAILABLE        | no leader answered; nothing happened           |
| `UnknownOutcomeError`        | DEADLINE_EXCEEDED  | no answer in time; it may have been applied    |
| a result not ready in time   | DEADLINE_EXCEEDED  | (CreateProcessInstanceWithResult)              |
| `GatewayError`               | its own code       | refused by the gateway before any command      |
| anything else                | INTERNAL           | a bug: logged with its traceback               |

Why EXCEEDED_BATCH_RECORD_SIZE is INVALID_ARGUMENT and not RESOURCE_EXHAUSTED: Zeebe's clients
treat RESOURCE_EXHAUSTED as backpressure and retry it, and a command too large to write fails
the same way every time. (A request over the gateway's own size limit is refused by gRPC itself
with RESOURCE_EXHAUSTED before it reaches any handler: that is gRPC's convention, and Zeebe's.)
"""

import grpc

from raybee.actors import errors
from raybee.partitions.protocol import RejectionType

REJECTION_STATUS: dict[RejectionType, grpc.StatusCode] = {
    RejectionType.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    RejectionType.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    RejectionType.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    RejectionType.INVALID_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    RejectionType.PROCESSING_ERROR: grpc.StatusCode.INTERNAL,
    RejectionType.EXCEEDED_BATCH_RECORD_SIZE: grpc.StatusCode.INVALID_ARGUMENT,
}
assert set(REJECTION_STATUS) == set(RejectionType) - {RejectionType.NONE}


class GatewayError(Exception):
    """A request the gateway refuses itself (bad arguments, unsupported features)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def unimplemented(rpc: str, reason: str) -> GatewayError:
    return GatewayError(grpc.StatusCode.UNIMPLEMENTED, f"raybee does not implement {rpc}: {reason}")


def status_of(error: BaseException, rpc: str) -> tuple[grpc.StatusCode, str] | None:
    """The status and message for a known refusal, or None for an unexpected error."""
    if isinstance(error, GatewayError):
        return error.code, error.message
    if isinstance(error, errors.RejectedError):
        intent = error.record.intent.name if error.record is not None else rpc
        code = REJECTION_STATUS.get(error.rejection_type, grpc.StatusCode.INTERNAL)
        return (
            code,
            f"Command '{intent}' rejected with code '{error.rejection_type.name}': {error.reason}",
        )
    if isinstance(error, errors.ResourceExhaustedError):
        return (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            f"Expected to handle gRPC request {rpc}, but partition {error.partition_id} refused "
            f"it under backpressure ({error.reason}); nothing was written, try again later",
        )
    if isinstance(error, errors.UnavailableError):
        return (
            grpc.StatusCode.UNAVAILABLE,
            f"Expected to handle gRPC request {rpc}, but partition {error.partition_id} is "
            f"unavailable ({error.reason}); nothing was written",
        )
    if isinstance(error, errors.UnknownOutcomeError):
        return (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"Time out between gateway and partition {error.partition_id}: request {rpc} "
            f"({error.reason}); it may or may not have been applied",
        )
    if isinstance(error, TimeoutError):
        return (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"Time out between gateway and broker: request {rpc} timed out ({error})",
        )
    return None
