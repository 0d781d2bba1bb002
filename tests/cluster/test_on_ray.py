"""raybee on a real local Ray cluster (3 nodes on 127.0.0.1, one broker each, 3 partitions),
driven through the Python client: leaders spread, processes run with job workers, typed
rejections and RESOURCE_EXHAUSTED, a broker process killed and restarted from its disk, the
supervisor killed and rebuilt from the brokers, and at the end the committed logs checked: every
acknowledged instance created and completed exactly once, no job completed twice.
"""

import asyncio
import os
import signal

import pytest
import ray

import raybee
from raybee.partitions.testing import one_task_process

pytestmark = pytest.mark.timeout(300)

ACKNOWLEDGED: set[int] = set()  # instance keys acknowledged to this module's tests


def created(instance):
    ACKNOWLEDGED.add(instance.process_instance_key)
    return instance


def test_leaders_spread_one_per_broker_and_replicas_on_distinct_brokers(client):
    topology = client.topology()
    brokers = [b for b, info in topology["brokers"].items() if info["state"] == "alive"]
    assert len(brokers) == 3
    leaders = [p["leader_broker"] for p in topology["partitions"].values()]
    assert sorted(leaders) == sorted(brokers), topology["partitions"]
    for partition in topology["partitions"].values():
        hosts = [m["broker"] for m in partition["members"].values()]
        assert len(hosts) == topology["replication_factor"] == len(set(hosts))


def test_instances_run_with_a_worker_that_fails_once_then_completes(client, tools):
    client.deploy(("e2e.bpmn", one_task_process("e2e", "e2e-work")))
    attempts: dict[int, int] = {}

    @client.worker("e2e-work", concurrency=4, retry_backoff_ms=0)
    def work(job):
        attempts[job.key] = attempts.get(job.key, 0) + 1
        if job.variables.get("flaky") and attempts[job.key] == 1:
            raise RuntimeError("first attempt fails")
        return {"handled": job.variables["n"] * 2}

    result = client.create_instance_with_result("e2e", {"n": 21, "flaky": True})
    ACKNOWLEDGED.add(result.process_instance_key)
    assert result.variables["handled"] == 42
    assert work.worker.stats.failed == 1 and work.worker.stats.handler_errors == 1

    async def many():
        return await asyncio.gather(
            *(client.aio.create_instance("e2e", {"n": n}) for n in range(60))
        )

    instances = [created(i) for i in asyncio.run(many())]
    assert len({i.process_instance_key for i in instances}) == 60
    assert {i.process_instance_key >> 51 for i in instances} == {1, 2, 3}  # round-robin
    tools.wait_for(lambda: work.worker.stats.completed >= 61, 30, "61 completed jobs")
    assert work.worker.stats.rejected == 0


def test_a_bpmn_error_is_thrown_instead_of_failing_the_job(client, tools):
    client.deploy(("err.bpmn", one_task_process("err", "err-work")))

    @client.worker("err-work", concurrency=2)
    def out_of_stock(job):
        raise raybee.BpmnError("NO_STOCK", "nothing left")

    client.create_instance("err")  # not acknowledged for the final check: it never ends
    stats = out_of_stock.worker.stats
    tools.wait_for(lambda: stats.errors_thrown == 1, 20, "the BPMN error thrown")
    assert stats.failed == 0 and stats.rejected == 0


def test_rejections_are_typed_and_carry_their_reason(client):
    with pytest.raises(raybee.NotFoundError) as missing:
        client.create_instance("no-such-process")
    assert "no-such-process" in missing.value.reason
    with pytest.raises(raybee.NotFoundError, match="no such process instance"):
        client.cancel_instance((2 << 51) + 999_999)
    with pytest.raises(raybee.RejectedError) as bad:
        client.deploy(("broken.bpmn", "<bpmn:definitions"))
    assert bad.value.reason
    with pytest.raises(raybee.NotFoundError):
        client.complete_job((3 << 51) + 999_999)


def test_backpressure_answers_resource_exhausted_with_its_reason(client):
    partition = 2
    leader = client.topology()["partitions"][partition]["leader_broker"]
    handle = client.router.handles[leader]
    saved = ray.get(handle.configure_backpressure.remote(partition, 1))
    assert saved["limit"] == 1
    from raybee.partitions.protocol import (
        ProcessInstanceCreationIntent,
        ProcessInstanceCreationRecordValue,
        Record,
        ValueType,
    )

    command = Record(
        ValueType.PROCESS_INSTANCE_CREATION,
        ProcessInstanceCreationIntent.CREATE,
        ProcessInstanceCreationRecordValue(bpmn_process_id="e2e", variables={"n": 0}),
    )

    async def burst():
        return await asyncio.gather(
            *(client.router.execute(partition, command) for _ in range(200)),
            return_exceptions=True,
        )

    try:
        results = client._run(burst())
    finally:
        ray.get(handle.configure_backpressure.remote(partition, 400))
    refused = [r for r in results if isinstance(r, raybee.ResourceExhaustedError)]
    accepted = [r for r in results if not isinstance(r, BaseException)]
    others = [r for r in results if isinstance(r, BaseException) and r not in refused]
    assert not others, others[:3]
    assert refused, "a limit of 1 refused nothing"
    assert refused[0].partition_id == partition
    assert "limit is 1" in refused[0].reason and f"partition {partition}" in refused[0].reason
    ACKNOWLEDGED.update(r.value.process_instance_key for r in accepted)
    status = ray.get(handle.status.remote())
    assert status["replicas"][str(partition)]["backpressure"]["refused"] >= len(refused)


