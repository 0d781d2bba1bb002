"""Exporters: receive committed records in order and acknowledge the positions they have made
durable elsewhere; the journal is never compacted past the slowest exporter's position."""

from .director import ExporterDirector
from .exporter import Exporter, ExporterContext
from .parquet import ParquetExporter

__all__ = ["Exporter", "ExporterContext", "ExporterDirector", "ParquetExporter"]
