"""Context functions: https://docs.camunda.io/docs/components/modeler/feel/builtin-functions/feel-built-in-functions-context/

Every function returns a new context; the argument is never changed.
"""

from .registry import ANY_VALUE, CONTEXT, LIST, Builtins, overload


def _keys(key) -> list[str] | None:
    """A key, or a path of keys, as a list; None if it is neither (or an empty path)."""
    if type(key) is str:
        return [key]
    if type(key) is list and key and all(type(part) is str for part in key):
        return key
    return None


def _get_value(context: dict, key):
    path = _keys(key)
    if path is None:
        return None
    value = context
    for part in path:
        if type(value) is not dict:
            return None
        value = value.get(part)
    return value


def _put(context: dict, path: list[str], value) -> dict:
    head, rest = path[0], path[1:]
    updated = dict(context)
    if rest:
        inner = context.get(head)
        updated[head] = _put(inner if type(inner) is dict else {}, rest, value)
    else:
        updated[head] = value
    return updated


def _context_put(context: dict, key, value):
    path = _keys(key)
    return None if path is None else _put(context, path, value)


def _context_merge(contexts: list):
    """`context merge([a, b])`, or `context merge(a, b)` as Camunda's list example uses it."""
    if len(contexts) == 1 and type(contexts[0]) is list:
        contexts = contexts[0]
    merged: dict = {}
    for context in contexts:
        if type(context) is not dict:
            return None
        merged.update(context)
    return merged


FUNCTIONS: Builtins = {
    "get value": (
        overload(_get_value, ("context", CONTEXT), ("key", ANY_VALUE)),
        overload(_get_value, ("context", CONTEXT), ("keys", ANY_VALUE)),
    ),
    "get entries": (
        overload(
            lambda context: [{"key": key, "value": value} for key, value in context.items()],
            ("context", CONTEXT),
        ),
    ),
    "context put": (
        overload(_context_put, ("context", CONTEXT), ("key", ANY_VALUE), ("value", ANY_VALUE)),
        overload(_context_put, ("context", CONTEXT), ("keys", ANY_VALUE), ("value", ANY_VALUE)),
    ),
    "context merge": (overload(_context_merge, ("contexts", LIST), variadic=True),),
}
