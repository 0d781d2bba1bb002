"""`parse` (text → FeelExpression, the expensive step, once per expression) and
`FeelExpression.evaluate` (cheap, once per use)."""

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import lark

from .closures import Compiled, Env
from .compiler import Compiler, Scope
from .errors import EvaluationFailure, FeelEvaluationError, FeelSyntaxError
from .grammar import parser

EXPRESSION_CHARS_MAX = 100_000  # longer text is refused before parsing
PARSED_EXPRESSIONS_CACHED_MAX = 1024  # `evaluate(text, ...)` keeps this many parsed
_EMPTY_LOCAL: dict = {}  # the root's bound names: none (closures copy, never mutate, `local`)


class FeelExpression:
    """A parsed and compiled expression. Immutable and safe to share between threads and
    process instances; the engine keeps one per expression of a process definition."""

    __slots__ = ("source", "_compiled")

    def __init__(self, source: str, compiled: Compiled):
        self.source = source
        self._compiled = compiled

    def evaluate(self, variables: Mapping[str, Any], *, now: dt.datetime | None = None) -> Any:
        """The value of the expression for these variables (JSON values; a missing one is
        null). `now` is the command's timestamp, read by now()/today(); without it they fail.
        Raises FeelEvaluationError, never anything else."""
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)
        try:
            return self._compiled(Env(variables, now), _EMPTY_LOCAL)
        except EvaluationFailure as failure:
            raise FeelEvaluationError(self.source, failure.reason) from None
        except RecursionError:
            raise FeelEvaluationError(self.source, "the evaluation nested too deeply") from None
        except Exception as error:  # a bug of ours: report it as a typed failure
            raise FeelEvaluationError(
                self.source, f"internal error: {type(error).__name__}: {error}"
            ) from error

    def __repr__(self) -> str:
        return f"FeelExpression({self.source!r})"


def parse(expression: str) -> FeelExpression:
    """Parse and compile an expression (without Zeebe's leading `=`). Raises FeelSyntaxError
    naming the column and what was expected — also for a call of an unknown function or with
    arguments no overload of the built-in takes."""
    if type(expression) is not str:
        raise TypeError(f"a FEEL expression is a str, not {type(expression).__name__}")
    if len(expression) > EXPRESSION_CHARS_MAX:
        raise FeelSyntaxError(
            expression[:200] + "...", 1, EXPRESSION_CHARS_MAX,
            f"at most {EXPRESSION_CHARS_MAX} characters",
        )  # fmt: skip
    if not expression.strip():
        raise FeelSyntaxError(expression, 1, 1, "an expression, not empty text")
    try:
        tree = parser().parse(expression)
        compiled = Compiler(expression).compile(tree, Scope())
    except lark.exceptions.UnexpectedInput as error:
        raise _syntax_error(expression, error) from None
    except RecursionError:
        raise FeelSyntaxError(expression, 1, 1, "an expression nested less deeply") from None
    return FeelExpression(expression, compiled)


@functools.lru_cache(maxsize=PARSED_EXPRESSIONS_CACHED_MAX)
def _parse_cached(expression: str) -> FeelExpression:
    return parse(expression)


def evaluate(
    expression: str, variables: Mapping[str, Any], *, now: dt.datetime | None = None
) -> Any:
    """Parse (cached) and evaluate in one call; see `parse` and `FeelExpression.evaluate`."""
    return _parse_cached(expression).evaluate(variables, now=now)


# --- syntax error messages ------------------------------------------------------------------

_TERMINAL_TEXT = {
    "NAME": "a name",
    "KEYWORD_NAME": "a name",
    "BACKTICK_NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "COMPARATOR": "a comparison (=, !=, <, <=, >, >=)",
    "$END": "the end of the expression",
}
# Terminals that start an operand: when all of these are expected, say "an expression".
_OPERAND_STARTS = frozenset(
    {"NUMBER", "STRING", "NAME", "KEYWORD_NAME", "BACKTICK_NAME", "LPAR", "LSQB", "LBRACE",
     "AT", "MINUS", "TRUE", "FALSE", "NULL", "NOT", "IF", "FOR", "SOME", "EVERY", "FUNCTION"}
)  # fmt: skip
# Terminals that continue an operand with an operator: summarized as "an operator".
_OPERATORS = frozenset(
    {"PLUS", "MINUS", "STAR", "SLASH", "COMPARATOR", "AND", "OR", "BETWEEN", "IN", "INSTANCE",
     "DOT", "LSQB", "LPAR", "NAME"}
)  # fmt: skip


def _terminal_text(name: str) -> str:
    if name in _TERMINAL_TEXT:
        return _TERMINAL_TEXT[name]
    pattern = parser().get_terminal(name).pattern
    return f"'{pattern.value}'"


def _expected_text(expected: set[str]) -> str:
    parts: list[str] = []
    remaining = set(expected)
    if {"NUMBER", "STRING", "NAME"} <= remaining:
        parts.append("an expression")
        remaining -= _OPERAND_STARTS
    elif {"PLUS", "STAR", "COMPARATOR"} <= remaining:
        parts.append("an operator")
        remaining -= _OPERATORS
    texts = sorted({_terminal_text(name) for name in remaining})
    parts.extend(texts)
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _syntax_error(expression: str, error: lark.exceptions.UnexpectedInput) -> FeelSyntaxError:
    line, column = error.line, error.column
    if isinstance(error, lark.exceptions.UnexpectedToken):
        token = error.token
        found = "the end" if token.type == "$END" else repr(str(token))
        if token.type == "$END":
            line, column = _end_position(expression)
        return FeelSyntaxError(
            expression, line, column, f"{_expected_text(error.expected)}, not {found}"
        )
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        return FeelSyntaxError(
            expression, line, column, f"a name, literal or operator, not {error.char!r}"
        )
    return FeelSyntaxError(expression, max(line, 1), max(column, 1), "more of the expression")


def _end_position(expression: str) -> tuple[int, int]:
    lines = expression.split("\n")
    return len(lines), len(lines[-1]) + 1
