"""What `for`, `some` and `every` iterate, within limits."""

from decimal import Decimal
from typing import Any

from .closures import Compiled
from .errors import EvaluationFailure
from .values import Range

# Guards against an expression that would loop (almost) without end: a range in a for/some/
# every, and all the items one for/some/every goes through (a cross product multiplies).
RANGE_ITEMS_MAX = 1_000_000
ITERATIONS_MAX = 1_000_000


def numeric_range(start: Compiled, end: Compiled) -> Compiled:
    """`for x in 1..3` (and `3..1`, descending): the whole numbers from start to end."""

    def numbers(env, local):
        first, last = start(env, local), end(env, local)
        if type(first) not in (int, Decimal) or type(last) not in (int, Decimal):
            return None
        if first != int(first) or last != int(last):
            return None
        first, last = int(first), int(last)
        if abs(last - first) + 1 > RANGE_ITEMS_MAX:
            raise EvaluationFailure(
                f"the range {first}..{last} has more than {RANGE_ITEMS_MAX} items"
            )
        return range(first, last + 1) if first <= last else range(first, last - 1, -1)

    return numbers


def items_of(domain: Any):
    """What `for`/`some`/`every` iterate: a list, a range of whole numbers, or None."""
    kind = type(domain)
    if kind is list or kind is range:
        return domain
    if kind is Range:
        start, end = domain.start, domain.end
        if type(start) is not int or type(end) is not int:
            return None
        first = start if domain.start_included else start + 1
        last = end if domain.end_included else end - 1
        if last - first + 1 > RANGE_ITEMS_MAX:
            raise EvaluationFailure(f"the range {domain} has more than {RANGE_ITEMS_MAX} items")
        return range(first, last + 1)
    return None
