"""Multi-instance activities: a body with the activity's id around inner instances; parallel
and sequential; input and output collections; loopCounter; the completion condition."""

from raybee.partitions.protocol import JobIntent, ValueType


def process(xml, loop, kind="task"):
    if kind == "task":
        element = xml.task(
            "each",
            "item",
            loop=loop,
            inputs=[("=item * 2", "doubled")],
            outputs=[("=doubled", "last")],
        )
    else:
        element = xml.sub_process(
            "each", xml.start("s") + xml.task("inner", "item") + xml.chain("s", "inner"), loop=loop
        )
    return xml.process("mi", xml.start() + element + xml.end() + xml.chain("start", "each", "end"))


def test_a_parallel_body_runs_one_inner_instance_per_item_and_collects_outputs(bpmn, xml):
    loop = xml.loop("=items", "item", output_collection="results", output_element="=result")
    bpmn.deploy(process(xml, loop))
    key = bpmn.create("mi", {"items": [1, 2, 3]})
    jobs = bpmn.activate("item")
    assert len(jobs) == 3
    body = bpmn.instance(bpmn.instance(jobs[0][1].element_instance_key).flow_scope_key)
    assert body.value.bpmn_element_type == "MULTI_INSTANCE_BODY" and body.value.element_id == "each"
    assert sorted(
        (j.variables["item"], j.variables["loopCounter"], j.variables["doubled"]) for _, j in jobs
    ) == [
        (1, 1, 2),
        (2, 2, 4),
        (3, 3, 6),
    ]
    for job_key, job in reversed(jobs):  # complete out of order
        bpmn.complete(job_key, {"result": job.variables["item"] * 10})
    assert bpmn.completed(key)
    final = {
        r.value.name: r.value.value
        for r in bpmn.records(ValueType.VARIABLE)
        if r.value.scope_key == key
    }
    assert final["results"] == [10, 20, 30], "in loopCounter order"
    assert final["last"] in (2, 4, 6)


def test_a_sequential_body_runs_one_at_a_time(bpmn, xml):
    bpmn.deploy(process(xml, xml.loop("=items", "item", sequential=True)))
    key = bpmn.create("mi", {"items": ["a", "b"]})
    seen = []
    while jobs := bpmn.activate("item"):
        assert len(jobs) == 1, "one inner instance at a time"
        seen.append(jobs[0][1].variables["item"])
        bpmn.complete(jobs[0][0], {"result": 1})
    assert seen == ["a", "b"] and bpmn.completed(key)


def test_an_empty_collection_completes_the_body_at_once(bpmn, xml):
    bpmn.deploy(
        process(xml, xml.loop("=items", "item", output_collection="out", output_element="=1"))
    )
    key = bpmn.create("mi", {"items": []})
    assert bpmn.completed(key)
    assert bpmn.records(ValueType.VARIABLE)[-1].value.value == []


def test_the_completion_condition_terminates_the_other_inner_instances(bpmn, xml):
    loop = xml.loop("=items", "item", completion="=numberOfCompletedInstances &gt;= 2")
    bpmn.deploy(process(xml, loop, kind="sub"))
    key = bpmn.create("mi", {"items": [1, 2, 3, 4]})
    jobs = bpmn.activate("item")
    assert len(jobs) == 4
    bpmn.complete(jobs[0][0])
    assert not bpmn.completed(key)
    bpmn.complete(jobs[1][0])
    assert bpmn.completed(key)
    assert len(bpmn.records(ValueType.JOB, JobIntent.CANCELED)) == 2
    terminated = [r for r in bpmn.element_records() if r.intent.name == "ELEMENT_TERMINATED"]
    assert {r.value.element_id for r in terminated} == {"each", "inner"}


def test_an_input_collection_that_is_not_a_list_is_an_incident_on_the_body(bpmn, xml):
    bpmn.deploy(process(xml, xml.loop("=items", "item")))
    bpmn.create("mi", {"items": "nope"})
    ((_, incident),) = bpmn.incidents()
    assert incident.error_type == "EXTRACT_VALUE_ERROR" and "ARRAY" in incident.error_message
    body = bpmn.instance(incident.element_instance_key)
    assert body.value.bpmn_element_type == "MULTI_INSTANCE_BODY"
