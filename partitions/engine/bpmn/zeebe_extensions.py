"""Reading the `zeebe:` extension elements of one BPMN element.

This module only reads what is written (and reports attributes that are missing or malformed);
which extensions an element type needs is the parser's business. Unknown zeebe elements are
refused rather than skipped: each one changes how an element runs, so dropping one silently
would run a different process than the one modelled."""

from dataclasses import dataclass, field

from lxml import etree

from .errors import BpmnProblem
from .expression import Expression
from .model import (
    CalledElement,
    FrozenMap,
    IoMapping,
    UserTaskDefinition,
    VariableMapping,
)
from .namespaces import ZEEBE_NS, bpmn, split_tag

# Zeebe extensions with no effect on execution (modeller data): read and dropped.
IGNORED_ZEEBE_ELEMENTS = frozenset({"properties", "property", "userTaskForm", "versionTag"})
# Zeebe extensions raybee does not run, with why.
UNSUPPORTED_ZEEBE_ELEMENTS = {
    "calledDecision": "it calls a DMN decision (zeebe:calledDecision), and raybee has no DMN "
    "engine; give the task a zeebe:taskDefinition to run it as a job instead",
    "executionListeners": "zeebe:executionListeners are not supported",
    "taskListeners": "zeebe:taskListeners are not supported",
    "userTask": "Camunda user tasks (zeebe:userTask) are not supported; without it the user "
    "task runs as a job of type io.camunda.zeebe:userTask",
    "adHoc": "zeebe:adHoc is not supported",
    "linkedResources": "zeebe:linkedResources are not supported",
}
_BOOLEANS = {"true": True, "false": False}


@dataclass(slots=True)
class TaskDefinitionDraft:
    type: Expression | None
    retries: Expression | None


@dataclass(slots=True)
class LoopDraft:
    input_collection: Expression | None = None
    input_element: str | None = None
    output_collection: str | None = None
    output_element: Expression | None = None


@dataclass(slots=True)
class ZeebeExtensions:
    """What one element's extensionElements say, as written. `present` holds the local names
    of every zeebe element found, so the parser can tell absent from empty."""

    present: set[str] = field(default_factory=set)
    task_definition: TaskDefinitionDraft | None = None
    headers: FrozenMap[str, str] = field(default_factory=FrozenMap)
    io_mapping: IoMapping = field(default_factory=IoMapping)
    called_element: CalledElement | None = None
    script_expression: Expression | None = None
    script_result_variable: str | None = None
    user_task: UserTaskDefinition | None = None
    correlation_key: Expression | None = None
    loop: LoopDraft | None = None


def read_zeebe_extensions(
    element: etree._Element, element_id: str | None, problems: list[BpmnProblem]
) -> ZeebeExtensions:
    """The zeebe extensions directly under `element`'s extensionElements."""
    found = ZeebeExtensions()
    reader = _Reader(element_id, problems)
    user_task: dict[str, object] = {}
    for holder in element.findall(bpmn("extensionElements")):
        for child in holder:
            namespace, name = split_tag(child)
            if namespace != ZEEBE_NS or name in IGNORED_ZEEBE_ELEMENTS:
                continue
            if name in found.present and name not in ("ioMapping", "taskHeaders"):
                reader.problem(child, f"zeebe:{name} is given more than once")
                continue
            found.present.add(name)
            if name in UNSUPPORTED_ZEEBE_ELEMENTS:
                reader.problem(child, UNSUPPORTED_ZEEBE_ELEMENTS[name])
            elif name == "taskDefinition":
                found.task_definition = TaskDefinitionDraft(
                    type=reader.expression(child, "type", required=True),
                    retries=reader.expression(child, "retries", required=False),
                )
            elif name == "taskHeaders":
                found.headers = reader.headers(child, found.headers)
            elif name == "ioMapping":
                found.io_mapping = reader.io_mapping(child, found.io_mapping)
            elif name == "calledElement":
                found.called_element = reader.called_element(child)
            elif name == "script":
                found.script_expression = reader.expression(child, "expression", required=True)
                found.script_result_variable = reader.text(child, "resultVariable", True)
            elif name == "assignmentDefinition":
                for attribute, key in (
                    ("assignee", "assignee"),
                    ("candidateGroups", "candidate_groups"),
                    ("candidateUsers", "candidate_users"),
                ):
                    user_task[key] = reader.expression(child, attribute, required=False)
            elif name == "formDefinition":
                form_key = child.get("formKey") or child.get("formId")
                if not form_key:
                    reader.problem(child, "zeebe:formDefinition has no formKey")
                user_task["form_key"] = form_key or None
            elif name == "taskSchedule":
                user_task["due_date"] = reader.expression(child, "dueDate", required=False)
                user_task["follow_up_date"] = reader.expression(
                    child, "followUpDate", required=False
                )
            elif name == "subscription":
                found.correlation_key = reader.expression(child, "correlationKey", True)
            elif name == "loopCharacteristics":
                found.loop = LoopDraft(
                    input_collection=reader.expression(child, "inputCollection", True),
                    input_element=reader.text(child, "inputElement", False),
                    output_collection=reader.text(child, "outputCollection", False),
                    output_element=reader.expression(child, "outputElement", required=False),
                )
            else:
                reader.problem(child, f"zeebe:{name} is not supported by raybee")
    if user_task:
        found.user_task = UserTaskDefinition(**user_task)  # type: ignore[arg-type]
    return found


