"""Variables: one document per scope (an element instance key), read along the scope chain.

Documents are written to the transaction once per batch (`flush`; see bpmn_cache.py). Values
are normalized to what the log gives back (JSON types), so that the leader evaluates the same
values a replica rebuilt from the log would."""

from collections.abc import Iterable, Mapping

import pydantic_core

from ..bpmn_entries import ScopeVariables, encode_json
from ..families import VARIABLES
from .bpmn_cache import ABSENT, BpmnCache

_SCALARS = frozenset({str, int, float, bool, type(None)})


def normalized(value):
    """The value as a JSON round trip gives it back (tuples become lists, ...)."""
    if type(value) in _SCALARS:
        return value
    return pydantic_core.from_json(encode_json(value), allow_inf_nan=True)


class VariableStore:
    def __init__(self, reader, writer, cache: BpmnCache):
        self._reader = reader
        self._writer = writer
        self._cache = cache

    # ------------------------------------------------------------------ reads
    def document(self, scope_key: int) -> ScopeVariables | None:
        cache = self._cache
        document = cache.variables.get(scope_key, ABSENT)
        if document is ABSENT:
            if scope_key in cache.new_instances:
                document = None  # a scope born in this batch has nothing stored
            else:
                document = cache.lookup("variables", scope_key)
                if document is ABSENT:
                    document = self._reader.get(VARIABLES, scope_key)
            cache.variables[scope_key] = document
        return document

    def local(self, scope_key: int) -> Mapping:
        document = self.document(scope_key)
        return {} if document is None else document.values

    def visible(self, scope_keys: Iterable[int]) -> dict:
        """The variables seen from the first scope of `scope_keys` (innermost first): each
        name's value from the innermost scope that defines it."""
        merged: dict = {}
        for scope_key in scope_keys:
            document = self.document(scope_key)
            if document is not None:
                for name, value in document.values.items():
                    merged.setdefault(name, value)
        return merged

    # ------------------------------------------------------------------ writes (appliers)
    def set(self, scope_key: int, name: str, variable_key: int, value) -> None:
        assert self._writer is not None, "only appliers write variables"
        document = self.document(scope_key) or ScopeVariables({}, {})
        self._cache.variables[scope_key] = document.with_variable(
            name, variable_key, normalized(value)
        )
        self._cache.dirty_variables.add(scope_key)

    def remove_scope(self, scope_key: int) -> None:
        """The scope ended: its variables go with it."""
        assert self._writer is not None, "only appliers write variables"
        cache = self._cache
        if self.document(scope_key) is None:
            return
        cache.variables[scope_key] = None
        if scope_key in cache.new_instances:
            cache.dirty_variables.discard(scope_key)  # never written to the transaction
        else:
            cache.dirty_variables.add(scope_key)

    def flush(self) -> None:
        cache = self._cache
        for scope_key in cache.dirty_variables:
            document = cache.variables[scope_key]
            if document is None:
                self._writer.delete(VARIABLES, scope_key)
            else:
                self._writer.put(VARIABLES, scope_key, document)
        cache.dirty_variables.clear()
