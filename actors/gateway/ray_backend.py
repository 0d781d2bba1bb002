"""The gateway's backend on a Ray cluster: raybee's client library (a `Router` and an
`AsyncClient` on the gateway's own event loop) joined to the cluster's supervisor.

`connect_cluster` does what `raybee.connect` does - joins a running cluster (`--address`), or
starts the embedded local one (`--embedded`: three Ray nodes on 127.0.0.1, one broker each) -
and returns the blocking `Client` that owns that connection (its `close()` stops what it
started). The gateway then makes its own router on its own loop, so no call hops threads.
"""

import asyncio
import os

from raybee.actors.client import AsyncClient, Client
from raybee.actors.gateway.backend import Backend, JobStreams, OnJob, StreamRequest
from raybee.actors.routing import JobStreamPump, Router

REQUEST_STREAM_ID_MIN = 1 << 20
REQUEST_STREAM_ID_END = 1 << 31
STREAM_ID_SHIFT_BITS = 20


def connect_cluster(
    address: str | None, embedded: bool, partitions: int | None = None, nodes: int = 3
) -> Client:
    """A client joined to a running raybee cluster (`address`, 'auto' finds it) or, with
    `embedded`, to a local cluster it starts."""
    import raybee

    if embedded:
        options = {"nodes": nodes}
        if partitions is not None:
            options["partitions"] = partitions
        return raybee.connect(**options)
    return raybee.connect(address=address or "auto")


def request_stream_id() -> int:
    """A request stream id of this gateway process: request ids are per stream, so two
    gateways (or a gateway and a Python client) never share one."""
    span = REQUEST_STREAM_ID_END - REQUEST_STREAM_ID_MIN
    return int.from_bytes(os.urandom(4), "big") % span + REQUEST_STREAM_ID_MIN


class RayJobStreams(JobStreams):
    """Job streams through the routing library's JobStreamPump (one stream per partition
    leader, reopened after leader changes)."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._next = 0

    def open(self, request: StreamRequest, free, slot_freed: asyncio.Event, on_job: OnJob):
        self._next += 1
        stream_id = (self.router.request_stream_id << STREAM_ID_SHIFT_BITS) + self._next
        pump = JobStreamPump(
            self.router,
            stream_id,
            request.job_type,
            request.worker,
            request.timeout_ms,
            request.fetch_variables,
            request.capacity,
            free,
            slot_freed,
            on_job,
        )
        pump.start()
        return pump


async def ray_backend(client: Client) -> Backend:
    """A backend on the running loop, routing through the cluster `client` is joined to (the
    client keeps owning the connection: close it after the gateway stopped)."""
    router = Router(client.router.supervisor, request_stream_id())
    await router.refresh(force=True)
    return Backend(AsyncClient(router, asyncio.get_running_loop()), router, RayJobStreams(router))
