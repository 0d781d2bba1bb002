"""A gateway on its own event loop in a background thread: what tests and the benchmark run
clients against from the main thread (pyzeebe on its own loop, zbctl as a subprocess)."""

import asyncio
import threading
from collections.abc import Awaitable, Callable

from raybee.actors.gateway.backend import Backend
from raybee.actors.gateway.server import GatewayConfig, GatewayServer

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class ThreadedGateway:
    def __init__(
        self, backend_factory: Callable[[], Awaitable[Backend]], config: GatewayConfig
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="raybee-gateway", daemon=True
        )
        self.thread.start()
        self.backend: Backend | None = None
        self.server: GatewayServer | None = None
        try:
            self.run(self._start(backend_factory, config), START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    async def _start(self, backend_factory, config: GatewayConfig) -> None:
        self.backend = await backend_factory()
        self.server = GatewayServer(self.backend, config)
        await self.server.start()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def stats(self):
        return self.server.stats

    def run(self, coro, timeout_s: float | None = None):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        if not self.thread.is_alive():
            return
        try:
            if self.server is not None:
                self.run(self.server.stop(0.5), STOP_TIMEOUT_S)
            if self.backend is not None:
                self.run(self.backend.close(), STOP_TIMEOUT_S)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(STOP_TIMEOUT_S)

    def __enter__(self) -> "ThreadedGateway":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
