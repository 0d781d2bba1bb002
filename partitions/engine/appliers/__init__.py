"""Event appliers: the only code that changes state. One applier per (value type, intent,
record version); a released applier is never edited — a changed behaviour is a new version."""

from collections.abc import Callable
from enum import IntEnum

from raybee.partitions.protocol import Record, ValueType

Applier = Callable[["object", Record], None]
_REGISTRY: dict[tuple[ValueType, IntEnum, int], Applier] = {}


def applies(value_type: ValueType, intent: IntEnum, version: int = 1):
    def register(function: Applier) -> Applier:
        slot = (value_type, intent, version)
        assert slot not in _REGISTRY, f"two appliers for {slot}"
        _REGISTRY[slot] = function
        return function

    return register


class EventAppliers:
    """Dispatches an event to its applier, then moves the key generator past its key."""

    def __init__(self) -> None:
        from . import deployment, error, incident, job, job_batch, process_instance  # noqa: F401

        self._appliers = {(int(vt), int(i), v): f for (vt, i, v), f in _REGISTRY.items()}
        # The version a NEW event is written for: the newest applier of its (type, intent).
        # Events already in a log keep theirs, and replay picks the applier by it.
        self._latest: dict[tuple[int, int], int] = {}
        for vt, i, version in self._appliers:
            self._latest[(vt, i)] = max(version, self._latest.get((vt, i), 0))

    def add(self, value_type: ValueType, intent: IntEnum, version: int, applier: Applier) -> None:
        """Plug in one more applier (tests of the processing machinery use it)."""
        slot = (int(value_type), int(intent), version)
        assert slot not in self._appliers, f"an applier for {slot} exists"
        self._appliers[slot] = applier
        pair = (int(value_type), int(intent))
        self._latest[pair] = max(version, self._latest.get(pair, 0))

    def latest_version(self, value_type: int, intent: int) -> int:
        """The applier version an event of this type and intent is written for now."""
        version = self._latest.get((value_type, intent))
        if version is None:
            raise LookupError(
                f"no applier for {ValueType(value_type).name} intent {int(intent)}: an event "
                f"nothing can apply must not be written"
            )
        return version

    def apply(self, state, record: Record) -> None:
        assert record.is_event, f"only events are applied, not {record.record_type.name}"
        applier = self._appliers.get((record.value_type, record.intent, record.record_version))
        if applier is None:
            raise LookupError(
                f"no applier for {record.value_type.name} {record.intent.name} "
                f"version {record.record_version} (event at position {record.position})"
            )
        applier(state, record)
        state.keys.observe(record.key)
