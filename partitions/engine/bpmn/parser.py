"""BPMN 2.0 XML to `ProcessDefinitionModel`s.

`parse_bpmn` loads the resource safely (`xml_loading`), reads every executable process into a
model, validates the models (`validation`), and either returns them all or raises one
`BpmnValidationError` with every problem found.

Reading a process goes in passes, so that one bad reference never hides another problem:
1. walk the process and its sub-processes, collecting flow nodes and sequence flows by id
   (unsupported elements are reported, artifacts and data elements skipped);
2. resolve references (sourceRef, targetRef, attachedToRef, default, incoming, outgoing): a
   reference to a missing id, or across scopes, is reported and dropped, so that the model
   built from what is left is consistent;
3. read each node's event definition and zeebe extensions into its typed definitions;
4. assemble scopes and build the immutable model.
What this module checks is what it needs to read an element; rules about the graph as a whole
are `validation`'s.
"""

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .element_types import (
    ACTIVITY_TYPES,
    SUPPORTED_EVENT_TYPES,
    BpmnElementType,
    BpmnEventType,
    describe,
    with_article,
)
from .errors import BpmnProblem, BpmnValidationError
from .expression import Expression
from .model import (
    JOB_RETRIES_DEFAULT,
    USER_TASK_JOB_TYPE,
    CalledElement,
    ErrorDefinition,
    FlowNode,
    FrozenMap,
    JobDefinition,
    MessageDefinition,
    MultiInstanceDefinition,
    ProcessDefinitionModel,
    ScopeDefinition,
    ScriptDefinition,
    SequenceFlow,
    TimerDefinition,
    UserTaskDefinition,
)
from .namespaces import BPMN_NS, bpmn, split_tag
from .timers import TimerKind
from .validation import validate_model
from .xml_loading import load_xml, resource_checksum
from .zeebe_extensions import ZeebeExtensions, read_zeebe_extensions

FLOW_NODE_TYPES = {
    "startEvent": BpmnElementType.START_EVENT,
    "endEvent": BpmnElementType.END_EVENT,
    "intermediateCatchEvent": BpmnElementType.INTERMEDIATE_CATCH_EVENT,
    "intermediateThrowEvent": BpmnElementType.INTERMEDIATE_THROW_EVENT,
    "boundaryEvent": BpmnElementType.BOUNDARY_EVENT,
    "serviceTask": BpmnElementType.SERVICE_TASK,
    "sendTask": BpmnElementType.SEND_TASK,
    "userTask": BpmnElementType.USER_TASK,
    "receiveTask": BpmnElementType.RECEIVE_TASK,
    "scriptTask": BpmnElementType.SCRIPT_TASK,
    "manualTask": BpmnElementType.MANUAL_TASK,
    "task": BpmnElementType.TASK,
    "businessRuleTask": BpmnElementType.BUSINESS_RULE_TASK,
    "exclusiveGateway": BpmnElementType.EXCLUSIVE_GATEWAY,
    "parallelGateway": BpmnElementType.PARALLEL_GATEWAY,
    "inclusiveGateway": BpmnElementType.INCLUSIVE_GATEWAY,
    "eventBasedGateway": BpmnElementType.EVENT_BASED_GATEWAY,
    "subProcess": BpmnElementType.SUB_PROCESS,
    "callActivity": BpmnElementType.CALL_ACTIVITY,
}
UNSUPPORTED_FLOW_ELEMENTS = {
    "complexGateway": "complex gateways are not supported",
    "transaction": "transactions are not supported",
    "adHocSubProcess": "ad-hoc sub-processes are not supported",
    "implicitThrowEvent": "implicit throw events are not supported",
    "callChoreography": "choreographies are not supported",
    "subChoreography": "choreographies are not supported",
    "choreographyTask": "choreographies are not supported",
}
# Children of a process or sub-process without execution semantics: documentation, artifacts,
# data, lanes; and the node-level children of a sub-process, read with the node itself.
IGNORED_CHILDREN = frozenset(
    {
        "documentation",
        "extensionElements",
        "laneSet",
        "textAnnotation",
        "association",
        "group",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "ioSpecification",
        "ioBinding",
        "property",
        "auditing",
        "monitoring",
        "resourceRole",
        "performer",
        "humanPerformer",
        "potentialOwner",
        "correlationSubscription",
        "supportedInterfaceRef",
        "dataInputAssociation",
        "dataOutputAssociation",
        "incoming",
        "outgoing",
        "multiInstanceLoopCharacteristics",
        "standardLoopCharacteristics",
    }
)
EVENT_DEFINITIONS = {
    "messageEventDefinition": BpmnEventType.MESSAGE,
    "timerEventDefinition": BpmnEventType.TIMER,
    "errorEventDefinition": BpmnEventType.ERROR,
    "terminateEventDefinition": BpmnEventType.TERMINATE,
    "signalEventDefinition": BpmnEventType.SIGNAL,
    "escalationEventDefinition": BpmnEventType.ESCALATION,
    "compensateEventDefinition": BpmnEventType.COMPENSATION,
    "conditionalEventDefinition": BpmnEventType.CONDITIONAL,
    "linkEventDefinition": BpmnEventType.LINK,
}
# Elements that throw rather than catch: a message event among them sends (as a job).
THROWING_TYPES = frozenset({BpmnElementType.END_EVENT, BpmnElementType.INTERMEDIATE_THROW_EVENT})
# Elements that always run as a job and so need a zeebe:taskDefinition.
JOB_TASK_TYPES = frozenset({BpmnElementType.SERVICE_TASK, BpmnElementType.SEND_TASK})
_BOOLEANS = {"true": True, "false": False}
# The language of a condition may be left out or name FEEL; anything else is refused.
FEEL_LANGUAGE_MARKER = "feel"


