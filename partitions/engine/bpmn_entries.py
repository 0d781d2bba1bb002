"""What BPMN state holds per key, and how it is encoded: the entry of an element instance and
the variable document of a scope.

Both are read far more often than written and are kept decoded in the engine's caches
(`stores/bpmn_cache.py`); entries are immutable and replaced whole (`evolve`), never mutated,
because the cache of a batch shares them with the committed cache until the batch commits.
"""

from enum import StrEnum

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field

from raybee.partitions.protocol import NO_KEY, ProcessInstanceRecordValue
from raybee.state import ValueCodec


class ElementState(StrEnum):
    """Where an element instance is in its lifecycle. Only states an instance can rest in are
    ever stored at the end of a command: ACTIVATING (an incident stopped its activation),
    ACTIVATED (a wait state, or a scope whose children run), COMPLETING (an incident stopped its
    completion). TERMINATING is passed through within one command."""

    ACTIVATING = "ACTIVATING"
    ACTIVATED = "ACTIVATED"
    COMPLETING = "COMPLETING"
    TERMINATING = "TERMINATING"


class ElementInstance(BaseModel):
    """One element instance: its lifecycle state, its record value (the process instance
    record every event of the instance carries) and what its behaviour keeps between commands.

    - `children`: active child element instances (scopes, multi-instance bodies);
    - `joins`: per joining gateway id, per incoming flow id, the flows taken towards it that the
      gateway has not consumed yet (parallel and inclusive joins of this scope);
    - `loop_counter`: a multi-instance body's inner instances created so far;
    - `job_key`: the job a task created; `called_key`: the child process instance of a call
      activity.
    Subscriptions and timers of the element are kept by their own stores, by element key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: ElementState
    value: ProcessInstanceRecordValue
    children: int = 0
    joins: dict[str, dict[str, int]] = Field(default_factory=dict)
    loop_counter: int = 0
    job_key: int = NO_KEY
    called_key: int = NO_KEY

    @property
    def flow_scope_key(self) -> int:
        return self.value.flow_scope_key

    @property
    def element_id(self) -> str:
        return self.value.element_id

    def waiting_at_joins(self) -> bool:
        return any(count for flows in self.joins.values() for count in flows.values())


_entry_serializer = ElementInstance.__pydantic_serializer__
_new = object.__new__
_set = object.__setattr__


def replaced(original, /, **changes):
    """A copy of a frozen pydantic value with some fields replaced, without validation: the
    executor's hot path, where the fields are named at the call site. Cheaper than `evolve`
    (no check for unknown fields, and the copy shares the original's set of fields set, which
    only `exclude_unset` reads and nothing here uses) and than `model_construct` (which inspects
    every default factory on every call: 0.8 s of a 6 s profile of the BPMN benchmark)."""
    copy = _new(type(original))
    fields = original.__dict__.copy()
    fields.update(changes)
    _set(copy, "__dict__", fields)
    _set(copy, "__pydantic_fields_set__", original.__pydantic_fields_set__)
    _set(copy, "__pydantic_extra__", None)
    _set(copy, "__pydantic_private__", None)
    return copy


# What new values are made from with `replaced` (mutable defaults are always replaced too).
NEW_ENTRY = ElementInstance(state=ElementState.ACTIVATING, value=ProcessInstanceRecordValue())


def new_entry(value: ProcessInstanceRecordValue) -> ElementInstance:
    return replaced(NEW_ENTRY, value=value, joins={})


def _encode_entry(entry: ElementInstance) -> bytes:
    if type(entry) is not ElementInstance:
        raise TypeError(f"expected an ElementInstance, got {type(entry).__name__}")
    return _entry_serializer.to_json(entry)


ELEMENT_INSTANCE_ENTRY = ValueCodec(
    "element_instance", _encode_entry, ElementInstance.model_validate_json
)


class ScopeVariables:
    """The variables of one scope: name -> value (JSON values) and name -> variable key (a
    variable keeps its key across updates, as its VARIABLE records do). Immutable once stored:
    `with_variable` returns a new document."""

    __slots__ = ("values", "keys")

    def __init__(self, values: dict, keys: dict[str, int]):
        self.values = values
        self.keys = keys

    def with_variable(self, name: str, key: int, value) -> "ScopeVariables":
        return ScopeVariables({**self.values, name: value}, {**self.keys, name: key})

    def __eq__(self, other) -> bool:
        return (
            type(other) is ScopeVariables
            and self.values == other.values
            and self.keys == other.keys
        )

    def __repr__(self) -> str:
        return f"ScopeVariables({self.values!r})"


def encode_json(value) -> bytes:
    """JSON as the log writes it (pydantic's encoder: NaN and infinities as constants, tuples as
    lists), so a value stored by the leader and the same value decoded by replay give the same
    bytes."""
    return pydantic_core.to_json(value, inf_nan_mode="constants")


def _encode_scope(document: ScopeVariables) -> bytes:
    if type(document) is not ScopeVariables:
        raise TypeError(f"expected ScopeVariables, got {type(document).__name__}")
    return encode_json({name: [document.keys[name], v] for name, v in document.values.items()})


def _decode_scope(data: bytes) -> ScopeVariables:
    raw = pydantic_core.from_json(data, allow_inf_nan=True)
    return ScopeVariables(
        {name: pair[1] for name, pair in raw.items()}, {name: pair[0] for name, pair in raw.items()}
    )


SCOPE_VARIABLES = ValueCodec("scope_variables", _encode_scope, _decode_scope)
