"""The simulator's disk: writes wait in a page cache until flush; crashes and I/O errors hit them.

A `SimDisk` is the live view a replica's process sees (a MemoryStorage) over `durable`, what
survives a crash. Appends and snapshot installs are pending until `flush()`; the hard state is a
small file written atomically (temp, fsync, rename), so it is durable once `set_hard_state`
returns. Before the host calls `persist_ready` the simulator may arm ONE fault:

  crash_in_flush        the process dies when flush() starts: pending writes are lost or torn
  crash_in_hard_state   the process dies inside set_hard_state: the old hard state stays
  append_error          append() fails (ENOSPC) after a strict prefix reached the page cache
  flush_error           fsync fails (EIO): a prefix of the pending writes is durable, the rest
                        is dropped and marked clean, so a retried flush "succeeds" (fsyncgate)
  hard_state_error      set_hard_state() fails (EIO): nothing written
  snapshot_error        apply_snapshot() fails (EIO): nothing written

A fault fires only if persist_ready reaches the call it is armed on; `fired` says whether it did.
Every durable change is shown to `watch` first, so the checker sees a committed entry being lost
the moment it happens, not when some later read trips over it.
"""

from __future__ import annotations

import errno
import random
from collections.abc import Sequence
from typing import Protocol

from ..storage import MemoryStorage
from ..types import Entry, HardState, Snapshot

WRITE_FAULTS = (
    "crash_in_flush",
    "crash_in_hard_state",
    "append_error",
    "flush_error",
    "hard_state_error",
    "snapshot_error",
)


class SimCrash(BaseException):
    """The process died inside a storage call. Not an Exception: no host code may handle it."""


class DurableWatch(Protocol):
    def before_durable_write(
        self, disk: SimDisk, first_index: int, entries: Sequence[Entry]
    ) -> None: ...
    def before_durable_snapshot(self, disk: SimDisk, snapshot: Snapshot) -> None: ...
    def before_durable_hard_state(self, disk: SimDisk, hard_state: HardState) -> None: ...


