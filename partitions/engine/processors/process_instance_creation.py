"""PROCESS_INSTANCE_CREATION CREATE and CREATE_WITH_AWAITING_RESULT: start an instance of a
deployed process at its none start event, with variables.

The process is found by definition key, or by bpmn process id (its latest version, or the
version asked for). The instance runs within this command until every path waits (see
bpmn_behaviors/executor.py); the CREATED event answers CREATE at once. For
CREATE_WITH_AWAITING_RESULT, the CREATED event records the request (its applier keeps it), and
the answer is the instance's result when it completes - possibly within this very command.
"""

from raybee.partitions.protocol import (
    NO_KEY,
    ProcessInstanceCreationIntent,
    ProcessInstanceIntent,
    RejectionType,
    evolve,
)

from ..bpmn_behaviors.call_activity import instance_value
from ..bpmn_behaviors.executor import Executor
from ..bpmn_behaviors.variables import set_local
from ..context import ProcessingContext
from .variable_document import variables_problem


class CreateProcessInstance:
    awaiting_result = False

    def process(self, command, ctx: ProcessingContext) -> None:
        request = command.value
        process = _find_process(ctx, request)
        if process is None:
            return
        if request.start_element_ids:
            return ctx.reject(
                RejectionType.INVALID_ARGUMENT,
                f"Expected to start the instance at its none start event, but start instructions "
                f"{request.start_element_ids} were given; raybee does not support them",
            )
        if process.model.process.scope.none_start_event_id is None:
            return ctx.reject(
                RejectionType.INVALID_STATE,
                f"Expected to create an instance of process '{process.bpmn_process_id}' at its "
                f"none start event, but it has none (it starts by message or timer)",
            )
        problem = variables_problem(request.variables)
        if problem:
            return ctx.reject(*problem)
        key = ctx.next_key()
        ctx.append_event(
            key, ProcessInstanceIntent.ELEMENT_ACTIVATING, instance_value(process, key)
        )
        executor = Executor(ctx)
        set_local(executor, key, request.variables)
        created = evolve(
            request,
            bpmn_process_id=process.bpmn_process_id,
            version=process.version,
            process_definition_key=process.key,
            process_instance_key=key,
            awaiting_result=self.awaiting_result,
        )
        record = ctx.append_event(key, ProcessInstanceCreationIntent.CREATED, created)
        if not self.awaiting_result:
            ctx.respond(record)
        executor.continue_activation(key)
        executor.drain()


class CreateInstance(CreateProcessInstance):
    pass


class CreateInstanceAwaitingResult(CreateProcessInstance):
    awaiting_result = True


def _find_process(ctx: ProcessingContext, request):
    processes_ = ctx.state.processes
    if request.process_definition_key != NO_KEY:
        process = processes_.get(request.process_definition_key)
        wanted = f"process definition key '{request.process_definition_key}'"
    elif not request.bpmn_process_id:
        ctx.reject(
            RejectionType.INVALID_ARGUMENT,
            "Expected a bpmn process id or a process definition key to create an instance, but "
            "neither was given",
        )
        return None
    elif request.version >= 1:
        process = processes_.by_version(request.bpmn_process_id, request.version)
        wanted = f"BPMN process id '{request.bpmn_process_id}' and version {request.version}"
    else:
        process = processes_.latest(request.bpmn_process_id)
        wanted = f"BPMN process id '{request.bpmn_process_id}'"
    if process is None:
        ctx.reject(
            RejectionType.NOT_FOUND,
            f"Expected to find a process definition with {wanted}, but none was found",
        )
    return process
