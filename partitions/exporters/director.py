"""Feeds committed records to every exporter in order and keeps their acknowledged positions.

Positions live in a small JSON file replaced atomically (write, fsync, rename, fsync dir), not in
the replicated state: they describe this replica's exporters, and replay must rebuild state
byte for byte without them. The lowest position bounds log compaction.
"""

import json
import os
from pathlib import Path

from raybee.partitions.files import write_atomically

from .exporter import Exporter, ExporterContext

EXPORT_RECORDS_PER_CALL_MAX = 1_000


class ExporterDirector:
    def __init__(
        self, log, exporters: list[Exporter], positions_file: str | os.PathLike, partition_id: int
    ):
        ids = [e.exporter_id for e in exporters]
        if len(set(ids)) != len(ids):
            raise ValueError(f"exporter ids must be unique, got {ids}")
        self.log = log
        self.exporters = exporters
        self.partition_id = partition_id
        self.positions_file = Path(positions_file)
        self.positions: dict[str, int] = self._load()
        self._read_position: dict[str, int] = {}
        for exporter in exporters:
            exporter_id = exporter.exporter_id
            self.positions.setdefault(exporter_id, 0)
            self._read_position[exporter_id] = self.positions[exporter_id] + 1
            exporter.open(
                ExporterContext(
                    partition_id,
                    self.positions[exporter_id],
                    acknowledge=lambda position, eid=exporter_id: self._acknowledge(eid, position),
                )
            )

    def _load(self) -> dict[str, int]:
        if not self.positions_file.exists():
            return {}
        data = json.loads(self.positions_file.read_text())
        if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
            raise ValueError(
                f"{self.positions_file}: expected {{exporter id: position}}, got {data!r}"
            )
        return data

    def _acknowledge(self, exporter_id: str, position: int) -> None:
        if position < self.positions[exporter_id]:
            raise ValueError(
                f"exporter {exporter_id!r} acknowledged {position}, below its acknowledged "
                f"{self.positions[exporter_id]}: positions only move forward"
            )
        self.positions[exporter_id] = position
        self._store()

    def _store(self) -> None:
        write_atomically(self.positions_file, json.dumps(self.positions, sort_keys=True).encode())

    def export_available(self, committed_position: int | None = None) -> int:
        """Hand every committed record not yet exported to each exporter; returns how many."""
        limit = self.log.last_position if committed_position is None else committed_position
        handed = 0
        for exporter in self.exporters:
            exporter_id = exporter.exporter_id
            batch = []
            for record in self.log.read_from(self._read_position[exporter_id]):
                if record.position > limit:
                    break
                batch.append(record)
                if len(batch) >= EXPORT_RECORDS_PER_CALL_MAX:
                    exporter.export(batch)
                    handed += len(batch)
                    batch = []
                self._read_position[exporter_id] = record.position + 1
            if batch:
                exporter.export(batch)
                handed += len(batch)
        return handed

    def flush(self) -> None:
        for exporter in self.exporters:
            exporter.flush()

    @property
    def lowest_position(self) -> int:
        return min(self.positions.values(), default=0)

    def close(self) -> None:
        for exporter in self.exporters:
            exporter.close()
