"""Mutated conformance files (attributes dropped, elements removed, duplicated or moved,
references swapped, text replaced): the parser returns models or raises BpmnValidationError,
never anything else. Every case is (file, seed, mutations); a failure prints them, and
`mutate(path, seed, count)` rebuilds the exact input."""

import random
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from raybee.partitions.engine.bpmn import (
    BpmnValidationError,
    ProcessDefinitionModel,
    parse_bpmn,
)

# `../shared/bpmn` from the project root (as in conftest.py; needed here at collection time).
SHARED_BPMN = Path(__file__).resolve().parents[2].parent / "shared" / "bpmn"

REFERENCE_ATTRIBUTES = (
    "sourceRef",
    "targetRef",
    "attachedToRef",
    "default",
    "messageRef",
    "errorRef",
    "processRef",
    "calledElement",
)
JUNK_TEXTS = (
    "",
    "=",
    "= (",
    '="a" +',
    "R5/PT10S",
    "R/",
    "PT",
    "P1D",
    "=x.y[1]",
    "2026-13-01T00:00Z",
)
# Files with an executable process: mutations of the others stop at "not executable".
FILES = sorted(p for p in SHARED_BPMN.rglob("*.bpmn") if b'isExecutable="true"' in p.read_bytes())
assert len(FILES) >= 6, f"the BPMN conformance corpus is missing at {SHARED_BPMN}"


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str) and e is not root]


def mutate(path: Path, seed: int, count: int) -> bytes:
    """`count` random mutations of the file at `path`, all drawn from `seed`."""
    rng = random.Random(seed)
    root = etree.fromstring(path.read_bytes())
    ids = [e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")]
    for _ in range(count):
        elements = _elements(root)
        if not elements:
            break
        element = rng.choice(elements)
        kind = rng.randrange(6)
        if kind == 0 and element.attrib:
            del element.attrib[rng.choice(sorted(element.attrib))]
        elif kind == 1 and element.getparent() is not None:
            element.getparent().remove(element)
        elif kind == 2:
            with_refs = [e for e in elements if any(a in e.attrib for a in REFERENCE_ATTRIBUTES)]
            if with_refs:
                target = rng.choice(with_refs)
                attribute = rng.choice([a for a in REFERENCE_ATTRIBUTES if a in target.attrib])
                target.set(attribute, rng.choice([*ids, "no-such-id"]))
        elif kind == 3:
            element.text = rng.choice(JUNK_TEXTS)
        elif kind == 4 and element.getparent() is not None:
            element.getparent().append(etree.fromstring(etree.tostring(element)))
        elif kind == 5:
            new_parent = rng.choice(elements)
            if element not in new_parent.iterancestors() and element is not new_parent:
                new_parent.append(element)
    return etree.tostring(root)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    index=st.integers(0, len(FILES) - 1),
    seed=st.integers(0, 2**32 - 1),
    count=st.integers(1, 5),
)
def test_mutated_files_are_parsed_or_refused_never_crash(index, seed, count):
    path = FILES[index]
    xml = mutate(path, seed, count)
    try:
        models = parse_bpmn(xml, path.name)
    except BpmnValidationError as error:
        assert error.problems and all(p.reason for p in error.problems)
        return
    assert all(isinstance(model, ProcessDefinitionModel) for model in models)
