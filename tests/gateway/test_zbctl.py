"""zbctl 8.4 (from npm) against the gateway, plaintext on 127.0.0.1: status, deploy, create
instance (with and without result), activate, complete and fail jobs, resolve an incident,
publish a message, cancel an instance - and the error each gets when the request is wrong."""

import json

from raybee.partitions.protocol import IncidentIntent, ValueType


def test_status_shows_brokers_partitions_and_roles(zbctl):
    out = zbctl("status").stdout
    assert "Cluster size: 1" in out
    assert "Partitions count: 1" in out
    assert "Replication factor: 1" in out
    assert "Gateway version: raybee-" in out
    assert "Partition 1 : Leader, Healthy" in out


def test_deploy_create_activate_and_complete(zbctl, bpmn_files):
    # zbctl 8.4 `deploy` sends the older DeployProcess; `deploy resource` sends DeployResource.
    deployed = zbctl.json("deploy", str(bpmn_files["order.bpmn"]))
    (process,) = deployed["processes"]
    assert process["bpmnProcessId"] == "order" and int(process["processDefinitionKey"]) > 0
    as_resource = zbctl.json("deploy", "resource", str(bpmn_files["order.bpmn"]))
    (again,) = [d["process"] for d in as_resource["deployments"]]
    assert again["processDefinitionKey"] == process["processDefinitionKey"]  # a duplicate
    created = zbctl.json("create", "instance", "order", "--variables", '{"amount": 5}')
    instance_key = int(created["processInstanceKey"])
    assert created["processDefinitionKey"] == process["processDefinitionKey"]
    activated = zbctl.json("activate", "jobs", "work", "--maxJobsToActivate", "10")
    (job,) = [j for j in activated["jobs"] if int(j["processInstanceKey"]) == instance_key]
    assert json.loads(job["variables"]) == {"amount": 5}
    assert json.loads(job["customHeaders"]) == {}
    assert job["worker"] == "zbctl" and job["retries"] == 3 and job["elementId"] == "task"
    done = zbctl("complete", "job", job["key"], "--variables", '{"total": 6}')
    assert f"Completed job with key '{job['key']}'" in done.stdout
    again = zbctl("complete", "job", job["key"], check=False)
    assert again.returncode != 0
    assert "code = NotFound" in again.stderr and "no such job was found" in again.stderr


def test_a_failed_job_raises_an_incident_that_resolve_hands_back(zbctl, bpmn_files, log_events):
    zbctl("deploy", str(bpmn_files["flaky.bpmn"]))
    instance_key = int(zbctl.json("create", "instance", "flaky")["processInstanceKey"])
    (job,) = zbctl.json("activate", "jobs", "flaky", "--maxJobsToActivate", "1")["jobs"]
    incidents_before = len(log_events(ValueType.INCIDENT, IncidentIntent.CREATED))
    failed = zbctl("fail", "job", job["key"], "--retries", "0", "--errorMessage", "boom")
    assert f"Failed job with key '{job['key']}'" in failed.stdout
    incidents = log_events(ValueType.INCIDENT, IncidentIntent.CREATED)[incidents_before:]
    (incident,) = incidents
    assert incident.value.process_instance_key == instance_key
    assert incident.value.error_message == "boom"
    # Without retries, resolving leaves the job where it is: give it retries first.
    zbctl("update", "retries", job["key"], "--retries", "1")
    resolved = zbctl("resolve", "incident", str(incident.key))
    assert str(incident.key) in resolved.stdout
    assert log_events(ValueType.INCIDENT, IncidentIntent.RESOLVED)[-1].key == incident.key
    (again,) = zbctl.json("activate", "jobs", "flaky", "--maxJobsToActivate", "1")["jobs"]
    assert again["key"] == job["key"] and again["retries"] == 1
    zbctl("complete", "job", again["key"])


def test_publish_message_then_create_with_result(zbctl, bpmn_files):
    zbctl("deploy", str(bpmn_files["waiting.bpmn"]))
    published = zbctl.json(
        "publish", "message", "paid", "--correlationKey", "zb-1", "--variables",
        '{"paid": 3}', "--ttl", "1m",
    )  # fmt: skip
    assert int(published["key"]) > 0
    result = zbctl.json(
        "create", "instance", "waiting", "--variables", '{"orderId": "zb-1"}', "--withResult"
    )
    assert json.loads(result["variables"]) == {"orderId": "zb-1", "paid": 3}
    duplicate = zbctl(
        "publish", "message", "paid", "--correlationKey", "zb-2", "--messageId", "m-1",
        "--ttl", "1m",
    )  # fmt: skip
    assert duplicate.returncode == 0
    again = zbctl(
        "publish", "message", "paid", "--correlationKey", "zb-2", "--messageId", "m-1",
        "--ttl", "1m", check=False,
    )  # fmt: skip
    assert "code = AlreadyExists" in again.stderr


def test_cancel_instance(zbctl, bpmn_files):
    zbctl("deploy", str(bpmn_files["order.bpmn"]))
    key = zbctl.json("create", "instance", "order")["processInstanceKey"]
    cancelled = zbctl("cancel", "instance", key)
    assert f"Canceled process instance with key '{key}'" in cancelled.stdout
    again = zbctl("cancel", "instance", key, check=False)
    assert "code = NotFound" in again.stderr


def test_unknown_process_and_malformed_bpmn(zbctl, bpmn_files):
    unknown = zbctl("create", "instance", "no-such-process", check=False)
    assert "code = NotFound" in unknown.stderr and "'no-such-process'" in unknown.stderr
    malformed = zbctl("deploy", str(bpmn_files["malformed.bpmn"]), check=False)
    assert "code = InvalidArgument" in malformed.stderr and "malformed.bpmn" in malformed.stderr
    dmn = zbctl("deploy", str(bpmn_files["decision.dmn"]), check=False)
    assert "code = InvalidArgument" in dmn.stderr and "DMN" in dmn.stderr
    assert "Cluster size: 1" in zbctl("status").stdout  # still serving
