"""Record types, value types, rejection types and the intents of each value type.

The numbering is raybee's own and is part of the on-disk format: a released number is never
reused or renumbered, new members are appended.
"""

from enum import IntEnum


class RecordType(IntEnum):
    COMMAND = 0
    EVENT = 1
    COMMAND_REJECTION = 2


class ValueType(IntEnum):
    JOB = 0
    DEPLOYMENT = 1
    PROCESS = 2
    PROCESS_INSTANCE = 3
    PROCESS_INSTANCE_CREATION = 4
    INCIDENT = 5
    MESSAGE = 6
    MESSAGE_SUBSCRIPTION = 7
    PROCESS_MESSAGE_SUBSCRIPTION = 8
    MESSAGE_START_EVENT_SUBSCRIPTION = 9
    JOB_BATCH = 10
    TIMER = 11
    VARIABLE = 12
    VARIABLE_DOCUMENT = 13
    ERROR = 14
    PROCESS_INSTANCE_RESULT = 15
    # raybee's own: a command sent to another partition until it acknowledges it.
    COMMAND_DISTRIBUTION = 16


class RejectionType(IntEnum):
    NONE = 0
    INVALID_ARGUMENT = 1
    NOT_FOUND = 2
    ALREADY_EXISTS = 3
    INVALID_STATE = 4
    PROCESSING_ERROR = 5
    EXCEEDED_BATCH_RECORD_SIZE = 6


class JobIntent(IntEnum):
    CREATED = 0
    COMPLETE = 1
    COMPLETED = 2
    TIME_OUT = 3
    TIMED_OUT = 4
    FAIL = 5
    FAILED = 6
    UPDATE_RETRIES = 7
    RETRIES_UPDATED = 8
    CANCEL = 9
    CANCELED = 10
    THROW_ERROR = 11
    ERROR_THROWN = 12
    RECUR_AFTER_BACKOFF = 13
    RECURRED_AFTER_BACKOFF = 14
    YIELD = 15
    YIELDED = 16
    # Written by JOB_BATCH ACTIVATE for every job it hands out.
    ACTIVATED = 17
    UPDATE_TIMEOUT = 18
    TIMEOUT_UPDATED = 19
    # raybee's own: a job created directly by a client, outside any process.
    CREATE = 20


class JobBatchIntent(IntEnum):
    ACTIVATE = 0
    ACTIVATED = 1


class DeploymentIntent(IntEnum):
    CREATE = 0
    CREATED = 1
    # A deployment created on another partition, distributed to this one (keys and versions
    # as created there), and stored here.
    DISTRIBUTE = 2
    DISTRIBUTED = 3


class ProcessIntent(IntEnum):
    CREATED = 0


class ProcessInstanceIntent(IntEnum):
    CANCEL = 0
    SEQUENCE_FLOW_TAKEN = 1
    ELEMENT_ACTIVATING = 2
    ELEMENT_ACTIVATED = 3
    ELEMENT_COMPLETING = 4
    ELEMENT_COMPLETED = 5
    ELEMENT_TERMINATING = 6
    ELEMENT_TERMINATED = 7
    ACTIVATE_ELEMENT = 8
    COMPLETE_ELEMENT = 9
    TERMINATE_ELEMENT = 10


class ProcessInstanceCreationIntent(IntEnum):
    CREATE = 0
    CREATED = 1
    CREATE_WITH_AWAITING_RESULT = 2


class ProcessInstanceResultIntent(IntEnum):
    COMPLETED = 0


class IncidentIntent(IntEnum):
    CREATED = 0
    RESOLVE = 1
    RESOLVED = 2


class MessageIntent(IntEnum):
    PUBLISH = 0
    PUBLISHED = 1
    EXPIRE = 2
    EXPIRED = 3


class MessageSubscriptionIntent(IntEnum):
    CREATE = 0
    CREATED = 1
    CORRELATE = 2
    CORRELATED = 3
    CORRELATING = 4
    REJECT = 5
    REJECTED = 6
    DELETE = 7
    DELETED = 8


class ProcessMessageSubscriptionIntent(IntEnum):
    CREATE = 0
    CREATING = 1
    CREATED = 2
    CORRELATE = 3
    CORRELATED = 4
    DELETE = 5
    DELETING = 6
    DELETED = 7


class MessageStartEventSubscriptionIntent(IntEnum):
    CREATED = 0
    CORRELATED = 1
    DELETED = 2


class TimerIntent(IntEnum):
    CREATED = 0
    TRIGGER = 1
    TRIGGERED = 2
    CANCELED = 3


class VariableIntent(IntEnum):
    CREATED = 0
    UPDATED = 1


class VariableDocumentIntent(IntEnum):
    UPDATE = 0
    UPDATED = 1


class ErrorIntent(IntEnum):
    CREATED = 0


class CommandDistributionIntent(IntEnum):
    """A command one partition sends another, kept by the sender until acknowledged (see
    partitions/engine/distribution.py)."""

    # Event on the sender: the send is pending (kept, resent when due).
    STARTED = 0
    # Command on the receiver: carries the command sent.
    DISTRIBUTE = 1
    # Event on the receiver: the command was processed here; its answer is remembered, so a
    # repeated delivery is answered the same without being processed again.
    RECEIVED = 2
    # Command on the sender (from the receiver): the command was processed there.
    ACKNOWLEDGE = 3
    # Event on the sender: the send is done.
    ACKNOWLEDGED = 4
    # Command on the sender (due work): send it again; event: it was sent again.
    RESEND = 5
    RESENT = 6


INTENTS_BY_VALUE_TYPE: dict[ValueType, type[IntEnum]] = {
    ValueType.JOB: JobIntent,
    ValueType.DEPLOYMENT: DeploymentIntent,
    ValueType.PROCESS: ProcessIntent,
    ValueType.PROCESS_INSTANCE: ProcessInstanceIntent,
    ValueType.PROCESS_INSTANCE_CREATION: ProcessInstanceCreationIntent,
    ValueType.INCIDENT: IncidentIntent,
    ValueType.MESSAGE: MessageIntent,
    ValueType.MESSAGE_SUBSCRIPTION: MessageSubscriptionIntent,
    ValueType.PROCESS_MESSAGE_SUBSCRIPTION: ProcessMessageSubscriptionIntent,
    ValueType.MESSAGE_START_EVENT_SUBSCRIPTION: MessageStartEventSubscriptionIntent,
    ValueType.JOB_BATCH: JobBatchIntent,
    ValueType.TIMER: TimerIntent,
    ValueType.VARIABLE: VariableIntent,
    ValueType.VARIABLE_DOCUMENT: VariableDocumentIntent,
    ValueType.ERROR: ErrorIntent,
    ValueType.PROCESS_INSTANCE_RESULT: ProcessInstanceResultIntent,
    ValueType.COMMAND_DISTRIBUTION: CommandDistributionIntent,
}
assert set(INTENTS_BY_VALUE_TYPE) == set(ValueType), "every value type names its intents"


def intent_of(value_type: ValueType, intent: int) -> IntEnum:
    """The typed intent for a raw (value type, intent) pair; ValueError if it does not exist."""
    return INTENTS_BY_VALUE_TYPE[ValueType(value_type)](intent)
