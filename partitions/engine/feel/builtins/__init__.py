"""The built-in functions, one module per family (as Camunda's documentation groups them),
merged into one table: BUILTINS maps a name (words joined by single spaces) to its overloads."""

from . import booleans, contexts, conversion, lists, numeric, strings, temporals
from .registry import INVOCATION_FAILURES, Builtins, Overload, bind_named, bind_positional, merge

BUILTINS: Builtins = merge(
    strings.FUNCTIONS,
    lists.FUNCTIONS,
    numeric.FUNCTIONS,
    booleans.FUNCTIONS,
    conversion.FUNCTIONS,
    temporals.FUNCTIONS,
    contexts.FUNCTIONS,
)

__all__ = ["BUILTINS", "INVOCATION_FAILURES", "Overload", "bind_named", "bind_positional"]
