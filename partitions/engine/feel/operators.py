"""FEEL's operators on values: arithmetic, comparison, equality, paths, `in`, `instance of`.

All of them are total: an operation that FEEL does not define for the given types (`1 + "a"`,
`date("2020-01-01") < 5`, a division by zero, a decimal overflow) returns None — FEEL's null —
as the DMN specification and Camunda's FEEL do. Null propagates through arithmetic and
comparisons, except `=`/`!=`, which compare null with anything (`x = null` is the null check).
"""

import datetime as dt
import decimal
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from . import temporal
from .values import (
    DECIMAL_CONTEXT,
    KIND_BY_TYPE,
    Range,
    YearsMonthsDuration,
    number_result,
)

_DATE, _TIME, _DATE_TIME = dt.date, dt.time, dt.datetime
_DTD, _YMD = dt.timedelta, YearsMonthsDuration
_NUMERIC = (int, Decimal)
_ARITHMETIC_FAILURES = (decimal.DecimalException, OverflowError, ValueError)


_ADD: dict[tuple[type, type], Callable[[Any, Any], Any]] = {
    (_DATE, _DTD): operator.add,
    (_DTD, _DATE): operator.add,
    (_DATE, _YMD): lambda a, b: temporal.add_months(a, b.months),
    (_YMD, _DATE): lambda a, b: temporal.add_months(b, a.months),
    (_DATE_TIME, _DTD): temporal.add_to_date_time,
    (_DTD, _DATE_TIME): lambda a, b: temporal.add_to_date_time(b, a),
    (_DATE_TIME, _YMD): lambda a, b: temporal.add_months(a, b.months),
    (_YMD, _DATE_TIME): lambda a, b: temporal.add_months(b, a.months),
    (_TIME, _DTD): temporal.add_to_time,
    (_DTD, _TIME): lambda a, b: temporal.add_to_time(b, a),
    (_DTD, _DTD): operator.add,
    (_YMD, _YMD): lambda a, b: YearsMonthsDuration(a.months + b.months),
}

_SUBTRACT: dict[tuple[type, type], Callable[[Any, Any], Any]] = {
    (_DATE, _DATE): operator.sub,
    (_DATE, _DTD): operator.sub,
    (_DATE, _YMD): lambda a, b: temporal.add_months(a, -b.months),
    (_DATE_TIME, _DATE_TIME): temporal.subtract_date_times,
    (_DATE_TIME, _DTD): lambda a, b: temporal.add_to_date_time(a, -b),
    (_DATE_TIME, _YMD): lambda a, b: temporal.add_months(a, -b.months),
    (_TIME, _TIME): temporal.subtract_times,
    (_TIME, _DTD): lambda a, b: temporal.add_to_time(a, -b),
    (_DTD, _DTD): operator.sub,
    (_YMD, _YMD): lambda a, b: YearsMonthsDuration(a.months - b.months),
}


def _scale_duration(duration: dt.timedelta, factor: int | Decimal) -> dt.timedelta:
    scaled = DECIMAL_CONTEXT.multiply(temporal.microseconds(duration), factor)
    return dt.timedelta(microseconds=int(scaled.to_integral_value()))


def _divide_duration(duration: dt.timedelta, divisor: int | Decimal) -> dt.timedelta | None:
    if not divisor:
        return None
    scaled = DECIMAL_CONTEXT.divide(temporal.microseconds(duration), divisor)
    return dt.timedelta(microseconds=int(scaled.to_integral_value()))


def _ratio(numerator: int, denominator: int) -> int | Decimal | None:
    if not denominator:
        return None
    return number_result(DECIMAL_CONTEXT.divide(numerator, denominator))


def add(left: Any, right: Any) -> Any:
    left_type, right_type = type(left), type(right)
    if left_type is int and right_type is int:
        return left + right
    if left_type is str and right_type is str:
        return left + right
    try:
        if left_type in _NUMERIC and right_type in _NUMERIC:
            return number_result(DECIMAL_CONTEXT.add(left, right))
        handler = _ADD.get((left_type, right_type))
        return None if handler is None else handler(left, right)
    except _ARITHMETIC_FAILURES:
        return None


def subtract(left: Any, right: Any) -> Any:
    left_type, right_type = type(left), type(right)
    if left_type is int and right_type is int:
        return left - right
    try:
        if left_type in _NUMERIC and right_type in _NUMERIC:
            return number_result(DECIMAL_CONTEXT.subtract(left, right))
        handler = _SUBTRACT.get((left_type, right_type))
        return None if handler is None else handler(left, right)
    except _ARITHMETIC_FAILURES:
        return None


def multiply(left: Any, right: Any) -> Any:
    left_type, right_type = type(left), type(right)
    if left_type is int and right_type is int:
        return left * right
    try:
        if left_type in _NUMERIC:
            if right_type in _NUMERIC:
                return number_result(DECIMAL_CONTEXT.multiply(left, right))
            left, right, left_type, right_type = right, left, right_type, left_type
        if right_type in _NUMERIC:
            if left_type is _DTD:
                return _scale_duration(left, right)
            if left_type is _YMD:
                return YearsMonthsDuration(int(DECIMAL_CONTEXT.multiply(left.months, right)))
        return None
    except _ARITHMETIC_FAILURES:
        return None


