"""The engine: processors of commands, appliers of events, and typed state between them."""

from .context import EngineState, ProcessingContext, ProcessingResult, Response
from .families import ENGINE_FAMILIES

__all__ = ["ENGINE_FAMILIES", "EngineState", "ProcessingContext", "ProcessingResult", "Response"]
