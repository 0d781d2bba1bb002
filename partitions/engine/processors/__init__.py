"""Command processors: one per (value type, intent). A processor reads state through its
context, and answers with follow-up events, follow-up commands, or a rejection."""

from enum import IntEnum

from raybee.partitions.protocol import Record, RejectionType, ValueType

from ..context import ProcessingContext

_REGISTRY: dict[tuple[ValueType, IntEnum], type] = {}


def processes(value_type: ValueType, intent: IntEnum):
    def register(cls: type) -> type:
        slot = (value_type, intent)
        assert slot not in _REGISTRY, f"two processors for {slot}"
        _REGISTRY[slot] = cls
        return cls

    return register


class CommandProcessors:
    def __init__(self) -> None:
        from . import (  # noqa: F401  (registration)
            deployment,
            incident,
            job,
            job_batch,
            process_instance,
            process_instance_creation,
            variable_document,
        )

        self._processors = {(int(vt), int(i)): cls() for (vt, i), cls in _REGISTRY.items()}

    def process(self, command: Record, context: ProcessingContext) -> None:
        assert command.is_command, command
        processor = self._processors.get((command.value_type, command.intent))
        if processor is None:
            context.reject(
                RejectionType.INVALID_ARGUMENT,
                f"Expected a command this partition can process, but there is no processor "
                f"for {command.value_type.name} {command.intent.name}",
            )
            return
        processor.process(command, context)
