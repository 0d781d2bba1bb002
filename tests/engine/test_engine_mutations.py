"""The engine's fast checks catch known bugs: each mutant below plants one (a patched applier,
processor, store method or replay step) and the fast check of a short seeded workload
(`check_job_workload`: semantics, job indexes, intent coverage, replay from scratch and from a
snapshot, byte for byte) must fail, in the checks named beside it; without a mutant it passes.

A mutant the checks let through is a hole in the tests, not in the engine: add a check."""

import os
import time

import pytest

from raybee.partitions.engine import ENGINE_FAMILIES
from raybee.partitions.engine.appliers import APPLIERS
from raybee.partitions.engine.appliers.job import failed_v2
from raybee.partitions.engine.engine import Replay
from raybee.partitions.engine.families import (
    EMPTY,
    INCIDENTS,
    JOB_BACKOFFS,
    JOB_DEADLINES,
    JOB_INCIDENTS,
    JOBS,
    JOBS_ACTIVATABLE,
)
from raybee.partitions.engine.processors import PROCESSORS
from raybee.partitions.engine.processors.job import (
    ANY_STATE,
    CancelJob,
    FailJob,
    TimeOutJob,
    job_in_state,
    released,
)
from raybee.partitions.engine.stores import JobState, JobStore
from raybee.partitions.engine.stores.job_cache import JobCache
from raybee.partitions.engine.stores.jobs import index_problems
from raybee.partitions.protocol import (
    IncidentIntent,
    IncidentRecordValue,
    JobIntent,
    JobRecordValue,
    RejectionType,
    ValueType,
    evolve,
)
from raybee.partitions.workload import check_job_workload
from raybee.state import MemoryStore

# Each run is deterministic for its seed; seeds 1 to 40 all catch every mutant in the checks
# named beside it (RAYBEE_SEEDS=1,...,40 to see it again).
SEEDS = [int(s) for s in os.environ.get("RAYBEE_SEEDS", "1").split(",")]
STEPS = 400
SEMANTICS, INDEXES = "semantics", "indexes"
FOLLOWER, SCRATCH, SNAPSHOT = "follower in step", "replay from scratch", "replay from snapshot"


def run_checks(tmp_path, seed):
    return check_job_workload(
        seed,
        STEPS,
        lambda name: MemoryStore(ENGINE_FAMILIES),
        lambda checkpoint, name: MemoryStore.open_checkpoint(checkpoint, ENGINE_FAMILIES),
        tmp_path / f"snapshot-{seed}",
    )


# ---------------------------------------------------------------------- planting helpers
def replace_applier(monkeypatch, value_type, intent, version, applier):
    monkeypatch.setitem(APPLIERS, (value_type, intent, version), applier)


def replace_processor(monkeypatch, value_type, intent, processor_class):
    monkeypatch.setitem(PROCESSORS, (value_type, intent), processor_class)


class RewritingContext:
    """A processing context whose events pass through `rewrite(ctx, key, intent, value)`
    first: the processor's decision stays, the event it writes is wrong."""

    def __init__(self, ctx, rewrite):
        self._ctx = ctx
        self._rewrite = rewrite

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def append_event(self, key, intent, value):
        return self._ctx.append_event(key, intent, self._rewrite(self._ctx, key, intent, value))


def rewriting(processor_class, rewrite):
    class Rewriting(processor_class):
        def process(self, command, ctx):
            super().process(command, RewritingContext(ctx, rewrite))

    return Rewriting


def with_value(record, value):
    return record._replace(value=value)


# ---------------------------------------------------------------------- the mutants
def backoff_index_entry_never_deleted(monkeypatch):
    def clear_indexes(self, key, state, job):
        if state == JobState.ACTIVATABLE:
            self._writer.delete(JOBS_ACTIVATABLE, (job.type, key))
        elif state == JobState.ACTIVATED:
            self._writer.delete(JOB_DEADLINES, (job.deadline_ms, key))
        # the back-off entry of a FAILED job is forgotten

    monkeypatch.setattr(JobStore, "_clear_indexes", clear_indexes)


def timeout_updated_applier_uses_the_wall_clock(monkeypatch):
    def timeout_updated(state, record):
        now_ms = time.time_ns() // 1_000_000
        job = evolve(record.value, deadline_ms=now_ms + record.value.timeout_ms)
        state.jobs.activate(record.key, job)

    replace_applier(monkeypatch, ValueType.JOB, JobIntent.TIMEOUT_UPDATED, 1, timeout_updated)


