"""Failures: syntax errors name the column and what was expected; static errors (unknown
functions, wrong arguments, unknown types) are found by parse(); evaluation errors are typed,
and nothing else ever leaves evaluate() — checked by planting faults and by a seeded fuzzer."""

import datetime as dt
import json
import os
import random
import string
from collections.abc import Mapping

import pytest

from raybee.partitions.engine.feel import (
    FeelError,
    FeelEvaluationError,
    FeelSyntaxError,
    evaluate,
    parse,
    to_json_value,
)
from raybee.partitions.engine.feel.testing import NOW

# (expression, line, column, words the expectation must contain)
SYNTAX_ERRORS = [
    ("1 +", 1, 4, ["an expression", "not the end"]),
    ("if x then 1", 1, 12, ["'else'"]),
    ("x = = 1", 1, 5, ["an expression", "not '='"]),
    (")", 1, 1, ["an expression"]),
    ("(1 + 2", 1, 7, ["')'"]),
    ("[1, 2", 1, 6, ["']'"]),
    ("{a 1}", 1, 4, ["':'"]),
    ("a # b", 1, 3, ["not '#'"]),
    ('"unterminated', 1, 1, ["not '\"'"]),
    ("a < b < c", 1, 7, ["not '<'"]),
    ("x.then", 1, 3, ["a name"]),  # a keyword is not a name
    ("for x in [1] x", 1, 14, ["'return'"]),
    ("1 2", 1, 3, ["not '2'"]),
    ("x\n  + * 3", 2, 5, ["an expression"]),
    ("   ", 1, 1, ["an expression"]),
    ("foo(1)", 1, 1, ["a known function", "'foo'"]),
    ('substring("a")', 1, 1, ["substring(string, start position)", "not 1 argument"]),
    ("count()", 1, 1, ["count(list)", "not 0 argument"]),
    ('contains(string: "a", needle: "b")', 1, 1, ["contains(string, match)", "needle"]),
    ("f(a: 1, a: 2)", 1, 3, ["each argument name once"]),
    ("x instance of widget", 1, 15, ["a type", "'widget'"]),
    ("x instance of map<number>", 1, 15, ["list<number>"]),
    ("]1..5[", 1, 1, ["an expression"]),
]


@pytest.mark.parametrize(
    "expression, line, column, words", SYNTAX_ERRORS, ids=[row[0] for row in SYNTAX_ERRORS]
)
def test_syntax_error_names_the_place_and_what_was_expected(expression, line, column, words):
    with pytest.raises(FeelSyntaxError) as raised:
        parse(expression)
    error = raised.value
    assert isinstance(error, FeelError)
    assert (error.line, error.column) == (line, column), str(error)
    assert error.expression == expression
    for word in words:
        assert word in error.expected, str(error)
    assert repr(expression) in str(error)


def test_a_syntax_error_does_not_chain_lark_internals():
    with pytest.raises(FeelSyntaxError) as raised:
        parse("1 +")
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_parse_refuses_an_expression_past_its_length_limit():
    with pytest.raises(FeelSyntaxError) as raised:
        parse("1 + " * 30_000 + "1")
    assert "at most 100000 characters" in raised.value.expected


def test_parse_refuses_text_that_is_not_a_string():
    with pytest.raises(TypeError):
        parse(b"1 + 1")


def test_deeply_nested_text_is_a_syntax_error_not_a_crash():
    with pytest.raises(FeelSyntaxError) as raised:
        parse("[" * 2000 + "1" + "]" * 2000)
    assert "nested less deeply" in raised.value.expected


def test_long_chains_of_operators_compile_without_deep_recursion():
    assert parse('"a"' + ' + "a"' * 1000).evaluate({}) == "a" * 1001
    assert parse("x" + " and x" * 1000).evaluate({"x": True}) is True
    assert parse("x" + " or x" * 1000).evaluate({"x": False}) is False
    assert parse("(" * 1000 + "1" + ")" * 1000).evaluate({}) == 1


# (expression, variables, now, words the reason must contain)
EVALUATION_ERRORS = [
    ("now()", {}, None, ["now()", "timestamp"]),
    ('today() + @"P1D"', {}, None, ["timestamp"]),
    ('assert(x, x > 0, "x must be positive")', {"x": -1}, NOW, ["x must be positive"]),
    ("assert(x, x != null)", {}, NOW, ["assertion failed"]),
    ('assert(1, false, "on constants too")', {}, NOW, ["on constants too"]),  # not at parse
    ("{f: 5, r: f(1)}.r", {}, NOW, ["int value was invoked as a function"]),
    ("(1)(2)", {}, NOW, ["invoked as a function"]),
    ("x.f(1)", {"x": {"f": 1}}, NOW, ["invoked as a function"]),
    ("{f: function(a) a, r: f(1, 2)}.r", {}, NOW, ["takes 1 argument"]),
    ("{f: function(a) a, r: f(b: 1)}.r", {}, NOW, ["no parameter b"]),
    ("x", {"x": object()}, NOW, ["object", "not a JSON or FEEL value"]),
    ("for x in 1..100000000000 return x", {}, NOW, ["more than 1000000 items"]),
    ("for x in 1..1000001 return x", {}, NOW, ["more than 1000000 items"]),
    ("for x in 1..1000, y in 1..1001 return 0", {}, NOW, ["past 1000000 items"]),
    ("some x in 1..1000, y in 1..1001 satisfies false", {}, NOW, ["past 1000000 items"]),
]


