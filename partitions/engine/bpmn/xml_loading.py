"""Loading a deployment resource as XML, safely: a deployed file comes from a client, so it is
treated as hostile.

- The size is checked before anything is parsed (`RESOURCE_BYTES_MAX`).
- No DTD: a document type declaration is refused outright, which takes external entities
  (an entity naming a local file or a URL) and entity-expansion bombs with it. The parser is
  also set never to resolve entities, load a DTD or touch the network, so nothing outside the
  resource is read even before the refusal.
- libxml2's own limits stay on (no `huge_tree`): nesting deeper than 256 elements and single
  text nodes over 10 MB are refused, which also bounds the parser's recursion.
"""

import hashlib

from lxml import etree

from .errors import BpmnParseError, BpmnProblem

# Zeebe's default maximum message size: a resource larger than this could not be deployed
# in one command anyway.
RESOURCE_BYTES_MAX = 4 * 1024 * 1024

_DOCTYPE_MARKER = b"<!DOCTYPE"


def resource_checksum(xml: bytes) -> str:
    """The SHA-256 of the resource bytes, hex: equal for byte-identical resources."""
    return hashlib.sha256(xml).hexdigest()


def _hardened_parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers keep state and are not to be shared across threads.
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def load_xml(xml: bytes, resource_name: str) -> etree._Element:
    """The root element of the resource, or BpmnParseError saying why it cannot be read."""
    if not isinstance(xml, bytes | bytearray | memoryview):
        raise TypeError(f"a resource is bytes, not {type(xml).__name__}")
    xml = bytes(xml)
    if len(xml) > RESOURCE_BYTES_MAX:
        raise BpmnParseError(
            resource_name,
            [
                BpmnProblem(
                    None,
                    None,
                    f"the resource is {len(xml)} bytes, more than the {RESOURCE_BYTES_MAX} "
                    f"bytes allowed",
                )
            ],
        )
    if not xml.strip():
        raise BpmnParseError(resource_name, [BpmnProblem(None, None, "the resource is empty")])
    if _DOCTYPE_MARKER in xml:
        # Refused before parsing: entity declarations never reach the parser.
        line = xml[: xml.index(_DOCTYPE_MARKER)].count(b"\n") + 1
        raise BpmnParseError(resource_name, [_doctype_problem(line)])
    try:
        root = etree.fromstring(xml, _hardened_parser())
    except etree.XMLSyntaxError as error:
        # The message is libxml2's and names the fault and position only: with entities
        # unresolved, no text from outside the resource can be in it.
        reason = f"not well-formed XML: {error.msg}"
        raise BpmnParseError(resource_name, [BpmnProblem(None, error.lineno, reason)]) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        # Reached when the declaration was not ASCII (UTF-16, for example).
        raise BpmnParseError(resource_name, [_doctype_problem(None)])
    for entity in root.iter(etree.Entity):
        raise BpmnParseError(
            resource_name,
            [BpmnProblem(None, entity.sourceline, "entity references are not allowed")],
        )
    return root


def _doctype_problem(line: int | None) -> BpmnProblem:
    return BpmnProblem(
        None,
        line,
        "a document type declaration (DOCTYPE) is not allowed: BPMN needs no DTD, and "
        "entities are refused so that no external file or expansion bomb is ever read",
    )
