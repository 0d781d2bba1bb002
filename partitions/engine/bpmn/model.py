"""The executable model of a BPMN process: what the executor reads, and all it reads.

Everything here is immutable (frozen dataclasses, tuples, `FrozenMap`), picklable, and knows
nothing of versions or keys: one model per (resource, process id), whatever version the
deployment gives it. Ids are those of the file. References between elements are ids, resolved
through `ProcessDefinitionModel.flow_node` / `sequence_flow`; the parser guarantees that every
id referenced here exists in the same model.

How the executor reads it:
- A scope (the PROCESS node, a SUB_PROCESS, an EVENT_SUB_PROCESS) has a `scope`: its children,
  its start events by kind, and the event sub-processes (with their start events) that open
  when the scope is activated.
- `incoming` / `outgoing` are sequence flow ids in document order; a flow's `condition` is
  FEEL; `default_flow_id` is the flow taken when no condition holds.
- An element with `job` creates a job when activated (service, send, user, job-worker
  business rule and script tasks, message end and message intermediate throw events).
- An element with `multi_instance` is wrapped by the executor in a MULTI_INSTANCE_BODY instance
  with the same id; the body owns the element's flows and boundary events.
- An activity lists its `boundary_event_ids`; a boundary event names its `attached_to_id` and
  whether it is `interrupting` (cancelActivity).
- An event-based gateway lists, in `event_ids`, the catch events its flows lead to.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from .element_types import (
    ACTIVITY_TYPES,
    EVENT_TYPES,
    GATEWAY_TYPES,
    SCOPE_TYPES,
    BpmnElementType,
    BpmnEventType,
)
from .expression import Expression
from .timers import IsoDuration, TimerCycle, TimerKind, parse_timer

K = TypeVar("K")
V = TypeVar("V")

# The job type of a user task without zeebe:userTask, as Zeebe gives job-worker user tasks.
USER_TASK_JOB_TYPE = "io.camunda.zeebe:userTask"
# Zeebe's default number of retries of a job.
JOB_RETRIES_DEFAULT = "3"


class FrozenMap(Mapping[K, V]):
    """A read-only mapping in insertion order; hashable when its values are."""

    __slots__ = ("_data",)

    def __init__(self, items: Mapping[K, V] | tuple[tuple[K, V], ...] = ()) -> None:
        self._data: dict[K, V] = dict(items)

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(self._data.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __getstate__(self) -> dict[K, V]:
        return self._data

    def __setstate__(self, state: dict[K, V]) -> None:
        self._data = state


@dataclass(frozen=True, slots=True)
class VariableMapping:
    """One zeebe:input or zeebe:output: evaluate `source`, write the result at `target` (a
    variable name or a dotted path into a context)."""

    source: Expression
    target: str


@dataclass(frozen=True, slots=True)
class IoMapping:
    inputs: tuple[VariableMapping, ...] = ()
    outputs: tuple[VariableMapping, ...] = ()


@dataclass(frozen=True, slots=True)
class JobDefinition:
    """zeebe:taskDefinition and zeebe:taskHeaders. `type` and `retries` may be FEEL; a static
    `retries` is a non-negative integer. Headers are static strings."""

    type: Expression
    retries: Expression
    headers: FrozenMap[str, str] = field(default_factory=FrozenMap)


@dataclass(frozen=True, slots=True)
class UserTaskDefinition:
    """What a job-worker user task carries besides its job (zeebe:assignmentDefinition,
    zeebe:formDefinition, zeebe:taskSchedule). Zeebe hands these to the worker as the headers
    io.camunda.zeebe:assignee, :candidateGroups, :candidateUsers, :formKey, :dueDate and
    :followUpDate; the executor evaluates the expressions and writes those headers."""

    form_key: str | None = None
    assignee: Expression | None = None
    candidate_groups: Expression | None = None
    candidate_users: Expression | None = None
    due_date: Expression | None = None
    follow_up_date: Expression | None = None


@dataclass(frozen=True, slots=True)
class ScriptDefinition:
    """zeebe:script: the FEEL `expression` is evaluated and its result stored in
    `result_variable`; no job is created."""

    expression: Expression
    result_variable: str


@dataclass(frozen=True, slots=True)
class MessageDefinition:
    """The message an element waits for. `name` may be FEEL. `correlation_key` (FEEL or
    static) is None only on a process-level message start event, which needs none."""

    message_id: str
    name: Expression
    correlation_key: Expression | None


@dataclass(frozen=True, slots=True)
class TimerDefinition:
    """A timer: an ISO-8601 value of `kind`, static or FEEL (evaluated to that form)."""

    kind: TimerKind
    expression: Expression

    def static_value(self) -> int | IsoDuration | TimerCycle:
        """The parsed static value (epoch ms, a duration or a cycle); validation has parsed it
        once already, so this does not fail for a deployed model."""
        return parse_timer(self.kind, self.expression.static_value)


@dataclass(frozen=True, slots=True)
class ErrorDefinition:
    """An error thrown (error end event: `error_code` is set, maybe FEEL) or caught (boundary
    event, event sub-process start: `error_code` static, or None to catch every error)."""

    error_id: str | None
    error_code: Expression | None


@dataclass(frozen=True, slots=True)
class CalledElement:
    """zeebe:calledElement of a call activity; `process_id` may be FEEL."""

    process_id: Expression
    propagate_all_child_variables: bool = True
    propagate_all_parent_variables: bool = True


@dataclass(frozen=True, slots=True)
class MultiInstanceDefinition:
    """multiInstanceLoopCharacteristics with zeebe:loopCharacteristics. `input_collection`,
    `output_element` and `completion_condition` are FEEL; `output_collection` and
    `output_element` are both set or both None."""

    is_sequential: bool
    input_collection: Expression
    input_element: str | None = None
    output_collection: str | None = None
    output_element: Expression | None = None
    completion_condition: Expression | None = None

    def __post_init__(self) -> None:
        assert (self.output_collection is None) == (self.output_element is None), self


@dataclass(frozen=True, slots=True)
class ScopeDefinition:
    """What a PROCESS, SUB_PROCESS or EVENT_SUB_PROCESS contains, all ids.

    `child_ids`: flow nodes directly inside (event sub-processes included, their contents
    not). `none_start_event_id`: where an instance of the scope begins (None for an event
    sub-process, and for a process that starts only by message or timer).
    `message_start_event_ids` / `timer_start_event_ids`: the process's own message and timer
    start events (empty for sub-processes). `event_sub_process_start_event_ids`: the start
    events of the event sub-processes directly inside, to subscribe to while the scope is
    active. `start_event_id` of an event sub-process is its single start event."""

    child_ids: tuple[str, ...] = ()
    none_start_event_id: str | None = None
    message_start_event_ids: tuple[str, ...] = ()
    timer_start_event_ids: tuple[str, ...] = ()
    event_sub_process_ids: tuple[str, ...] = ()
    event_sub_process_start_event_ids: tuple[str, ...] = ()
    start_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class SequenceFlow:
    id: str
    name: str
    line: int
    flow_scope_id: str
    source_id: str
    target_id: str
    condition: Expression | None = None

    @property
    def element_type(self) -> BpmnElementType:
        return BpmnElementType.SEQUENCE_FLOW

    @property
    def event_type(self) -> BpmnEventType:
        return BpmnEventType.UNSPECIFIED


@dataclass(frozen=True, slots=True)
class FlowNode:
    """One element of the process (the PROCESS itself included, with no flow scope).

    Fields that do not apply to an element type are None or empty; `element_type` and
    `event_type` say which apply. `interrupting` is cancelActivity for a boundary event,
    isInterrupting for an event sub-process start event and for the event sub-process itself,
    and True for everything else."""

    id: str
    name: str
    line: int
    element_type: BpmnElementType
    event_type: BpmnEventType = BpmnEventType.UNSPECIFIED
    flow_scope_id: str | None = None
    incoming: tuple[str, ...] = ()
    outgoing: tuple[str, ...] = ()
    default_flow_id: str | None = None
    io_mapping: IoMapping = field(default_factory=IoMapping)
    job: JobDefinition | None = None
    user_task: UserTaskDefinition | None = None
    script: ScriptDefinition | None = None
    message: MessageDefinition | None = None
    timer: TimerDefinition | None = None
    error: ErrorDefinition | None = None
    called_element: CalledElement | None = None
    multi_instance: MultiInstanceDefinition | None = None
    scope: ScopeDefinition | None = None
    attached_to_id: str | None = None
    boundary_event_ids: tuple[str, ...] = ()
    event_ids: tuple[str, ...] = ()
    interrupting: bool = True

    def __post_init__(self) -> None:
        kind = self.element_type
        assert kind is not BpmnElementType.SEQUENCE_FLOW, "sequence flows are SequenceFlow"
        assert kind is not BpmnElementType.MULTI_INSTANCE_BODY, "bodies are the executor's"
        assert (self.flow_scope_id is None) == (kind is BpmnElementType.PROCESS), self.id
        assert (self.scope is not None) == (kind in SCOPE_TYPES), self.id
        assert (self.attached_to_id is not None) == (kind is BpmnElementType.BOUNDARY_EVENT)
        assert not self.boundary_event_ids or kind in ACTIVITY_TYPES, self.id
        assert not self.multi_instance or kind in ACTIVITY_TYPES, self.id
        assert not self.event_ids or kind is BpmnElementType.EVENT_BASED_GATEWAY, self.id
        assert (self.event_type is BpmnEventType.UNSPECIFIED) == (kind not in EVENT_TYPES)
        assert self.default_flow_id is None or self.default_flow_id in self.outgoing, self.id

    @property
    def is_activity(self) -> bool:
        return self.element_type in ACTIVITY_TYPES

    @property
    def is_gateway(self) -> bool:
        return self.element_type in GATEWAY_TYPES

    @property
    def is_event(self) -> bool:
        return self.element_type in EVENT_TYPES

    @property
    def is_scope(self) -> bool:
        return self.element_type in SCOPE_TYPES


Element = FlowNode | SequenceFlow


@dataclass(frozen=True, slots=True)
class ProcessDefinitionModel:
    """One executable process of a deployed resource.

    `elements` maps every id to its element: the process node (id == bpmn_process_id), every
    flow node and every sequence flow. `checksum` is the SHA-256 (hex) of the whole resource,
    the same for every process of it: equal checksums mean an identical resource."""

    bpmn_process_id: str
    name: str
    resource_name: str
    checksum: str
    line: int
    elements: FrozenMap[str, Element]

    def __post_init__(self) -> None:
        process = self.elements.get(self.bpmn_process_id)
        assert isinstance(process, FlowNode), self.bpmn_process_id
        assert process.element_type is BpmnElementType.PROCESS

    @property
    def process(self) -> FlowNode:
        node = self.elements[self.bpmn_process_id]
        assert isinstance(node, FlowNode)
        return node

    def flow_node(self, element_id: str) -> FlowNode:
        node = self.elements[element_id]
        assert isinstance(node, FlowNode), f"'{element_id}' is a sequence flow"
        return node

    def sequence_flow(self, flow_id: str) -> SequenceFlow:
        flow = self.elements[flow_id]
        assert isinstance(flow, SequenceFlow), f"'{flow_id}' is not a sequence flow"
        return flow

    def flow_nodes(self) -> Iterator[FlowNode]:
        return (e for e in self.elements.values() if isinstance(e, FlowNode))

    def sequence_flows(self) -> Iterator[SequenceFlow]:
        return (e for e in self.elements.values() if isinstance(e, SequenceFlow))

    def outgoing_flows(self, element_id: str) -> tuple[SequenceFlow, ...]:
        return tuple(self.sequence_flow(f) for f in self.flow_node(element_id).outgoing)

    def children(self, scope_id: str) -> tuple[FlowNode, ...]:
        scope = self.flow_node(scope_id).scope
        assert scope is not None, f"'{scope_id}' is not a scope"
        return tuple(self.flow_node(child) for child in scope.child_ids)
