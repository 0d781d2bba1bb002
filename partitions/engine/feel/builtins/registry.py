"""How a built-in function is declared, and how a call is bound to one of its overloads.

A built-in is a name and its overloads; an overload is a parameter list (names, used by named
arguments, and a type check per parameter) and a Python implementation. The compiler binds a
call at compile time (by argument count, or by the set of argument names) so evaluation does
no lookup; a call that matches no overload is a FeelSyntaxError raised by `parse`.

At run time an argument that fails its parameter's check makes the call null (FEEL: "a function
that cannot be invoked with the given arguments returns null"). An implementation may also
return None, or raise one of INVOCATION_FAILURES (a decimal trap, a bad regular expression, an
out-of-range date), which the call turns into null; anything else is a bug and surfaces as a
FeelEvaluationError.
"""

import dataclasses
import datetime as dt
import decimal
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ..values import FeelFunction, YearsMonthsDuration

INVOCATION_FAILURES = (decimal.DecimalException, OverflowError, ValueError, re.error)

Check = Callable[[Any], bool] | None

# Parameter checks, named like FEEL types because the tables read as signatures.


def ANY_VALUE(value: Any) -> bool:
    return True


def NUMBER(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is Decimal


def STRING(value: Any) -> bool:
    return type(value) is str


def BOOLEAN(value: Any) -> bool:
    return type(value) is bool


def LIST(value: Any) -> bool:
    return type(value) is list


def CONTEXT(value: Any) -> bool:
    return type(value) is dict


def DATE(value: Any) -> bool:
    return type(value) is dt.date


def DATE_TIME(value: Any) -> bool:
    return type(value) is dt.datetime


def DATE_OR_DATE_TIME(value: Any) -> bool:
    kind = type(value)
    return kind is dt.date or kind is dt.datetime


def TIME(value: Any) -> bool:
    return type(value) is dt.time


def DAYS_TIME_DURATION(value: Any) -> bool:
    return type(value) is dt.timedelta


def DURATION(value: Any) -> bool:
    kind = type(value)
    return kind is dt.timedelta or kind is YearsMonthsDuration


def FUNCTION(value: Any) -> bool:
    return type(value) is FeelFunction


def NOT_NULL(value: Any) -> bool:
    return value is not None


@dataclasses.dataclass(frozen=True)
class Overload:
    """One signature of a built-in. With `variadic`, the last parameter takes every remaining
    positional argument as one list (`append(list, items...)`). With `needs_env`, the
    implementation gets the evaluation's environment first (`now()` reads its timestamp)."""

    parameters: tuple[str, ...]
    checks: tuple[Check, ...]
    implementation: Callable[..., Any]
    variadic: bool = False
    needs_env: bool = False

    def __post_init__(self):
        assert len(self.parameters) == len(self.checks), self
        assert not self.variadic or self.parameters, self

    def signature(self) -> str:
        names = list(self.parameters)
        if self.variadic:
            names[-1] += "..."
        return "(" + ", ".join(names) + ")"


def overload(
    implementation: Callable[..., Any],
    *parameters: tuple[str, Check],
    variadic: bool = False,
    needs_env: bool = False,
) -> Overload:
    return Overload(
        tuple(name for name, _ in parameters),
        tuple(None if check is ANY_VALUE else check for _, check in parameters),
        implementation,
        variadic,
        needs_env,
    )


Builtins = dict[str, tuple[Overload, ...]]


def merge(*families: Builtins) -> Builtins:
    """One table from the families' tables; a name declared by two families is a bug."""
    merged: Builtins = {}
    for family in families:
        for name, overloads in family.items():
            assert name not in merged, f"built-in {name!r} is declared twice"
            assert name == " ".join(name.split()), f"built-in {name!r}: one space between words"
            merged[name] = overloads
    return merged


def bind_positional(overloads: tuple[Overload, ...], count: int) -> Overload | None:
    for candidate in overloads:
        if not candidate.variadic and len(candidate.parameters) == count:
            return candidate
    for candidate in overloads:
        if candidate.variadic and count >= len(candidate.parameters):
            return candidate
    return None


def bind_named(overloads: tuple[Overload, ...], names: list[str]) -> Overload | None:
    wanted = set(names)
    for candidate in overloads:
        if set(candidate.parameters) == wanted:
            return candidate
    return None


def as_int(value: int | Decimal) -> int | None:
    """A whole number as an int (positions, lengths, scales); None for a fraction."""
    if type(value) is int:
        return value
    if value != value.to_integral_value():
        return None
    return int(value)
