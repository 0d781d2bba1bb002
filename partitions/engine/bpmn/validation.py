"""Rules about a process as a whole, checked on the model the parser built: where each kind of
event may stand, what gateways need of their flows, what each waiting element must name, and
that every expression is valid FEEL and every static timer valid ISO-8601.

Each rule appends a `BpmnProblem` and goes on, so one refusal lists everything to fix. The
parser has already dropped references it could not resolve, so the model is consistent and
these rules can follow ids without guarding against missing ones."""

from collections.abc import Iterator

from .element_types import (
    SUPPORTED_EVENT_TYPES,
    BpmnElementType,
    BpmnEventType,
    describe,
    with_article,
)
from .errors import BpmnProblem
from .expression import Expression
from .feel_syntax import feel_syntax_error
from .model import FlowNode, ProcessDefinitionModel, SequenceFlow
from .timers import TimerKind, TimerParseError, parse_timer

E = BpmnElementType
V = BpmnEventType

START_EVENT_TYPES = {
    E.PROCESS: frozenset({V.NONE, V.MESSAGE, V.TIMER}),
    E.SUB_PROCESS: frozenset({V.NONE}),
    E.EVENT_SUB_PROCESS: frozenset({V.MESSAGE, V.TIMER, V.ERROR}),
}
EVENT_TYPES_BY_ELEMENT = {
    E.END_EVENT: frozenset({V.NONE, V.TERMINATE, V.ERROR, V.MESSAGE}),
    E.INTERMEDIATE_CATCH_EVENT: frozenset({V.MESSAGE, V.TIMER}),
    E.INTERMEDIATE_THROW_EVENT: frozenset({V.NONE, V.MESSAGE}),
    E.BOUNDARY_EVENT: frozenset({V.MESSAGE, V.TIMER, V.ERROR}),
}
# Which timer forms each kind of timer event may use (Zeebe's rules).
TIMER_KINDS_PROCESS_START = frozenset({TimerKind.DATE, TimerKind.CYCLE})
TIMER_KINDS_INTERMEDIATE = frozenset({TimerKind.DATE, TimerKind.DURATION})
TIMER_KINDS_INTERRUPTING_BOUNDARY = frozenset({TimerKind.DATE, TimerKind.DURATION})
TIMER_KINDS_ANY = frozenset(TimerKind)
CONDITIONAL_GATEWAYS = frozenset({E.EXCLUSIVE_GATEWAY, E.INCLUSIVE_GATEWAY})


def validate_model(model: ProcessDefinitionModel, problems: list[BpmnProblem]) -> None:
    _Validator(model, problems).run()


def _names(kinds: frozenset) -> str:
    return ", ".join(sorted(str(kind).lower() for kind in kinds))


