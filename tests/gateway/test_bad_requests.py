"""Bad requests get the status Zeebe's clients expect, with a message that says what and why,
and the gateway serves the next request. Raw gRPC stubs from the protocol package, so each
request is exactly what it says (zbctl and pyzeebe check some of these themselves)."""

import asyncio
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto import gateway_pb2_grpc

from raybee.actors.gateway.inprocess import in_process_backend
from raybee.actors.gateway.server import GatewayConfig
from raybee.actors.gateway.servicer import UNIMPLEMENTED_RPCS
from raybee.actors.gateway.threaded import ThreadedGateway
from raybee.partitions.protocol import encode_key

CALL_TIMEOUT_S = 10
# A key of partition 1 that nothing was given (keys count up from 1 on each partition).
UNUSED_KEY = encode_key(1, 10**12)
SMALL_LIMIT_BYTES = 64 * 1024


@pytest.fixture(scope="module")
def stub(gateway):
    channel = grpc.insecure_channel(f"127.0.0.1:{gateway.port}")
    yield gateway_pb2_grpc.GatewayStub(channel)
    channel.close()


@pytest.fixture(scope="module")
def deployed(stub, bpmn_files):
    request = pb.DeployResourceRequest(
        resources=[
            pb.Resource(name=name, content=bpmn_files[name].read_bytes())
            for name in ("order.bpmn", "flaky.bpmn")
        ]
    )
    response = stub.DeployResource(request, timeout=CALL_TIMEOUT_S)
    return {d.process.bpmnProcessId: d.process.processDefinitionKey for d in response.deployments}


def still_serving(stub) -> None:
    assert stub.Topology(pb.TopologyRequest(), timeout=CALL_TIMEOUT_S).partitionsCount == 1


def job_of(stub, job_type: str) -> int:
    (response,) = stub.ActivateJobs(
        pb.ActivateJobsRequest(type=job_type, worker="t", timeout=60_000, maxJobsToActivate=1),
        timeout=CALL_TIMEOUT_S,
    )
    (job,) = response.jobs
    return job.key


def create(stub, process_id: str, variables: str = "") -> int:
    request = pb.CreateProcessInstanceRequest(bpmnProcessId=process_id, variables=variables)
    return stub.CreateProcessInstance(request, timeout=CALL_TIMEOUT_S).processInstanceKey


