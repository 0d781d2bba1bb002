"""Appliers of ERROR events: the record is the report; state does not change."""

from raybee.partitions.protocol import ErrorIntent, ValueType

from . import applies


@applies(ValueType.ERROR, ErrorIntent.CREATED)
def created(state, record):
    pass