@dataclass(slots=True)
class _Message:
    id: str
    name: str | None
    correlation_key: Expression | None


@dataclass(slots=True)
class _Error:
    id: str
    code: str | None


@dataclass(slots=True)
class _Definitions:
    """Root-level elements that flow nodes refer to."""

    messages: dict[str, _Message] = field(default_factory=dict)
    errors: dict[str, _Error] = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _NodeDraft:
    id: str
    element: etree._Element
    element_type: BpmnElementType
    flow_scope_id: str | None
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    boundary_event_ids: list[str] = field(default_factory=list)
    attached_to_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _FlowDraft:
    id: str
    element: etree._Element
    flow_scope_id: str


def parse_bpmn(xml: bytes, resource_name: str) -> list[ProcessDefinitionModel]:
    """Every executable process of the resource, or BpmnValidationError naming every problem
    (BpmnParseError, a subclass, when the bytes are not safe, well-formed XML)."""
    root = load_xml(xml, resource_name)
    problems: list[BpmnProblem] = []
    if split_tag(root) != (BPMN_NS, "definitions"):
        namespace, name = split_tag(root)
        raise BpmnValidationError(
            resource_name,
            [
                BpmnProblem(
                    root.get("id"),
                    root.sourceline,
                    f"not a BPMN 2.0 document: the root element is <{name}> in namespace "
                    f"'{namespace or ''}', expected <definitions> in '{BPMN_NS}'",
                )
            ],
        )
    definitions = _read_definitions(root, problems)
    processes = root.findall(bpmn("process"))
    executable = [p for p in processes if p.get("isExecutable", "").strip() == "true"]
    if not processes:
        problems.append(
            BpmnProblem(root.get("id"), root.sourceline, "the resource holds no <process>")
        )
    elif not executable:
        for process in processes:
            flag = process.get("isExecutable")
            said = f'isExecutable="{flag}"' if flag is not None else "no isExecutable attribute"
            problems.append(
                BpmnProblem(
                    process.get("id"),
                    process.sourceline,
                    f"the process is not executable ({said}); raybee deploys only processes "
                    f'with isExecutable="true", and this resource has none',
                )
            )
    checksum = resource_checksum(bytes(xml))
    models = []
    for process in executable:
        builder = _ProcessBuilder(process, definitions, problems)
        model = builder.build(resource_name, checksum)
        if model is not None:
            validate_model(model, problems)
            models.append(model)
    if problems:
        raise BpmnValidationError(resource_name, _in_document_order(problems))
    return models


def _in_document_order(problems: list[BpmnProblem]) -> list[BpmnProblem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: p.line if p.line is not None else 0)


