"""Conversion functions: https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-conversion/

The temporal constructors on that page (`date`, `time`, `date and time`, `duration`,
`years and months duration`) are in temporals.py.
"""

import json
import re
from decimal import Decimal

from ..strings import feel_string, number_text
from ..values import from_json_value, number_result, to_json_value
from .registry import ANY_VALUE, LIST, STRING, Builtins, overload

_NUMBER_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
GROUPING_SEPARATORS = (" ", ",", ".", "'")
DECIMAL_SEPARATORS = (".", ",")


def _number(text: str, grouping=None, decimal_separator=None):
    if grouping is not None:
        if grouping not in GROUPING_SEPARATORS:
            return None
        text = text.replace(grouping, "")
    if decimal_separator is not None:
        if decimal_separator not in DECIMAL_SEPARATORS or decimal_separator == grouping:
            return None
        text = text.replace(decimal_separator, ".")
    if not _NUMBER_TEXT.fullmatch(text):
        return None
    return number_result(Decimal(text))


def _context(entries: list):
    built = {}
    for entry in entries:
        if type(entry) is not dict or type(entry.get("key")) is not str or "value" not in entry:
            return None
        built[entry["key"]] = entry["value"]
    return built


def _from_json(text: str):
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ValueError):
        return None
    return from_json_value(parsed)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _json_text(value) -> str:
    """JSON text of a FEEL value, numbers written exactly (not through float)."""
    kind = type(value)
    if kind is int or kind is Decimal:
        return number_text(value)
    if kind is list:
        return "[" + ",".join(_json_text(item) for item in value) + "]"
    if kind is dict:
        return (
            "{"
            + ",".join(
                json.dumps(key, ensure_ascii=False) + ":" + _json_text(item)
                for key, item in value.items()
            )
            + "}"
        )
    return json.dumps(to_json_value(value), ensure_ascii=False)


FUNCTIONS: Builtins = {
    "string": (overload(feel_string, ("from", ANY_VALUE)),),
    "number": (
        overload(_number, ("from", STRING)),
        overload(_number, ("from", STRING), ("grouping separator", ANY_VALUE)),
        overload(
            _number,
            ("from", STRING),
            ("grouping separator", ANY_VALUE),
            ("decimal separator", ANY_VALUE),
        ),
    ),
    "context": (overload(_context, ("entries", LIST)),),
    "from json": (overload(_from_json, ("value", STRING)),),
    "to json": (overload(_json_text, ("value", ANY_VALUE)),),
}
