"""Variables: scopes, propagation, input and output mappings (dotted targets), VARIABLE_DOCUMENT
UPDATE (LOCAL and PROPAGATE, its size limit), and incidents of failed mappings."""

from raybee.partitions.engine.bpmn_behaviors.variables import VARIABLE_DOCUMENT_BYTES_MAX
from raybee.partitions.protocol import RejectionType, ValueType, VariableIntent
from raybee.partitions.testing import set_variables


def variables_of(bpmn, scope_key):
    return bpmn.variables(scope_key)


def task_process(xml, **task):
    body = (
        xml.start()
        + xml.task("task", "work", **task)
        + xml.end()
        + xml.chain("start", "task", "end")
    )
    return xml.process("vars", body)


def test_input_mappings_make_local_variables_with_dotted_targets(bpmn, xml):
    bpmn.deploy(
        task_process(
            xml,
            inputs=[
                ("=order.id", "id"),
                ("=order.total * 2", "shipping.cost"),
                ('="DHL"', "shipping.carrier"),
            ],
        )
    )
    key = bpmn.create("vars", {"order": {"id": 5, "total": 1.5}, "shipping": {"zone": "EU"}})
    ((_, job),) = bpmn.activate("work")
    assert bpmn.variables(job.element_instance_key) == {
        "id": 5,
        "shipping": {"zone": "EU", "cost": 3, "carrier": "DHL"},
    }
    assert job.variables["shipping"]["cost"] == 3, "the worker sees the local one"
    assert bpmn.variables(key)["shipping"] == {"zone": "EU"}, "the process scope is untouched"


def test_output_mappings_propagate_from_the_flow_scope_and_job_variables_stay_local(bpmn, xml):
    bpmn.deploy(task_process(xml, outputs=[("=result.code", "code"), ("=result.ok", "status.ok")]))
    key = bpmn.create("vars", {"status": {"at": "t0"}})
    ((job_key, job),) = bpmn.activate("work")
    bpmn.complete(job_key, {"result": {"code": 201, "ok": True}})
    names = [(r.value.name, r.value.scope_key) for r in bpmn.records(ValueType.VARIABLE)]
    assert ("result", job.element_instance_key) in names, "the job's variables are the task's"
    final = {
        r.value.name: r.value.value
        for r in bpmn.records(ValueType.VARIABLE)
        if r.value.scope_key == key
    }
    assert final == {"status": {"at": "t0", "ok": True}, "code": 201}


def test_job_variables_update_the_scope_that_defines_them_else_the_process(bpmn, xml):
    sub = xml.sub_process(
        "sub",
        xml.start("s") + xml.task("task", "work") + xml.chain("s", "task"),
        inputs=[("=0", "counter")],
    )
    bpmn.deploy(
        xml.process("scopes", xml.start() + sub + xml.end() + xml.chain("start", "sub", "end"))
    )
    key = bpmn.create("scopes", {"counter": 100})
    ((job_key, job),) = bpmn.activate("work")
    sub_key = bpmn.instance(job.element_instance_key).flow_scope_key
    bpmn.complete(job_key, {"counter": 1, "fresh": "x"})
    writes = [(r.intent, r.value.name, r.value.scope_key) for r in bpmn.records(ValueType.VARIABLE)]
    assert (VariableIntent.UPDATED, "counter", sub_key) in writes, "the nearest definition"
    assert (VariableIntent.CREATED, "fresh", key) in writes, "new names go to the process"
    assert bpmn.completed(key)