class _Validator:
    def __init__(self, model: ProcessDefinitionModel, problems: list[BpmnProblem]) -> None:
        self.model = model
        self.problems = problems

    def problem(self, element: FlowNode | SequenceFlow, reason: str) -> None:
        self.problems.append(BpmnProblem(element.id, element.line, reason))

    def run(self) -> None:
        for node in self.model.flow_nodes():
            self.node(node)
        for flow in self.model.sequence_flows():
            self.flow(flow)
        for element, label, expression in self.expressions():
            self.expression(element, label, expression)

    # -- nodes ---------------------------------------------------------------------------

    def node(self, node: FlowNode) -> None:
        kind = node.element_type
        if node.scope is not None:
            self.scope(node)
            self.unique_message_names(node, node.scope.message_start_event_ids)
            self.unique_message_names(node, node.scope.event_sub_process_start_event_ids)
        if node.boundary_event_ids:
            self.unique_message_names(node, node.boundary_event_ids)
        if node.event_ids:
            self.unique_message_names(node, node.event_ids)
        if kind is E.START_EVENT:
            self.start_event(node)
        elif kind in EVENT_TYPES_BY_ELEMENT:
            self.event_placement(node)
        if kind is E.END_EVENT:
            self.end_event(node)
        elif kind is E.BOUNDARY_EVENT:
            self.boundary_event(node)
        elif kind is E.INTERMEDIATE_CATCH_EVENT and node.timer is not None:
            self.timer_kind(node, TIMER_KINDS_INTERMEDIATE, "an intermediate timer catch event")
        elif kind is E.EVENT_BASED_GATEWAY:
            self.event_based_gateway(node)
        elif kind in CONDITIONAL_GATEWAYS:
            self.conditional_gateway(node)
        elif kind is E.EVENT_SUB_PROCESS and (node.incoming or node.outgoing):
            self.problem(
                node, "an event sub-process cannot have incoming or outgoing sequence flows"
            )
        if node.message is not None:
            self.message(node)
        if node.timer is not None and not node.timer.expression.is_feel:
            try:
                parse_timer(node.timer.kind, node.timer.expression.static_value)
            except TimerParseError as error:
                self.problem(node, f"the timer's {node.timer.kind.value}: {error}")
        if node.error is not None and kind is not E.END_EVENT:
            code = node.error.error_code
            if code is not None and code.is_feel:
                self.problem(node, "a caught error code must be static, not a FEEL expression")
        if node.is_activity and node.boundary_event_ids:
            self.error_boundaries(node)

    def event_placement(self, node: FlowNode) -> None:
        allowed = EVENT_TYPES_BY_ELEMENT[node.element_type]
        # Event types never supported were refused by the parser already.
        if node.event_type in SUPPORTED_EVENT_TYPES and node.event_type not in allowed:
            self.problem(
                node,
                f"{with_article(node.event_type.lower())} {describe(node.element_type)} is not "
                f"supported (allowed: {_names(allowed)})",
            )

    def end_event(self, node: FlowNode) -> None:
        if node.outgoing:
            self.problem(node, "an end event cannot have outgoing sequence flows")
        thrown = node.error
        if node.event_type is V.ERROR and thrown is not None and thrown.error_code is None:
            self.problem(
                node, "an error end event needs an errorRef to an <error> with an errorCode"
            )

    def conditional_gateway(self, node: FlowNode) -> None:
        if len(node.outgoing) < 2:
            return  # a single flow is taken whatever its condition says
        for flow in self.model.outgoing_flows(node.id):
            if flow.condition is None and flow.id != node.default_flow_id:
                self.problem(
                    flow,
                    f"the sequence flow leaves {describe(node.element_type)} '{node.id}' without "
                    f"a condition and is not its default flow",
                )

    def scope(self, node: FlowNode) -> None:
        children = self.model.children(node.id)
        starts = [c for c in children if c.element_type is E.START_EVENT]
        kind = node.element_type
        if kind is E.PROCESS:
            none_starts = [s for s in starts if s.event_type is V.NONE]
            if len(none_starts) > 1:
                self.problem(
                    node,
                    f"the process has {len(none_starts)} none start events; at most one is allowed",
                )
            if not any(s.event_type in START_EVENT_TYPES[E.PROCESS] for s in starts):
                self.problem(
                    node,
                    "the process has no none, message or timer start event, "
                    "so no instance of it could ever start",
                )
        elif kind is E.SUB_PROCESS:
            if len(starts) != 1:
                self.problem(
                    node,
                    f"an embedded sub-process needs exactly one none start "
                    f"event, it has {len(starts)} start events",
                )
        else:
            assert kind is E.EVENT_SUB_PROCESS
            if len(starts) != 1:
                self.problem(
                    node,
                    f"an event sub-process needs exactly one start event, it has {len(starts)}",
                )

    def start_event(self, node: FlowNode) -> None:
        assert node.flow_scope_id is not None
        scope = self.model.flow_node(node.flow_scope_id)
        allowed = START_EVENT_TYPES[scope.element_type]
        if node.event_type not in allowed:
            self.problem(
                node,
                f"{with_article(node.event_type.lower())} start event is not supported in "
                f"{describe(scope.element_type)} (allowed: {_names(allowed)})",
            )
        if node.incoming:
            self.problem(node, "a start event cannot have incoming sequence flows")
        if node.timer is not None and scope.element_type is E.PROCESS:
            self.timer_kind(node, TIMER_KINDS_PROCESS_START, "a timer start event")
        if node.event_type is V.ERROR and not node.interrupting:
            self.problem(node, "an error start event must be interrupting")

    def boundary_event(self, node: FlowNode) -> None:
        if node.attached_to_id == node.id:
            return  # not attached: reported by the parser
        if node.incoming:
            self.problem(node, "a boundary event cannot have incoming sequence flows")
        if not node.outgoing:
            self.problem(node, "a boundary event needs at least one outgoing sequence flow")
        if node.event_type is V.ERROR and not node.interrupting:
            self.problem(
                node,
                "an error boundary event must be interrupting "
                '(cancelActivity="false" is not allowed)',
            )
        if node.timer is not None and node.interrupting:
            self.timer_kind(
                node, TIMER_KINDS_INTERRUPTING_BOUNDARY, "an interrupting timer boundary event"
            )

    def error_boundaries(self, activity: FlowNode) -> None:
        seen: dict[str | None, str] = {}
        for event_id in activity.boundary_event_ids:
            event = self.model.flow_node(event_id)
            if event.error is None:
                continue
            code = event.error.error_code.source if event.error.error_code else None
            if code in seen:
                what = f"error code '{code}'" if code is not None else "no error code (catch-all)"
                self.problem(event, f"'{seen[code]}' on the same activity already catches {what}")
            else:
                seen[code] = event.id

    def unique_message_names(self, owner: FlowNode, event_ids: tuple[str, ...]) -> None:
        """Events that wait side by side (start events of one process, boundary events of one
        activity, the events after one gateway, event sub-process starts of one scope) must
        wait for different messages, or one message would be correlated to either."""
        seen: dict[str, str] = {}
        for event_id in event_ids:
            message = self.model.flow_node(event_id).message
            if message is None or message.name.is_feel:
                continue  # a FEEL name is known only when the scope is activated
            name = message.name.static_value
            if name in seen:
                self.problem(
                    self.model.flow_node(event_id),
                    f"'{seen[name]}' already waits for the message '{name}' beside it "
                    f"(in '{owner.id}'); events that wait together need different messages",
                )
            else:
                seen[name] = event_id

    def timer_kind(self, node: FlowNode, allowed: frozenset[TimerKind], what: str) -> None:
        assert node.timer is not None
        if node.timer.kind not in allowed:
            self.problem(
                node,
                f"{what} cannot use {node.timer.kind.value} (allowed: "
                f"{', '.join(sorted(k.value for k in allowed))})",
            )

    def message(self, node: FlowNode) -> None:
        assert node.message is not None
        scope = self.model.flow_node(node.flow_scope_id) if node.flow_scope_id else node
        starts_process = node.element_type is E.START_EVENT and scope.element_type is E.PROCESS
        if node.message.correlation_key is None and not starts_process:
            self.problem(
                node,
                f"the message '{node.message.message_id}' needs a correlation key "
                f"(zeebe:subscription correlationKey) to be caught here",
            )

    def event_based_gateway(self, node: FlowNode) -> None:
        if len(node.outgoing) < 2:
            self.problem(
                node,
                f"an event-based gateway needs at least two outgoing sequence "
                f"flows, it has {len(node.outgoing)}",
            )
        for event_id in node.event_ids:
            event = self.model.flow_node(event_id)
            if event.element_type is not E.INTERMEDIATE_CATCH_EVENT or event.event_type not in (
                V.MESSAGE,
                V.TIMER,
            ):
                self.problem(
                    node,
                    f"an event-based gateway may lead only to message or timer intermediate "
                    f"catch events, but '{event_id}' is {with_article(describe(event.element_type))}",
                )

    # -- flows ---------------------------------------------------------------------------

    def flow(self, flow: SequenceFlow) -> None:
        if flow.condition is None:
            return
        source = self.model.flow_node(flow.source_id)
        if source.element_type not in CONDITIONAL_GATEWAYS:
            self.problem(
                flow,
                f"conditions are supported only on flows leaving exclusive and inclusive "
                f"gateways, and this one leaves {describe(source.element_type)} '{source.id}'",
            )

    # -- expressions ---------------------------------------------------------------------

    def expressions(self) -> Iterator[tuple[FlowNode | SequenceFlow, str, Expression]]:
        """Every expression of the model, with the element that holds it and what it is."""
        for flow in self.model.sequence_flows():
            if flow.condition is not None:
                yield flow, "condition", flow.condition
        for node in self.model.flow_nodes():
            for mapping in node.io_mapping.inputs:
                yield node, f"input mapping to '{mapping.target}'", mapping.source
            for mapping in node.io_mapping.outputs:
                yield node, f"output mapping to '{mapping.target}'", mapping.source
            if node.job is not None:
                yield node, "job type", node.job.type
                yield node, "job retries", node.job.retries
            if node.user_task is not None:
                task = node.user_task
                for label, value in (
                    ("assignee", task.assignee),
                    ("candidate groups", task.candidate_groups),
                    ("candidate users", task.candidate_users),
                    ("due date", task.due_date),
                    ("follow-up date", task.follow_up_date),
                ):
                    if value is not None:
                        yield node, label, value
            if node.script is not None:
                yield node, "script", node.script.expression
            if node.message is not None:
                yield node, "message name", node.message.name
                if node.message.correlation_key is not None:
                    yield node, "correlation key", node.message.correlation_key
            if node.timer is not None:
                yield node, f"timer {node.timer.kind.value}", node.timer.expression
            if node.error is not None and node.error.error_code is not None:
                yield node, "error code", node.error.error_code
            if node.called_element is not None:
                yield node, "called process id", node.called_element.process_id
            if node.multi_instance is not None:
                loop = node.multi_instance
                yield node, "inputCollection", loop.input_collection
                if loop.output_element is not None:
                    yield node, "outputElement", loop.output_element
                if loop.completion_condition is not None:
                    yield node, "completionCondition", loop.completion_condition

    def expression(self, element: FlowNode | SequenceFlow, label: str, value: Expression) -> None:
        if value.is_feel:
            error = feel_syntax_error(value.feel)
            if error is not None:
                self.problem(element, f"the {label} '{value.source}' is not valid FEEL: {error}")
