"""Typed access to the engine's state: read-only for processors, mutable for appliers."""

from .incidents import IncidentStore
from .jobs import JobState, JobStore
from .positions import KeyGenerator, PositionStore

__all__ = ["IncidentStore", "JobState", "JobStore", "KeyGenerator", "PositionStore"]