def test_set_variables_local_and_propagated_and_updates_keep_the_key(bpmn, xml):
    bpmn.deploy(task_process(xml, inputs=[("=1", "local")]))
    key = bpmn.create("vars", {"a": 1})
    ((_, job),) = bpmn.activate("work")
    task = job.element_instance_key
    bpmn.execute(set_variables(task, {"a": 2, "local": 5, "b": 3}))
    bpmn.execute(set_variables(task, {"only_here": True}, local=True))
    assert bpmn.variables(task) == {"local": 5, "only_here": True}
    assert bpmn.variables(key) == {"a": 2, "b": 3}
    a_records = [r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "a"]
    assert [r.intent for r in a_records] == [VariableIntent.CREATED, VariableIntent.UPDATED]
    assert a_records[0].key == a_records[1].key, "a variable keeps its key"
    before = len(bpmn.records(ValueType.VARIABLE))
    bpmn.execute(set_variables(key, {"a": 2}))
    assert len(bpmn.records(ValueType.VARIABLE)) == before, "an unchanged value writes nothing"
    bpmn.execute(set_variables(key, {"a": 2.0}))
    assert len(bpmn.records(ValueType.VARIABLE)) == before + 1, "2.0 is another JSON value"


def test_set_variables_is_refused_for_unknown_scopes_bad_semantics_and_size(memory_bpmn, xml):
    bpmn = memory_bpmn
    bpmn.deploy(task_process(xml))
    key = bpmn.create("vars")
    assert bpmn.execute(set_variables(12345, {"a": 1})).rejection_type == RejectionType.NOT_FOUND
    bad = set_variables(key, {"a": 1})
    bad = bad.replace(value=bad.value.model_copy(update={"update_semantics": "SIDEWAYS"}))
    assert bpmn.execute(bad).rejection_type == RejectionType.INVALID_ARGUMENT
    huge = bpmn.execute(set_variables(key, {"blob": "x" * VARIABLE_DOCUMENT_BYTES_MAX}))
    assert huge.rejection_type == RejectionType.EXCEEDED_BATCH_RECORD_SIZE
    assert "VARIABLE_DOCUMENT_BYTES_MAX" in huge.rejection_reason
    assert str(VARIABLE_DOCUMENT_BYTES_MAX) in huge.rejection_reason
    assert bpmn.variables(key) == {}


def test_a_failing_input_mapping_is_an_io_mapping_incident_retried_on_resolve(bpmn, xml):
    bpmn.deploy(task_process(xml, inputs=[("=assert(limit, limit != null)", "max")]))
    key = bpmn.create("vars")
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "IO_MAPPING_ERROR"
    assert "assert(limit, limit != null)" in incident.error_message
    assert "assertion failed" in incident.error_message
    assert bpmn.lifecycle("task") == ["ELEMENT_ACTIVATING"]
    bpmn.execute(set_variables(key, {"limit": 9}))
    bpmn.resolve(incident_key)
    ((_, job),) = bpmn.activate("work")
    assert job.variables["max"] == 9 and not bpmn.incidents()


def test_a_failing_output_mapping_keeps_the_element_completing_until_resolved(bpmn, xml):
    bpmn.deploy(task_process(xml, outputs=[("=assert(out, out &gt; 0)", "checked")]))
    key = bpmn.create("vars")
    ((job_key, job),) = bpmn.activate("work")
    bpmn.complete(job_key, {"out": -1})
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "IO_MAPPING_ERROR" and incident.element_id == "task"
    assert bpmn.lifecycle("task")[-1] == "ELEMENT_COMPLETING"
    bpmn.execute(set_variables(job.element_instance_key, {"out": 4}, local=True))
    bpmn.resolve(incident_key)
    assert bpmn.completed(key)
    assert bpmn.variables(key) == {} and not bpmn.incidents()
    checked = [r for r in bpmn.records(ValueType.VARIABLE) if r.value.name == "checked"]
    assert checked[-1].value.value == 4


def test_a_job_type_expression_of_the_wrong_type_is_an_extract_value_error(bpmn, xml):
    bpmn.deploy(task_process(xml, retries="=tries"))
    key = bpmn.create("vars", {"tries": "many"})
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "EXTRACT_VALUE_ERROR" and "'=tries'" in incident.error_message
    bpmn.execute(set_variables(key, {"tries": 2}))
    bpmn.resolve(incident_key)
    ((_, job),) = bpmn.activate("work")
    assert job.retries == 2
