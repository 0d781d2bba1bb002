"""Sends between partitions (see engine/distribution.py): on the sender, the sends not
acknowledged yet and when each is due to be sent again; on the receiver, the sends already
processed, with their answer, until they expire."""

import itertools
from collections.abc import Iterator
from typing import NamedTuple

from raybee.partitions.protocol import CommandDistributionRecordValue

from ..families import EMPTY, PENDING_SENDS, RECEIPT_EXPIRIES, RECEIPTS, SEND_RESENDS


class PendingSend(NamedTuple):
    due_ms: int
    value: CommandDistributionRecordValue


class Receipt(NamedTuple):
    expires_ms: int
    rejection_type: int
    rejection_reason: str


class DistributionStore:
    def __init__(self, reader, writer=None):
        self._reader = reader
        self._writer = writer

    # ------------------------------------------------------------------ sender
    def pending(self, send_key: int) -> PendingSend | None:
        raw = self._reader.get(PENDING_SENDS, send_key)
        if raw is None:
            return None
        due_ms, partition_id, value_type, intent, command_key, command_value = raw
        return PendingSend(
            due_ms,
            CommandDistributionRecordValue(
                partition_id=partition_id,
                value_type=value_type,
                intent=intent,
                command_key=command_key,
                command_value=command_value,
            ),
        )

    def due_before(self, time_ms: int) -> Iterator[tuple[int, int]]:
        """(due ms, send key) of the sends due at or before time_ms, oldest first."""
        for (due_ms, send_key), _ in self._reader.range(SEND_RESENDS, None, (time_ms + 1,)):
            yield due_ms, send_key

    def pending_keys(self) -> Iterator[int]:
        for send_key, _ in self._reader.items(PENDING_SENDS):
            yield send_key

    def keep(self, send_key: int, due_ms: int, value: CommandDistributionRecordValue) -> None:
        assert self._reader.get(PENDING_SENDS, send_key) is None, f"send {send_key} kept twice"
        self._writer.put(
            PENDING_SENDS,
            send_key,
            [
                due_ms,
                value.partition_id,
                value.value_type,
                value.intent,
                value.command_key,
                value.command_value,
            ],
        )
        self._writer.put(SEND_RESENDS, (due_ms, send_key), EMPTY)

    def reschedule(self, send_key: int, due_ms: int) -> None:
        raw = self._reader.get(PENDING_SENDS, send_key)
        assert raw is not None, f"send {send_key} is not pending"
        self._writer.delete(SEND_RESENDS, (raw[0], send_key))
        self._writer.put(PENDING_SENDS, send_key, [due_ms, *raw[1:]])
        self._writer.put(SEND_RESENDS, (due_ms, send_key), EMPTY)

    def remove(self, send_key: int) -> None:
        raw = self._reader.get(PENDING_SENDS, send_key)
        assert raw is not None, f"send {send_key} is not pending"
        self._writer.delete(PENDING_SENDS, send_key)
        self._writer.delete(SEND_RESENDS, (raw[0], send_key))

    # ------------------------------------------------------------------ receiver
    def receipt(self, send_key: int) -> Receipt | None:
        raw = self._reader.get(RECEIPTS, send_key)
        return None if raw is None else Receipt(*raw)

    def remember(self, send_key: int, receipt: Receipt) -> None:
        assert self._reader.get(RECEIPTS, send_key) is None, f"send {send_key} received twice"
        self._writer.put(RECEIPTS, send_key, list(receipt))
        self._writer.put(RECEIPT_EXPIRIES, (receipt.expires_ms, send_key), EMPTY)

    def forget_expired(self, now_ms: int, limit: int) -> None:
        """Forget up to `limit` receipts that expired before now_ms."""
        expired = list(
            itertools.islice(self._reader.range(RECEIPT_EXPIRIES, None, (now_ms,)), limit)
        )
        for (expires_ms, send_key), _ in expired:
            self._writer.delete(RECEIPT_EXPIRIES, (expires_ms, send_key))
            self._writer.delete(RECEIPTS, send_key)
