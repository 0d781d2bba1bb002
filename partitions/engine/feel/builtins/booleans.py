"""Boolean functions: https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-boolean/

`not(x)` is in the grammar (`not` is a keyword). `is defined(x)` is false for null and for a
missing variable or entry alike — Camunda 8.6's meaning (earlier versions returned true for a
null value); raybee does not tell a missing variable from a null one.
"""

from ..errors import EvaluationFailure
from .registry import ANY_VALUE, Builtins, overload


def _assert(value, condition, cause=None):
    if condition is True:
        return value
    if cause is None:
        raise EvaluationFailure(f"assertion failed: the condition was {condition!r}")
    raise EvaluationFailure(f"assertion failed: {cause}")


FUNCTIONS: Builtins = {
    "is defined": (overload(lambda value: value is not None, ("value", ANY_VALUE)),),
    "get or else": (
        overload(
            lambda value, default: default if value is None else value,
            ("value", ANY_VALUE),
            ("default", ANY_VALUE),
        ),
    ),
    "assert": (
        overload(_assert, ("value", ANY_VALUE), ("condition", ANY_VALUE)),
        overload(_assert, ("value", ANY_VALUE), ("condition", ANY_VALUE), ("cause", ANY_VALUE)),
    ),
}
