"""A harness for BPMN scenario tests: one partition on RocksDB and the journal (or in memory),
with helpers that deploy, create instances and act as job workers. Every test that uses it is
checked at teardown: every command answered exactly once, and replaying only the events into a
fresh store gives the same bytes."""

from pathlib import Path

import pytest

from raybee.partitions.checks import assert_every_command_answered_once
from raybee.partitions.engine import ENGINE_FAMILIES, EngineState
from raybee.partitions.local import LocalPartition
from raybee.partitions.log_stream import JournalLogStream, MemoryLogStream
from raybee.partitions.protocol import (
    IncidentIntent,
    JobIntent,
    ProcessInstanceIntent,
    RecordType,
    ValueType,
)
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import (
    FakeClock,
    activate,
    check_job_indexes,
    create_instance,
    deploy,
    job_command,
    resolve,
)
from raybee.state import MemoryStore, RocksDBStore

# `../shared/bpmn` beside the repository: read from there, never copied in.
SHARED_BPMN = Path(__file__).resolve().parents[3].parent / "shared" / "bpmn"


class Bpmn:
    def __init__(self, partition: LocalPartition, clock: FakeClock):
        self.partition = partition
        self.clock = clock

    # ------------------------------------------------------------------ commands
    def execute(self, command):
        return self.partition.execute(command)

    def write(self, *commands):
        """Write commands and process; the responses to them."""
        self.partition.write_commands(list(commands))
        return [r.record for r in self.partition.process()]

    def deploy(self, xml, name: str = "process.bpmn") -> dict[str, int]:
        """Deploy one resource; bpmn process id -> process definition key."""
        answer = self.execute(deploy((name, xml)))
        assert answer.record_type == RecordType.EVENT, answer.rejection_reason
        return {
            m.bpmn_process_id: m.process_definition_key for m in answer.value.processes_metadata
        }

    def create(self, process_id: str, variables: dict | None = None, **fields) -> int:
        answer = self.execute(create_instance(process_id, variables, **fields))
        assert answer.record_type == RecordType.EVENT, answer.rejection_reason
        return answer.value.process_instance_key

    def activate(self, job_type: str, max_jobs: int = 100, **fields) -> list:
        """Activate jobs of a type: [(job key, job as handed out)]."""
        batch = self.execute(activate(job_type, max_jobs=max_jobs, timeout_ms=60_000, **fields))
        assert batch.record_type == RecordType.EVENT, batch.rejection_reason
        return list(zip(batch.value.job_keys, batch.value.jobs, strict=True))

    def complete(self, job_key: int, variables: dict | None = None):
        answer = self.execute(job_command(JobIntent.COMPLETE, job_key, variables=variables or {}))
        assert answer.record_type == RecordType.EVENT, answer.rejection_reason
        return answer

    def work(self, job_type: str, variables: dict | None = None) -> int:
        """Complete every activatable job of a type (with `variables`); how many."""
        jobs = self.activate(job_type)
        for key, _ in jobs:
            self.complete(key, variables)
        return len(jobs)

    def resolve(self, incident_key: int):
        return self.execute(resolve(incident_key))

    # ------------------------------------------------------------------ reading
    def records(self, value_type=None, intent=None, record_type=RecordType.EVENT):
        return [
            r
            for r in self.partition.log.read_from(1)
            if (record_type is None or r.record_type == record_type)
            and (value_type is None or r.value_type == value_type)
            and (intent is None or r.intent == intent)
        ]

    def element_records(self, intent=None):
        return self.records(ValueType.PROCESS_INSTANCE, intent)

    def lifecycle(self, element_id: str) -> list[str]:
        """The intents written for an element id, in log order."""
        return [r.intent.name for r in self.element_records() if r.value.element_id == element_id]

    def completed(self, process_instance_key: int) -> bool:
        return any(
            r.key == process_instance_key
            for r in self.element_records(ProcessInstanceIntent.ELEMENT_COMPLETED)
        )

    def incidents(self) -> list:
        """Incidents open now: [(key, IncidentRecordValue)]."""
        created = {r.key: r.value for r in self.records(ValueType.INCIDENT, IncidentIntent.CREATED)}
        for r in self.records(ValueType.INCIDENT, IncidentIntent.RESOLVED):
            created.pop(r.key, None)
        return list(created.items())

    def state(self) -> EngineState:
        return EngineState(1, self.partition.store.view())

    def instance(self, key: int):
        return self.state().element_instances.get(key)

    def variables(self, scope_key: int) -> dict:
        return dict(self.state().variables.local(scope_key))

    def active_elements(self) -> list:
        """(key, element id, state) of every element instance stored."""
        from raybee.partitions.engine.families import ELEMENT_INSTANCES

        view = self.partition.store.view()
        return [(k, e.value.element_id, e.state.value) for k, e in view.items(ELEMENT_INSTANCES)]

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Every command answered once; job indexes consistent; a replay of only the events
        gives the same bytes."""
        records = list(self.partition.log.read_from(1))
        assert_every_command_answered_once(records)
        check_job_indexes(self.partition.store)
        replica = StreamProcessor(MemoryStore(ENGINE_FAMILIES), self.partition.log, 1, FakeClock())
        replica.replay()
        assert replica.store.digest() == self.partition.store.digest(), (
            "replayed state differs from processed state"
        )
        replica.store.close()


def make_partition(kind: str, tmp_path: Path, clock: FakeClock) -> LocalPartition:
    if kind == "rocksdb":
        store = RocksDBStore(tmp_path / "state", ENGINE_FAMILIES)
        log = JournalLogStream.open(tmp_path / "log")
    else:
        store, log = MemoryStore(ENGINE_FAMILIES), MemoryLogStream()
    return LocalPartition(store, log, partition_id=1, clock=clock)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def bpmn(tmp_path, clock):
    """A harness on RocksDB and the journal, checked at teardown."""
    partition = make_partition("rocksdb", tmp_path, clock)
    harness = Bpmn(partition, clock)
    yield harness
    try:
        harness.check()
    finally:
        partition.close()


@pytest.fixture
def memory_bpmn(clock):
    """The same in memory (for tests that run many instances)."""
    partition = make_partition("memory", Path("."), clock)
    harness = Bpmn(partition, clock)
    yield harness
    try:
        harness.check()
    finally:
        partition.close()


@pytest.fixture(scope="session")
def shared_bpmn() -> Path:
    assert (SHARED_BPMN / "README.md").is_file(), f"the BPMN corpus is missing at {SHARED_BPMN}"
    return SHARED_BPMN
