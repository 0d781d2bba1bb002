"""Between partitions, on a LocalCluster: deployments distributed from partition 1 to every
partition (again after a lost delivery, idempotently when repeated), message subscriptions
registered on the partition of the correlation key and correlated across partitions in both
orders, and a faulty network (drops, duplicates, delays) that loses and doubles nothing."""

import random

import pytest

from raybee.partitions.checks import check_answers
from raybee.partitions.engine import ENGINE_FAMILIES, EngineState
from raybee.partitions.engine.distribution import RESEND_INTERVAL_MS
from raybee.partitions.engine.families import (
    MESSAGE_SUBSCRIPTIONS,
    PENDING_SENDS,
    PROCESS_SUBSCRIPTIONS,
)
from raybee.partitions.local_cluster import Faults, LocalCluster
from raybee.partitions.protocol import (
    CommandDistributionIntent,
    MessageSubscriptionIntent,
    ProcessInstanceIntent,
    ProcessIntent,
    RecordType,
    RejectionType,
    ValueType,
)
from raybee.partitions.stream_processor import StreamProcessor
from raybee.partitions.testing import (
    FakeClock,
    bpmn_message,
    bpmn_process,
    create_instance,
    deploy,
    publish,
)
from raybee.state import MemoryStore

PARTITIONS = 3
CD = CommandDistributionIntent


def waiting_process(process_id="waits"):
    body = (
        '<bpmn:startEvent id="start"/><bpmn:receiveTask id="wait" messageRef="m"/>'
        '<bpmn:endEvent id="end"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end"/>'
    )
    return bpmn_process(process_id, body, extra=bpmn_message("m", "go", "=key"))


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cluster(clock):
    cluster = LocalCluster(PARTITIONS, clock)
    yield cluster
    check_cluster(cluster)
    cluster.close()


def check_cluster(cluster) -> None:
    """Every partition: each command answered once, no processing error, and a replay of only
    its events gives its bytes."""
    for partition_id, partition in cluster.partitions.items():
        records = list(partition.log.read_from(1))
        assert not check_answers(records).problems, (partition_id, check_answers(records).problems)
        errors = [r for r in records if r.rejection_type == RejectionType.PROCESSING_ERROR]
        assert not errors, (partition_id, errors[0].rejection_reason)
        replica = StreamProcessor(
            MemoryStore(ENGINE_FAMILIES), partition.log, partition_id, FakeClock()
        )
        replica.replay()
        assert replica.store.digest() == partition.store.digest(), f"partition {partition_id}"
        replica.store.close()


def events(partition, value_type, intent=None):
    return [
        r
        for r in partition.log.read_from(1)
        if r.is_event and r.value_type == value_type and (intent is None or r.intent == intent)
    ]


def key_on(cluster, partition_id: int, prefix="key") -> str:
    """A correlation key whose messages live on `partition_id`."""
    for n in range(1000):
        if cluster.partition_of_correlation_key(f"{prefix}-{n}") == partition_id:
            return f"{prefix}-{n}"
    raise AssertionError("no key found")


def completed_instances(partition) -> list[int]:
    return [
        r.key
        for r in events(
            partition, ValueType.PROCESS_INSTANCE, ProcessInstanceIntent.ELEMENT_COMPLETED
        )
        if r.value.bpmn_element_type == "PROCESS"
    ]


def test_a_deployment_reaches_every_partition_under_the_same_keys(cluster):
    answer = cluster.execute(1, deploy(("w.bpmn", waiting_process())))
    assert answer.record_type == RecordType.EVENT, answer.rejection_reason
    (meta,) = answer.value.processes_metadata
    for partition_id, partition in cluster.partitions.items():
        process = EngineState(partition_id, partition.store.view()).processes.latest("waits")
        assert (process.key, process.version) == (meta.process_definition_key, 1)
    for partition_id in (2, 3):
        created = cluster.execute(partition_id, create_instance("waits", {"key": "k"}))
        assert created.record_type == RecordType.EVENT, created.rejection_reason
        assert created.value.process_definition_key == meta.process_definition_key
    assert not list(cluster.partitions[1].store.view().items(PENDING_SENDS)), "all acknowledged"


def test_deployments_are_created_on_partition_one_only(cluster):
    answer = cluster.execute(2, deploy(("w.bpmn", waiting_process())))
    assert answer.rejection_type == RejectionType.INVALID_ARGUMENT
    assert "partition 1" in answer.rejection_reason


