"""List functions: https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-list/

Items are compared with FEEL equality (`1 = 1.0`, `{a: 1} = {a: 1}`), so `distinct values`,
`index of`, `union` and `list contains` treat equal numbers of different Python types as one.
The aggregates (`min`, `sum`, `mean`, ...) take a list or the items as arguments, and are null
for an empty list (except `all`, `any`, `mode`) or when an item has the wrong type.
"""

import functools
from decimal import Decimal

from .. import operators
from ..values import DECIMAL_CONTEXT, number_result
from .registry import ANY_VALUE, FUNCTION, LIST, NUMBER, Builtins, as_int, overload


def _items(arguments: list) -> list:
    """The items of `min(1, 2, 3)` or of `min([1, 2, 3])`: the arguments, or the one list."""
    if len(arguments) == 1 and type(arguments[0]) is list:
        return arguments[0]
    return arguments


def _numbers(arguments: list) -> list | None:
    items = _items(arguments)
    if not items or not all(type(item) is int or type(item) is Decimal for item in items):
        return None
    return items


def _holds(items: list, value) -> bool:
    return any(operators.equal(item, value) is True for item in items)


def _distinct(items: list) -> list:
    kept: list = []
    for item in items:
        if not _holds(kept, item):
            kept.append(item)
    return kept


def _extreme(arguments: list, better) -> object:
    items = _items(arguments)
    if not items:
        return None
    best = items[0]
    for item in items[1:]:
        wins = better(item, best)
        if wins is None:
            return None  # items of different or unordered types
        if wins:
            best = item
    if better(best, best) is None:  # a single item of a type without an order
        return None
    return best


def _sum(arguments: list):
    numbers = _numbers(arguments)
    if numbers is None:
        return None
    total = 0
    for number in numbers:
        total = operators.add(total, number)
    return total


def _product(arguments: list):
    numbers = _numbers(arguments)
    if numbers is None:
        return None
    total = 1
    for number in numbers:
        total = operators.multiply(total, number)
    return total


def _mean(arguments: list):
    numbers = _numbers(arguments)
    if numbers is None:
        return None
    return operators.divide(_sum(numbers), len(numbers))


def _median(arguments: list):
    numbers = _numbers(arguments)
    if numbers is None:
        return None
    ordered = sorted(numbers)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return operators.divide(operators.add(ordered[middle - 1], ordered[middle]), 2)


def _stddev(arguments: list):
    """The sample standard deviation (divided by n - 1), as Camunda's example shows."""
    numbers = _numbers(arguments)
    if numbers is None or len(numbers) < 2:
        return None
    mean = DECIMAL_CONTEXT.divide(_sum(numbers), len(numbers))
    squares = sum(
        (DECIMAL_CONTEXT.power(DECIMAL_CONTEXT.subtract(n, mean), 2) for n in numbers),
        Decimal(0),
    )
    variance = DECIMAL_CONTEXT.divide(squares, len(numbers) - 1)
    return number_result(DECIMAL_CONTEXT.sqrt(variance))


def _mode(arguments: list):
    items = _items(arguments)
    if not items:
        return []
    numbers = _numbers(arguments)
    if numbers is None:
        return None
    counts: dict = {}
    for number in numbers:
        counts[number] = counts.get(number, 0) + 1
    most = max(counts.values())
    return sorted(number for number, count in counts.items() if count == most)


def _all(arguments: list):
    items = _items(arguments)
    if any(item is False for item in items):
        return False
    return True if all(item is True for item in items) else None


def _any(arguments: list):
    items = _items(arguments)
    if any(item is True for item in items):
        return True
    return False if all(item is False for item in items) else None


def _position(items: list, position) -> int | None:
    """A 1-based (or negative, from the end) position as a 0-based index; None outside."""
    position = as_int(position)
    if position is None or position == 0 or abs(position) > len(items):
        return None
    return position - 1 if position > 0 else len(items) + position


def _sublist(items: list, start, length=None):
    first = _position(items, start)
    if first is None:
        return None
    if length is None:
        return items[first:]
    length = as_int(length)
    if length is None or length < 0:
        return None
    return items[first : first + length]


def _insert_before(items: list, position, new_item):
    index = _position(items, position)
    if index is None:
        return None
    return items[:index] + [new_item] + items[index:]


