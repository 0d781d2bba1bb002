"""FEEL values as Python values, and the crossing between them and JSON variables.

| FEEL type                  | Python                                                  |
|----------------------------|---------------------------------------------------------|
| null                       | None                                                    |
| number                     | int, or decimal.Decimal (never float, never bool)       |
| string, boolean            | str, bool                                               |
| date, time, date and time  | datetime.date, datetime.time, datetime.datetime         |
| days and time duration     | datetime.timedelta                                      |
| years and months duration  | YearsMonthsDuration                                     |
| list, context              | list, dict (insertion-ordered)                          |
| range, function            | Range, FeelFunction                                     |

Numbers are decimal (`0.1 + 0.2 = 0.3`): every operation runs in DECIMAL_CONTEXT (34 digits,
as DMN's decimal128). JSON variables arrive with Python floats; `from_json_value` turns each into
`Decimal(repr(f))`, the decimal the JSON text had, so variables obey decimal arithmetic too.
"""

import dataclasses
import datetime as dt
import decimal
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .errors import EvaluationFailure

# DMN's numbers are IEEE 754 decimal128: 34 significant digits. Overflow, division by zero and
# invalid operations trap (raise), and the operators turn the trap into null.
DECIMAL_DIGITS = 34
DECIMAL_CONTEXT = decimal.Context(
    prec=DECIMAL_DIGITS,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=6144,
    Emin=-6143,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)


@dataclasses.dataclass(frozen=True, order=True, slots=True)
class YearsMonthsDuration:
    """A years-and-months duration (`P1Y6M`): a whole number of months, possibly negative."""

    months: int

    @property
    def years_part(self) -> int:
        return int(self.months / 12)  # truncates toward zero: -P1Y6M has years -1, months -6

    @property
    def months_part(self) -> int:
        return self.months - 12 * self.years_part

    def __str__(self) -> str:
        sign = "-" if self.months < 0 else ""
        years, months = divmod(abs(self.months), 12)
        if years and months:
            return f"{sign}P{years}Y{months}M"
        if months:
            return f"{sign}P{months}M"
        return f"{sign}P{years}Y"  # zero is P0Y, as FEEL-Scala writes it


@dataclasses.dataclass(frozen=True, slots=True)
class Range:
    """An interval such as `[1..10)`; `start`/`end` are FEEL values of one ordered type."""

    start: Any
    end: Any
    start_included: bool
    end_included: bool

    def __str__(self) -> str:
        from .strings import feel_string  # local: strings imports this module

        opening = "[" if self.start_included else "("
        closing = "]" if self.end_included else ")"
        return f"{opening}{feel_string(self.start)}..{feel_string(self.end)}{closing}"


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class FeelFunction:
    """A function defined in an expression (`function(a, b) a + b`), closed over the scope
    where it was defined. `invoke` evaluates its body with the arguments bound."""

    parameters: tuple[str, ...]
    body: Callable[[Any, dict], Any]
    env: Any
    local: dict

    def invoke(self, arguments: list) -> Any:
        if len(arguments) != len(self.parameters):
            raise EvaluationFailure(
                f"the function ({', '.join(self.parameters)}) takes {len(self.parameters)} "
                f"argument(s), but was invoked with {len(arguments)}"
            )
        return self.body(
            self.env, {**self.local, **dict(zip(self.parameters, arguments, strict=True))}
        )

    def invoke_named(self, arguments: dict) -> Any:
        unknown = set(arguments) - set(self.parameters)
        if unknown:
            raise EvaluationFailure(
                f"the function ({', '.join(self.parameters)}) has no parameter "
                f"{', '.join(sorted(unknown))}"
            )
        bound = {name: arguments.get(name) for name in self.parameters}
        return self.body(self.env, {**self.local, **bound})


# Kinds: the FEEL type of a value, found by exact Python type (bool is not a number here, and a
# datetime is not a date).
NULL = "null"
NUMBER = "number"
STRING = "string"
BOOLEAN = "boolean"
DATE = "date"
TIME = "time"
DATE_TIME = "date and time"
DAYS_TIME_DURATION = "days and time duration"
YEARS_MONTHS_DURATION = "years and months duration"
LIST = "list"
CONTEXT = "context"
FUNCTION = "function"
RANGE = "range"