CASES = [
    # (rpc, request, status, words the message must hold)
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(bpmnProcessId="order", variables="{bad"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["'variables'", "not valid JSON"],
    ),
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(bpmnProcessId="order", variables="[1, 2]"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["root level object", "'ARRAY'"],
    ),
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(bpmnProcessId="order", variables='{"x": NaN}'),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["not valid JSON"],
    ),
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(bpmnProcessId="no-such-process"),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'CREATE' rejected with code 'NOT_FOUND'", "'no-such-process'"],
    ),
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(processDefinitionKey=UNUSED_KEY),
        grpc.StatusCode.NOT_FOUND,
        [f"'{UNUSED_KEY}'"],
    ),
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(processDefinitionKey=encode_key(7, 1)),
        grpc.StatusCode.NOT_FOUND,
        ["partition 7", "partitions 1..1"],
    ),
    (
        "CreateProcessInstance",
        pb.CreateProcessInstanceRequest(bpmnProcessId="order", tenantId="acme"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["'acme'", "multi-tenancy is disabled"],
    ),
    (
        "CancelProcessInstance",
        pb.CancelProcessInstanceRequest(processInstanceKey=UNUSED_KEY),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'CANCEL'", f"'{UNUSED_KEY}'"],
    ),
    (
        "CancelProcessInstance",
        pb.CancelProcessInstanceRequest(processInstanceKey=-5),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["greater than 0", "-5"],
    ),
    (
        "CompleteJob",
        pb.CompleteJobRequest(jobKey=UNUSED_KEY),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'COMPLETE' rejected with code 'NOT_FOUND'", "no such job was found"],
    ),
    (
        "FailJob",
        pb.FailJobRequest(jobKey=UNUSED_KEY, retries=1),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'FAIL'"],
    ),
    (
        "ThrowError",
        pb.ThrowErrorRequest(jobKey=UNUSED_KEY, errorCode="E"),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'THROW_ERROR'"],
    ),
    (
        "UpdateJobRetries",
        pb.UpdateJobRetriesRequest(jobKey=UNUSED_KEY, retries=2),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'UPDATE_RETRIES'"],
    ),
    (
        "UpdateJobTimeout",
        pb.UpdateJobTimeoutRequest(jobKey=UNUSED_KEY, timeout=1000),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'UPDATE_TIMEOUT'"],
    ),
    (
        "ResolveIncident",
        pb.ResolveIncidentRequest(incidentKey=UNUSED_KEY),
        grpc.StatusCode.NOT_FOUND,
        ["Command 'RESOLVE'"],
    ),
    (
        "SetVariables",
        pb.SetVariablesRequest(elementInstanceKey=UNUSED_KEY, variables='"just a string"'),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["'STRING'"],
    ),
    (
        "ActivateJobs",
        pb.ActivateJobsRequest(type="work", timeout=1000, maxJobsToActivate=0),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["maxJobsToActivate"],
    ),
    (
        "ActivateJobs",
        pb.ActivateJobsRequest(type="  ", timeout=1000, maxJobsToActivate=1),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["job type", "blank"],
    ),
    (
        "PublishMessage",
        pb.PublishMessageRequest(name="", correlationKey="k"),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["message name"],
    ),
    (
        "DeployResource",
        pb.DeployResourceRequest(
            resources=[pb.Resource(name="broken.bpmn", content=b"<definitions><oops")]
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["broken.bpmn"],
    ),
    (
        "DeployResource",
        pb.DeployResourceRequest(
            resources=[
                pb.Resource(name="d.dmn", content=b"<definitions/>"),
                pb.Resource(name="f.form", content=b"{}"),
                pb.Resource(name="notes.txt", content=b"hi"),
            ]
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        ["'d.dmn': DMN", "'f.form': forms", "'notes.txt': Resource type is not supported"],
    ),
]


@pytest.mark.parametrize(
    ("rpc", "request_", "status", "words"),
    CASES,
    ids=[f"{c[0]}-{c[2].name}-{i}" for i, c in enumerate(CASES)],
)
def test_a_bad_request_gets_its_status_and_the_gateway_serves_on(
    stub, deployed, gateway, rpc, request_, status, words
):
    before = gateway.stats.statuses[(rpc, status.name)]
    call = getattr(stub, rpc)
    with pytest.raises(grpc.RpcError) as raised:
        answer = call(request_, timeout=CALL_TIMEOUT_S)
        if rpc == "ActivateJobs":
            list(answer)
    assert raised.value.code() == status, raised.value.details()
    for word in words:
        assert word in raised.value.details()
    assert gateway.stats.statuses[(rpc, status.name)] == before + 1
    still_serving(stub)


def test_a_job_completed_twice_is_not_found_the_second_time(stub, deployed):
    create(stub, "order")
    key = job_of(stub, "work")
    stub.CompleteJob(pb.CompleteJobRequest(jobKey=key, variables='{"ok": true}'))
    with pytest.raises(grpc.RpcError) as raised:
        stub.CompleteJob(pb.CompleteJobRequest(jobKey=key))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert f"'{key}'" in raised.value.details()
    still_serving(stub)


def test_completing_with_variables_that_are_not_an_object_changes_nothing(stub, deployed):
    create(stub, "order")
    key = job_of(stub, "work")
    with pytest.raises(grpc.RpcError) as raised:
        stub.CompleteJob(pb.CompleteJobRequest(jobKey=key, variables="42"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'NUMBER'" in raised.value.details()
    stub.CompleteJob(pb.CompleteJobRequest(jobKey=key))  # the job was left as it was


def test_updating_the_timeout_of_a_job_not_activated_fails_its_precondition(stub, deployed):
    create(stub, "flaky")
    key = job_of(stub, "flaky")
    stub.FailJob(pb.FailJobRequest(jobKey=key, retries=2, errorMessage="again"))
    with pytest.raises(grpc.RpcError) as raised:
        stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=key, timeout=5_000))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "Command 'UPDATE_TIMEOUT' rejected with code 'INVALID_STATE'" in raised.value.details()
    key_again = job_of(stub, "flaky")  # failed with retries left: activatable again
    assert key_again == key
    stub.UpdateJobTimeout(pb.UpdateJobTimeoutRequest(jobKey=key, timeout=5_000))
    stub.CompleteJob(pb.CompleteJobRequest(jobKey=key))


def test_a_result_not_ready_in_time_is_deadline_exceeded(stub, deployed):
    request = pb.CreateProcessInstanceWithResultRequest(
        request=pb.CreateProcessInstanceRequest(bpmnProcessId="order"), requestTimeout=300
    )
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        stub.CreateProcessInstanceWithResult(request, timeout=CALL_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert 0.25 < time.monotonic() - started < 3
    still_serving(stub)


def test_long_polling_waits_for_a_job_and_gives_up_at_the_request_timeout(stub, deployed):
    request = pb.ActivateJobsRequest(
        type="nobody-makes-these", worker="t", timeout=1000, maxJobsToActivate=5,
        requestTimeout=400,
    )  # fmt: skip
    started = time.monotonic()
    assert list(stub.ActivateJobs(request, timeout=CALL_TIMEOUT_S)) == []
    assert 0.35 < time.monotonic() - started < 3
    # A job that appears during the poll ends it early.
    request = pb.ActivateJobsRequest(
        type="work", worker="t", timeout=1000, maxJobsToActivate=5, requestTimeout=5_000
    )
    responses = stub.ActivateJobs(request, timeout=CALL_TIMEOUT_S)
    create(stub, "order")
    started = time.monotonic()
    jobs = [job for response in responses for job in response.jobs]
    assert jobs and time.monotonic() - started < 3


@pytest.mark.parametrize("rpc", UNIMPLEMENTED_RPCS)
def test_what_raybee_lacks_is_unimplemented_with_a_reason(stub, rpc):
    request_type = getattr(pb, f"{rpc}Request")
    with pytest.raises(grpc.RpcError) as raised:
        getattr(stub, rpc)(request_type(), timeout=CALL_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert raised.value.details().startswith(f"raybee does not implement {rpc}: ")
    still_serving(stub)


def test_health_says_serving(gateway):
    with grpc.insecure_channel(f"127.0.0.1:{gateway.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "gateway_protocol.Gateway"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_request_over_the_size_limit_is_resource_exhausted():
    config = GatewayConfig(port=0, message_bytes_max=SMALL_LIMIT_BYTES)
    with (
        ThreadedGateway(in_process_backend, config) as small,
        grpc.insecure_channel(f"127.0.0.1:{small.port}") as channel,
    ):
        stub = gateway_pb2_grpc.GatewayStub(channel)
        big = '{"blob": "' + "x" * (2 * SMALL_LIMIT_BYTES) + '"}'
        with pytest.raises(grpc.RpcError) as raised:
            stub.PublishMessage(
                pb.PublishMessageRequest(name="m", correlationKey="k", variables=big),
                timeout=CALL_TIMEOUT_S,
            )
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert small.stats.calls["PublishMessage"] == 0  # refused before any handler
        answer = stub.PublishMessage(
            pb.PublishMessageRequest(name="m", correlationKey="k", variables='{"small": 1}'),
            timeout=CALL_TIMEOUT_S,
        )
        assert answer.key > 0


def test_jobs_activated_after_the_callers_deadline_are_handed_back(bpmn_files):
    """A slow activation (the router under load) finishes after the caller gave up: its jobs
    go back to the partition at once instead of waiting out their timeout."""

    async def slow_backend():
        backend = await in_process_backend()
        activate = backend.activate_jobs

        async def slow_activate(*args):
            jobs = await activate(*args)
            await asyncio.sleep(1.0)
            return jobs

        backend.activate_jobs = slow_activate
        return backend

    with (
        ThreadedGateway(slow_backend, GatewayConfig(port=0)) as slow,
        grpc.insecure_channel(f"127.0.0.1:{slow.port}") as channel,
    ):
        stub = gateway_pb2_grpc.GatewayStub(channel)
        stub.DeployResource(
            pb.DeployResourceRequest(
                resources=[
                    pb.Resource(name="order.bpmn", content=bpmn_files["order.bpmn"].read_bytes())
                ]
            ),
            timeout=CALL_TIMEOUT_S,
        )
        create(stub, "order")
        request = pb.ActivateJobsRequest(
            type="work", worker="t", timeout=600_000, maxJobsToActivate=1, requestTimeout=100
        )
        # The gateway answers (with no jobs) before the caller's deadline, without waiting.
        started = time.monotonic()
        assert list(stub.ActivateJobs(request, timeout=0.5)) == []
        assert time.monotonic() - started < 0.5
        deadline = time.monotonic() + 5
        while slow.stats.jobs_handed_back < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (slow.stats.jobs_late, slow.stats.jobs_handed_back) == (1, 1)
        # Activatable again at once, although its 10-minute timeout has not passed.
        (response,) = stub.ActivateJobs(request, timeout=CALL_TIMEOUT_S)
        assert len(response.jobs) == 1


def test_a_poll_beside_a_job_stream_finds_the_jobs_nobody_pushed_then_parks(bpmn_files):
    """While the gateway streams a type, its polls are parked (long_polls.py): a job created
    before the stream opened (never pushed) is still found at once, and a poll with nothing to
    find answers at its request timeout, not before."""
    with (
        ThreadedGateway(in_process_backend, GatewayConfig(port=0)) as fresh,
        grpc.insecure_channel(f"127.0.0.1:{fresh.port}") as channel,
    ):
        stub = gateway_pb2_grpc.GatewayStub(channel)
        order = pb.Resource(name="order.bpmn", content=bpmn_files["order.bpmn"].read_bytes())
        stub.DeployResource(pb.DeployResourceRequest(resources=[order]), timeout=CALL_TIMEOUT_S)
        waiting = create(stub, "order")  # its job: created before any stream, not pushed
        stream = stub.StreamActivatedJobs(
            pb.StreamActivatedJobsRequest(type="work", worker="s", timeout=60_000),
            timeout=CALL_TIMEOUT_S,
        )
        polls = fresh.backend.long_polls
        deadline = time.monotonic() + 5
        while not polls.streaming("work") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert polls.streaming("work")
        request = pb.ActivateJobsRequest(
            type="work", worker="t", timeout=60_000, maxJobsToActivate=5, requestTimeout=400
        )
        (response,) = stub.ActivateJobs(request, timeout=CALL_TIMEOUT_S)
        assert [job.processInstanceKey for job in response.jobs] == [waiting]
        started = time.monotonic()
        assert list(stub.ActivateJobs(request, timeout=CALL_TIMEOUT_S)) == []
        assert 0.35 < time.monotonic() - started < 3
        assert polls.stats["parked"] >= 1 and fresh.backend.router.stats["commands"] > 0
        stream.cancel()