def _read_definitions(root: etree._Element, problems: list[BpmnProblem]) -> _Definitions:
    definitions = _Definitions(ids=_unique_ids(root, problems))
    for message in root.findall(bpmn("message")):
        message_id = message.get("id")
        if not message_id or message_id in definitions.messages:
            continue
        extensions = read_zeebe_extensions(message, message_id, problems)
        name = (message.get("name") or "").strip()
        definitions.messages[message_id] = _Message(
            message_id, name or None, extensions.correlation_key
        )
    for error in root.findall(bpmn("error")):
        error_id = error.get("id")
        if not error_id or error_id in definitions.errors:
            continue
        code = error.get("errorCode")
        definitions.errors[error_id] = _Error(error_id, code if code and code.strip() else None)
    return definitions


def _unique_ids(root: etree._Element, problems: list[BpmnProblem]) -> set[str]:
    """Every id of a BPMN element in the resource; a second use of one is a problem."""
    first_line: dict[str, int | None] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        element_id = element.get("id")
        if split_tag(element)[0] != BPMN_NS or element_id is None:
            continue
        if element_id in first_line:
            problems.append(
                BpmnProblem(
                    element_id,
                    element.sourceline,
                    f"the id '{element_id}' is used more than once (first at line "
                    f"{first_line[element_id]}); ids must be unique in a resource",
                )
            )
            continue
        first_line[element_id] = element.sourceline
    return set(first_line)


