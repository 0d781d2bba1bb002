"""String functions: https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-string/

Regular expressions (`matches`, `replace`, `split`, `extract`) run on Python's `re`, which
agrees with the XPath/Java dialect FEEL names for ordinary patterns; the replacement's `$1`
group references are translated. `uuid()` is left out: it is not deterministic, and the
engine must give the same result when a command is processed again.
"""

import base64
import re

from .registry import NUMBER, STRING, Builtins, as_int, overload

_FLAGS = {"s": re.DOTALL, "m": re.MULTILINE, "i": re.IGNORECASE, "x": re.VERBOSE}


def _flags(flags: str) -> int | None:
    combined = 0
    for letter in flags:
        if letter not in _FLAGS:
            return None
        combined |= _FLAGS[letter]
    return combined


def _substring(string: str, start, length=None) -> str | None:
    start = as_int(start)
    if start is None or start == 0 or abs(start) > len(string) + (1 if start > 0 else 0):
        return None
    first = start - 1 if start > 0 else len(string) + start
    if length is None:
        return string[first:]
    length = as_int(length)
    if length is None or length < 0:
        return None
    return string[first : first + length]


def _substring_before(string: str, match: str) -> str:
    position = string.find(match)
    return "" if position < 0 else string[:position]


def _substring_after(string: str, match: str) -> str:
    position = string.find(match)
    return "" if position < 0 else string[position + len(match) :]


def _matches(string: str, pattern: str, flags: str = "") -> bool | None:
    mode = _flags(flags)
    if mode is None:
        return None
    return re.search(pattern, string, mode) is not None


def _replacement(template: str):
    """`$1` / `${1}`-style group references (Java) as a function of a match; `\\$` is a
    literal dollar."""
    parts: list[str | int] = []
    position = 0
    while position < len(template):
        char = template[position]
        if char == "\\" and position + 1 < len(template):
            parts.append(template[position + 1])
            position += 2
        elif char == "$" and position + 1 < len(template) and template[position + 1].isdigit():
            end = position + 1
            while end < len(template) and template[end].isdigit():
                end += 1
            parts.append(int(template[position + 1 : end]))
            position = end
        else:
            parts.append(char)
            position += 1

    def expand(match: re.Match) -> str:
        return "".join(
            part if isinstance(part, str) else (match.group(part) or "") for part in parts
        )

    return expand


def _replace(string: str, pattern: str, replacement: str, flags: str = "") -> str | None:
    mode = _flags(flags)
    if mode is None:
        return None
    return re.sub(pattern, _replacement(replacement), string, flags=mode)


def _split(string: str, delimiter: str) -> list[str]:
    return re.split(delimiter, string)


def _extract(string: str, pattern: str) -> list[str]:
    return [match.group(0) for match in re.finditer(pattern, string)]


def _to_base64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


FUNCTIONS: Builtins = {
    "substring": (
        overload(_substring, ("string", STRING), ("start position", NUMBER)),
        overload(_substring, ("string", STRING), ("start position", NUMBER), ("length", NUMBER)),
    ),
    "string length": (overload(len, ("string", STRING)),),
    "upper case": (overload(str.upper, ("string", STRING)),),
    "lower case": (overload(str.lower, ("string", STRING)),),
    "substring before": (overload(_substring_before, ("string", STRING), ("match", STRING)),),
    "substring after": (overload(_substring_after, ("string", STRING), ("match", STRING)),),
    "contains": (overload(lambda s, m: m in s, ("string", STRING), ("match", STRING)),),
    "starts with": (overload(str.startswith, ("string", STRING), ("match", STRING)),),
    "ends with": (overload(str.endswith, ("string", STRING), ("match", STRING)),),
    "matches": (
        overload(_matches, ("input", STRING), ("pattern", STRING)),
        overload(_matches, ("input", STRING), ("pattern", STRING), ("flags", STRING)),
    ),
    "replace": (
        overload(_replace, ("input", STRING), ("pattern", STRING), ("replacement", STRING)),
        overload(
            _replace,
            ("input", STRING),
            ("pattern", STRING),
            ("replacement", STRING),
            ("flags", STRING),
        ),
    ),
    "split": (overload(_split, ("string", STRING), ("delimiter", STRING)),),
    "extract": (overload(_extract, ("string", STRING), ("pattern", STRING)),),
    "trim": (overload(str.strip, ("string", STRING)),),
    "to base64": (overload(_to_base64, ("value", STRING)),),
    "is blank": (overload(lambda s: not s.strip(), ("string", STRING)),),
}
