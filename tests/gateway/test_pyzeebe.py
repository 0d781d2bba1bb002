"""pyzeebe 4.7 against the gateway (in-process backend, plaintext on 127.0.0.1): deploy,
create with and without result, workers that complete, fail and throw a BPMN error caught by a
boundary event, publish message, cancel, job push."""

import asyncio
import contextlib

import pytest
from pyzeebe import ZeebeClient, ZeebeWorker, create_insecure_channel
from pyzeebe.errors import BusinessError, ProcessInstanceNotFoundError

RESULT_TIMEOUT_MS = 10_000


def run(coro):
    """pyzeebe is asyncio-only: each test runs its flow on a fresh loop."""
    return asyncio.run(coro)


@contextlib.asynccontextmanager
async def working(worker: ZeebeWorker):
    task = asyncio.create_task(worker.work())
    try:
        yield worker
    finally:
        await worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


def test_deploy_create_and_cancel(address, bpmn_files):
    async def flow():
        client = ZeebeClient(create_insecure_channel(address))
        deployed = await client.deploy_resource(str(bpmn_files["order.bpmn"]))
        (process,) = deployed.deployments
        assert process.bpmn_process_id == "order"
        assert process.resource_name == "order.bpmn"
        assert process.process_definition_key > 0 and process.version >= 1
        created = await client.run_process("order", {"amount": 12})
        assert created.process_instance_key > created.process_definition_key
        assert created.process_definition_key == process.process_definition_key
        assert created.version == process.version
        await client.cancel_process_instance(created.process_instance_key)
        with pytest.raises(ProcessInstanceNotFoundError):
            await client.cancel_process_instance(created.process_instance_key)

    run(flow())


def test_a_worker_completes_and_the_result_comes_back(address, bpmn_files, gateway):
    async def flow():
        channel = create_insecure_channel(address)
        client = ZeebeClient(channel)
        await client.deploy_resource(str(bpmn_files["order.bpmn"]))
        worker = ZeebeWorker(channel, name="adder", request_timeout=1_000)

        @worker.task(task_type="work")
        async def work(amount: int):
            return {"total": amount + 1}

        async with working(worker):
            result = await client.run_process_with_result(
                "order", {"amount": 41}, timeout=RESULT_TIMEOUT_MS
            )
        assert result.variables == {"amount": 41, "total": 42}
        assert result.bpmn_process_id == "order" and result.process_instance_key > 0

    completed_before = gateway.stats.calls["CompleteJob"]
    run(flow())
    assert gateway.stats.calls["CompleteJob"] > completed_before


def test_a_failing_worker_is_retried_until_it_succeeds(address, bpmn_files, gateway):
    attempts = []

    async def flow():
        channel = create_insecure_channel(address)
        client = ZeebeClient(channel)
        await client.deploy_resource(str(bpmn_files["flaky.bpmn"]))
        worker = ZeebeWorker(channel, name="flaky", request_timeout=1_000)

        @worker.task(task_type="flaky")
        async def flaky(job_id: str):
            attempts.append(job_id)
            if len(attempts) < 3:
                raise RuntimeError(f"attempt {len(attempts)} fails")
            return {"attempts": len(attempts)}

        async with working(worker):
            result = await client.run_process_with_result(
                "flaky", {"job_id": "j-1"}, timeout=RESULT_TIMEOUT_MS
            )
        assert result.variables["attempts"] == 3

    failed_before = gateway.stats.calls["FailJob"]
    run(flow())
    assert attempts == ["j-1"] * 3
    assert gateway.stats.calls["FailJob"] - failed_before == 2


def test_a_bpmn_error_is_caught_by_the_boundary_event(address, bpmn_files, gateway):
    handled = []

    async def flow():
        channel = create_insecure_channel(address)
        client = ZeebeClient(channel)
        await client.deploy_resource(str(bpmn_files["guarded.bpmn"]))
        worker = ZeebeWorker(channel, name="payer", request_timeout=1_000)

        @worker.task(task_type="risky")
        async def risky():
            raise BusinessError("NO_FUNDS")

        @worker.task(task_type="handle")
        async def handle(account: str):
            handled.append(account)
            return {"handled": True}

        async with working(worker):
            result = await client.run_process_with_result(
                "guarded", {"account": "a-7"}, timeout=RESULT_TIMEOUT_MS
            )
        assert result.variables == {"account": "a-7", "handled": True}

    thrown_before = gateway.stats.calls["ThrowError"]
    run(flow())
    assert handled == ["a-7"]
    assert gateway.stats.calls["ThrowError"] - thrown_before == 1


def test_a_published_message_moves_the_waiting_instance_on(address, bpmn_files):
    async def flow():
        client = ZeebeClient(create_insecure_channel(address))
        await client.deploy_resource(str(bpmn_files["waiting.bpmn"]))
        published = await client.publish_message(
            "paid", "order-77", {"paid": 30}, time_to_live_in_milliseconds=60_000
        )
        assert published.key > 0
        # The message waits (time to live) until the instance's subscription opens.
        result = await client.run_process_with_result(
            "waiting", {"orderId": "order-77"}, timeout=RESULT_TIMEOUT_MS
        )
        assert result.variables == {"orderId": "order-77", "paid": 30}

    run(flow())


def test_a_streaming_worker_gets_jobs_pushed(address, bpmn_files, gateway):
    async def flow():
        channel = create_insecure_channel(address)
        client = ZeebeClient(channel)
        await client.deploy_resource(str(bpmn_files["order.bpmn"]))
        # A long poll interval: jobs arrive by push (StreamActivatedJobs), not by polling.
        worker = ZeebeWorker(channel, name="pushed", stream_enabled=True, request_timeout=1_000)

        @worker.task(task_type="work")
        async def work(amount: int):
            return {"total": amount * 2}

        async with working(worker):
            await asyncio.sleep(0.3)  # the stream opens
            results = await asyncio.gather(
                *[
                    client.run_process_with_result(
                        "order", {"amount": n}, timeout=RESULT_TIMEOUT_MS
                    )
                    for n in range(10)
                ]
            )
        assert sorted(r.variables["total"] for r in results) == [2 * n for n in range(10)]

    streamed_before = gateway.stats.jobs_streamed
    run(flow())
    assert gateway.stats.calls["StreamActivatedJobs"] >= 1
    assert gateway.stats.jobs_streamed - streamed_before >= 1