def test_a_lost_distribution_is_sent_again_and_a_repeated_one_changes_nothing(clock):
    cluster = LocalCluster(PARTITIONS, clock, faults=Faults(drop=1.0))
    try:
        cluster.execute(1, deploy(("w.bpmn", waiting_process())))
        assert cluster.network.stats.dropped == PARTITIONS - 1
        assert len(list(cluster.partitions[1].store.view().items(PENDING_SENDS))) == 2
        answer = cluster.execute(2, create_instance("waits"))
        assert answer.rejection_type == RejectionType.NOT_FOUND, "not there yet"
        cluster.network.faults = Faults(duplicate=1.0)  # every delivery twice from now on
        clock.advance(RESEND_INTERVAL_MS - 1)
        cluster.tick()
        assert not events(cluster.partitions[1], ValueType.COMMAND_DISTRIBUTION, CD.RESENT)
        clock.advance(1)
        cluster.tick()
        assert len(events(cluster.partitions[1], ValueType.COMMAND_DISTRIBUTION, CD.RESENT)) == 2
        assert cluster.network.stats.duplicated >= 2
        for partition_id in (2, 3):
            partition = cluster.partitions[partition_id]
            assert len(events(partition, ValueType.PROCESS, ProcessIntent.CREATED)) == 1
            repeated = [
                r
                for r in partition.log.read_from(1)
                if r.is_rejection and r.rejection_type == RejectionType.ALREADY_EXISTS
            ]
            assert len(repeated) == 1, "the second copy was answered, not processed"
        assert not list(cluster.partitions[1].store.view().items(PENDING_SENDS))
        assert (
            len(events(cluster.partitions[1], ValueType.COMMAND_DISTRIBUTION, CD.ACKNOWLEDGED)) == 2
        )
        answer = cluster.execute(2, create_instance("waits", {"key": "k"}))
        assert answer.record_type == RecordType.EVENT
        check_cluster(cluster)
    finally:
        cluster.close()


@pytest.mark.parametrize(
    "message_first", [False, True], ids=["subscription first", "message first"]
)
def test_a_message_is_correlated_across_partitions(cluster, message_first):
    cluster.execute(1, deploy(("w.bpmn", waiting_process())))
    correlation_key = key_on(cluster, 2)
    if message_first:
        cluster.execute(2, publish("go", correlation_key, {"from": "message"}))
    created = cluster.execute(3, create_instance("waits", {"key": correlation_key}))
    instance = created.value.process_instance_key
    (registered,) = events(
        cluster.partitions[2], ValueType.MESSAGE_SUBSCRIPTION, MessageSubscriptionIntent.CREATED
    )
    assert registered.value.element_instance_key >> 51 == 3
    if not message_first:
        assert completed_instances(cluster.partitions[3]) == []
        cluster.execute(2, publish("go", correlation_key, {"from": "message"}))
    assert completed_instances(cluster.partitions[3]) == [instance]
    for partition_id in (2, 3):
        view = cluster.partitions[partition_id].store.view()
        assert not list(view.items(MESSAGE_SUBSCRIPTIONS)) and not list(
            view.items(PROCESS_SUBSCRIPTIONS)
        )


def test_a_faulty_network_loses_and_doubles_nothing(clock):
    seed = 11
    print(f"seed={seed}")
    rng = random.Random(seed)
    faults = Faults(drop=0.2, duplicate=0.2, delay=0.3)
    cluster = LocalCluster(PARTITIONS, clock, faults=faults, seed=seed)
    try:
        cluster.execute(1, deploy(("w.bpmn", waiting_process())))
        while list(cluster.partitions[1].store.view().items(PENDING_SENDS)):
            clock.advance(RESEND_INTERVAL_MS)  # until every partition has the process
            cluster.tick()
        for n in range(30):
            correlation_key = f"order-{n}"
            home = rng.randint(1, PARTITIONS)
            message_partition = cluster.partition_of_correlation_key(correlation_key)
            before = rng.random() < 0.5  # the message first, or after, or both
            if before:
                cluster.write(message_partition, publish("go", correlation_key, {"n": n}))
            cluster.write(home, create_instance("waits", {"key": correlation_key}))
            if not before or rng.random() < 0.3:
                cluster.write(message_partition, publish("go", correlation_key, {"n": n}))
            cluster.run()
            if rng.random() < 0.3:
                clock.advance(RESEND_INTERVAL_MS)
                cluster.tick()
        cluster.network.faults = Faults()  # then the network heals
        for _ in range(4):
            clock.advance(RESEND_INTERVAL_MS)
            cluster.tick()
        stats = cluster.network.stats
        assert stats.dropped and stats.duplicated and stats.delayed, stats
        completed, created = [], 0
        for partition in cluster.partitions.values():
            completed += completed_instances(partition)
            created += len(
                [
                    r
                    for r in events(
                        partition,
                        ValueType.PROCESS_INSTANCE,
                        ProcessInstanceIntent.ELEMENT_ACTIVATING,
                    )
                    if r.value.bpmn_element_type == "PROCESS"
                ]
            )
            view = partition.store.view()
            assert not list(view.items(PENDING_SENDS)), "every send acknowledged"
            assert not list(view.items(PROCESS_SUBSCRIPTIONS)) and not list(
                view.items(MESSAGE_SUBSCRIPTIONS)
            )
        assert created == 30 and len(completed) == len(set(completed)) == 30, (created, completed)
        check_cluster(cluster)
    finally:
        cluster.close()