KIND_BY_TYPE: dict[type, str] = {
    type(None): NULL,
    int: NUMBER,
    Decimal: NUMBER,
    str: STRING,
    bool: BOOLEAN,
    dt.date: DATE,
    dt.time: TIME,
    dt.datetime: DATE_TIME,
    dt.timedelta: DAYS_TIME_DURATION,
    YearsMonthsDuration: YEARS_MONTHS_DURATION,
    list: LIST,
    dict: CONTEXT,
    FeelFunction: FUNCTION,
    Range: RANGE,
}


def kind(value: Any) -> str | None:
    return KIND_BY_TYPE.get(type(value))


def is_number(value: Any) -> bool:
    kind_ = type(value)
    return kind_ is int or kind_ is Decimal


def number_result(value: Decimal) -> int | Decimal:
    """A Decimal from an operation, as an int when it is a whole number that an int holds
    exactly (so `6 / 2` is 3 and stays 3 in JSON), else the Decimal."""
    if value == value.to_integral_value() and value.adjusted() < DECIMAL_DIGITS:
        return int(value)
    return value


# Values whose Python type is already a FEEL value: returned as they are by from_json_value.
_PLAIN_TYPES = frozenset(
    {
        type(None),
        int,
        str,
        bool,
        Decimal,
        dt.date,
        dt.time,
        dt.datetime,
        dt.timedelta,
        YearsMonthsDuration,
        Range,
        FeelFunction,
    }
)
FLOAT_INTEGERS_EXACT = 2**53  # below this, a whole float is exactly its int
MAX_VARIABLE_DEPTH = 200  # nesting of lists and objects in a variable; deeper is refused


def from_json_value(value: Any, depth: int = 0) -> Any:
    """A variable's value (JSON types, and FEEL values the engine stored as they are) as a
    FEEL value: floats become decimals (`Decimal(repr(f))`; NaN and infinities become null),
    tuples become lists, mappings become dicts. Containers are copied, so FEEL code never
    shares a mutable object with the caller."""
    kind_ = type(value)
    if kind_ in _PLAIN_TYPES:
        return value
    if kind_ is float:
        if value.is_integer() and -FLOAT_INTEGERS_EXACT < value < FLOAT_INTEGERS_EXACT:
            return int(value)
        return number_result(Decimal(repr(value))) if math.isfinite(value) else None
    if depth > MAX_VARIABLE_DEPTH:
        raise EvaluationFailure(f"a variable is nested deeper than {MAX_VARIABLE_DEPTH} levels")
    if kind_ is dict or isinstance(value, Mapping):
        return {str(key): from_json_value(item, depth + 1) for key, item in value.items()}
    if kind_ is list or kind_ is tuple:
        return [from_json_value(item, depth + 1) for item in value]
    raise EvaluationFailure(
        f"a variable holds a {kind_.__name__}, which is not a JSON or FEEL value"
    )


def to_json_value(value: Any) -> Any:
    """A FEEL result as a JSON-compatible value, for storing as a process variable: integral
    decimals become ints and others floats; dates, times, date-times and durations become
    ISO-8601 strings (a date-time with a zone id as `2025-11-24T10:00:00+01:00[Europe/Berlin]`,
    as Camunda's `to json` writes it); contexts become dicts, lists stay lists; a range becomes
    its FEEL text (`[1..10]`) and a function null (neither has a JSON form)."""
    from .strings import json_temporal_string  # local: strings imports this module

    kind_ = type(value)
    if value is None or kind_ is bool or kind_ is str or kind_ is int:
        return value
    if kind_ is Decimal:
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if kind_ is float:
        return value if math.isfinite(value) else None
    if kind_ is list or kind_ is tuple:
        return [to_json_value(item) for item in value]
    if kind_ is dict or isinstance(value, Mapping):
        return {str(key): to_json_value(item) for key, item in value.items()}
    if kind_ is Range:
        return str(value)
    if kind_ is FeelFunction:
        return None
    text = json_temporal_string(value)
    if text is None:
        raise TypeError(f"{kind_.__name__} is not a FEEL value: {value!r}")
    return text
