"""Call activities: a child instance of the called process, variables both ways, output
mappings, completion by the child, cancellation down to the child."""

from raybee.partitions.protocol import JobIntent, RejectionType, ValueType
from raybee.partitions.testing import cancel_instance, one_task_process


def deploy_child(bpmn, xml):
    bpmn.deploy(one_task_process("child", "child-work"), name="child.bpmn")


def parent(xml, **call):
    body = (
        xml.start()
        + xml.call("call", "child", **call)
        + xml.end()
        + xml.chain("start", "call", "end")
    )
    return xml.process("parent", body)


def test_the_child_gets_the_parent_variables_and_gives_back_its_own(bpmn, xml):
    deploy_child(bpmn, xml)
    bpmn.deploy(parent(xml))
    key = bpmn.create("parent", {"order": 7})
    ((job_key, job),) = bpmn.activate("child-work")
    assert job.variables == {"order": 7}
    child_key = job.process_instance_key
    child = bpmn.instance(child_key)
    assert child.value.parent_process_instance_key == key
    call = next(r.key for r in bpmn.element_records() if r.value.element_id == "call")
    assert child.value.parent_element_instance_key == call
    assert bpmn.instance(call).called_key == child_key
    bpmn.complete(job_key, {"shipped": True, "order": 8})
    assert bpmn.completed(child_key) and bpmn.completed(key)
    final = {
        r.value.name: r.value.value
        for r in bpmn.records(ValueType.VARIABLE)
        if r.value.scope_key == key
    }
    assert final == {"order": 8, "shipped": True}


def test_without_propagation_only_mapped_variables_cross(bpmn, xml):
    deploy_child(bpmn, xml)
    bpmn.deploy(
        parent(
            xml,
            inputs=[("=order * 10", "ref")],
            outputs=[("=shipped", "done")],
            child_variables=False,
            parent_variables=False,
        )
    )
    key = bpmn.create("parent", {"order": 7, "secret": "x"})
    ((job_key, job),) = bpmn.activate("child-work")
    assert job.variables == {"ref": 70}, "only the call activity's local variables go down"
    bpmn.complete(job_key, {"shipped": True, "noise": 1})
    assert bpmn.completed(key)
    names = {r.value.name for r in bpmn.records(ValueType.VARIABLE) if r.value.scope_key == key}
    assert names == {"order", "secret", "done"}


def test_a_missing_called_process_is_an_incident_until_it_is_deployed(bpmn, xml):
    bpmn.deploy(parent(xml))
    key = bpmn.create("parent")
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "CALLED_ELEMENT_ERROR" and "'child'" in incident.error_message
    deploy_child(bpmn, xml)
    bpmn.resolve(incident_key)
    assert bpmn.work("child-work") == 1
    assert bpmn.completed(key)


def test_cancelling_the_parent_terminates_the_child_and_its_job(bpmn, xml):
    deploy_child(bpmn, xml)
    bpmn.deploy(parent(xml))
    key = bpmn.create("parent")
    ((job_key, job),) = bpmn.activate("child-work")
    refused = bpmn.execute(cancel_instance(job.process_instance_key))
    assert refused.rejection_type == RejectionType.INVALID_STATE, "a child is cancelled by its root"
    bpmn.execute(cancel_instance(key))
    assert bpmn.lifecycle("child")[-1] == "ELEMENT_TERMINATED"
    assert bpmn.lifecycle("call")[-1] == "ELEMENT_TERMINATED"
    assert [r.key for r in bpmn.records(ValueType.JOB, JobIntent.CANCELED)] == [job_key]
    assert bpmn.active_elements() == []


def test_a_child_without_wait_states_completes_the_call_activity_in_the_same_command(bpmn, xml):
    bpmn.deploy(
        xml.process(
            "child",
            xml.start()
            + xml.script("s", "=n + 1", "m")
            + xml.end()
            + xml.chain("start", "s", "end"),
        )
    )
    bpmn.deploy(parent(xml))
    key = bpmn.create("parent", {"n": 1})
    assert bpmn.completed(key)
    assert bpmn.records(ValueType.VARIABLE)[-1].value.name == "m"
