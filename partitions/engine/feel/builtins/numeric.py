"""Numeric functions: https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-numeric/

All arithmetic runs in decimal (DECIMAL_CONTEXT, 34 digits), so `log(10)` has more digits than
Camunda's double (2.302585092994045684017991454684364 against 2.302585092994046).
`random number()` is left out: it is not deterministic.
"""

import datetime as dt
import decimal
from decimal import Decimal

from ..values import DECIMAL_CONTEXT, YearsMonthsDuration, number_result
from .registry import NUMBER, STRING, Builtins, as_int, overload

_ROUNDING_MODES = {
    "UP": decimal.ROUND_UP,
    "DOWN": decimal.ROUND_DOWN,
    "CEILING": decimal.ROUND_CEILING,
    "FLOOR": decimal.ROUND_FLOOR,
    "HALF_UP": decimal.ROUND_HALF_UP,
    "HALF_DOWN": decimal.ROUND_HALF_DOWN,
    "HALF_EVEN": decimal.ROUND_HALF_EVEN,
}
UNNECESSARY = "UNNECESSARY"


def _round(number, scale, rounding: str):
    scale = as_int(scale)
    if scale is None:
        return None
    quantum = Decimal(1).scaleb(-scale)
    value = Decimal(number)
    if rounding == UNNECESSARY:
        rounded = value.quantize(quantum, rounding=decimal.ROUND_DOWN, context=DECIMAL_CONTEXT)
        return number_result(rounded) if rounded == value else None
    return number_result(value.quantize(quantum, rounding=rounding, context=DECIMAL_CONTEXT))


def _decimal(number, scale, mode="HALF_EVEN"):
    mode = mode.upper()
    if mode != UNNECESSARY and mode not in _ROUNDING_MODES:
        return None
    return _round(number, scale, _ROUNDING_MODES.get(mode, UNNECESSARY))


def _rounding(mode: str):
    """`floor`, `ceiling`, `round up`, ...: the number at a scale (default 0) in one mode."""
    return (
        overload(lambda n: _round(n, 0, mode), ("n", NUMBER)),
        overload(lambda n, scale: _round(n, scale, mode), ("n", NUMBER), ("scale", NUMBER)),
    )


def _abs(value):
    kind = type(value)
    if kind is int:
        return abs(value)
    if kind is Decimal:
        return number_result(DECIMAL_CONTEXT.abs(value))
    if kind is dt.timedelta:
        return abs(value)
    if kind is YearsMonthsDuration:
        return YearsMonthsDuration(abs(value.months))
    return None


def _modulo(dividend, divisor):
    """The remainder with the divisor's sign (floored division), as the DMN spec defines it:
    modulo(-12, 5) = 3."""
    if not divisor:
        return None
    if type(dividend) is int and type(divisor) is int:
        return dividend % divisor
    quotient = DECIMAL_CONTEXT.divide(dividend, divisor).to_integral_value(decimal.ROUND_FLOOR)
    return number_result(
        DECIMAL_CONTEXT.subtract(dividend, DECIMAL_CONTEXT.multiply(divisor, quotient))
    )


def _sqrt(number):
    if number < 0:
        return None
    return number_result(DECIMAL_CONTEXT.sqrt(number))


def _log(number):
    if number <= 0:
        return None
    return number_result(DECIMAL_CONTEXT.ln(number))


def _exp(number):
    return number_result(DECIMAL_CONTEXT.exp(number))


def _parity(remainder: int):
    def test(number):
        whole = as_int(number)
        return None if whole is None else whole % 2 == remainder

    return test


def _any_number_or_duration(value) -> bool:
    return type(value) in (int, Decimal, dt.timedelta, YearsMonthsDuration)


FUNCTIONS: Builtins = {
    "decimal": (
        overload(_decimal, ("n", NUMBER), ("scale", NUMBER)),
        overload(_decimal, ("n", NUMBER), ("scale", NUMBER), ("mode", STRING)),
    ),
    "floor": _rounding(decimal.ROUND_FLOOR),
    "ceiling": _rounding(decimal.ROUND_CEILING),
    "round up": _rounding(decimal.ROUND_UP),
    "round down": _rounding(decimal.ROUND_DOWN),
    "round half up": _rounding(decimal.ROUND_HALF_UP),
    "round half down": _rounding(decimal.ROUND_HALF_DOWN),
    # abs() of a duration is a temporal function in Camunda's docs; one overload serves both.
    "abs": (overload(_abs, ("n", _any_number_or_duration)),),
    "modulo": (overload(_modulo, ("dividend", NUMBER), ("divisor", NUMBER)),),
    "sqrt": (overload(_sqrt, ("number", NUMBER)),),
    "log": (overload(_log, ("number", NUMBER)),),
    "exp": (overload(_exp, ("number", NUMBER)),),
    "odd": (overload(_parity(1), ("number", NUMBER)),),
    "even": (overload(_parity(0), ("number", NUMBER)),),
}
