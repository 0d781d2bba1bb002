"""The crossing between FEEL values and JSON process variables: floats in become decimals,
results out become JSON-compatible values (ISO-8601 strings for temporal values)."""

import datetime as dt
import json
import zoneinfo
from decimal import Decimal as D

import pytest

from raybee.partitions.engine.feel import (
    FeelFunction,
    Range,
    YearsMonthsDuration,
    evaluate,
    from_json_value,
    parse,
    to_json_value,
)
from raybee.partitions.engine.feel.testing import same

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")

TO_JSON = [
    (None, None),
    (True, True),
    ("text", "text"),
    (7, 7),
    (D("2"), 2),
    (D("2.000"), 2),
    (D("0.5"), 0.5),
    (D("-1.25"), -1.25),
    (dt.date(2020, 4, 6), "2020-04-06"),
    (dt.time(8, 0, 5), "08:00:05"),
    (dt.time(8, tzinfo=dt.timezone(dt.timedelta(hours=2))), "08:00:00+02:00"),
    (dt.datetime(2020, 4, 6, 8), "2020-04-06T08:00:00"),
    (dt.datetime(2020, 4, 6, 8, 0, 0, 120000, tzinfo=dt.UTC), "2020-04-06T08:00:00.12Z"),
    (
        dt.datetime(2020, 4, 6, 8, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        "2020-04-06T08:00:00-05:00",
    ),
    (dt.datetime(2025, 11, 24, 10, tzinfo=BERLIN), "2025-11-24T10:00:00+01:00[Europe/Berlin]"),
    (dt.datetime(2025, 7, 24, 10, tzinfo=BERLIN), "2025-07-24T10:00:00+02:00[Europe/Berlin]"),
    (dt.timedelta(days=1, hours=2), "P1DT2H"),
    (dt.timedelta(seconds=-90), "-PT1M30S"),
    (dt.timedelta(0), "P0D"),
    (YearsMonthsDuration(14), "P1Y2M"),
    (YearsMonthsDuration(-3), "-P3M"),
    ([D("1.0"), [dt.date(2020, 1, 1)]], [1, ["2020-01-01"]]),
    ({"a": D("0.1"), "b": {"c": YearsMonthsDuration(12)}}, {"a": 0.1, "b": {"c": "P1Y"}}),
    (Range(1, 10, True, False), "[1..10)"),
]


@pytest.mark.parametrize("value, expected", TO_JSON, ids=[repr(v)[:50] for v, _ in TO_JSON])
def test_to_json_value(value, expected):
    stored = to_json_value(value)
    assert stored == expected and type(stored) is type(expected)
    json.dumps(stored)  # JSON-compatible all the way down


def test_a_function_is_stored_as_null():
    function = parse("function(x) x").evaluate({})
    assert type(function) is FeelFunction
    assert to_json_value(function) is None


def test_a_feel_result_round_trips_through_json():
    result = evaluate(
        '{total: 0.1 + 0.2, due: @"2024-03-15" + @"P1M", wait: @"PT90M", tags: ["a"]}', {}
    )
    stored = json.loads(json.dumps(to_json_value(result)))
    assert stored == {"total": 0.3, "due": "2024-04-15", "wait": "PT1H30M", "tags": ["a"]}


FROM_JSON = [
    ("x + y = 0.3", True, {"x": 0.1, "y": 0.2}),
    ("x", D("0.1"), {"x": 0.1}),
    ("x", 2, {"x": 2.0}),  # a whole float is a whole number
    ("x", None, {"x": float("nan")}),
    ("x", None, {"x": float("inf")}),
    ("sum(items.price)", D("0.3"), {"items": [{"price": 0.1}, {"price": 0.2}]}),
    ("order.total * 3", D("0.3"), {"order": {"total": 0.1}}),  # the path fast path converts too
    ("order", {"total": D("0.1")}, {"order": {"total": 0.1}}),
    ("xs[1] + xs[2]", D("0.3"), {"xs": (0.1, 0.2)}),  # a tuple is a list
    ("x", D("1E+300"), {"x": 1e300}),
]


@pytest.mark.parametrize(
    "expression, expected, variables", FROM_JSON, ids=[r[0] for r in FROM_JSON]
)
def test_json_variables_are_decimals(expression, expected, variables):
    actual = evaluate(expression, variables)
    assert same(actual, expected), actual


def test_from_json_value_copies_containers():
    variables = {"x": {"a": [1, 2]}}
    value = from_json_value(variables)
    value["x"]["a"].append(3)
    assert variables == {"x": {"a": [1, 2]}}


def test_evaluation_never_changes_the_variables():
    variables = {"x": {"a": 1}, "xs": [3, 1, 2]}
    snapshot = json.dumps(variables)
    assert evaluate('context put(x, "b", 2)', variables) == {"a": 1, "b": 2}
    assert evaluate("sort(xs, function(a, b) a < b)", variables) == [1, 2, 3]
    assert evaluate('{x: "shadowed"}.x', variables) == "shadowed"
    assert json.dumps(variables) == snapshot
