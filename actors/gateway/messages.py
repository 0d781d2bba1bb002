"""Messages (PublishMessage) and signals (BroadcastSignal, not in raybee's engine)."""

import grpc
from pyzeebe.proto import gateway_pb2 as pb

from raybee.actors.gateway.json_documents import parse_document
from raybee.actors.gateway.rpc import RpcBase, unary
from raybee.actors.gateway.statuses import GatewayError, unimplemented
from raybee.partitions.protocol import DEFAULT_TENANT


class MessageRpcs(RpcBase):
    @unary
    async def PublishMessage(self, request, context):
        rpc = "PublishMessage"
        self._tenant(request.tenantId, rpc)
        if not request.name:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to handle gRPC request {rpc} with a message name, but it was empty",
            )
        if request.timeToLive < 0:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to handle gRPC request {rpc} with a timeToLive of 0 or more, "
                f"but it was {request.timeToLive}",
            )
        variables = parse_document(request.variables, rpc)
        key = await self.backend.publish_message(
            request.name, request.correlationKey, variables, request.timeToLive, request.messageId
        )
        return pb.PublishMessageResponse(key=key, tenantId=DEFAULT_TENANT)

    @unary
    async def BroadcastSignal(self, request, context):
        raise unimplemented(
            "BroadcastSignal", "the engine has no signal events (signal start, catch or throw)"
        )
