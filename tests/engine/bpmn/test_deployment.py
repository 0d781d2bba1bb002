"""DEPLOYMENT CREATE: versions per bpmn process id, duplicates, refusals listing every problem
with nothing stored, the parsed model cached per process definition key."""

from raybee.partitions.engine.families import DEPLOYMENTS, PROCESSES
from raybee.partitions.protocol import (
    DeploymentIntent,
    ProcessIntent,
    RecordType,
    RejectionType,
    ValueType,
)
from raybee.partitions.testing import bpmn_process, deploy, one_task_process


def entity_state(bpmn) -> list:
    """Everything stored but the processed position (which every command moves)."""
    return [row for row in bpmn.partition.store.dump() if row[0] != "positions"]


def test_a_deployment_creates_version_1_with_process_and_deployment_events(bpmn):
    answer = bpmn.execute(deploy(("order.bpmn", one_task_process("order"))))
    assert answer.intent == DeploymentIntent.CREATED
    (meta,) = answer.value.processes_metadata
    assert (meta.bpmn_process_id, meta.version, meta.duplicate) == ("order", 1, False)
    (process,) = bpmn.records(ValueType.PROCESS, ProcessIntent.CREATED)
    assert process.key == meta.process_definition_key
    assert process.value.resource == one_task_process("order").encode()
    assert bpmn.state().processes.latest("order").key == meta.process_definition_key
    view = bpmn.partition.store.view()
    assert view.get(DEPLOYMENTS, answer.key).resources[0].resource_name == "order.bpmn"


def test_a_changed_resource_is_a_new_version_and_an_identical_one_a_duplicate(bpmn):
    first = bpmn.deploy(one_task_process("order", "a"))["order"]
    changed = bpmn.deploy(one_task_process("order", "b"))["order"]
    again = bpmn.execute(deploy(("process.bpmn", one_task_process("order", "b"))))
    (meta,) = again.value.processes_metadata
    assert changed != first
    assert (meta.process_definition_key, meta.version, meta.duplicate) == (changed, 2, True)
    assert len(bpmn.records(ValueType.PROCESS, ProcessIntent.CREATED)) == 2, "none for the dup"
    # The same content under another resource name is a new version.
    renamed = bpmn.execute(deploy(("other.bpmn", one_task_process("order", "b"))))
    assert renamed.value.processes_metadata[0].version == 3
    assert bpmn.state().processes.by_version("order", 1).key == first


def test_a_bad_resource_refuses_the_whole_deployment_naming_every_problem(bpmn):
    good = one_task_process("good")
    bad = bpmn_process(
        "bad",
        '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="nowhere"/>'
        '<bpmn:serviceTask id="t"/>',
    )
    before = entity_state(bpmn)
    answer = bpmn.execute(deploy(("good.bpmn", good), ("bad.bpmn", bad)))
    assert answer.record_type == RecordType.COMMAND_REJECTION
    assert answer.rejection_type == RejectionType.INVALID_ARGUMENT
    reason = answer.rejection_reason
    assert "'bad.bpmn'" in reason and "nowhere" in reason and "element 't'" in reason, reason
    assert entity_state(bpmn) == before, "nothing of a refused deployment is stored"
    assert not bpmn.records(ValueType.PROCESS)


def test_malformed_xml_and_empty_or_ambiguous_deployments_are_refused(bpmn):
    for command, needle in [
        (deploy(("x.bpmn", b"<definitions")), "x.bpmn"),
        (deploy(), "at least one resource"),
        (deploy(("a.bpmn", one_task_process("p")), ("a.bpmn", one_task_process("q"))), "unique"),
        (deploy(("a.bpmn", one_task_process("p")), ("b.bpmn", one_task_process("p"))), "'p'"),
    ]:
        answer = bpmn.execute(command)
        assert answer.rejection_type == RejectionType.INVALID_ARGUMENT, answer
        assert needle in answer.rejection_reason, answer.rejection_reason
    view = bpmn.partition.store.view()
    assert list(view.items(PROCESSES)) == [] and list(view.items(DEPLOYMENTS)) == []


def test_the_model_is_parsed_once_per_process_definition(bpmn, monkeypatch):
    from raybee.partitions.engine.bpmn_behaviors import executable

    key = bpmn.deploy(one_task_process("order"))["order"]
    engine = bpmn.partition.processor.engine
    cached = engine._committed_bpmn.processes[key]
    calls = []
    monkeypatch.setattr(executable, "parse_bpmn", lambda *a: calls.append(a) or [])
    for _ in range(3):
        bpmn.create("order")
    assert calls == [], "no parse after deployment"
    assert engine._committed_bpmn.processes[key] is cached
