"""The variables a worker gets with a job (apart from jobs.py, which needs the job streams:
the job streams need this)."""

from raybee.partitions.protocol import NO_KEY, JobRecordValue


def job_variables(state, job: JobRecordValue) -> dict:
    """For a job of an element: the variables the element sees now (Zeebe hands a worker the
    variables of the job's scope at activation). For a standalone job: its own."""
    key = job.element_instance_key
    if key == NO_KEY or state.element_instances.get(key) is None:
        return job.variables
    instances = state.element_instances
    return state.variables.visible(scope for scope, _ in instances.scope_chain(key))
