"""A harness for BPMN scenario tests: one partition on RocksDB and the journal (or in memory),
with helpers that deploy, create instances and act as job workers. Every test that uses it is
checked at teardown: every command answered exactly once, and replaying only the events into a
fresh store gives the same bytes."""

import importlib.util
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
    bpmn_process,
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


class Xml:
    """Builders of BPMN elements (text with the `bpmn:` and `zeebe:` prefixes)."""

    process = staticmethod(bpmn_process)

    @staticmethod
    def start(element_id: str = "start", outputs=()) -> str:
        return f'<bpmn:startEvent id="{element_id}">{Xml.io((), outputs)}</bpmn:startEvent>'

    @staticmethod
    def end(element_id: str = "end", definition: str = "") -> str:
        return f'<bpmn:endEvent id="{element_id}">{definition}</bpmn:endEvent>'

    @staticmethod
    def io(inputs=(), outputs=()) -> str:
        """zeebe:ioMapping of (source, target) pairs."""
        if not inputs and not outputs:
            return ""

        def q(text):
            return text.replace('"', "&quot;")

        parts = [f'<zeebe:input source="{q(s)}" target="{t}"/>' for s, t in inputs]
        parts += [f'<zeebe:output source="{q(s)}" target="{t}"/>' for s, t in outputs]
        return f"<zeebe:ioMapping>{''.join(parts)}</zeebe:ioMapping>"

    @staticmethod
    def task(
        element_id: str,
        job_type: str = "work",
        kind: str = "serviceTask",
        inputs=(),
        outputs=(),
        retries: str | None = None,
        headers: dict | None = None,
        loop: str = "",
    ) -> str:
        """A task with a job (service, send, business rule ...); `loop` is its
        multiInstanceLoopCharacteristics (see `Xml.loop`)."""
        retries_attr = f' retries="{retries}"' if retries is not None else ""
        header_xml = ""
        if headers:
            header_xml = (
                "<zeebe:taskHeaders>"
                + "".join(f'<zeebe:header key="{k}" value="{v}"/>' for k, v in headers.items())
                + "</zeebe:taskHeaders>"
            )
        return (
            f'<bpmn:{kind} id="{element_id}"><bpmn:extensionElements>'
            f'<zeebe:taskDefinition type="{job_type.replace(chr(34), "&quot;")}"'
            f"{retries_attr}/>{header_xml}"
            f"{Xml.io(inputs, outputs)}</bpmn:extensionElements>{loop}</bpmn:{kind}>"
        )

    @staticmethod
    def plain(element_id: str, kind: str = "manualTask", inputs=(), outputs=(), loop="") -> str:
        """An element with no job: manualTask, task, intermediateThrowEvent, userTask ..."""
        extension = Xml.io(inputs, outputs)
        if extension:
            extension = f"<bpmn:extensionElements>{extension}</bpmn:extensionElements>"
        return f'<bpmn:{kind} id="{element_id}">{extension}{loop}</bpmn:{kind}>'

    @staticmethod
    def script(element_id: str, expression: str, result: str, outputs=()) -> str:
        return (
            f'<bpmn:scriptTask id="{element_id}"><bpmn:extensionElements>'
            f'<zeebe:script expression="{expression}" resultVariable="{result}"/>'
            f"{Xml.io((), outputs)}</bpmn:extensionElements></bpmn:scriptTask>"
        )

    @staticmethod
    def gateway(element_id: str, kind: str = "exclusive", default: str | None = None) -> str:
        default_attr = f' default="{default}"' if default else ""
        return f'<bpmn:{kind}Gateway id="{element_id}"{default_attr}/>'

    @staticmethod
    def flow(source: str, target: str, condition: str | None = None, flow_id: str = "") -> str:
        flow_id = flow_id or f"{source}-{target}"
        if condition is None:
            return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'
        return (
            f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
            f"<bpmn:conditionExpression>{condition}</bpmn:conditionExpression>"
            f"</bpmn:sequenceFlow>"
        )

    @staticmethod
    def chain(*element_ids: str) -> str:
        """Flows from each element to the next."""
        return "".join(Xml.flow(a, b) for a, b in zip(element_ids, element_ids[1:], strict=False))

    @staticmethod
    def sub_process(element_id: str, body: str, inputs=(), outputs=(), loop="") -> str:
        extension = Xml.io(inputs, outputs)
        if extension:
            extension = f"<bpmn:extensionElements>{extension}</bpmn:extensionElements>"
        return f'<bpmn:subProcess id="{element_id}">{extension}{body}{loop}</bpmn:subProcess>'

    @staticmethod
    def call(
        element_id: str,
        process_id: str,
        inputs=(),
        outputs=(),
        child_variables: bool = True,
        parent_variables: bool = True,
        loop: str = "",
    ) -> str:
        return (
            f'<bpmn:callActivity id="{element_id}"><bpmn:extensionElements>'
            f'<zeebe:calledElement processId="{process_id}" '
            f'propagateAllChildVariables="{str(child_variables).lower()}" '
            f'propagateAllParentVariables="{str(parent_variables).lower()}"/>'
            f"{Xml.io(inputs, outputs)}</bpmn:extensionElements>{loop}</bpmn:callActivity>"
        )

    @staticmethod
    def loop(
        collection: str,
        element: str | None = None,
        sequential: bool = False,
        output_collection: str | None = None,
        output_element: str | None = None,
        completion: str | None = None,
    ) -> str:
        attributes = f'inputCollection="{collection}"'
        if element:
            attributes += f' inputElement="{element}"'
        if output_collection:
            attributes += f' outputCollection="{output_collection}"'
            attributes += f' outputElement="{output_element}"'
        completion_xml = (
            f"<bpmn:completionCondition>{completion}</bpmn:completionCondition>"
            if completion
            else ""
        )
        return (
            f'<bpmn:multiInstanceLoopCharacteristics isSequential="{str(sequential).lower()}">'
            f"<bpmn:extensionElements><zeebe:loopCharacteristics {attributes}/>"
            f"</bpmn:extensionElements>{completion_xml}</bpmn:multiInstanceLoopCharacteristics>"
        )


@pytest.fixture(scope="session")
def xml() -> type[Xml]:
    return Xml


def _load_workload():
    """bpmn_workload.py beside this file (test modules are imported by path, not package)."""
    path = Path(__file__).with_name("bpmn_workload.py")
    spec = importlib.util.spec_from_file_location("raybee_tests_bpmn_workload", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def bpmn_workload():
    """The seeded BPMN workload and its checks (bpmn_workload.py)."""
    return _load_workload()