class SimDisk(MemoryStorage):
    def __init__(
        self, node_id: int, durable: MemoryStorage, watch: DurableWatch | None = None
    ) -> None:
        super().__init__()
        self.node_id = node_id
        self.durable = durable
        self.watch = watch
        self._pending: list[tuple[str, object]] = []
        self._armed: tuple[str, random.Random] | None = None
        self.fired: str | None = None
        self._reload()

    def _reload(self) -> None:
        live = self.durable.copy()
        self._hard_state, self._snapshot, self._entries = (
            live._hard_state,
            live._snapshot,
            live._entries,
        )

    @property
    def pending_writes(self) -> int:
        return len(self._pending)

    # ------------------------------------------------------------------ faults

    def arm(self, fault: str, rng: random.Random) -> None:
        assert fault in WRITE_FAULTS, fault
        self._armed = (fault, rng)
        self.fired = None

    def disarm(self) -> None:
        self._armed = None

    def _fire(self, fault: str) -> random.Random | None:
        if self._armed is None or self._armed[0] != fault:
            return None
        rng = self._armed[1]
        self._armed = None
        self.fired = fault
        return rng

    # ------------------------------------------------------------------ writes

    def append(self, entries: Sequence[Entry]) -> None:
        rng = self._fire("append_error") if entries else None
        if rng is not None:
            keep = rng.randrange(len(entries))
            self._append_live(entries[:keep])
            raise OSError(
                errno.ENOSPC,
                f"simulated: no space left on node {self.node_id}'s disk appending entries "
                f"{entries[0].index}..{entries[-1].index} ({keep} reached the page cache)",
            )
        self._append_live(entries)

    def _append_live(self, entries: Sequence[Entry]) -> None:
        super().append(entries)
        if entries:
            self._pending.append(("append", tuple(entries)))

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if self._fire("snapshot_error") is not None:
            raise OSError(
                errno.EIO,
                f"simulated: I/O error writing snapshot {snapshot.meta.index} on node "
                f"{self.node_id}",
            )
        super().apply_snapshot(snapshot)
        self._pending.append(("snapshot", snapshot))

    def set_hard_state(self, hard_state: HardState) -> None:
        if self._fire("crash_in_hard_state") is not None:
            raise SimCrash(f"node {self.node_id} died writing its hard state")
        if self._fire("hard_state_error") is not None:
            raise OSError(
                errno.EIO, f"simulated: I/O error writing node {self.node_id}'s hard state"
            )
        if self.watch is not None:
            self.watch.before_durable_hard_state(self, hard_state)
        super().set_hard_state(hard_state)
        self.durable.set_hard_state(hard_state)

    def _set_live_only(self, hard_state: HardState) -> None:
        """Only for tests that prove the checker notices a hard state that was not durable."""
        super().set_hard_state(hard_state)

    def create_snapshot(self, index, conf, data):  # type: ignore[override]
        self.flush()
        snap = super().create_snapshot(index, conf, data)
        self.durable.create_snapshot(index, conf, data)
        return snap

    def flush(self) -> None:
        if self._fire("crash_in_flush") is not None:
            raise SimCrash(f"node {self.node_id} died in fsync")
        rng = self._fire("flush_error") if self._pending else None
        if rng is not None:
            survive = rng.randrange(len(self._pending))  # the last write at least is lost
            lost = len(self._pending) - survive
            for op in self._pending[:survive]:
                self._make_durable(op)
            self._pending = []  # the kernel dropped the failed pages and marked them clean
            raise OSError(
                errno.EIO,
                f"simulated: fsync failed on node {self.node_id}; {lost} of {lost + survive} "
                f"writes are lost",
            )
        for op in self._pending:
            self._make_durable(op)
        self._pending = []

    def _make_durable(self, op: tuple[str, object]) -> None:
        kind, value = op
        if kind == "append":
            entries: tuple[Entry, ...] = value  # type: ignore[assignment]
            if self.watch is not None:
                self.watch.before_durable_write(self, entries[0].index, entries)
            self.durable.append(entries)
        else:
            snapshot: Snapshot = value  # type: ignore[assignment]
            if self.watch is not None:
                self.watch.before_durable_snapshot(self, snapshot)
            self.durable.apply_snapshot(snapshot)

    # ------------------------------------------------------------------ crashes

    def crash(self, rng: random.Random, tear: bool) -> tuple[int, bool]:
        """Lose unflushed writes: a random prefix survives, the next append maybe torn.

        Returns (writes lost, whether an append was torn); the live view becomes `durable`."""
        survive = rng.randint(0, len(self._pending))
        for op in self._pending[:survive]:
            self._make_durable(op)
        rest = self._pending[survive:]
        torn = False
        if tear and rest and rest[0][0] == "append":
            entries: tuple[Entry, ...] = rest[0][1]  # type: ignore[assignment]
            keep = rng.randrange(len(entries))  # a strict prefix; a torn tail fails its CRC
            if self.watch is not None:
                self.watch.before_durable_write(self, entries[0].index, entries[:keep])
            self.durable.truncate_from(entries[0].index)
            if keep:
                self.durable.append(entries[:keep])
            torn = True
        self._pending = []
        self._armed = None
        self._reload()
        return len(rest), torn

    def out_of_sync(self) -> str | None:
        """Why the live view is not all durable, or None. After persist_ready it must be."""
        if self._pending:
            return f"{len(self._pending)} writes not flushed"
        live, disk = self, self.durable
        if live.snapshot_meta().index != disk.snapshot_meta().index:
            return (
                f"snapshot {live.snapshot_meta().index} seen, {disk.snapshot_meta().index} on disk"
            )
        if live.last_index() != disk.last_index():
            return f"log ends at {live.last_index()} as seen, at {disk.last_index()} on disk"
        last = live.last_index()
        if live.term(last) != disk.term(last):
            return f"entry {last} has term {live.term(last)} as seen, {disk.term(last)} on disk"
        if live.hard_state() != disk.hard_state():
            return f"hard state {live.hard_state()} seen, {disk.hard_state()} on disk"
        return None
