"""Every FEEL expression in the BPMN corpus (`../shared/bpmn`): each attribute value and element
text that starts with `=` (conditions, input/output mappings, task headers, correlation keys,
multi-instance collections, timers) must parse, and evaluate without an error on a plausible
set of variables (and on none: missing variables are null, never a failure)."""

import json
from pathlib import Path

import pytest
from lxml import etree

from raybee.partitions.engine.feel import evaluate, parse, to_json_value
from raybee.partitions.engine.feel.testing import NOW

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn"


def corpus_expressions() -> list[tuple[str, str, str]]:
    """(file, where, expression) for every `=...` in the corpus, in document order."""
    found = []
    for path in sorted(CORPUS.rglob("*.bpmn")):
        for element in etree.parse(str(path)).iter():
            if not isinstance(element.tag, str):
                continue  # comments, processing instructions
            element_name = etree.QName(element).localname
            for attribute, value in element.attrib.items():
                if value.lstrip().startswith("="):
                    where = f"{element_name}@{etree.QName(attribute).localname}"
                    found.append((path.name, where, value.lstrip()[1:]))
            if element.text and element.text.strip().startswith("="):
                found.append((path.name, element_name, element.text.strip()[1:]))
    return found


EXPRESSIONS = corpus_expressions() if CORPUS.is_dir() else []
DISTINCT = sorted({(where, expression) for _, where, expression in EXPRESSIONS})

# Values a running instance of these processes would plausibly hold.
VARIABLES = {
    "input": "in",
    "should_throw": False,
    "output": "out",
    "Current Vacation Status": {"name": "Ann", "email": "ann@example.com"},
    "From": "2024-04-01",
    "To": "2024-04-05",
    "Reason": "team event",
    "source": "mail",
    "Vacation Approval Status": {"Approval": True, "Reason": "approved"},
    "Employee Badge Number": 1234,
    "body": {"value": [{"employeeId": 1234, "name": "Ann"}]},
    "riskLevels": ["green", "yellow"],
    "approved": True,
    "applicant": {"name": "Ann", "email": "ann@example.com", "age": 31},
    "applicationNumber": "A-17",
    "product": "loan",
    "corporation": "ACME",
    "result": {"riskLevel": ["yellow"], "risk": ["income"]},
    "risks": ["income", "debt"],
    "documents": [{"id": "d1"}, {"id": "d2"}],
    "fraud": False,
    "documentReferenceId": "doc-1",
    "fraudSuspectedId": "case-9",
}


def test_the_corpus_holds_the_expressions_the_processes_need():
    if not CORPUS.is_dir():
        pytest.skip(f"no BPMN corpus at {CORPUS}")
    sources = {expression.strip() for _, _, expression in EXPRESSIONS}
    assert len(EXPRESSIONS) >= 50, len(EXPRESSIONS)
    for needed in (
        'some risk in riskLevels satisfies risk = "red"',
        "not(approved)",
        'string join(risks, ", ")',
        "string(now())",
        "body.value[1]",
        "documentReferenceId",
        "Current Vacation Status.email",
    ):
        assert needed in sources, needed


@pytest.mark.parametrize(
    "where, expression", DISTINCT, ids=[f"{w}:{' '.join(e.split())[:50]}" for w, e in DISTINCT]
)
def test_corpus_expression_parses_and_evaluates(where, expression):
    compiled = parse(expression)
    for variables in (VARIABLES, {}):
        result = compiled.evaluate(variables, now=NOW)
        json.dumps(to_json_value(result))
        if where == "conditionExpression" and variables:
            assert type(result) is bool, (expression, result)


def test_corpus_expressions_compute_what_their_processes_expect():
    html = evaluate(
        '"<html><p>Hi  " + Current Vacation Status.name + ",</p> <p>Your vacation request from "'
        ' + From + " to " + To + " was declined for the following reason: " + Reason + "</p>"',
        VARIABLES,
    )
    assert html == (
        "<html><p>Hi  Ann,</p> <p>Your vacation request from 2024-04-01 to 2024-04-05 was "
        "declined for the following reason: team event</p>"
    )
    assert evaluate(
        '"https://odata.triso.tech/simon/simon/vacation" + "?$filter=employeeId eq "'
        " + string(Employee Badge Number)",
        VARIABLES,
    ).endswith("?$filter=employeeId eq 1234")
    assert evaluate('{\n    "name": applicant.name,\n    "product": product\n}', VARIABLES) == {
        "name": "Ann",
        "product": "loan",
    }
    assert evaluate('if result != null then result.riskLevel else ["green"]', {}) == ["green"]
    assert evaluate("string(now())", {}, now=NOW) == "2024-03-15T10:30:00Z"
    assert evaluate("01", {}) == 1  # a correlation key written as a number
