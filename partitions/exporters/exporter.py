"""The exporter interface."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from raybee.partitions.protocol import Record


@dataclass
class ExporterContext:
    """What the exporter director hands an exporter when it opens it."""

    partition_id: int
    # The last position this exporter acknowledged before (it receives only later records).
    last_exported_position: int
    # Call with a position once every record up to it is durable at the exporter's target.
    acknowledge: Callable[[int], None]


class Exporter(ABC):
    """Receives every committed record of a partition, in position order, exactly once per
    acknowledged position (records after the last acknowledged position may come again after a
    restart, so an exporter must tolerate seeing them twice)."""

    exporter_id: str

    @abstractmethod
    def open(self, context: ExporterContext) -> None: ...

    @abstractmethod
    def export(self, records: Sequence[Record]) -> None:
        """Records in strictly increasing position order."""

    @abstractmethod
    def flush(self) -> None:
        """Make everything exported so far durable and acknowledge it."""

    def close(self) -> None:
        self.flush()