def completed_job_left_in_the_deadline_index(monkeypatch):
    def remove(self, key):
        state, job = self._existing(key)
        if state != JobState.ACTIVATED:
            self._clear_indexes(key, state, job)
        self._writer.delete(JOBS, key)
        self._cache.entries[key] = None

    monkeypatch.setattr(JobStore, "remove", remove)


def fail_processor_keeps_the_jobs_retries(monkeypatch):
    def rewrite(ctx, key, intent, value):
        if intent == JobIntent.FAILED and isinstance(value, JobRecordValue):
            return evolve(value, retries=ctx.state.jobs.get(key).retries)
        return value

    replace_processor(monkeypatch, ValueType.JOB, JobIntent.FAIL, rewriting(FailJob, rewrite))


def failed_applier_does_not_store_retries(monkeypatch):
    def failed(state, record):
        stored = state.jobs.get(record.key)
        failed_v2(state, with_value(record, evolve(record.value, retries=stored.retries)))

    replace_applier(monkeypatch, ValueType.JOB, JobIntent.FAILED, 2, failed)


def activation_ignores_a_lowered_floor(monkeypatch):
    monkeypatch.setattr(JobCache, "lower_floor", lambda self, job_type, key: None)


def incident_resolution_does_not_make_the_job_activatable(monkeypatch):
    def resolved(state, record):
        state.incidents.remove(record.key)

    replace_applier(monkeypatch, ValueType.INCIDENT, IncidentIntent.RESOLVED, 1, resolved)


def replay_skips_retries_updated(monkeypatch):
    original = Replay.apply

    def apply(self, record):
        if (record.value_type, record.intent) != (ValueType.JOB, JobIntent.RETRIES_UPDATED):
            original(self, record)

    monkeypatch.setattr(Replay, "apply", apply)


def replay_ignores_the_applier_version(monkeypatch):
    original = Replay.apply
    monkeypatch.setattr(
        Replay, "apply", lambda self, record: original(self, record._replace(record_version=1))
    )


def job_times_out_at_its_deadline(monkeypatch):
    class TimesOutAtTheDeadline(TimeOutJob):
        def process(self, command, ctx):
            job, state = ctx.state.jobs.get(command.key), ctx.state.jobs.state(command.key)
            if state == JobState.ACTIVATED and job.deadline_ms == ctx.now_ms:
                ctx.respond(ctx.append_event(command.key, JobIntent.TIMED_OUT, released(job)))
                return
            super().process(command, ctx)

    replace_processor(monkeypatch, ValueType.JOB, JobIntent.TIME_OUT, TimesOutAtTheDeadline)


def fail_refused_on_an_activatable_job(monkeypatch):
    class FailsOnlyActivated(FailJob):
        def process(self, command, ctx):
            if ctx.state.jobs.state(command.key) == JobState.ACTIVATABLE:
                ctx.reject(RejectionType.INVALID_STATE, "Expected an activated job")
                return
            super().process(command, ctx)

    replace_processor(monkeypatch, ValueType.JOB, JobIntent.FAIL, FailsOnlyActivated)


def failed_applier_merges_the_commands_variables(monkeypatch):
    def failed(state, record):
        before = state.jobs.get(record.key)
        failed_v2(state, record)
        after = state.jobs.get(record.key)
        merged = {**before.variables, **record.value.variables}
        state.jobs.update(record.key, evolve(after, variables=merged))

    replace_applier(monkeypatch, ValueType.JOB, JobIntent.FAILED, 2, failed)


def cancel_leaves_the_incident_open(monkeypatch):
    class CancelsOnlyTheJob(CancelJob):
        def process(self, command, ctx):
            job = job_in_state(ctx, "cancel", ANY_STATE)
            if job is not None:
                ctx.respond(ctx.append_event(command.key, JobIntent.CANCELED, job))

    replace_processor(monkeypatch, ValueType.JOB, JobIntent.CANCEL, CancelsOnlyTheJob)


def timeout_updated_leaves_the_old_deadline_entry(monkeypatch):
    def timeout_updated(state, record):
        state.jobs.update(record.key, record.value)  # the job moves, its index entry does not

    replace_applier(monkeypatch, ValueType.JOB, JobIntent.TIMEOUT_UPDATED, 1, timeout_updated)


def retries_updated_hands_a_parked_job_back(monkeypatch):
    def retries_updated(state, record):
        state.jobs.make_activatable(record.key, record.value)

    replace_applier(monkeypatch, ValueType.JOB, JobIntent.RETRIES_UPDATED, 1, retries_updated)


