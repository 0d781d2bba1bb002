"""Why a BPMN resource was refused: every problem found, each naming the element, its line in
the file and the reason, so a modeller can fix them all in one pass."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BpmnProblem:
    """One thing wrong with a resource.

    `element_id` is the id of the element at fault (None when the fault is the file itself or
    an element without an id); `line` is its line in the file (None when unknown)."""

    element_id: str | None
    line: int | None
    reason: str

    def describe(self) -> str:
        where = f"line {self.line}" if self.line is not None else "line ?"
        element = f"element '{self.element_id}'" if self.element_id else "the resource"
        return f"{where}, {element}: {self.reason}"


class BpmnValidationError(ValueError):
    """The resource was refused; `problems` holds every problem found, in document order."""

    def __init__(self, resource_name: str, problems: list[BpmnProblem] | tuple[BpmnProblem, ...]):
        assert problems, "a refusal names at least one problem"
        self.resource_name = resource_name
        self.problems: tuple[BpmnProblem, ...] = tuple(problems)
        lines = "\n".join(f"  - {problem.describe()}" for problem in self.problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"Expected a deployable BPMN resource, but '{resource_name}' has {count} {noun}:\n"
            f"{lines}"
        )


class BpmnParseError(BpmnValidationError):
    """The resource is not well-formed or safe XML (too large, malformed, a DTD or entity):
    it was refused before any BPMN element was read. A subclass, so that callers that refuse a
    resource need to catch only `BpmnValidationError`."""
