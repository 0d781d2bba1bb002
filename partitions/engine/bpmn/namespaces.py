"""XML namespaces the parser reads, and helpers to name elements in them."""

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def bpmn(local_name: str) -> str:
    """The Clark-notation tag of a BPMN element: `{namespace}localName`."""
    return f"{{{BPMN_NS}}}{local_name}"


def zeebe(local_name: str) -> str:
    return f"{{{ZEEBE_NS}}}{local_name}"


def split_tag(element: etree._Element) -> tuple[str | None, str]:
    """(namespace, local name) of an element."""
    qname = etree.QName(element)
    return qname.namespace, qname.localname


def line_of(element: etree._Element) -> int | None:
    return element.sourceline
