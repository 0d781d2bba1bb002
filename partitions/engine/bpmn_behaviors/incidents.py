"""Incidents on element instances: raised when a step fails (a mapping, a condition, an
expression, a called process that is not deployed, an error nobody catches), resolved when the
instance is terminated, and retried when a client resolves them.

An element with an incident rests where its step failed: ACTIVATING (its activation failed),
COMPLETING (its completion failed) or, for a multi-instance body, ACTIVATED (its completion
condition failed). Resolving the incident runs that step again; if it fails again, a new
incident is raised. Job incidents (JOB_NO_RETRIES, a job's UNHANDLED_ERROR_EVENT) belong to the
job: resolving them hands the job back to workers (processors/incident.py).
"""

from raybee.partitions.protocol import NO_KEY, IncidentIntent, IncidentRecordValue

from ..bpmn_entries import ElementState
from .termination import closes_on_termination


def raise_incident(executor, key: int, error_type: str, message: str) -> None:
    value = executor.instances.get(key).value
    executor.ctx.append_event(
        executor.ctx.next_key(),
        IncidentIntent.CREATED,
        IncidentRecordValue(
            error_type=error_type,
            error_message=message,
            bpmn_process_id=value.bpmn_process_id,
            process_definition_key=value.process_definition_key,
            process_instance_key=value.process_instance_key,
            element_id=value.element_id,
            element_instance_key=key,
            variable_scope_key=key,
            tenant_id=value.tenant_id,
        ),
    )


@closes_on_termination
def resolve_element_incident(executor, key: int, entry) -> None:
    incident_key = executor.state.incidents.of_element(key)
    if incident_key is not None:
        incident = executor.state.incidents.get(incident_key)
        executor.ctx.append_event(incident_key, IncidentIntent.RESOLVED, incident)


def retry_step(ctx, incident: IncidentRecordValue) -> None:
    """After INCIDENT RESOLVED: run again the step of the element that failed."""
    from .executor import Executor

    key = incident.element_instance_key
    if incident.job_key != NO_KEY or key == NO_KEY:
        return
    entry = ctx.state.element_instances.get(key)
    if entry is None:
        return
    executor = Executor(ctx)
    if entry.state == ElementState.ACTIVATING:
        executor.continue_activation(key)
    elif entry.state == ElementState.COMPLETING:
        executor.continue_completion(key)
    elif entry.state == ElementState.ACTIVATED:
        executor.retry_activated(key)
    executor.drain()
