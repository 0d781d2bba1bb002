"""The runtime shape of a compiled expression: every node is a closure `(env, local) -> value`
(see compiler.py); constants carry their value so the compiler can fold them."""

import datetime as dt
from collections.abc import Callable
from typing import Any

Compiled = Callable[[Any, dict], Any]


class Env:
    """What one evaluation reads besides the expression: the variables (a Mapping of JSON
    values) and the command's timestamp for now()/today()."""

    __slots__ = ("variables", "now")

    def __init__(self, variables, now: dt.datetime | None):
        self.variables = variables
        self.now = now


def constant(value: Any) -> Compiled:
    def known(env, local):
        return value

    known.feel_constant = (value,)
    return known


def constant_of(compiled: Compiled) -> tuple | None:
    """(value,) when `compiled` is a constant, else None (a constant may be None itself)."""
    return getattr(compiled, "feel_constant", None)
