"""Calls of built-in functions as closures: argument checks, null on a failed invocation,
variadic parameters, and folding of calls on constants at compile time."""

import datetime as dt
from decimal import Decimal

from .builtins import INVOCATION_FAILURES, Overload
from .closures import Compiled, constant
from .values import YearsMonthsDuration

# Results a folded call may share between evaluations: values nobody can change.
_IMMUTABLE_TYPES = frozenset(
    {type(None), bool, int, Decimal, str, dt.date, dt.time, dt.datetime, dt.timedelta,
     YearsMonthsDuration}
)  # fmt: skip


def folded(invoke: Compiled) -> Compiled:
    """A built-in call on constants (`duration("PT5M")`), computed once at compile time when
    that succeeds and gives an immutable value; otherwise left to run at evaluation."""
    try:
        value = invoke(None, {})
    except Exception:  # e.g. assert(): it fails again, with its message, when evaluated
        return invoke
    return constant(value) if type(value) in _IMMUTABLE_TYPES else invoke


def as_list(argument: Compiled) -> Compiled:
    """A named argument for a variadic parameter: a list as it is, one value as a list."""

    def one_or_list(env, local):
        value = argument(env, local)
        return value if type(value) is list else [value]

    return one_or_list


def collect(arguments: list[Compiled]) -> Compiled:
    """Positional arguments for a variadic parameter, as one list."""

    def rest(env, local):
        return [argument(env, local) for argument in arguments]

    return rest


def invoke(bound: Overload, arguments: list[Compiled]) -> Compiled:
    """The call of one overload: null if an argument fails its check or the implementation
    raises one of INVOCATION_FAILURES; any other exception is a bug and propagates."""
    implementation, checks, needs_env = bound.implementation, bound.checks, bound.needs_env
    if len(arguments) == 1 and not needs_env:
        (argument,) = arguments
        (check,) = checks

        def invoke_one(env, local):
            value = argument(env, local)
            if check is not None and not check(value):
                return None
            try:
                return implementation(value)
            except INVOCATION_FAILURES:
                return None

        return invoke_one

    def invoke(env, local):
        values = [argument(env, local) for argument in arguments]
        for value, check in zip(values, checks, strict=True):
            if check is not None and not check(value):
                return None
        try:
            if needs_env:
                return implementation(env, *values)
            return implementation(*values)
        except INVOCATION_FAILURES:
            return None

    return invoke
