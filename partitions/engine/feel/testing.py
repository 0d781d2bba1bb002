"""Helpers for FEEL's table-driven tests (public, as `state/testing.py` is): a fixed command
timestamp, and a comparison that is strict about FEEL types — True is not 1, a whole number
must come back as an int, a date is not a date-time, zones must match."""

import datetime as dt
from decimal import Decimal
from typing import Any

# The timestamp of the command being processed, for now()/today(): Friday 2024-03-15.
NOW = dt.datetime(2024, 3, 15, 10, 30, 0, tzinfo=dt.UTC)


def same(actual: Any, expected: Any) -> bool:
    if expected is None or type(expected) is bool:
        return actual is expected
    if type(expected) is int:
        return type(actual) is int and actual == expected
    if type(expected) is Decimal:
        return type(actual) is Decimal and actual == expected
    if type(expected) is list:
        return (
            type(actual) is list
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if type(expected) is dict:
        return (
            type(actual) is dict
            and list(actual) == list(expected)
            and all(same(actual[key], value) for key, value in expected.items())
        )
    if type(expected) in (dt.datetime, dt.time):
        return (
            type(actual) is type(expected)
            and str(actual.tzinfo) == str(expected.tzinfo)
            and actual.replace(tzinfo=None) == expected.replace(tzinfo=None)
        )
    return type(actual) is type(expected) and actual == expected


def case_id(expression: str) -> str:
    text = " ".join(expression.split())
    return text if len(text) <= 60 else text[:57] + "..."


def rows(table: list[tuple]) -> list[tuple]:
    """(expression, expected) or (expression, expected, variables) rows, as triples."""
    return [(row[0], row[1], row[2] if len(row) > 2 else {}) for row in table]


def ids(table: list[tuple]) -> list[str]:
    return [case_id(row[0]) for row in table]