def _remove(items: list, position):
    index = _position(items, position)
    if index is None:
        return None
    return items[:index] + items[index + 1 :]


def _concatenate(lists: list):
    if not all(type(item) is list for item in lists):
        return None
    return [item for each in lists for item in each]


def _union(lists: list):
    joined = _concatenate(lists)
    return None if joined is None else _distinct(joined)


def _duplicate_values(items: list):
    """The values that occur more than once, in the order of their first occurrence."""
    return [
        item
        for item in _distinct(items)
        if sum(1 for other in items if operators.equal(other, item) is True) > 1
    ]


def _flatten(items: list) -> list:
    flat: list = []
    for item in items:
        if type(item) is list:
            flat.extend(_flatten(item))
        else:
            flat.append(item)
    return flat


def _sort(items: list, precedes):
    def compare(left, right) -> int:
        if precedes.invoke([left, right]) is True:
            return -1
        if precedes.invoke([right, left]) is True:
            return 1
        return 0

    return sorted(items, key=functools.cmp_to_key(compare))


def _string_join(items: list, delimiter=None, prefix=None, suffix=None):
    if not all(item is None or type(item) is str for item in items):
        return None
    for part in (delimiter, prefix, suffix):
        if part is not None and type(part) is not str:
            return None
    joined = (delimiter or "").join(item for item in items if item is not None)
    return (prefix or "") + joined + (suffix or "")


def _partition(items: list, size):
    size = as_int(size)
    if size is None or size <= 0:
        return None
    return [items[start : start + size] for start in range(0, len(items), size)]


def _variadic(implementation, name: str = "list"):
    return (overload(implementation, (name, LIST), variadic=True),)


FUNCTIONS: Builtins = {
    "list contains": (
        overload(
            lambda items, element: _holds(items, element), ("list", LIST), ("element", ANY_VALUE)
        ),
    ),
    "count": (overload(len, ("list", LIST)),),
    "min": _variadic(lambda items: _extreme(items, operators.less)),
    "max": _variadic(lambda items: _extreme(items, operators.greater)),
    "sum": _variadic(_sum),
    "product": _variadic(_product),
    "mean": _variadic(_mean),
    "median": _variadic(_median),
    "stddev": _variadic(_stddev),
    "mode": _variadic(_mode),
    "all": _variadic(_all),
    "any": _variadic(_any),
    "sublist": (
        overload(_sublist, ("list", LIST), ("start position", NUMBER)),
        overload(_sublist, ("list", LIST), ("start position", NUMBER), ("length", NUMBER)),
    ),
    "append": (
        overload(lambda items, more: items + more, ("list", LIST), ("items", LIST), variadic=True),
    ),
    "concatenate": _variadic(_concatenate, "lists"),
    "insert before": (
        overload(_insert_before, ("list", LIST), ("position", NUMBER), ("newItem", ANY_VALUE)),
    ),
    "remove": (overload(_remove, ("list", LIST), ("position", NUMBER)),),
    "reverse": (overload(lambda items: items[::-1], ("list", LIST)),),
    "index of": (
        overload(
            lambda items, match: [
                n for n, item in enumerate(items, 1) if operators.equal(item, match) is True
            ],
            ("list", LIST),
            ("match", ANY_VALUE),
        ),
    ),
    "union": _variadic(_union, "lists"),
    "distinct values": (overload(_distinct, ("list", LIST)),),
    "duplicate values": (overload(_duplicate_values, ("list", LIST)),),
    "flatten": (overload(_flatten, ("list", LIST)),),
    "sort": (overload(_sort, ("list", LIST), ("precedes", FUNCTION)),),
    "string join": (
        overload(_string_join, ("list", LIST)),
        overload(_string_join, ("list", LIST), ("delimiter", ANY_VALUE)),
        overload(
            _string_join,
            ("list", LIST),
            ("delimiter", ANY_VALUE),
            ("prefix", ANY_VALUE),
            ("suffix", ANY_VALUE),
        ),
    ),
    "is empty": (overload(lambda items: not items, ("list", LIST)),),
    "partition": (overload(_partition, ("list", LIST), ("size", NUMBER)),),
}