def divide(left: Any, right: Any) -> Any:
    left_type, right_type = type(left), type(right)
    try:
        if right_type in _NUMERIC:
            if not right:
                return None
            if left_type in _NUMERIC:
                return number_result(DECIMAL_CONTEXT.divide(left, right))
            if left_type is _DTD:
                return _divide_duration(left, right)
            if left_type is _YMD:
                return YearsMonthsDuration(int(DECIMAL_CONTEXT.divide(left.months, right)))
            return None
        if left_type is _DTD and right_type is _DTD:
            return _ratio(temporal.microseconds(left), temporal.microseconds(right))
        if left_type is _YMD and right_type is _YMD:
            return _ratio(left.months, right.months)
        return None
    except _ARITHMETIC_FAILURES:
        return None


def power(left: Any, right: Any) -> Any:
    if type(left) not in _NUMERIC or type(right) not in _NUMERIC:
        return None
    try:
        return number_result(DECIMAL_CONTEXT.power(left, right))
    except _ARITHMETIC_FAILURES:
        return None


def negate(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return -value
    if kind is Decimal:
        return number_result(DECIMAL_CONTEXT.minus(value))
    if kind is _DTD:
        return -value
    if kind is _YMD:
        return YearsMonthsDuration(-value.months)
    return None


# --- equality and order -------------------------------------------------------------------


def equal(left: Any, right: Any) -> bool | None:
    """FEEL `=`: null equals only null; values of different types are not comparable (null);
    lists and contexts compare element by element."""
    if left is None or right is None:
        return left is None and right is None
    left_kind, right_kind = KIND_BY_TYPE.get(type(left)), KIND_BY_TYPE.get(type(right))
    if left_kind != right_kind or left_kind is None:
        return None
    if type(left) is list:
        if len(left) != len(right):
            return False
        return _all_equal(zip(left, right, strict=True))
    if type(left) is dict:
        if left.keys() != right.keys():
            return False
        return _all_equal((item, right[key]) for key, item in left.items())
    return left == right


def _all_equal(pairs) -> bool | None:
    undecided = False
    for left, right in pairs:
        same = equal(left, right)
        if same is False:
            return False
        if same is None:
            undecided = True
    return None if undecided else True


def not_equal(left: Any, right: Any) -> bool | None:
    same = equal(left, right)
    return None if same is None else not same


_ORDERED_TYPES = frozenset({int, Decimal, str, _DATE, _TIME, _DATE_TIME, _DTD, _YMD})


def _ordering(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool | None]:
    def ordered(left: Any, right: Any) -> bool | None:
        left_type, right_type = type(left), type(right)
        if left_type is not right_type and not (left_type in _NUMERIC and right_type in _NUMERIC):
            return None
        if left_type not in _ORDERED_TYPES:
            return None
        try:
            return compare(left, right)
        except TypeError:  # a date-time with a zone against one without
            return None

    return ordered


less = _ordering(operator.lt)
less_or_equal = _ordering(operator.le)
greater = _ordering(operator.gt)
greater_or_equal = _ordering(operator.ge)

# The Python operator that agrees with FEEL's when both sides have the same ordered type.
PYTHON_COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

COMPARATORS: dict[str, Callable[[Any, Any], bool | None]] = {
    "=": equal,
    "!=": not_equal,
    "<": less,
    "<=": less_or_equal,
    ">": greater,
    ">=": greater_or_equal,
}


def conjunction(left: Any, right: Any) -> bool | None:
    if left is False or right is False:
        return False
    if left is True and right is True:
        return True
    return None


def disjunction(left: Any, right: Any) -> bool | None:
    if left is True or right is True:
        return True
    if left is False and right is False:
        return False
    return None


def between(value: Any, low: Any, high: Any) -> bool | None:
    return conjunction(greater_or_equal(value, low), less_or_equal(value, high))


def range_contains(interval: Range, value: Any) -> bool | None:
    above = (greater_or_equal if interval.start_included else greater)(value, interval.start)
    below = (less_or_equal if interval.end_included else less)(value, interval.end)
    return conjunction(above, below)


def matches_test(value: Any, test: Any) -> bool | None:
    """`value in test` for a test that is a value: a range contains it, a list holds it (or a
    range in the list contains it), anything else equals it."""
    kind = type(test)
    if kind is Range:
        return range_contains(test, value)
    if kind is list:
        for item in test:
            if type(item) is Range:
                if range_contains(item, value) is True:
                    return True
            elif equal(value, item) is True:
                return True
        return False
    return equal(value, test)


# --- paths, indexes -----------------------------------------------------------------------


def path(value: Any, key: str) -> Any:
    """`value.key`: a context's entry (null if missing), a projection over a list, a temporal
    value's property; null otherwise."""
    kind = type(value)
    if kind is dict:
        return value.get(key)
    if kind is list:
        return [path(item, key) for item in value]
    if kind in temporal.PROPERTIES:
        return temporal.temporal_property(value, key)
    return None


def index(items: Any, position: Any) -> Any:
    """`items[n]`: 1-based, negative from the end; null outside the list, and null when `items`
    is not a list (Camunda's behaviour; the DMN specification would take a list of one)."""
    if type(items) is not list:
        return None
    if type(position) is Decimal:
        if position != position.to_integral_value():
            return None
        position = int(position)
    if position > 0 and position <= len(items):
        return items[position - 1]
    if position < 0 and -position <= len(items):
        return items[position]
    return None
