"""INCIDENT RESOLVE."""

from raybee.partitions.protocol import NO_KEY, IncidentIntent, RejectionType

from ..behaviors import push_to_stream
from ..bpmn_behaviors.incidents import retry_step
from ..context import ProcessingContext
from ..stores import JobState


class ResolveIncident:
    def process(self, command, ctx: ProcessingContext) -> None:
        key = command.key
        incident = ctx.state.incidents.get(key)
        if incident is None:
            ctx.reject(
                RejectionType.NOT_FOUND,
                f"Expected to resolve incident with key '{key}', but no such incident was found",
            )
            return
        if incident.job_key != NO_KEY:
            job = ctx.state.jobs.get(incident.job_key)
            if job is not None and job.retries < 1:
                ctx.reject(
                    RejectionType.INVALID_STATE,
                    f"Expected to resolve incident with key '{key}', but its job with key "
                    f"'{incident.job_key}' has no retries left; update the job's retries first",
                )
                return
        ctx.respond(ctx.append_event(key, IncidentIntent.RESOLVED, incident))
        retry_step(ctx, incident)  # an element's incident: run its failed step again
        # "When the incident is resolved, the job can be activated by a worker again"
        # (https://docs.camunda.io/docs/components/concepts/incidents/): the applier made it
        # ACTIVATABLE, so a job stream may take it at once.
        if incident.job_key != NO_KEY:
            job = ctx.state.jobs.get(incident.job_key)
            if job is not None and ctx.state.jobs.state(incident.job_key) == JobState.ACTIVATABLE:
                push_to_stream(ctx, incident.job_key, job)
