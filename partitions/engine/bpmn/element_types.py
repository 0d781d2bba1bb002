"""Element and event types, with Zeebe's names (`BpmnElementType`, `BpmnEventType`), because
they appear in records that clients and exporters read."""

from enum import StrEnum


class BpmnElementType(StrEnum):
    PROCESS = "PROCESS"
    SUB_PROCESS = "SUB_PROCESS"
    EVENT_SUB_PROCESS = "EVENT_SUB_PROCESS"
    START_EVENT = "START_EVENT"
    INTERMEDIATE_CATCH_EVENT = "INTERMEDIATE_CATCH_EVENT"
    INTERMEDIATE_THROW_EVENT = "INTERMEDIATE_THROW_EVENT"
    BOUNDARY_EVENT = "BOUNDARY_EVENT"
    END_EVENT = "END_EVENT"
    SERVICE_TASK = "SERVICE_TASK"
    SEND_TASK = "SEND_TASK"
    USER_TASK = "USER_TASK"
    RECEIVE_TASK = "RECEIVE_TASK"
    SCRIPT_TASK = "SCRIPT_TASK"
    MANUAL_TASK = "MANUAL_TASK"
    TASK = "TASK"
    BUSINESS_RULE_TASK = "BUSINESS_RULE_TASK"
    EXCLUSIVE_GATEWAY = "EXCLUSIVE_GATEWAY"
    PARALLEL_GATEWAY = "PARALLEL_GATEWAY"
    INCLUSIVE_GATEWAY = "INCLUSIVE_GATEWAY"
    EVENT_BASED_GATEWAY = "EVENT_BASED_GATEWAY"
    CALL_ACTIVITY = "CALL_ACTIVITY"
    # Not an element of the file: the executor wraps an activity that has
    # `multi_instance` in a body instance of this type, with the activity's id.
    MULTI_INSTANCE_BODY = "MULTI_INSTANCE_BODY"
    SEQUENCE_FLOW = "SEQUENCE_FLOW"


class BpmnEventType(StrEnum):
    # Elements that are not events carry UNSPECIFIED, as in Zeebe's records.
    UNSPECIFIED = "UNSPECIFIED"
    NONE = "NONE"
    MESSAGE = "MESSAGE"
    TIMER = "TIMER"
    ERROR = "ERROR"
    TERMINATE = "TERMINATE"
    # Read so that refusals can name them; no supported element carries these.
    SIGNAL = "SIGNAL"
    ESCALATION = "ESCALATION"
    COMPENSATION = "COMPENSATION"
    CONDITIONAL = "CONDITIONAL"
    LINK = "LINK"


# Event types some supported element carries; the others are refused wherever they stand.
SUPPORTED_EVENT_TYPES = frozenset(
    {
        BpmnEventType.NONE,
        BpmnEventType.MESSAGE,
        BpmnEventType.TIMER,
        BpmnEventType.ERROR,
        BpmnEventType.TERMINATE,
    }
)
TASK_TYPES = frozenset(
    {
        BpmnElementType.SERVICE_TASK,
        BpmnElementType.SEND_TASK,
        BpmnElementType.USER_TASK,
        BpmnElementType.RECEIVE_TASK,
        BpmnElementType.SCRIPT_TASK,
        BpmnElementType.MANUAL_TASK,
        BpmnElementType.TASK,
        BpmnElementType.BUSINESS_RULE_TASK,
    }
)
# Activities: what boundary events attach to and what may be multi-instance.
ACTIVITY_TYPES = TASK_TYPES | {BpmnElementType.SUB_PROCESS, BpmnElementType.CALL_ACTIVITY}
GATEWAY_TYPES = frozenset(
    {
        BpmnElementType.EXCLUSIVE_GATEWAY,
        BpmnElementType.PARALLEL_GATEWAY,
        BpmnElementType.INCLUSIVE_GATEWAY,
        BpmnElementType.EVENT_BASED_GATEWAY,
    }
)
EVENT_TYPES = frozenset(
    {
        BpmnElementType.START_EVENT,
        BpmnElementType.INTERMEDIATE_CATCH_EVENT,
        BpmnElementType.INTERMEDIATE_THROW_EVENT,
        BpmnElementType.BOUNDARY_EVENT,
        BpmnElementType.END_EVENT,
    }
)
# Elements that contain other flow nodes.
SCOPE_TYPES = frozenset(
    {BpmnElementType.PROCESS, BpmnElementType.SUB_PROCESS, BpmnElementType.EVENT_SUB_PROCESS}
)


def describe(kind: BpmnElementType) -> str:
    """How problems name an element type: 'service task', 'event sub process'."""
    return kind.lower().replace("_", " ")


def with_article(phrase: str) -> str:
    """'a message start event', 'an error start event'."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase
