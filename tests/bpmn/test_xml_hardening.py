"""Hostile and malformed resources are refused, quickly, with a reason, and read nothing from
outside the resource."""

import itertools
import time

import pytest

from raybee.partitions.engine.bpmn import (
    RESOURCE_BYTES_MAX,
    BpmnParseError,
    BpmnValidationError,
    parse_bpmn,
)

MINIMAL = (
    '<bpmn:startEvent id="start"/>'
    '<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="end"/>'
    '<bpmn:endEvent id="end"/>'
)


def parse_error(xml: bytes) -> BpmnParseError:
    with pytest.raises(BpmnParseError) as caught:
        parse_bpmn(xml, "hostile.bpmn")
    return caught.value


def test_an_external_entity_naming_a_local_file_is_refused_and_its_content_appears_nowhere(
    tmp_path,
):
    secret = "raybee-secret-4f1c9a"
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(secret)
    uri = secret_file.as_uri()
    # UTF-16 hides the declaration from the byte scan, so the hardened parser meets it.
    for where, encoding in itertools.product(("element", "attribute"), ("utf-8", "utf-16")):
        body = "&xxe;" if where == "element" else ""
        name = ' name="&xxe;"' if where == "attribute" else ""
        xml = (
            f'<?xml version="1.0" encoding="{encoding}"?>\n'
            f'<!DOCTYPE definitions [<!ENTITY xxe SYSTEM "{uri}">]>\n'
            f'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">'
            f'<process id="p" isExecutable="true"{name}>'
            f'<startEvent id="s"><documentation>{body}</documentation></startEvent>'
            f"</process></definitions>"
        ).encode(encoding)
        error = parse_error(xml)
        assert secret not in str(error)
        assert all(secret not in problem.reason for problem in error.problems)
        assert "DOCTYPE" in str(error) or "external entity" in str(error)
        if encoding == "utf-8":
            assert error.problems[0].line == 2  # refused at the declaration


def test_a_doctype_is_refused_even_when_the_document_is_utf16():
    xml = (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<d>&x;</d>'
    ).encode("utf-16")
    error = parse_error(xml)
    assert "DOCTYPE" in str(error)
    assert "root:" not in str(error)  # /etc/passwd's first line, had it been read


def test_an_entity_expansion_bomb_is_refused_at_once():
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    xml = f'<?xml version="1.0"?>\n<!DOCTYPE bomb [{entities}]>\n<bomb>&lol9;</bomb>'.encode()
    started = time.perf_counter()
    error = parse_error(xml)
    assert time.perf_counter() - started < 1.0
    assert "DOCTYPE" in str(error)


def test_a_100_mb_file_is_refused_by_size_before_parsing(bpmn):
    padding = b" " * (100 * 1024 * 1024)
    xml = bpmn.single(MINIMAL)[:-20] + padding + bpmn.single(MINIMAL)[-20:]
    started = time.perf_counter()
    error = parse_error(xml)
    assert time.perf_counter() - started < 1.0
    assert f"more than the {RESOURCE_BYTES_MAX} bytes allowed" in str(error)
    assert str(len(xml)) in str(error)


def test_the_size_limit_is_inclusive(bpmn):
    document = bpmn.single(MINIMAL)
    insert_at = document.index(b"</bpmn:definitions>")

    def padded(total: int) -> bytes:
        filler = b"\n" * (total - len(document))
        return document[:insert_at] + filler + document[insert_at:]

    assert [m.bpmn_process_id for m in parse_bpmn(padded(RESOURCE_BYTES_MAX), "big.bpmn")] == ["p"]
    assert "bytes allowed" in str(parse_error(padded(RESOURCE_BYTES_MAX + 1)))


@pytest.mark.parametrize(
    ("xml", "line", "reason"),
    [
        (b'<?xml version="1.0"?>\n<definitions>\n<process id="p">\n</definitions>', 4, "mismatch"),
        (b"<definitions", 1, "not well-formed"),
        (b'<?xml version="1.0"?>\n<a/>\n<b/>', 3, "Extra content"),
        (b"\xff\xfe\x00garbage", None, "not well-formed"),
        (b"just text", 1, "not well-formed"),
    ],
)
def test_malformed_xml_is_refused_with_the_line_and_the_parser_reason(xml, line, reason):
    error = parse_error(xml)
    assert len(error.problems) == 1
    if line is not None:
        assert error.problems[0].line == line
    assert reason in error.problems[0].reason
    assert "hostile.bpmn" in str(error)


def test_an_empty_resource_is_refused():
    assert "empty" in str(parse_error(b"  \n "))


def test_a_document_that_is_not_bpmn_is_refused_naming_its_root():
    with pytest.raises(BpmnValidationError, match=r"root element is <html>"):
        parse_bpmn(b"<html><body/></html>", "page.bpmn")


def test_deep_nesting_is_refused_by_the_parser_limit_not_by_python_recursion(bpmn):
    body = "<bpmn:documentation>" * 400 + "</bpmn:documentation>" * 400
    error = parse_error(bpmn.single(body))
    assert "depth" in str(error).lower()


def test_a_resource_must_be_bytes():
    with pytest.raises(TypeError):
        parse_bpmn("<definitions/>", "text.bpmn")  # type: ignore[arg-type]