def test_a_restarted_broker_process_recovers_its_replicas_from_disk(client, tools):
    client.deploy(("restart.bpmn", one_task_process("restart", "restart-work")))  # no worker
    topology = client.topology()
    broker = topology["partitions"][3]["leader_broker"]
    handle = client.router.handles[broker]
    before = ray.get(handle.ping.remote())
    instances = [created(client.create_instance("restart", {"n": n})) for n in range(6)]
    on_broker = [i for i in instances if i.process_instance_key >> 51 == 3]
    assert on_broker
    seq = tools.last_event_seq(client)
    os.kill(before["pid"], signal.SIGKILL)
    restarted = tools.wait_for(
        lambda: tools.events_of(client, "broker_restarted", seq), 60, "broker_restarted"
    )
    assert restarted[0]["fields"]["broker"] == broker
    after = ray.get(handle.status.remote())
    assert after["pid"] != before["pid"] and after["node_id"] == before["node_id"]
    assert 3 in after["recovered"]
    # The jobs created before the crash are there, on every partition: activate, complete.
    jobs = tools.wait_for(
        lambda: client.activate_jobs("restart-work", 10, request_timeout_ms=2_000) or None,
        30,
        "the jobs created before the restart",
    )
    keys = {j.key for j in jobs}
    while len(keys) < len(instances):
        more = client.activate_jobs("restart-work", 10, request_timeout_ms=2_000)
        assert more, f"only {len(keys)} of {len(instances)} jobs came back"
        keys |= {j.key for j in more}
    for key in keys:
        client.complete_job(key, {"after_restart": True})
    assert not tools.events_of(client, "broker_lost", seq)


def test_killing_the_supervisor_it_restarts_and_rebuilds_its_view(client, tools):
    from raybee.actors.deploy import find_supervisor

    supervisor = find_supervisor()
    before = ray.get(supervisor.status.remote())
    ray.kill(supervisor, no_restart=False)
    # The brokers serve without it.
    created(client.create_instance("e2e", {"n": 7}))

    def rebuilt():
        try:
            status = ray.get(supervisor.status.remote(), timeout=5)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return None
        incarnation = status["supervisor"]["incarnation"]
        if incarnation == before["supervisor"]["incarnation"]:
            return None
        kinds = [e["kind"] for e in status["events"]]
        return status if "view_rebuilt" in kinds else None

    status = tools.wait_for(rebuilt, 60, "the supervisor restarted with its view rebuilt")
    # The event log survived the restart (kept in Ray's GCS); the new incarnation's part:
    started = [e["seq"] for e in status["events"] if e["kind"] == "supervisor_started"]
    assert len(started) == 2 and started[0] < started[1]
    assert {e["seq"] for e in before["events"]} <= {e["seq"] for e in status["events"]}
    since_restart = [e for e in status["events"] if e["seq"] > started[1]]
    view = next(e for e in since_restart if e["kind"] == "view_rebuilt")
    assert view["fields"]["brokers"] == sorted(before["brokers"])
    assert "broker_placed" not in [e["kind"] for e in since_restart]
    tools.wait_for(
        lambda: all(
            p["leader_broker"] is not None for p in client.topology()["partitions"].values()
        ),
        20,
        "leaders known again",
    )
    created(client.create_instance("e2e", {"n": 8}))


def test_status_prints_brokers_replicas_and_events(client):
    from raybee.workloads.cluster_cli import format_status

    text = format_status(client.status())
    for heading in ("brokers", "replicas", "events"):
        assert f"\n{heading}" in text
    assert "partitions_created" in text


def test_every_acknowledged_instance_was_created_and_completed_exactly_once(client, tools):
    # Finish what the module left open (the worker of e2e is still running).
    tools.wait_for(
        lambda: set(tools.history(client)["completed"]) >= ACKNOWLEDGED or None,
        60,
        "every acknowledged instance completed",
        interval_s=0.5,
    )
    found = tools.history(client)
    assert not tools.history_problems(found, ACKNOWLEDGED)
    assert len(ACKNOWLEDGED) > 60
    assert sum(found["jobs_completed"].values()) >= len(ACKNOWLEDGED)
