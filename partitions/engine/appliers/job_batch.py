"""Appliers of job batch events."""

from raybee.partitions.protocol import evolve


def activated(state, record):
    """The batch's jobs are what the worker sees (only the variables it fetched); the stored
    job keeps all of its variables and takes the worker, timeout and deadline."""
    batch = record.value
    assert len(batch.job_keys) == len(batch.jobs), "one job per key"
    for key, handed_out in zip(batch.job_keys, batch.jobs, strict=True):
        stored = state.jobs.get(key)
        assert stored is not None, f"job {key} activated but not stored"
        state.jobs.activate(
            key,
            evolve(
                stored,
                worker=handed_out.worker,
                timeout_ms=handed_out.timeout_ms,
                deadline_ms=handed_out.deadline_ms,
            ),
        )
