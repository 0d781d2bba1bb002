"""A hypothesis state machine: the job lifecycle in the engine against a plain Python model."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from raybee.partitions.engine import ENGINE_FAMILIES, EngineState
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import MemoryLogStream
from raybee.partitions.protocol import (
    IncidentIntent,
    JobBatchIntent,
    JobIntent,
    RecordType,
    RejectionType,
)
from raybee.partitions.testing import FakeClock, activate, create, job_command, resolve
from raybee.state import MemoryStore

TYPES = ("a", "b")
TIMEOUT_MS = 1000


class JobLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.clock = FakeClock()
        self.partition = LocalPartition(
            MemoryStore(ENGINE_FAMILIES), MemoryLogStream(), 1, self.clock
        )
        # key -> {"state", "type", "retries", "deadline"}; incidents: incident key -> job key
        self.jobs: dict[int, dict] = {}
        self.incidents: dict[int, int] = {}
        self.gone: list[int] = []

    def teardown(self):
        self.partition.close()

    def expect(self, command, intent=None, rejection=None):
        answer = self.partition.execute(command)
        if rejection is None:
            assert answer.record_type == RecordType.EVENT, answer.rejection_reason
            assert answer.intent == intent
        else:
            assert answer.record_type == RecordType.COMMAND_REJECTION, answer
            assert answer.rejection_type == rejection, answer.rejection_reason
        return answer

    def keys(self):
        return sorted(self.jobs) + self.gone[-2:]

    @rule(job_type=st.sampled_from(TYPES), retries=st.integers(1, 3))
    def create_job(self, job_type, retries):
        answer = self.expect(create(job_type, retries=retries), JobIntent.CREATED)
        self.jobs[answer.key] = {
            "state": "ACTIVATABLE",
            "type": job_type,
            "retries": retries,
            "deadline": -1,
        }

    @rule(job_type=st.sampled_from(TYPES), max_jobs=st.integers(1, 3))
    def activate_jobs(self, job_type, max_jobs):
        answer = self.expect(
            activate(job_type, max_jobs=max_jobs, timeout_ms=TIMEOUT_MS), JobBatchIntent.ACTIVATED
        )
        expected = sorted(
            k for k, j in self.jobs.items() if j["state"] == "ACTIVATABLE" and j["type"] == job_type
        )[:max_jobs]
        assert answer.value.job_keys == expected
        for key in expected:
            self.jobs[key].update(state="ACTIVATED", deadline=self.clock() + TIMEOUT_MS)

    def pick(self, data):
        return data.draw(st.sampled_from(self.keys()))

    @precondition(lambda self: self.jobs or self.gone)
    @rule(data=st.data())
    def complete(self, data):
        key = self.pick(data)
        job = self.jobs.get(key)
        if job is None:
            self.expect(job_command(JobIntent.COMPLETE, key), rejection=RejectionType.NOT_FOUND)
        elif job["state"] in ("ACTIVATABLE", "ACTIVATED"):
            self.expect(job_command(JobIntent.COMPLETE, key), JobIntent.COMPLETED)
            del self.jobs[key]
            self.gone.append(key)
        else:
            self.expect(job_command(JobIntent.COMPLETE, key), rejection=RejectionType.INVALID_STATE)

    @precondition(lambda self: self.jobs or self.gone)
    @rule(data=st.data(), retries=st.integers(0, 2))
    def fail(self, data, retries):
        key = self.pick(data)
        job = self.jobs.get(key)
        command = job_command(JobIntent.FAIL, key, retries=retries)
        if job is None:
            self.expect(command, rejection=RejectionType.NOT_FOUND)
        elif job["state"] not in ("ACTIVATABLE", "ACTIVATED"):
            self.expect(command, rejection=RejectionType.INVALID_STATE)
        else:
            self.expect(command, JobIntent.FAILED)
            job.update(retries=retries, deadline=-1, state="ACTIVATABLE" if retries else "FAILED")
            if not retries:
                incident = [
                    r
                    for r in self.partition.log.read_from(1)
                    if r.intent == IncidentIntent.CREATED and r.value_type.name == "INCIDENT"
                ][-1]
                assert incident.value.job_key == key
                self.incidents[incident.key] = key

    @precondition(lambda self: self.jobs or self.gone)
    @rule(data=st.data(), retries=st.integers(1, 2))
    def update_retries(self, data, retries):
        key = self.pick(data)
        job = self.jobs.get(key)
        command = job_command(JobIntent.UPDATE_RETRIES, key, retries=retries)
        if job is None:
            self.expect(command, rejection=RejectionType.NOT_FOUND)
        else:
            self.expect(command, JobIntent.RETRIES_UPDATED)
            job["retries"] = retries

    @precondition(lambda self: self.incidents)
    @rule(data=st.data())
    def resolve_incident(self, data):
        incident_key = data.draw(st.sampled_from(sorted(self.incidents)))
        job = self.jobs.get(self.incidents[incident_key])
        if job is not None and job["retries"] < 1:
            self.expect(resolve(incident_key), rejection=RejectionType.INVALID_STATE)
            return
        self.expect(resolve(incident_key), IncidentIntent.RESOLVED)
        del self.incidents[incident_key]
        if job is not None:
            job["state"] = "ACTIVATABLE"

    @precondition(lambda self: self.jobs or self.gone)
    @rule(data=st.data())
    def cancel(self, data):
        key = self.pick(data)
        if key not in self.jobs:
            self.expect(job_command(JobIntent.CANCEL, key), rejection=RejectionType.NOT_FOUND)
            return
        self.expect(job_command(JobIntent.CANCEL, key), JobIntent.CANCELED)
        del self.jobs[key]
        self.gone.append(key)
        self.incidents = {i: k for i, k in self.incidents.items() if k != key}

    @precondition(lambda self: self.jobs or self.gone)
    @rule(data=st.data())
    def yield_job(self, data):
        key = self.pick(data)
        job = self.jobs.get(key)
        command = job_command(JobIntent.YIELD, key)
        if job is None:
            self.expect(command, rejection=RejectionType.NOT_FOUND)
        elif job["state"] != "ACTIVATED":
            self.expect(command, rejection=RejectionType.INVALID_STATE)
        else:
            self.expect(command, JobIntent.YIELDED)
            job.update(state="ACTIVATABLE", deadline=-1)

    @rule(ms=st.integers(0, 1500))
    def time_passes(self, ms):
        self.clock.advance(ms)
        self.partition.tick()
        for job in self.jobs.values():
            # Timed out only once the deadline is strictly in the past.
            if job["state"] == "ACTIVATED" and job["deadline"] < self.clock():
                job.update(state="ACTIVATABLE", deadline=-1)

    @invariant()
    def states_agree(self):
        jobs = EngineState(1, self.partition.store.view()).jobs
        for key, job in self.jobs.items():
            assert jobs.state(key) == job["state"], (key, job)
            assert jobs.get(key).retries == job["retries"]
        for key in self.gone:
            assert jobs.get(key) is None


JobLifecycle.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestJobLifecycle = JobLifecycle.TestCase
