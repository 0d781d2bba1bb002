"""The text of FEEL values: what `string(x)` returns, and the ISO form `to_json_value` stores."""

import datetime as dt
from decimal import Decimal
from typing import Any

from . import temporal
from .values import FeelFunction, Range, YearsMonthsDuration


def number_text(value: int | Decimal) -> str:
    """`1.1`, `100`, `0.000001`: plain notation, no exponent, no trailing zeros."""
    if type(value) is int:
        return str(value)
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return str(int(normalized))
    return format(normalized, "f")


def feel_string(value: Any) -> str | None:
    """The text of a value as FEEL's `string()` gives it; None for null."""
    kind = type(value)
    if value is None:
        return None
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is Decimal:
        return number_text(value)
    if kind is list:
        return "[" + ", ".join(_nested_text(item) for item in value) + "]"
    if kind is dict:
        return "{" + ", ".join(f"{key}:{_nested_text(item)}" for key, item in value.items()) + "}"
    if kind is Range:
        return str(value)
    if kind is FeelFunction:
        return f"function({', '.join(value.parameters)})"
    text = _temporal_text(value)
    if text is None:
        raise TypeError(f"{kind.__name__} is not a FEEL value: {value!r}")
    return text


def _nested_text(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return feel_string(value)


def _temporal_text(value: Any) -> str | None:
    kind = type(value)
    if kind is dt.date:
        return temporal.date_text(value)
    if kind is dt.datetime:
        return temporal.date_time_text(value)
    if kind is dt.time:
        return temporal.time_text(value)
    if kind is dt.timedelta:
        return temporal.days_time_text(value)
    if kind is YearsMonthsDuration:
        return str(value)
    return None


def json_temporal_string(value: Any) -> str | None:
    """The ISO-8601 text stored for a temporal value; None if `value` is not temporal."""
    if type(value) is dt.datetime:
        return temporal.json_date_time_text(value)
    return _temporal_text(value)


MAX_CODE_POINT = 0x10FFFF


def unescape(text: str) -> str:
    """A FEEL string literal's value (`text` is without its quotes): `\\"`, `\\\\`, `\\n`,
    `\\r`, `\\t`, `\\'`, `\\uXXXX` and `\\UXXXXXX` are escapes; any other backslash stays, so
    regular expressions such as `"\\d{3}"` need no doubling."""
    if "\\" not in text:
        return text
    out: list[str] = []
    position = 0
    simple = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
    while position < len(text):
        char = text[position]
        if char != "\\" or position + 1 == len(text):
            out.append(char)
            position += 1
            continue
        code = text[position + 1]
        if code in simple:
            out.append(simple[code])
            position += 2
            continue
        digits = {"u": 4, "U": 6}.get(code)
        hex_text = text[position + 2 : position + 2 + digits] if digits else ""
        if (
            digits
            and len(hex_text) == digits
            and all(c in "0123456789abcdefABCDEF" for c in hex_text)
            and int(hex_text, 16) <= MAX_CODE_POINT
        ):
            out.append(chr(int(hex_text, 16)))
            position += 2 + digits
            continue
        out.append(char)
        position += 1
    return "".join(out)