@pytest.mark.parametrize(
    "expression, variables, now, words", EVALUATION_ERRORS, ids=[r[0] for r in EVALUATION_ERRORS]
)
def test_evaluation_error_is_typed_and_names_the_expression(expression, variables, now, words):
    compiled = parse(expression)  # the expression itself is fine
    with pytest.raises(FeelEvaluationError) as raised:
        compiled.evaluate(variables, now=now)
    error = raised.value
    assert error.expression == expression
    for word in words:
        assert word in error.reason, str(error)
    assert repr(expression) in str(error)


class ExplodingVariables(Mapping):
    """Variables whose lookup fails: stands for a bug anywhere under evaluate()."""

    def __init__(self):
        self.lookups = 0

    def __getitem__(self, key):
        self.lookups += 1
        raise RuntimeError(f"storage failed reading {key}")

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0


def test_an_internal_exception_becomes_a_feel_evaluation_error():
    variables = ExplodingVariables()
    with pytest.raises(FeelEvaluationError) as raised:
        evaluate("amount > 100", variables)
    assert variables.lookups == 1  # the fault did happen
    assert "internal error: RuntimeError: storage failed reading amount" in raised.value.reason
    assert isinstance(raised.value.__cause__, RuntimeError)


def test_a_naive_now_is_taken_as_utc():
    naive = dt.datetime(2024, 3, 15, 10, 30)
    assert evaluate("now()", {}, now=naive) == NOW
    assert evaluate("now()", {}, now=naive).tzinfo is dt.UTC


# --- fuzzing ------------------------------------------------------------------------------

FUZZ_EXPRESSIONS = 1500
FUZZ_TOKENS = (
    "x", "y", "items", "order", ".", "total", "name", "1", "0", "-1", "2.5", '"a"', '""', "null",
    "true", "false", "+", "-", "*", "/", "**", "=", "!=", "<", ">=", "and", "or", "not", "(",
    ")", "[", "]", "{", "}", ",", ":", "..", "if", "then", "else", "for", "in", "return",
    "some", "every", "satisfies", "item", "instance", "of", "number", "between", "function",
    "count", "sum", "string", "date", "date and time", "duration", '@"P1D"', '@"2020-01-01"',
    "substring", "upper case", "get or else", "now", "is defined", "`b c`", "//", "\n",
    '"\\u00e9"', '"\\UFFFFFF"', '"\\x"', '"\\"', "@", '@"P1Y"', '@"10:00@Nowhere/Zone"',
)  # fmt: skip
FUZZ_VARIABLES = {
    "x": 3,
    "y": 0.5,
    "name": "Ann",
    "items": [1, 2.5, "a", None, {"total": 1}],
    "order": {"total": 7.25, "items": [{"total": 1}]},
    "b c": [True, False],
}


def _random_expression(rng: random.Random) -> str:
    tokens = [rng.choice(FUZZ_TOKENS) for _ in range(rng.randint(1, 12))]
    return " ".join(tokens)


def _mutated_valid_expression(rng: random.Random) -> str:
    text = rng.choice(
        [
            "x + 1 > y",
            'if x > 1 then name else "b"',
            "items[item > 1]",
            "for i in items return i",
            "{a: x, b: a + 1}.b",
            "sum(order.items.total)",
            '@"2020-01-01T10:00:00@Europe/Berlin" + @"P1D"',
            '"a\\u00e9b" + string(1.5)',
        ]
    )
    position = rng.randrange(len(text) + 1)
    if rng.random() < 0.5:  # a token, or a single character (which may split a token)
        return text[:position] + rng.choice(FUZZ_TOKENS) + text[position:]
    return text[:position] + rng.choice(string.printable + "é`@") + text[position + 1 :]


# One fixed seed, and one new each run (or FEEL_FUZZ_SEED, to replay a failure).
FUZZ_SEEDS = [
    20240315,
    int(os.environ.get("FEEL_FUZZ_SEED", random.SystemRandom().randrange(2**32))),
]


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_fuzz_only_feel_errors_leave_parse_and_evaluate(seed):
    print(f"FEEL fuzz seed {seed}; replay: FEEL_FUZZ_SEED={seed} pytest tests/feel -k fuzz")
    rng = random.Random(seed)
    parsed = evaluated = 0
    for _ in range(FUZZ_EXPRESSIONS):
        make = _random_expression if rng.random() < 0.5 else _mutated_valid_expression
        text = make(rng)
        try:
            compiled = parse(text)
        except FeelSyntaxError:
            continue
        parsed += 1
        try:
            result = compiled.evaluate(FUZZ_VARIABLES, now=NOW)
        except FeelEvaluationError as error:
            assert "internal error" not in error.reason, (seed, text, error)
            continue
        evaluated += 1
        json.dumps(to_json_value(result))
    # The generator must exercise both paths, or the test proves nothing.
    assert parsed > FUZZ_EXPRESSIONS // 10 and evaluated > FUZZ_EXPRESSIONS // 20, (
        parsed,
        evaluated,
    )