class _Reader:
    def __init__(self, element_id: str | None, problems: list[BpmnProblem]) -> None:
        self.element_id = element_id
        self.problems = problems

    def problem(self, at: etree._Element, reason: str) -> None:
        self.problems.append(BpmnProblem(self.element_id, at.sourceline, reason))

    def text(self, at: etree._Element, attribute: str, required: bool) -> str | None:
        value = at.get(attribute)
        if value is None or not value.strip():
            if required:
                _, name = split_tag(at)
                self.problem(at, f"zeebe:{name} has no {attribute}")
            return None
        return value

    def expression(self, at: etree._Element, attribute: str, required: bool) -> Expression | None:
        value = self.text(at, attribute, required)
        if value is None:
            return None
        expression = Expression.of(value)
        if expression.is_feel and not expression.feel:
            _, name = split_tag(at)
            self.problem(at, f"the {attribute} of zeebe:{name} is '=' with no expression after it")
            return None
        return expression

    def boolean(self, at: etree._Element, attribute: str, default: bool) -> bool:
        value = at.get(attribute)
        if value is None:
            return default
        if value.strip() not in _BOOLEANS:
            _, name = split_tag(at)
            self.problem(at, f"the {attribute} of zeebe:{name} is '{value}', not true or false")
            return default
        return _BOOLEANS[value.strip()]

    def headers(self, at: etree._Element, before: FrozenMap[str, str]) -> FrozenMap[str, str]:
        headers = dict(before)
        for header in at:
            if split_tag(header) != (ZEEBE_NS, "header"):
                continue
            key = header.get("key")
            if not key:
                self.problem(header, "a zeebe:header has no key")
                continue
            if key in headers:
                self.problem(header, f"the task header '{key}' is given more than once")
                continue
            headers[key] = header.get("value", "")
        return FrozenMap(headers)

    def io_mapping(self, at: etree._Element, before: IoMapping) -> IoMapping:
        inputs, outputs = list(before.inputs), list(before.outputs)
        for mapping in at:
            namespace, name = split_tag(mapping)
            if namespace != ZEEBE_NS or name not in ("input", "output"):
                continue
            source = self.expression(mapping, "source", required=True)
            target = self.text(mapping, "target", required=True)
            if source is None or target is None:
                continue
            (inputs if name == "input" else outputs).append(VariableMapping(source, target))
        return IoMapping(inputs=tuple(inputs), outputs=tuple(outputs))

    def called_element(self, at: etree._Element) -> CalledElement | None:
        process_id = self.expression(at, "processId", required=True)
        child = self.boolean(at, "propagateAllChildVariables", True)
        parent = self.boolean(at, "propagateAllParentVariables", True)
        if process_id is None:
            return None
        return CalledElement(process_id, child, parent)
