"""Structured events: every decision of the supervisor (and what it saw) as one record with a
kind and fields, kept in a bounded log and shown by `raybee status`.

Kinds (the `fields` each carries are listed in `EVENT_KINDS`): what the supervisor decided
(`broker_placed`, `partitions_created`, `learner_added`, `promoted`, `member_removed`,
`leadership_transferred`, `waiting_for_node`) and what it observed (`broker_ready`,
`broker_suspected`, `broker_lost`, `broker_restarted`, `leader_changed`, `caught_up`,
`view_rebuilt`, `supervisor_started`, `operation_failed`).
"""

import json
from collections import deque
from dataclasses import asdict, dataclass, field

EVENTS_KEPT_MAX = 1_000

EVENT_KINDS = {
    "supervisor_started": ("incarnation",),
    "view_rebuilt": ("brokers", "partitions"),
    "broker_placed": ("broker", "node", "reason"),
    "broker_ready": ("broker", "node", "pid"),
    "broker_restarted": ("broker", "pid"),
    "broker_suspected": ("broker", "reason"),
    "broker_lost": ("broker", "node", "reason"),
    "waiting_for_node": ("partitions",),
    "partitions_created": ("placement",),
    "learner_added": ("partition", "replica", "broker", "replaces"),
    "caught_up": ("partition", "replica", "lag"),
    "promoted": ("partition", "replica"),
    "member_removed": ("partition", "replica"),
    "leader_changed": ("partition", "leader", "broker", "term"),
    "leadership_transferred": ("partition", "from_replica", "to_replica"),
    "operation_failed": ("operation", "error"),
}


@dataclass(frozen=True)
class Event:
    seq: int
    time_ms: int
    kind: str
    fields: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        expected = EVENT_KINDS.get(self.kind)
        assert expected is not None, f"unknown event kind {self.kind!r}"
        missing = [name for name in expected if name not in self.fields]
        assert not missing, f"event {self.kind} lacks {missing}"

    def describe(self) -> str:
        details = " ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.kind} {details}".strip()

    def to_json(self) -> dict:
        return asdict(self)


class EventLog:
    """The newest EVENTS_KEPT_MAX events, numbered from 1 (a reader asks for those after the
    last number it saw). `dump`/`load` carry them across a restart of their keeper."""

    def __init__(self, kept: int = EVENTS_KEPT_MAX) -> None:
        self._events: deque[Event] = deque(maxlen=kept)
        self._seq = 0
        self.changed = False

    def dump(self) -> str:
        return json.dumps([e.to_json() for e in self._events], default=str)

    def load(self, text: str) -> None:
        """Events saved by `dump` come first; numbering goes on after them."""
        saved = [Event(**e) for e in json.loads(text)]
        current = list(self._events)
        self._events.clear()
        self._events.extend(saved)
        self._seq = saved[-1].seq if saved else 0
        for event in current:
            self.add(event.time_ms, event.kind, **event.fields)

    def add(self, time_ms: int, kind: str, **fields) -> Event:
        self._seq += 1
        event = Event(self._seq, time_ms, kind, fields)
        self._events.append(event)
        self.changed = True
        return event

    def since(self, seq: int) -> list[Event]:
        return [e for e in self._events if e.seq > seq]

    def of_kind(self, kind: str) -> list[Event]:
        return [e for e in self._events if e.kind == kind]
