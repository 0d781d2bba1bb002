"""The gRPC server: the Gateway service, the standard health service, size limits, TLS and
the token check, on one port (127.0.0.1 unless told otherwise).

Health: `grpc.health.v1.Health` answers for "" and for "gateway_protocol.Gateway": SERVING
while the backend answers a topology request within `HEALTH_TIMEOUT_S` (checked every
`HEALTH_INTERVAL_S`), NOT_SERVING otherwise and while shutting down.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from pyzeebe.proto import gateway_pb2_grpc

from raybee.actors.gateway.backend import Backend
from raybee.actors.gateway.rpc import GatewayStats
from raybee.actors.gateway.security import BearerTokenInterceptor, server_credentials
from raybee.actors.gateway.servicer import SERVICE_NAME, GatewayServicer

log = logging.getLogger(__name__)

PORT_DEFAULT = 26500
HOST_DEFAULT = "127.0.0.1"
# Zeebe's gateway default (maxMessageSize 4 MB); the engine's variable documents are limited
# to the same.
MESSAGE_BYTES_MAX_DEFAULT = 4 * 1024 * 1024
MESSAGE_BYTES_MAX_LIMIT = 64 * 1024 * 1024
HEALTH_INTERVAL_S = 2.0
HEALTH_TIMEOUT_S = 5.0
SHUTDOWN_GRACE_S = 2.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class GatewayConfig:
    host: str = HOST_DEFAULT
    port: int = PORT_DEFAULT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token: str | None = None
    message_bytes_max: int = MESSAGE_BYTES_MAX_DEFAULT
    grpc_options: tuple = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both a certificate (--tls-cert) and its key (--tls-key)")
        if not 1024 <= self.message_bytes_max <= MESSAGE_BYTES_MAX_LIMIT:
            raise ValueError(
                f"the message size limit must lie in 1024..{MESSAGE_BYTES_MAX_LIMIT} bytes, "
                f"got {self.message_bytes_max}"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must lie in 0..65535, got {self.port}")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    def warnings(self) -> list[str]:
        said = []
        if self.host not in LOOPBACK_HOSTS:
            if not self.tls:
                said.append(f"listening on {self.host} without TLS: traffic is in the clear")
            if self.token is None:
                said.append(
                    f"listening on {self.host} without --token: anyone who reaches it "
                    "can deploy and run processes"
                )
        if self.token is not None and not self.tls and self.host not in LOOPBACK_HOSTS:
            said.append("the bearer token travels in the clear without TLS")
        return said


class GatewayServer:
    def __init__(self, backend: Backend, config: GatewayConfig) -> None:
        self.backend = backend
        self.config = config
        self.stats = GatewayStats()
        self.servicer = GatewayServicer(backend, self.stats)
        self.health = health_aio.HealthServicer()
        self.interceptor = BearerTokenInterceptor(config.token) if config.token else None
        self.port: int | None = None
        self._server: grpc.aio.Server | None = None
        self._monitor: asyncio.Task | None = None
        self.serving = False

    async def start(self) -> int:
        """Bind and start; the port bound (config.port 0 picks a free one)."""
        limit = self.config.message_bytes_max
        options = [
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
            *self.config.grpc_options,
        ]
        server = grpc.aio.server(
            options=options,
            interceptors=[self.interceptor] if self.interceptor else None,
        )
        gateway_pb2_grpc.add_GatewayServicer_to_server(self.servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        address = f"{self.config.host}:{self.config.port}"
        if self.config.tls:
            credentials = server_credentials(self.config.tls_cert, self.config.tls_key)
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"could not bind the gateway to {address}")
        await server.start()
        self._server = server
        self.port = port
        await self._set_serving(await self._backend_answers())
        self._monitor = asyncio.get_running_loop().create_task(self._watch())
        return port

    async def _backend_answers(self) -> bool:
        try:
            await asyncio.wait_for(self.backend.topology(), HEALTH_TIMEOUT_S)
            return True
        except Exception as error:
            log.warning("the gateway's backend does not answer: %r", error)
            return False

    async def _set_serving(self, serving: bool) -> None:
        self.serving = serving
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in ("", SERVICE_NAME):
            await self.health.set(service, status)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            serving = await self._backend_answers()
            if serving != self.serving:
                await self._set_serving(serving)

    async def stop(self, grace_s: float = SHUTDOWN_GRACE_S) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        if self._server is not None:
            await self.health.enter_graceful_shutdown()
            await self._server.stop(grace_s)
            self._server = None

    def summary(self) -> dict:
        """The gateway's counters and its router's (calls, commands), as plain values."""
        stats = self.stats
        router_stats = getattr(self.backend.router, "stats", {})
        return {
            "calls": dict(stats.calls),
            "refused": {f"{rpc} {code}": n for (rpc, code), n in stats.statuses.items()},
            "internal_errors": stats.internal_errors,
            "jobs_activated": stats.jobs_activated,
            "jobs_streamed": stats.jobs_streamed,
            "jobs_late": stats.jobs_late,
            "jobs_handed_back": stats.jobs_handed_back,
            "long_polls": dict(self.backend.long_polls.stats),
            "router": dict(router_stats),
        }

    async def wait_closed(self) -> None:
        if self._server is not None:
            await self._server.wait_for_termination()