class _ProcessBuilder:
    def __init__(
        self, process: etree._Element, definitions: _Definitions, problems: list[BpmnProblem]
    ) -> None:
        self.process = process
        self.definitions = definitions
        self.problems = problems
        self.nodes: dict[str, _NodeDraft] = {}
        self.flows: dict[str, _FlowDraft] = {}

    def problem(self, element_id: str | None, at: etree._Element, reason: str) -> None:
        self.problems.append(BpmnProblem(element_id, at.sourceline, reason))

    # -- pass 1: collect ------------------------------------------------------------------

    def build(self, resource_name: str, checksum: str) -> ProcessDefinitionModel | None:
        process_id = self.process.get("id")
        if not process_id:
            self.problem(None, self.process, "a <process> has no id")
            return None
        root = _NodeDraft(process_id, self.process, BpmnElementType.PROCESS, None)
        self.nodes[process_id] = root
        self._collect(root)
        self._resolve_flows()
        self._resolve_attachments()
        for node in self.nodes.values():
            self._check_listed_flows(node)
            self._read_node(node)
        elements: dict[str, FlowNode | SequenceFlow] = {}
        for node in self.nodes.values():
            elements[node.id] = self._finish_node(node)
        for flow in self.flows.values():
            elements[flow.id] = self._finish_flow(flow)
        return ProcessDefinitionModel(
            bpmn_process_id=process_id,
            name=self.process.get("name", ""),
            resource_name=resource_name,
            checksum=checksum,
            line=self.process.sourceline or 0,
            elements=FrozenMap(elements),
        )

    def _collect(self, scope: _NodeDraft) -> None:
        for child in scope.element:
            namespace, name = split_tag(child)
            if namespace != BPMN_NS or name in IGNORED_CHILDREN:
                continue  # vendor extensions and elements without execution semantics
            element_id = child.get("id")
            if name in UNSUPPORTED_FLOW_ELEMENTS:
                self.problem(element_id, child, UNSUPPORTED_FLOW_ELEMENTS[name])
                continue
            if name != "sequenceFlow" and name not in FLOW_NODE_TYPES:
                self.problem(element_id, child, f"the BPMN element <{name}> is not supported")
                continue
            if not element_id:
                self.problem(None, child, f"a <{name}> has no id")
                continue
            if element_id in self.nodes or element_id in self.flows:
                continue  # a duplicate id, reported already
            if name == "sequenceFlow":
                self.flows[element_id] = _FlowDraft(element_id, child, scope.id)
                continue
            element_type = FLOW_NODE_TYPES[name]
            if name == "subProcess" and self._flag(child, element_id, "triggeredByEvent", False):
                element_type = BpmnElementType.EVENT_SUB_PROCESS
            node = _NodeDraft(element_id, child, element_type, scope.id)
            self.nodes[element_id] = node
            scope.children.append(element_id)
            if name == "subProcess":
                self._collect(node)

    # -- pass 2: references -----------------------------------------------------------------

    def _resolve_flows(self) -> None:
        for flow in list(self.flows.values()):
            ends = []
            for attribute in ("sourceRef", "targetRef"):
                ends.append(self._flow_end(flow, attribute))
            source, target = ends
            if source is None or target is None:
                del self.flows[flow.id]
                continue
            source.outgoing.append(flow.id)
            target.incoming.append(flow.id)

    def _flow_end(self, flow: _FlowDraft, attribute: str) -> _NodeDraft | None:
        ref = flow.element.get(attribute)
        if not ref:
            self.problem(flow.id, flow.element, f"the sequence flow has no {attribute}")
            return None
        node = self.nodes.get(ref)
        if node is None or node.element_type is BpmnElementType.PROCESS:
            what = "a sequence flow, not a flow node" if ref in self.flows else "no element"
            self.problem(
                flow.id,
                flow.element,
                f"the {attribute} '{ref}' names {what} of process '{self.process.get('id')}'",
            )
            return None
        if node.flow_scope_id != flow.flow_scope_id:
            self.problem(
                flow.id,
                flow.element,
                f"the {attribute} '{ref}' is in scope '{node.flow_scope_id}', but the sequence "
                f"flow is in scope '{flow.flow_scope_id}'; a flow cannot cross a scope",
            )
            return None
        return node

    def _resolve_attachments(self) -> None:
        for node in self.nodes.values():
            if node.element_type is not BpmnElementType.BOUNDARY_EVENT:
                continue
            ref = node.element.get("attachedToRef")
            target = self.nodes.get(ref) if ref else None
            if not ref:
                self.problem(node.id, node.element, "the boundary event has no attachedToRef")
            elif target is None:
                self.problem(node.id, node.element, f"the attachedToRef '{ref}' names no element")
            elif target.element_type not in ACTIVITY_TYPES:
                what = with_article(describe(target.element_type))
                self.problem(
                    node.id,
                    node.element,
                    f"the attachedToRef '{ref}' names {what}; boundary events attach to tasks, "
                    f"sub-processes and call activities only",
                )
            elif target.flow_scope_id != node.flow_scope_id:
                self.problem(
                    node.id,
                    node.element,
                    f"the attachedToRef '{ref}' is in another scope than the boundary event",
                )
            else:
                node.attached_to_id = ref
                target.boundary_event_ids.append(node.id)
                continue
            # Left unattached, the event is still built (so its other problems show) as if
            # attached to itself; the refusal is certain already.
            node.attached_to_id = node.id

    def _check_listed_flows(self, node: _NodeDraft) -> None:
        for tag in ("incoming", "outgoing"):
            for listed in node.element.findall(bpmn(tag)):
                ref = (listed.text or "").strip()
                if ref and ref not in self.definitions.ids:
                    self.problem(
                        node.id, listed, f"<{tag}> names '{ref}', but no element has that id"
                    )

    # -- pass 3: one node ------------------------------------------------------------------

    def _read_node(self, node: _NodeDraft) -> None:
        element, kind = node.element, node.element_type
        if kind is BpmnElementType.PROCESS:
            # Nothing zeebe says of a process changes how it runs, except what raybee
            # refuses (execution listeners): read for those problems alone.
            read_zeebe_extensions(element, node.id, self.problems)
            return
        fields = node.fields
        extensions = read_zeebe_extensions(element, node.id, self.problems)
        fields["io_mapping"] = extensions.io_mapping
        if kind in ACTIVITY_TYPES:
            if self._flag(element, node.id, "isForCompensation", False):
                self.problem(node.id, element, "compensation activities are not supported")
            self._read_loop(node, extensions)
        default = element.get("default")
        if default is not None:
            if default in node.outgoing:
                fields["default_flow_id"] = default
            else:
                self.problem(
                    node.id,
                    element,
                    f"the default flow '{default}' is not an outgoing sequence flow of it",
                )
        if kind in (
            BpmnElementType.START_EVENT,
            BpmnElementType.END_EVENT,
            BpmnElementType.INTERMEDIATE_CATCH_EVENT,
            BpmnElementType.INTERMEDIATE_THROW_EVENT,
            BpmnElementType.BOUNDARY_EVENT,
        ):
            self._read_event(node, extensions)
        elif kind in JOB_TASK_TYPES:
            fields["job"] = self._job(node, extensions, required=True)
        elif kind is BpmnElementType.USER_TASK:
            fields["job"] = JobDefinition(
                type=Expression.of(USER_TASK_JOB_TYPE),
                retries=Expression.of(JOB_RETRIES_DEFAULT),
                headers=extensions.headers,
            )
            fields["user_task"] = extensions.user_task or UserTaskDefinition()
        elif kind is BpmnElementType.BUSINESS_RULE_TASK:
            if "calledDecision" not in extensions.present:
                if extensions.task_definition is None:
                    self.problem(
                        node.id,
                        element,
                        "a business rule task needs a zeebe:taskDefinition: raybee runs "
                        "business rule tasks as jobs, it has no DMN engine",
                    )
                fields["job"] = self._job(node, extensions, required=False)
        elif kind is BpmnElementType.SCRIPT_TASK:
            self._read_script(node, extensions)
        elif kind is BpmnElementType.RECEIVE_TASK:
            if self._flag(element, node.id, "instantiate", False):
                self.problem(node.id, element, "instantiating receive tasks are not supported")
            fields["message"] = self._message(node, element.get("messageRef"), element)
        elif kind is BpmnElementType.CALL_ACTIVITY:
            fields["called_element"] = self._called_element(node, extensions)

    def _job(
        self, node: _NodeDraft, extensions: ZeebeExtensions, required: bool
    ) -> JobDefinition | None:
        definition = extensions.task_definition
        if definition is None or definition.type is None:
            if required and definition is None:
                what = describe(node.element_type)
                if node.fields.get("event_type") is BpmnEventType.MESSAGE:
                    what = f"message {what}"
                self.problem(
                    node.id,
                    node.element,
                    f"the {what} needs a zeebe:taskDefinition with a job type (the job that "
                    f"workers of that type complete)",
                )
            return None
        retries = definition.retries or Expression.of(JOB_RETRIES_DEFAULT)
        if not retries.is_feel and not retries.static_value.strip().isdigit():
            self.problem(
                node.id,
                node.element,
                f"the job retries '{retries.source}' is neither a non-negative integer nor a "
                f"FEEL expression",
            )
        return JobDefinition(type=definition.type, retries=retries, headers=extensions.headers)

    def _read_script(self, node: _NodeDraft, extensions: ZeebeExtensions) -> None:
        if "script" in extensions.present:
            expression = extensions.script_expression
            result_variable = extensions.script_result_variable
            if expression is not None and not expression.is_feel:
                self.problem(
                    node.id,
                    node.element,
                    "the zeebe:script expression must be a FEEL expression (start with '=')",
                )
            elif expression is not None and result_variable is not None:
                node.fields["script"] = ScriptDefinition(expression, result_variable)
        elif extensions.task_definition is not None:
            node.fields["job"] = self._job(node, extensions, required=True)
        else:
            self.problem(
                node.id,
                node.element,
                "a script task needs a zeebe:script (a FEEL expression and a resultVariable) "
                "or a zeebe:taskDefinition",
            )

    def _called_element(
        self, node: _NodeDraft, extensions: ZeebeExtensions
    ) -> CalledElement | None:
        if extensions.called_element is not None:
            return extensions.called_element
        if "calledElement" in extensions.present:
            return None  # present but broken: reported by the extension reader
        standard = (node.element.get("calledElement") or "").strip()
        if standard:
            # BPMN's own attribute, read as a static process id when zeebe's is absent.
            return CalledElement(Expression.of(standard))
        self.problem(
            node.id,
            node.element,
            "a call activity needs a zeebe:calledElement with a processId",
        )
        return None

    def _read_loop(self, node: _NodeDraft, extensions: ZeebeExtensions) -> None:
        element = node.element
        for standard in element.findall(bpmn("standardLoopCharacteristics")):
            self.problem(
                node.id,
                standard,
                "standard loops are not supported; use "
                "multi-instance with a zeebe:loopCharacteristics inputCollection",
            )
        loops = element.findall(bpmn("multiInstanceLoopCharacteristics"))
        if not loops:
            return
        loop = loops[0]
        is_sequential = self._flag(loop, node.id, "isSequential", False)
        loop_extensions = read_zeebe_extensions(loop, node.id, self.problems)
        draft = loop_extensions.loop
        if loop.find(bpmn("loopCardinality")) is not None:
            self.problem(
                node.id,
                loop,
                "loopCardinality is not supported; use a zeebe:loopCharacteristics inputCollection",
            )
        if draft is None or draft.input_collection is None:
            if draft is None:
                self.problem(
                    node.id,
                    loop,
                    "a multi-instance activity needs a zeebe:loopCharacteristics with an "
                    "inputCollection",
                )
            return
        if not draft.input_collection.is_feel:
            self.problem(
                node.id,
                loop,
                "the inputCollection must be a FEEL expression (start with '=')",
            )
        if (draft.output_collection is None) != (draft.output_element is None):
            self.problem(
                node.id,
                loop,
                "outputCollection and outputElement must be given together",
            )
            draft.output_collection = draft.output_element = None
        completion = None
        condition = loop.find(bpmn("completionCondition"))
        if condition is not None:
            completion = self._condition(node.id, condition)
        node.fields["multi_instance"] = MultiInstanceDefinition(
            is_sequential=is_sequential,
            input_collection=draft.input_collection,
            input_element=draft.input_element,
            output_collection=draft.output_collection,
            output_element=draft.output_element,
            completion_condition=completion,
        )

    def _read_event(self, node: _NodeDraft, extensions: ZeebeExtensions) -> None:
        element, kind, fields = node.element, node.element_type, node.fields
        definitions = [
            child
            for child in element
            if split_tag(child)[0] == BPMN_NS
            and (
                split_tag(child)[1] in EVENT_DEFINITIONS
                or split_tag(child)[1] in ("cancelEventDefinition", "eventDefinitionRef")
            )
        ]
        if self._flag(element, node.id, "parallelMultiple", False):
            self.problem(node.id, element, "parallel multiple events are not supported")
        if kind is BpmnElementType.START_EVENT:
            fields["interrupting"] = self._flag(element, node.id, "isInterrupting", True)
        elif kind is BpmnElementType.BOUNDARY_EVENT:
            fields["interrupting"] = self._flag(element, node.id, "cancelActivity", True)
        fields["event_type"] = BpmnEventType.NONE
        if not definitions:
            return
        if len(definitions) > 1:
            self.problem(
                node.id, element, "events with several event definitions are not supported"
            )
            return
        definition = definitions[0]
        _, name = split_tag(definition)
        if name not in EVENT_DEFINITIONS:
            what = (
                "cancel events"
                if name == "cancelEventDefinition"
                else ("references to global event definitions (eventDefinitionRef)")
            )
            self.problem(node.id, definition, f"{what} are not supported")
            return
        event_type = EVENT_DEFINITIONS[name]
        fields["event_type"] = event_type
        if event_type not in SUPPORTED_EVENT_TYPES:
            self.problem(node.id, definition, f"{event_type.lower()} events are not supported")
        elif event_type is BpmnEventType.MESSAGE:
            if kind in THROWING_TYPES:
                fields["job"] = self._job(node, extensions, required=True)
            else:
                fields["message"] = self._message(node, definition.get("messageRef"), definition)
        elif event_type is BpmnEventType.TIMER:
            fields["timer"] = self._timer(node, definition)
        elif event_type is BpmnEventType.ERROR:
            fields["error"] = self._error(node, definition)

    def _message(
        self, node: _NodeDraft, ref: str | None, at: etree._Element
    ) -> MessageDefinition | None:
        if not ref:
            self.problem(
                node.id,
                at,
                f"the {describe(node.element_type)} waits for a message but has no "
                f"messageRef naming a <message>",
            )
            return None
        message = self.definitions.messages.get(ref)
        if message is None:
            self.problem(node.id, at, f"the messageRef '{ref}' names no <message>")
            return None
        if message.name is None:
            self.problem(node.id, at, f"the message '{ref}' it waits for has no name")
            return None
        name = Expression.of(message.name)
        return MessageDefinition(ref, name, message.correlation_key)

    def _timer(self, node: _NodeDraft, definition: etree._Element) -> TimerDefinition | None:
        found = [
            (kind, child) for kind in TimerKind for child in definition.findall(bpmn(kind.value))
        ]
        if len(found) != 1:
            self.problem(
                node.id,
                definition,
                "a timer needs exactly one of timeDate, timeDuration and timeCycle"
                + ("" if not found else f", it has {len(found)}"),
            )
            return None
        kind, child = found[0]
        text = (child.text or "").strip()
        if not text:
            self.problem(node.id, child, f"the timer's {kind.value} is empty")
            return None
        return TimerDefinition(kind, Expression.of(text))

    def _error(self, node: _NodeDraft, definition: etree._Element) -> ErrorDefinition | None:
        ref = definition.get("errorRef")
        if not ref:
            return ErrorDefinition(error_id=None, error_code=None)
        error = self.definitions.errors.get(ref)
        if error is None:
            self.problem(node.id, definition, f"the errorRef '{ref}' names no <error>")
            return None
        code = Expression.of(error.code) if error.code is not None else None
        return ErrorDefinition(error_id=ref, error_code=code)

    def _condition(self, element_id: str, element: etree._Element) -> Expression | None:
        language = element.get("language")
        if language and FEEL_LANGUAGE_MARKER not in language.lower():
            self.problem(
                element_id,
                element,
                f"the expression language '{language}' is not supported; conditions are FEEL",
            )
            return None
        text = (element.text or "").strip()
        if not text or text == "=":
            self.problem(element_id, element, "the condition is empty")
            return None
        return Expression.condition(text)

    def _flag(
        self, element: etree._Element, element_id: str, attribute: str, default: bool
    ) -> bool:
        value = element.get(attribute)
        if value is None:
            return default
        if value.strip() not in _BOOLEANS:
            self.problem(element_id, element, f"{attribute} is '{value}', not true or false")
            return default
        return _BOOLEANS[value.strip()]

    # -- pass 4: the immutable model -------------------------------------------------------

    def _finish_flow(self, flow: _FlowDraft) -> SequenceFlow:
        condition = None
        element = flow.element.find(bpmn("conditionExpression"))
        if element is not None:
            condition = self._condition(flow.id, element)
        return SequenceFlow(
            id=flow.id,
            name=flow.element.get("name", ""),
            line=flow.element.sourceline or 0,
            flow_scope_id=flow.flow_scope_id,
            source_id=flow.element.get("sourceRef", ""),
            target_id=flow.element.get("targetRef", ""),
            condition=condition,
        )

    def _finish_node(self, node: _NodeDraft) -> FlowNode:
        kind = node.element_type
        fields = dict(node.fields)
        if kind in (
            BpmnElementType.PROCESS,
            BpmnElementType.SUB_PROCESS,
            BpmnElementType.EVENT_SUB_PROCESS,
        ):
            fields["scope"] = self._scope(node)
            if kind is BpmnElementType.EVENT_SUB_PROCESS and fields["scope"].start_event_id:
                start = self.nodes[fields["scope"].start_event_id]
                fields["interrupting"] = start.fields.get("interrupting", True)
        if kind is BpmnElementType.EVENT_BASED_GATEWAY:
            fields["event_ids"] = tuple(
                self.flows[f].element.get("targetRef", "") for f in node.outgoing
            )
        return FlowNode(
            id=node.id,
            name=node.element.get("name", ""),
            line=node.element.sourceline or 0,
            element_type=kind,
            flow_scope_id=node.flow_scope_id,
            incoming=tuple(node.incoming),
            outgoing=tuple(node.outgoing),
            boundary_event_ids=tuple(node.boundary_event_ids),
            attached_to_id=node.attached_to_id,
            **fields,
        )

    def _scope(self, node: _NodeDraft) -> ScopeDefinition:
        children = [self.nodes[child] for child in node.children]
        starts = [c for c in children if c.element_type is BpmnElementType.START_EVENT]

        def starts_of(event_type: BpmnEventType) -> tuple[str, ...]:
            return tuple(s.id for s in starts if s.fields.get("event_type") is event_type)

        event_sub_processes = [
            c for c in children if c.element_type is BpmnElementType.EVENT_SUB_PROCESS
        ]
        sub_process_starts = []
        for sub in event_sub_processes:
            for child in sub.children:
                if self.nodes[child].element_type is BpmnElementType.START_EVENT:
                    sub_process_starts.append(child)
                    break
        none_starts = starts_of(BpmnEventType.NONE)
        is_process = node.element_type is BpmnElementType.PROCESS
        is_event_sub_process = node.element_type is BpmnElementType.EVENT_SUB_PROCESS
        return ScopeDefinition(
            child_ids=tuple(node.children),
            none_start_event_id=none_starts[0]
            if none_starts and not is_event_sub_process
            else None,
            message_start_event_ids=starts_of(BpmnEventType.MESSAGE) if is_process else (),
            timer_start_event_ids=starts_of(BpmnEventType.TIMER) if is_process else (),
            event_sub_process_ids=tuple(s.id for s in event_sub_processes),
            event_sub_process_start_event_ids=tuple(sub_process_starts),
            start_event_id=starts[0].id if is_event_sub_process and starts else None,
        )
