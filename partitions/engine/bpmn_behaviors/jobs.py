"""Jobs of BPMN elements: created when a task (or a message throw/end event) is activated,
completing the element when completed, cancelled when the element is terminated.

A job of an element carries the element instance key, the process instance key, the bpmn
process id, version and definition key, its headers, and no variables: a worker gets the
variables the element sees at the moment the job is activated (`job_variables`), as in Zeebe.
"""

import json

from raybee.partitions.engine.bpmn import USER_TASK_JOB_TYPE, BpmnElementType
from raybee.partitions.protocol import (
    NO_KEY,
    IncidentIntent,
    JobIntent,
    JobRecordValue,
    evolve,
)

from ..behaviors import push_to_stream
from ..bpmn_entries import ElementState, replaced
from .expressions import EXTRACT_VALUE_ERROR, StepFailed, evaluate, evaluate_int, evaluate_string
from .termination import closes_on_termination
from .variables import set_local

_JOB = JobRecordValue()
# Headers Zeebe gives a job-worker user task (its documentation, "User tasks").
USER_TASK_HEADER_PREFIX = "io.camunda.zeebe:"


def create_job(executor, key: int, node, process) -> None:
    """Evaluate the job definition (StepFailed when it cannot be), mark the element ACTIVATED
    and create its job, pushing it to a job stream if a worker has one open."""
    definition = node.job
    static = not (definition.type.is_feel or definition.retries.is_feel or node.user_task)
    view = {} if static else executor.variables_of(key)  # static values read no variables
    now = executor.now
    job_type = evaluate_string(process, definition.type, view, now, "job type")
    if not job_type:
        raise StepFailed(
            EXTRACT_VALUE_ERROR, f"Expected a job type, but '{definition.type.source}' is empty"
        )
    retries = evaluate_int(process, definition.retries, view, now, "job retries")
    headers = dict(definition.headers)
    if node.user_task is not None and job_type == USER_TASK_JOB_TYPE:
        headers.update(_user_task_headers(process, node.user_task, view, now))
    entry = executor.activated(key)
    value = entry.value
    job = replaced(
        _JOB,
        type=job_type,
        retries=retries,
        custom_headers=headers,
        element_id=value.element_id,
        element_instance_key=key,
        bpmn_process_id=value.bpmn_process_id,
        process_definition_version=value.version,
        process_definition_key=value.process_definition_key,
        process_instance_key=value.process_instance_key,
        tenant_id=value.tenant_id,
        variables={},
    )
    job_key = executor.ctx.next_key()
    executor.ctx.append_event(job_key, JobIntent.CREATED, job)
    push_to_stream(executor.ctx, job_key, job)


def _user_task_headers(process, user_task, view, now) -> dict[str, str]:
    headers = {}
    if user_task.form_key:
        headers[USER_TASK_HEADER_PREFIX + "formKey"] = user_task.form_key
    for field, header in (
        ("assignee", "assignee"),
        ("candidate_groups", "candidateGroups"),
        ("candidate_users", "candidateUsers"),
        ("due_date", "dueDate"),
        ("follow_up_date", "followUpDate"),
    ):
        expression = getattr(user_task, field)
        if expression is None:
            continue
        value = evaluate(process, expression, view, now)
        if field.startswith("candidate"):
            if type(value) is str:
                value = [part.strip() for part in value.split(",") if part.strip()]
            if type(value) is not list:
                raise StepFailed(
                    EXTRACT_VALUE_ERROR,
                    f"Expected the {header} '{expression.source}' to be a list or a "
                    f"comma-separated string, but it was {value!r:.100}",
                )
            value = json.dumps([str(item) for item in value])
        elif value is None:
            continue
        headers[USER_TASK_HEADER_PREFIX + header] = str(value)
    return headers


def complete_job_element(ctx, job: JobRecordValue, variables: dict) -> None:
    """JOB COMPLETED: the element of the job completes, taking the job's variables."""
    from .executor import Executor

    key = job.element_instance_key
    if key == NO_KEY:
        return
    entry = ctx.state.element_instances.get(key)
    if entry is None or entry.state != ElementState.ACTIVATED:
        return  # the element went on without the job (terminated, or completed otherwise)
    executor = Executor(ctx)
    executor.complete(key, variables or None)
    executor.drain()


def fail_job_element(ctx, job: JobRecordValue, variables: dict) -> None:
    """JOB FAILED with variables: they become local variables of the job's element (Zeebe's
    FailJobRequest.variables)."""
    from .executor import Executor

    key = job.element_instance_key
    if key == NO_KEY or not variables or ctx.state.element_instances.get(key) is None:
        return
    set_local(Executor(ctx), key, variables)


@closes_on_termination
def cancel_job(executor, key: int, entry) -> None:
    """The element's job is cancelled with it (its incident resolved first, as JOB CANCEL
    does)."""
    if entry.job_key == NO_KEY or entry.value.bpmn_element_type == BpmnElementType.PROCESS:
        return
    state = executor.state
    job = state.jobs.get(entry.job_key)
    if job is None:
        return
    incident_key = state.incidents.of_job(entry.job_key)
    if incident_key is not None:
        incident = state.incidents.get(incident_key)
        executor.ctx.append_event(incident_key, IncidentIntent.RESOLVED, incident)
    executor.ctx.append_event(entry.job_key, JobIntent.CANCELED, evolve(job))
