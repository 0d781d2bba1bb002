"""The `gateway_protocol.Gateway` service: every RPC of the protocol, one family per module
(cluster, processes, jobs, messages). Each RPC either works or answers UNIMPLEMENTED with the
reason (`UNIMPLEMENTED_RPCS`); none falls through to the generated default."""

from pyzeebe.proto import gateway_pb2, gateway_pb2_grpc

from raybee.actors.gateway.cluster import ClusterRpcs
from raybee.actors.gateway.jobs import JobRpcs
from raybee.actors.gateway.messages import MessageRpcs
from raybee.actors.gateway.processes import ProcessRpcs

SERVICE_NAME = "gateway_protocol.Gateway"
UNIMPLEMENTED_RPCS = (
    "BroadcastSignal",
    "DeleteResource",
    "EvaluateDecision",
    "MigrateProcessInstance",
    "ModifyProcessInstance",
)


def rpc_names() -> list[str]:
    """Every RPC of the service, from the protocol package's descriptor."""
    service = gateway_pb2.DESCRIPTOR.services_by_name["Gateway"]
    assert service.full_name == SERVICE_NAME
    return [method.name for method in service.methods]


class GatewayServicer(
    ClusterRpcs, ProcessRpcs, JobRpcs, MessageRpcs, gateway_pb2_grpc.GatewayServicer
):
    pass


_generated = gateway_pb2_grpc.GatewayServicer.__dict__
_missing = [name for name in rpc_names() if getattr(GatewayServicer, name) is _generated.get(name)]
assert not _missing, f"RPCs left to the generated UNIMPLEMENTED default: {_missing}"
assert set(UNIMPLEMENTED_RPCS) <= set(rpc_names())
