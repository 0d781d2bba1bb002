"""What every RPC handler shares: refusals turned into gRPC statuses, request checks (keys,
tenants, timeouts) and the gateway's counters.

Handlers raise; `unary` and `server_streaming` turn what they raise into the status Zeebe's
clients expect (`statuses.status_of`) and abort the call with it - the server keeps serving.
An exception nobody expected is INTERNAL, logged with its traceback.
"""

import functools
import logging
from collections import Counter
from dataclasses import dataclass, field

import grpc

from raybee.actors.gateway.backend import Backend
from raybee.actors.gateway.statuses import GatewayError, status_of
from raybee.actors.routing import partition_for_key
from raybee.partitions.protocol import DEFAULT_TENANT

log = logging.getLogger(__name__)

# Zeebe's defaults, where a request leaves a field at 0.
LONG_POLL_TIMEOUT_MS_DEFAULT = 10_000
RESULT_TIMEOUT_MS_DEFAULT = 10_000
# Answer a little before the client's own deadline, so it gets our status, not its own.
DEADLINE_MARGIN_MS = 200


@dataclass
class GatewayStats:
    calls: Counter = field(default_factory=Counter)  # by RPC
    statuses: Counter = field(default_factory=Counter)  # (RPC, status name) of refused calls
    internal_errors: int = 0
    jobs_activated: int = 0
    jobs_late: int = 0  # activated after the caller's deadline: handed back
    jobs_streamed: int = 0
    jobs_handed_back: int = 0


def _refuse(servicer, rpc: str, error: Exception) -> tuple[grpc.StatusCode, str]:
    status = status_of(error, rpc)
    if status is None:
        servicer.stats.internal_errors += 1
        log.exception("gRPC request %s failed unexpectedly", rpc)
        status = (
            grpc.StatusCode.INTERNAL,
            f"Unexpected error while handling gRPC request {rpc}: {type(error).__name__}: {error}",
        )
    servicer.stats.statuses[(rpc, status[0].name)] += 1
    return status


def unary(method):
    rpc = method.__name__

    @functools.wraps(method)
    async def handler(self, request, context):
        self.stats.calls[rpc] += 1
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            code, message = _refuse(self, rpc, error)
            await context.abort(code, message)

    return handler


def server_streaming(method):
    rpc = method.__name__

    @functools.wraps(method)
    async def handler(self, request, context):
        self.stats.calls[rpc] += 1
        try:
            async for response in method(self, request, context):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            code, message = _refuse(self, rpc, error)
            await context.abort(code, message)

    return handler


class RpcBase:
    def __init__(self, backend: Backend, stats: GatewayStats | None = None) -> None:
        self.backend = backend
        self.stats = stats if stats is not None else GatewayStats()

    def _key(self, key: int, what: str, rpc: str) -> int:
        """A key the request names: positive, and of a partition that exists (else no entity
        can have it: NOT_FOUND, as for any key nothing has)."""
        if key < 1:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to handle gRPC request {rpc} with a {what} key greater than 0, "
                f"but it was {key}",
            )
        partition = partition_for_key(key)
        count = self.backend.partition_count
        if not 1 <= partition <= count:
            raise GatewayError(
                grpc.StatusCode.NOT_FOUND,
                f"Expected to find {what} with key '{key}', but no such {what} exists: the key "
                f"names partition {partition}, and the cluster has partitions 1..{count}",
            )
        return key

    @staticmethod
    def _tenant(tenant_id: str, rpc: str) -> None:
        if tenant_id and tenant_id != DEFAULT_TENANT:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to handle gRPC request {rpc} with tenant identifier '{tenant_id}', "
                "but multi-tenancy is disabled",
            )

    @staticmethod
    def _tenants(tenant_ids, rpc: str) -> None:
        for tenant_id in tenant_ids:
            RpcBase._tenant(tenant_id, rpc)

    @staticmethod
    def _within_deadline(context, timeout_ms: int) -> int:
        """timeout_ms, shortened to end before the call's own deadline (if it has one)."""
        remaining_s = context.time_remaining()
        if remaining_s is None:
            return timeout_ms
        return max(1, min(timeout_ms, int(remaining_s * 1000) - DEADLINE_MARGIN_MS))

    @staticmethod
    def _positive(value: int, name: str, rpc: str) -> None:
        if value < 1:
            raise GatewayError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected to handle gRPC request {rpc} with {name} greater than 0, "
                f"but it was {value}",
            )
