"""The types `instance of` knows, by every name Camunda's documentation and the DMN
specification give them (https://docs.camunda.io/docs/components/modeler/feel/language-guide/feel-boolean-expressions/#instance-of)."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .values import FeelFunction, Range, YearsMonthsDuration

TypeTest = Callable[[Any], bool]


def _of_type(*types: type) -> TypeTest:
    return lambda value: type(value) in types


TYPE_TESTS: dict[str, TypeTest] = {
    "Any": lambda value: value is not None,
    "Null": lambda value: value is None,
    "number": _of_type(int, Decimal),
    "string": _of_type(str),
    "boolean": _of_type(bool),
    "date": _of_type(dt.date),
    "time": _of_type(dt.time),
    "date and time": _of_type(dt.datetime),
    "date time": _of_type(dt.datetime),
    "dateTime": _of_type(dt.datetime),
    "days and time duration": _of_type(dt.timedelta),
    "day time duration": _of_type(dt.timedelta),
    "dayTimeDuration": _of_type(dt.timedelta),
    "years and months duration": _of_type(YearsMonthsDuration),
    "year month duration": _of_type(YearsMonthsDuration),
    "yearMonthDuration": _of_type(YearsMonthsDuration),
    "list": _of_type(list),
    "context": _of_type(dict),
    "function": _of_type(FeelFunction),
    "range": _of_type(Range),
}

# Types that take one type argument: `list<number>` holds only numbers.
GENERIC_TESTS: dict[str, Callable[[TypeTest], TypeTest]] = {
    "list": lambda item_test: lambda value: type(value) is list and all(map(item_test, value)),
}
