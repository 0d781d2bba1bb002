"""BPMN 2.0 resources to executable process models.

`parse_bpmn(xml, resource_name)` returns one `ProcessDefinitionModel` per executable process,
or raises `BpmnValidationError` listing every problem (element id, line, reason). The model is
the executor's contract: see `model.py`. `timers.py` parses ISO-8601 timer values for both."""

from .element_types import BpmnElementType, BpmnEventType
from .errors import BpmnParseError, BpmnProblem, BpmnValidationError
from .expression import Expression
from .model import (
    JOB_RETRIES_DEFAULT,
    USER_TASK_JOB_TYPE,
    CalledElement,
    ErrorDefinition,
    FlowNode,
    FrozenMap,
    IoMapping,
    JobDefinition,
    MessageDefinition,
    MultiInstanceDefinition,
    ProcessDefinitionModel,
    ScopeDefinition,
    ScriptDefinition,
    SequenceFlow,
    TimerDefinition,
    UserTaskDefinition,
    VariableMapping,
)
from .parser import parse_bpmn
from .timers import IsoDuration, TimerCycle, TimerKind, TimerParseError
from .xml_loading import RESOURCE_BYTES_MAX, resource_checksum

__all__ = [
    "JOB_RETRIES_DEFAULT",
    "RESOURCE_BYTES_MAX",
    "USER_TASK_JOB_TYPE",
    "BpmnElementType",
    "BpmnEventType",
    "BpmnParseError",
    "BpmnProblem",
    "BpmnValidationError",
    "CalledElement",
    "ErrorDefinition",
    "Expression",
    "FlowNode",
    "FrozenMap",
    "IoMapping",
    "IsoDuration",
    "JobDefinition",
    "MessageDefinition",
    "MultiInstanceDefinition",
    "ProcessDefinitionModel",
    "ScopeDefinition",
    "ScriptDefinition",
    "SequenceFlow",
    "TimerCycle",
    "TimerDefinition",
    "TimerKind",
    "TimerParseError",
    "UserTaskDefinition",
    "VariableMapping",
    "parse_bpmn",
    "resource_checksum",
]
