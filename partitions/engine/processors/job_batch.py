"""JOB_BATCH ACTIVATE: hand out up to max_jobs_to_activate activatable jobs of one type."""

from raybee.partitions.protocol import JobBatchIntent, RejectionType, evolve

from ..bpmn_behaviors.job_variables import job_variables
from ..context import ProcessingContext

JOBS_PER_ACTIVATION_MAX = 1_000
ACTIVATION_TIMEOUT_MS_MAX = 30 * 24 * 3600 * 1000


class ActivateJobs:
    def process(self, command, ctx: ProcessingContext) -> None:
        request = command.value
        problem = None
        if not request.type:
            problem = "Expected a job type to activate jobs, but the type is empty"
        elif not 1 <= request.max_jobs_to_activate <= JOBS_PER_ACTIVATION_MAX:
            problem = (
                f"Expected max_jobs_to_activate between 1 and {JOBS_PER_ACTIVATION_MAX}, "
                f"got {request.max_jobs_to_activate}"
            )
        elif not 1 <= request.timeout_ms <= ACTIVATION_TIMEOUT_MS_MAX:
            problem = (
                f"Expected a job timeout between 1 and {ACTIVATION_TIMEOUT_MS_MAX} ms, "
                f"got {request.timeout_ms}"
            )
        if problem:
            ctx.reject(RejectionType.INVALID_ARGUMENT, problem)
            return
        deadline_ms = ctx.now_ms + request.timeout_ms
        keys, jobs = [], []
        for key in ctx.state.jobs.activatable_keys(request.type):
            job = ctx.state.jobs.get(key)
            jobs.append(
                evolve(
                    job,
                    worker=request.worker,
                    deadline_ms=deadline_ms,
                    timeout_ms=request.timeout_ms,
                    variables=_fetch(job_variables(ctx.state, job), request.fetch_variables),
                )
            )
            keys.append(key)
            if len(keys) == request.max_jobs_to_activate:
                break
        activated = evolve(request, job_keys=keys, jobs=jobs)
        ctx.respond(ctx.append_event(ctx.next_key(), JobBatchIntent.ACTIVATED, activated))


def _fetch(variables: dict, names: list[str]) -> dict:
    if not names:
        return variables
    return {name: variables[name] for name in names if name in variables}
