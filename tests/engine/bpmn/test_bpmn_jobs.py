"""Jobs of BPMN tasks: what a job carries, how its completion, failure, error and incidents move
its element, and that a job stream gets the element's variables."""

from raybee.partitions.engine.job_streams import JobStream
from raybee.partitions.protocol import IncidentIntent, JobIntent, RecordType, ValueType
from raybee.partitions.testing import cancel_instance, job_command


def task_process(xml, process_id="jobs", **task):
    body = xml.start() + xml.task("task", **task) + xml.end() + xml.chain("start", "task", "end")
    return xml.process(process_id, body)


def test_a_job_carries_its_element_process_and_definition(bpmn, xml):
    definition = bpmn.deploy(
        task_process(
            xml, job_type='="ship-" + region', retries="=1 + 1", headers={"carrier": "DHL"}
        )
    )["jobs"]
    key = bpmn.create("jobs", {"region": "eu"})
    (created,) = bpmn.records(ValueType.JOB, JobIntent.CREATED)
    job = created.value
    assert (job.type, job.retries, job.custom_headers) == ("ship-eu", 2, {"carrier": "DHL"})
    assert (job.bpmn_process_id, job.process_definition_version) == ("jobs", 1)
    assert (job.process_definition_key, job.process_instance_key) == (definition, key)
    assert (
        job.element_id == "task" and bpmn.instance(job.element_instance_key).job_key == created.key
    )
    assert job.variables == {}, "a worker gets the variables at activation"


def test_a_user_task_is_a_job_with_zeebe_user_task_headers(bpmn, xml):
    user = (
        '<bpmn:userTask id="task"><bpmn:extensionElements>'
        '<zeebe:assignmentDefinition assignee="=owner" candidateGroups="sales, ops"/>'
        '<zeebe:formDefinition formKey="camunda-forms:bpmn:form1"/>'
        "</bpmn:extensionElements></bpmn:userTask>"
    )
    bpmn.deploy(
        xml.process("u", xml.start() + user + xml.end() + xml.chain("start", "task", "end"))
    )
    bpmn.create("u", {"owner": "ann"})
    ((_, job),) = bpmn.activate("io.camunda.zeebe:userTask")
    assert job.custom_headers == {
        "io.camunda.zeebe:formKey": "camunda-forms:bpmn:form1",
        "io.camunda.zeebe:assignee": "ann",
        "io.camunda.zeebe:candidateGroups": '["sales", "ops"]',
    }


def test_a_failed_job_without_retries_is_an_incident_until_retries_and_resolve(bpmn, xml):
    bpmn.deploy(task_process(xml, job_type="work"))
    key = bpmn.create("jobs")
    ((job_key, job),) = bpmn.activate("work")
    bpmn.execute(
        job_command(
            JobIntent.FAIL, job_key, retries=0, error_message="boom", variables={"why": "db"}
        )
    )
    ((incident_key, incident),) = bpmn.incidents()
    assert (incident.error_type, incident.job_key) == ("JOB_NO_RETRIES", job_key)
    assert incident.element_instance_key == job.element_instance_key
    assert bpmn.variables(job.element_instance_key) == {"why": "db"}, "FAIL's variables are local"
    assert bpmn.activate("work") == []
    bpmn.execute(job_command(JobIntent.UPDATE_RETRIES, job_key, retries=1))
    assert bpmn.resolve(incident_key).intent == IncidentIntent.RESOLVED
    ((again, _),) = bpmn.activate("work")
    assert again == job_key
    bpmn.complete(job_key)
    assert bpmn.completed(key)


def test_a_thrown_error_nobody_catches_is_an_unhandled_error_incident(bpmn, xml):
    bpmn.deploy(task_process(xml, job_type="work"))
    key = bpmn.create("jobs")
    ((job_key, _),) = bpmn.activate("work")
    bpmn.execute(job_command(JobIntent.THROW_ERROR, job_key, error_code="NOT_FOUND"))
    ((incident_key, incident),) = bpmn.incidents()
    assert incident.error_type == "UNHANDLED_ERROR_EVENT" and "NOT_FOUND" in incident.error_message
    assert incident.element_id == "task" and not bpmn.completed(key)
    bpmn.resolve(incident_key)
    ((job_key2, _),) = bpmn.activate("work")
    bpmn.complete(job_key2)
    assert bpmn.completed(key)


def test_cancelling_an_instance_resolves_its_job_incident_and_cancels_the_job(bpmn, xml):
    bpmn.deploy(task_process(xml, job_type="work"))
    key = bpmn.create("jobs")
    ((job_key, _),) = bpmn.activate("work")
    bpmn.execute(job_command(JobIntent.FAIL, job_key, retries=0))
    assert bpmn.incidents()
    bpmn.execute(cancel_instance(key))
    assert bpmn.incidents() == []
    assert [r.key for r in bpmn.records(ValueType.JOB, JobIntent.CANCELED)] == [job_key]
    late = bpmn.execute(job_command(JobIntent.COMPLETE, job_key))
    assert late.record_type == RecordType.COMMAND_REJECTION


def test_a_job_stream_gets_the_job_with_the_variables_of_its_element(bpmn, xml):
    bpmn.deploy(task_process(xml, job_type="work", inputs=[("=a + 1", "b")]))
    pushed = []
    bpmn.partition.open_job_stream(
        JobStream(stream_id=1, job_type="work", worker="w", timeout_ms=1000),
        lambda push: pushed.append(push) or True,
    )
    key = bpmn.create("jobs", {"a": 1})
    ((push,),) = [pushed]
    assert push.job.variables == {"a": 1, "b": 2}
    bpmn.complete(push.job_key)
    assert bpmn.completed(key)
