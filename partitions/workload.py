"""A seeded random job workload: creates, activations, completions, failures, time-outs,
errors, retries, cancels and incident resolutions, in proportions that touch every path."""

import random

from raybee.partitions.protocol import IncidentIntent, JobIntent, ValueType
from raybee.partitions.testing import activate, create, job_command, resolve

JOB_TYPES = ("payment", "shipping", "email")


def run_job_workload(partition, clock, rng: random.Random, steps: int) -> dict[str, int]:
    """Drive a LocalPartition for `steps` commands; returns how often each action ran."""
    counts: dict[str, int] = {}
    activated: list[int] = []
    known: list[int] = []
    incidents: list[int] = []
    for _ in range(steps):
        roll = rng.random()
        if roll < 0.25 or not known:
            action, command = (
                "create",
                create(
                    rng.choice(JOB_TYPES),
                    retries=rng.randint(1, 3),
                    variables={"n": rng.randint(0, 9)},
                ),
            )
        elif roll < 0.45:
            action, command = (
                "activate",
                activate(
                    rng.choice(JOB_TYPES),
                    max_jobs=rng.randint(1, 4),
                    timeout_ms=rng.randint(1, 2000),
                ),
            )
        elif roll < 0.60 and activated:
            action, command = (
                "complete",
                job_command(JobIntent.COMPLETE, rng.choice(activated), variables={"done": True}),
            )
        elif roll < 0.70 and activated:
            action, command = (
                "fail",
                job_command(
                    JobIntent.FAIL,
                    rng.choice(activated),
                    retries=rng.randint(0, 2),
                    retry_backoff_ms=rng.choice([0, 0, 300]),
                ),
            )
        elif roll < 0.74 and activated:
            action, command = (
                "throw_error",
                job_command(JobIntent.THROW_ERROR, rng.choice(activated), error_code="E1"),
            )
        elif roll < 0.78:
            action, command = (
                "update_retries",
                job_command(JobIntent.UPDATE_RETRIES, rng.choice(known), retries=rng.randint(1, 3)),
            )
        elif roll < 0.82 and incidents:
            action, command = "resolve", resolve(rng.choice(incidents))
        elif roll < 0.85:
            action, command = "cancel", job_command(JobIntent.CANCEL, rng.choice(known))
        elif roll < 0.88 and activated:
            action, command = "yield", job_command(JobIntent.YIELD, rng.choice(activated))
        else:
            action, command = "tick", None
            clock.advance(rng.randint(0, 800))
        counts[action] = counts.get(action, 0) + 1
        if command is None:
            responses = partition.tick()
        else:
            partition.write_commands([command])
            responses = partition.process()
        for response in responses:
            record = response.record
            if not record.is_event:
                continue
            if record.value_type == ValueType.JOB and record.intent == JobIntent.CREATED:
                known.append(record.key)
            elif record.value_type == ValueType.JOB_BATCH:
                activated.extend(record.value.job_keys)
            elif (
                record.value_type == ValueType.INCIDENT and record.intent == IncidentIntent.RESOLVED
            ):
                incidents = [k for k in incidents if k != record.key]
        for record in partition.log.read_from(partition.log.last_position - 20):
            if (
                record.value_type == ValueType.INCIDENT
                and record.intent == IncidentIntent.CREATED
                and record.key not in incidents
            ):
                incidents.append(record.key)
    return counts
