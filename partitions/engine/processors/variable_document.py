"""VARIABLE_DOCUMENT UPDATE: set variables on an element instance's scope, LOCAL (all on that
scope) or PROPAGATE (each on the nearest scope that defines it, else on the process instance;
see bpmn_behaviors/variables.py). A document over VARIABLE_DOCUMENT_BYTES_MAX (as JSON) is
rejected with EXCEEDED_BATCH_RECORD_SIZE naming the limit."""

from raybee.partitions.protocol import RejectionType, VariableDocumentIntent

from ..bpmn_behaviors.executor import Executor
from ..bpmn_behaviors.variables import VARIABLE_DOCUMENT_BYTES_MAX, propagate, set_local
from ..bpmn_entries import encode_json
from ..context import ProcessingContext

SEMANTICS = ("LOCAL", "PROPAGATE")


def variables_problem(variables) -> tuple[RejectionType, str] | None:
    """Why a variables document from a client cannot be taken, or None."""
    try:
        size = len(encode_json(variables))
    except Exception as error:  # noqa: BLE001  (pydantic raises several kinds)
        return (
            RejectionType.INVALID_ARGUMENT,
            f"Expected the variables to be a JSON document, but they cannot be encoded: {error}",
        )
    if size > VARIABLE_DOCUMENT_BYTES_MAX:
        return (
            RejectionType.EXCEEDED_BATCH_RECORD_SIZE,
            f"Expected the variables document to be at most VARIABLE_DOCUMENT_BYTES_MAX = "
            f"{VARIABLE_DOCUMENT_BYTES_MAX} bytes as JSON, but it is {size} bytes",
        )
    return None


class UpdateVariableDocument:
    def process(self, command, ctx: ProcessingContext) -> None:
        request = command.value
        if request.update_semantics not in SEMANTICS:
            return ctx.reject(
                RejectionType.INVALID_ARGUMENT,
                f"Expected update semantics LOCAL or PROPAGATE, got '{request.update_semantics}'",
            )
        problem = variables_problem(request.variables)
        if problem:
            return ctx.reject(*problem)
        if ctx.state.element_instances.get(request.scope_key) is None:
            return ctx.reject(
                RejectionType.NOT_FOUND,
                f"Expected to update the variables of element instance '{request.scope_key}', "
                f"but no such element instance was found",
            )
        executor = Executor(ctx)
        if request.update_semantics == "LOCAL":
            set_local(executor, request.scope_key, request.variables)
        else:
            propagate(executor, request.scope_key, request.variables)
        ctx.respond(ctx.append_event(ctx.next_key(), VariableDocumentIntent.UPDATED, request))
