"""Evaluating a model's expressions for an element instance, and the typed failure that becomes
an incident.

An expression is FEEL (`=...`) or a static value (the text as written). FEEL errors and results
of the wrong type raise `StepFailed` with Zeebe's error type (IO_MAPPING_ERROR for mappings,
EXTRACT_VALUE_ERROR for everything else) and a message naming the expression and the reason;
the executor turns it into an incident on the element.

Conditions: a result that is not `true` does not hold, null included (FEEL leaves null to its
caller; see the feel package); a result that is neither boolean nor null is an
EXTRACT_VALUE_ERROR, as in Zeebe.
"""

from decimal import Decimal
from typing import Any

from raybee.partitions.engine.bpmn import Expression
from raybee.partitions.engine.feel import FeelError

from .executable import ExecutableProcess

IO_MAPPING_ERROR = "IO_MAPPING_ERROR"
EXTRACT_VALUE_ERROR = "EXTRACT_VALUE_ERROR"
CONDITION_ERROR = "CONDITION_ERROR"
CALLED_ELEMENT_ERROR = "CALLED_ELEMENT_ERROR"
UNHANDLED_ERROR_EVENT = "UNHANDLED_ERROR_EVENT"

_FEEL_TYPE_NAMES = {
    type(None): "NULL",
    bool: "BOOLEAN",
    int: "NUMBER",
    Decimal: "NUMBER",
    float: "NUMBER",
    str: "STRING",
    list: "ARRAY",
    dict: "OBJECT",
}


class StepFailed(Exception):
    """A step of an element failed; the element stays where it is, with an incident."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def type_name(value: Any) -> str:
    return _FEEL_TYPE_NAMES.get(type(value), type(value).__name__.upper())


def evaluate(
    process: ExecutableProcess,
    expression: Expression,
    variables,
    now,
    error_type: str = EXTRACT_VALUE_ERROR,
) -> Any:
    """The value of an expression (a FEEL value, or the static text)."""
    if not expression.is_feel:
        return expression.static_value
    try:
        return process.feel(expression).evaluate(variables, now=now)
    except FeelError as error:
        reason = getattr(error, "reason", None) or str(error)
        raise StepFailed(
            error_type, f"Failed to evaluate the expression '{expression.source}': {reason}"
        ) from None


def evaluate_string(process, expression, variables, now, what: str) -> str:
    value = evaluate(process, expression, variables, now)
    if type(value) is not str:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the {what} '{expression.source}' to be a STRING, but it was "
            f"{type_name(value)} ({value!r:.100})",
        )
    return value


def evaluate_int(process, expression, variables, now, what: str) -> int:
    value = evaluate(process, expression, variables, now)
    if type(value) is str and not expression.is_feel:
        try:
            return int(value.strip())
        except ValueError:
            pass
    elif type(value) in (int, Decimal) and value == int(value):
        return int(value)
    raise StepFailed(
        EXTRACT_VALUE_ERROR,
        f"Expected the {what} '{expression.source}' to be a whole NUMBER, but it was "
        f"{type_name(value)} ({value!r:.100})",
    )


def evaluate_list(process, expression, variables, now, what: str) -> list:
    value = evaluate(process, expression, variables, now)
    if type(value) is not list:
        raise StepFailed(
            EXTRACT_VALUE_ERROR,
            f"Expected the {what} '{expression.source}' to be an ARRAY, but it was "
            f"{type_name(value)} ({value!r:.100})",
        )
    return value


def condition_holds(process, expression, variables, now, what: str) -> bool:
    value = evaluate(process, expression, variables, now)
    if value is None or value is False:
        return False
    if value is True:
        return True
    raise StepFailed(
        EXTRACT_VALUE_ERROR,
        f"Expected the {what} '{expression.source}' to be a BOOLEAN, but it was "
        f"{type_name(value)} ({value!r:.100})",
    )
