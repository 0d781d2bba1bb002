"""Appliers of COMMAND_DISTRIBUTION events: the sender's pending sends and the receiver's
receipts (see engine/distribution.py)."""

from ..distribution import (
    RECEIPT_RETENTION_MS,
    RECEIPTS_FORGOTTEN_PER_RECEIPT_MAX,
    RESEND_INTERVAL_MS,
)
from ..stores.distribution import Receipt


def started(state, record):
    state.distribution.keep(record.key, record.timestamp_ms + RESEND_INTERVAL_MS, record.value)


def resent(state, record):
    state.distribution.reschedule(record.key, record.timestamp_ms + RESEND_INTERVAL_MS)


def acknowledged(state, record):
    state.distribution.remove(record.key)


def received(state, record):
    distribution = state.distribution
    distribution.forget_expired(record.timestamp_ms, RECEIPTS_FORGOTTEN_PER_RECEIPT_MAX)
    value = record.value
    distribution.remember(
        record.key,
        Receipt(
            record.timestamp_ms + RECEIPT_RETENTION_MS, value.rejection_type, value.rejection_reason
        ),
    )
