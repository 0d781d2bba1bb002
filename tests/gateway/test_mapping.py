"""The gateway's translations on their own: refusals to statuses, JSON documents, topology."""

from decimal import Decimal

import grpc
import pytest
from pyzeebe.proto import gateway_pb2 as pb

from raybee.actors import errors
from raybee.actors.gateway.cluster import topology_response
from raybee.actors.gateway.json_documents import parse_document, to_json
from raybee.actors.gateway.servicer import UNIMPLEMENTED_RPCS, rpc_names
from raybee.actors.gateway.statuses import REJECTION_STATUS, GatewayError, status_of
from raybee.partitions.protocol import (
    JobIntent,
    JobRecordValue,
    Record,
    RecordType,
    RejectionType,
)

ZEEBE_STATUS = {
    RejectionType.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    RejectionType.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    RejectionType.ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    RejectionType.INVALID_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    RejectionType.PROCESSING_ERROR: grpc.StatusCode.INTERNAL,
    RejectionType.EXCEEDED_BATCH_RECORD_SIZE: grpc.StatusCode.INVALID_ARGUMENT,
}


@pytest.mark.parametrize("rejection", sorted(ZEEBE_STATUS))
def test_every_rejection_type_has_zeebes_status_and_message(rejection):
    record = Record(
        value_type=0,
        intent=JobIntent.COMPLETE,
        value=JobRecordValue(),
        record_type=RecordType.COMMAND_REJECTION,
        key=42,
        rejection_type=rejection,
        rejection_reason="Expected to complete job with key '42', but it is gone",
    )
    code, message = status_of(errors.rejection_error(record), "CompleteJob")
    assert code == ZEEBE_STATUS[rejection] == REJECTION_STATUS[rejection]
    assert message == (
        f"Command 'COMPLETE' rejected with code '{rejection.name}': Expected to complete job "
        "with key '42', but it is gone"
    )


def test_the_client_librarys_other_refusals():
    cases = [
        (errors.ResourceExhaustedError(2, "12 in flight, limit 12"),
         grpc.StatusCode.RESOURCE_EXHAUSTED, "12 in flight"),
        (errors.UnavailableError(3, "no leader"), grpc.StatusCode.UNAVAILABLE, "partition 3"),
        (errors.UnknownOutcomeError(1, 7, "no answer"), grpc.StatusCode.DEADLINE_EXCEEDED,
         "may or may not"),
        (TimeoutError("slow"), grpc.StatusCode.DEADLINE_EXCEEDED, "timed out"),
        (GatewayError(grpc.StatusCode.UNIMPLEMENTED, "no"), grpc.StatusCode.UNIMPLEMENTED, "no"),
    ]  # fmt: skip
    for error, code, words in cases:
        got_code, message = status_of(error, "PublishMessage")
        assert got_code == code and words in message, (error, got_code, message)
    assert status_of(KeyError("bug"), "PublishMessage") is None  # INTERNAL, logged


def test_documents_in_and_out():
    assert parse_document("", "R") == {}
    assert parse_document('{"a": [1, {"b": null}]}', "R") == {"a": [1, {"b": None}]}
    for text, kind in (("[]", "ARRAY"), ('"s"', "STRING"), ("1.5", "NUMBER"), ("true", "BOOLEAN"),
                       ("null", "NULL")):  # fmt: skip
        with pytest.raises(GatewayError, match=kind) as raised:
            parse_document(text, "R")
        assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    for text in ("{", '{"a": Infinity}', "{'a': 1}"):
        with pytest.raises(GatewayError, match="not valid JSON"):
            parse_document(text, "R", "customHeaders")
    assert to_json({}) == "{}" and to_json(None) == "{}"
    assert to_json({"n": Decimal("2"), "x": Decimal("0.5"), "s": "é"}) == '{"n":2,"x":0.5,"s":"é"}'


def test_every_rpc_is_implemented_or_unimplemented_with_a_reason():
    names = rpc_names()
    assert len(names) == 21 and set(UNIMPLEMENTED_RPCS) < set(names)


def test_topology_in_zeebes_shape():
    topology = {
        "partition_count": 2,
        "replication_factor": 3,
        "partitions": {
            1: {"leader_replica": 1, "members": {
                1: {"broker": 1, "voter": True}, 2: {"broker": 2, "voter": True},
                3: {"broker": 3, "voter": True}}},
            2: {"leader_replica": 5, "members": {
                4: {"broker": 1, "voter": True}, 5: {"broker": 2, "voter": True},
                6: {"broker": 4, "voter": False}}},
        },
        "brokers": {
            1: {"node_id": "n1", "state": "alive"}, 2: {"node_id": "n2", "state": "suspect"},
            3: {"node_id": "n3", "state": "lost"}, 4: {"node_id": "n4", "state": "alive"},
        },
    }  # fmt: skip
    response = topology_response(topology)
    assert (response.clusterSize, response.partitionsCount, response.replicationFactor) == (3, 2, 3)
    roles = {
        (b.nodeId, p.partitionId): (p.role, p.health)
        for b in response.brokers
        for p in b.partitions
    }
    assert roles == {
        (1, 1): (pb.Partition.LEADER, pb.Partition.HEALTHY),
        (2, 1): (pb.Partition.FOLLOWER, pb.Partition.UNHEALTHY),
        (3, 1): (pb.Partition.FOLLOWER, pb.Partition.DEAD),
        (1, 2): (pb.Partition.FOLLOWER, pb.Partition.HEALTHY),
        (2, 2): (pb.Partition.LEADER, pb.Partition.UNHEALTHY),
        (4, 2): (pb.Partition.INACTIVE, pb.Partition.HEALTHY),
    }
    assert [b.host for b in response.brokers] == ["n1", "n2", "n3", "n4"]