def yielded_job_keeps_its_worker(monkeypatch):
    from raybee.partitions.engine.processors.job import YieldJob

    def rewrite(ctx, key, intent, value):
        if intent == JobIntent.YIELDED and isinstance(value, JobRecordValue):
            return evolve(value, worker=ctx.state.jobs.get(key).worker)
        return value

    replace_processor(monkeypatch, ValueType.JOB, JobIntent.YIELD, rewriting(YieldJob, rewrite))


def backoff_entry_keyed_by_the_failure_time(monkeypatch):
    original = JobStore.fail_with_backoff

    def fail_with_backoff(self, key, job):
        original(self, key, job)
        # the entry is written again under the wrong due date: the job recurs too early
        self._writer.delete(JOB_BACKOFFS, (job.recurring_time_ms, key))
        self._writer.put(JOB_BACKOFFS, (job.recurring_time_ms - job.retry_backoff_ms, key), b"")

    monkeypatch.setattr(JobStore, "fail_with_backoff", fail_with_backoff)


# mutant -> the checks that must catch it (others may catch it too)
MUTANTS = {
    backoff_index_entry_never_deleted: {INDEXES},
    timeout_updated_applier_uses_the_wall_clock: {SEMANTICS},
    completed_job_left_in_the_deadline_index: {INDEXES},
    fail_processor_keeps_the_jobs_retries: {SEMANTICS},
    failed_applier_does_not_store_retries: {SEMANTICS},
    activation_ignores_a_lowered_floor: {SEMANTICS},
    incident_resolution_does_not_make_the_job_activatable: {SEMANTICS},
    replay_skips_retries_updated: {FOLLOWER},
    replay_ignores_the_applier_version: {FOLLOWER},
    job_times_out_at_its_deadline: {SEMANTICS},
    fail_refused_on_an_activatable_job: {SEMANTICS},
    failed_applier_merges_the_commands_variables: {SEMANTICS},
    cancel_leaves_the_incident_open: {SEMANTICS},
    timeout_updated_leaves_the_old_deadline_entry: {INDEXES},
    retries_updated_hands_a_parked_job_back: {SEMANTICS},
    yielded_job_keeps_its_worker: {SEMANTICS},
    backoff_entry_keyed_by_the_failure_time: {INDEXES},
}


@pytest.mark.parametrize("seed", SEEDS)
def test_without_a_mutant_every_check_passes(tmp_path, seed):
    report = run_checks(tmp_path, seed)
    assert not report.failed, report.summary()


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("plant", MUTANTS, ids=lambda plant: plant.__name__)
def test_the_fast_checks_catch_the_mutant(tmp_path, monkeypatch, plant, seed):
    plant(monkeypatch)
    report = run_checks(tmp_path, seed)
    print(f"{plant.__name__} seed={seed}: caught by {report.failed}")
    assert report.failed, f"{plant.__name__} went through every check (seed {seed})"
    missed = MUTANTS[plant] - set(report.failed)
    assert not missed, f"{plant.__name__}: expected {sorted(missed)} to fail too\n" + (
        report.summary()
    )


def test_the_index_check_names_each_kind_of_disagreement():
    """The index check itself, on a store written by hand with one of each problem."""
    store = MemoryStore(ENGINE_FAMILIES)
    job = JobRecordValue(type="t", retries=1)
    with store.transaction() as txn:
        txn.put(JOBS, 1, ("ACTIVATABLE", job))  # without its activatable entry
        txn.put(JOB_DEADLINES, (5, 2), EMPTY)  # for a job that is gone
        txn.put(JOBS, 3, ("ERROR_THROWN", job))
        txn.put(JOB_INCIDENTS, 3, 9)  # linked to an incident that is gone
        txn.put(INCIDENTS, 8, IncidentRecordValue(job_key=4))  # open for a job that is gone
        txn.put(JOBS, 6, ("FAILED", evolve(job, recurring_time_ms=10, retries=0)))
    assert index_problems(store.view()) == [
        "job 6 waits out a back-off with 0 retries",
        "job 3 is linked to incident 9, which is gone",
        "index entry ('job_deadlines', (5, 2)) belongs to no job in a state that implies it",
        "job 6 lacks its index entry ('job_backoffs', (10, 6))",
        "job 1 lacks its index entry ('jobs_activatable', ('t', 1))",
        "incident 8 is open for job 4, which is gone",
    ]
