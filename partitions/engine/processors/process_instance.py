"""PROCESS_INSTANCE commands: CANCEL (from clients), and the lifecycle commands ACTIVATE_ELEMENT,
COMPLETE_ELEMENT and TERMINATE_ELEMENT.

The executor runs elements inline (bpmn_behaviors/executor.py), so it writes no lifecycle
commands itself; the three are here for engine code that wants a step done later in the batch
(a follow-up command), and are refused when a client writes them."""

from raybee.partitions.engine.bpmn import BpmnElementType
from raybee.partitions.protocol import NO_KEY, RejectionType

from ..bpmn_behaviors.executor import Executor
from ..bpmn_entries import ElementState
from ..context import ProcessingContext


class CancelProcessInstance:
    def process(self, command, ctx: ProcessingContext) -> None:
        key = command.key
        entry = ctx.state.element_instances.get(key)
        if entry is None or entry.value.bpmn_element_type != BpmnElementType.PROCESS:
            return ctx.reject(
                RejectionType.NOT_FOUND,
                f"Expected to cancel a process instance with key '{key}', but no such process "
                f"instance was found",
            )
        if entry.value.parent_process_instance_key != NO_KEY:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected to cancel a process instance with key '{key}', but it is a child of "
                f"process instance '{entry.value.parent_process_instance_key}' (a call "
                f"activity's); cancel the root process instance instead",
            )
        executor = Executor(ctx)
        ctx.respond(executor.terminate(key))
        executor.drain()


def _internal_only(command, ctx) -> bool:
    if command.source_record_position < 0:
        ctx.reject(
            RejectionType.INVALID_ARGUMENT,
            f"Expected {command.intent.name} only from the engine itself (a follow-up command), "
            f"but a client wrote it",
        )
        return False
    return True


def _element(ctx, key: int, action: str, states: tuple[ElementState, ...]):
    entry = ctx.state.element_instances.get(key)
    if entry is None:
        ctx.reject(
            RejectionType.NOT_FOUND,
            f"Expected to {action} element instance '{key}', but no such element instance exists",
        )
        return None
    if entry.state not in states:
        ctx.reject(
            RejectionType.INVALID_STATE,
            f"Expected to {action} element instance '{key}', but it is {entry.state.value}",
        )
        return None
    return entry


class ActivateElement:
    """Activate value.element_id in the flow scope value.flow_scope_key."""

    def process(self, command, ctx: ProcessingContext) -> None:
        if not _internal_only(command, ctx):
            return
        scope_key = command.value.flow_scope_key
        scope = _element(ctx, scope_key, "activate an element in", (ElementState.ACTIVATED,))
        if scope is None:
            return
        executor = Executor(ctx)
        process = executor.process_of(scope)
        node = process.node(command.value.element_id)
        executor.activate(process, scope_key, scope.value, node)
        executor.drain()


class CompleteElement:
    def process(self, command, ctx: ProcessingContext) -> None:
        if not _internal_only(command, ctx):
            return
        if _element(ctx, command.key, "complete", (ElementState.ACTIVATED,)) is None:
            return
        executor = Executor(ctx)
        executor.complete(command.key)
        executor.drain()


class TerminateElement:
    def process(self, command, ctx: ProcessingContext) -> None:
        if not _internal_only(command, ctx):
            return
        states = (ElementState.ACTIVATING, ElementState.ACTIVATED, ElementState.COMPLETING)
        if _element(ctx, command.key, "terminate", states) is None:
            return
        executor = Executor(ctx)
        executor.terminate(command.key)
        executor.drain()
