"""Small BPMN documents for the parser's tests, and where the shared conformance corpus lives."""

from pathlib import Path

import pytest

from raybee.partitions.engine.bpmn import BpmnValidationError, parse_bpmn

# `../shared/bpmn` from the project root: beside the repository, never copied into it.
SHARED_BPMN = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn"

HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
    ' xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="definitions">\n'
)
FOOTER = "</bpmn:definitions>\n"


class Snippets:
    """Builders of BPMN text. Element bodies are written with the `bpmn:` prefix."""

    @staticmethod
    def process(body: str, process_id: str = "p", executable: bool = True) -> str:
        flag = "true" if executable else "false"
        return (
            f'<bpmn:process id="{process_id}" name="P" isExecutable="{flag}">\n{body}\n'
            f"</bpmn:process>\n"
        )

    @staticmethod
    def document(*parts: str) -> bytes:
        return (HEADER + "".join(parts) + FOOTER).encode()

    @classmethod
    def single(cls, body: str, extra: str = "") -> bytes:
        """A document with one executable process `p` holding `body`, and `extra` elements
        (messages, errors) at the root."""
        return cls.document(cls.process(body), extra)

    @staticmethod
    def line_of(xml: bytes, needle: str) -> int:
        """The line (1-based) where `needle` first occurs."""
        index = xml.decode().index(needle)
        return xml.decode()[:index].count("\n") + 1

    @staticmethod
    def refusal(xml: bytes, name: str = "test.bpmn") -> BpmnValidationError:
        with pytest.raises(BpmnValidationError) as caught:
            parse_bpmn(xml, name)
        return caught.value

    @staticmethod
    def service_task(task_id: str, job_type: str = "work", extra: str = "") -> str:
        return (
            f'<bpmn:serviceTask id="{task_id}"><bpmn:extensionElements>'
            f'<zeebe:taskDefinition type="{job_type}"/>{extra}'
            f"</bpmn:extensionElements></bpmn:serviceTask>\n"
        )

    @staticmethod
    def flow(flow_id: str, source: str, target: str, condition: str | None = None) -> str:
        if condition is None:
            return (
                f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>\n'
            )
        return (
            f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>"
            f"</bpmn:sequenceFlow>\n"
        )


@pytest.fixture
def bpmn() -> type[Snippets]:
    return Snippets


@pytest.fixture(scope="session")
def shared_bpmn() -> Path:
    assert (SHARED_BPMN / "README.md").is_file(), (
        f"the BPMN conformance corpus is missing: expected ../shared/bpmn beside the project "
        f"root, at {SHARED_BPMN}"
    )
    return SHARED_BPMN
