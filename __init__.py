"""raybee: a Zeebe-style workflow engine on Ray.

`raybee.connect()` returns a client (see `raybee.actors.client`). Importing raybee imports
nothing of Ray: `connect` and the client's error types load on first use.
"""

__version__ = "0.1.0"

_ERRORS = (
    "RaybeeError",
    "RejectedError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "InvalidStateError",
    "ProcessingError",
    "ExceededBatchRecordSizeError",
    "ResourceExhaustedError",
    "UnavailableError",
    "UnknownOutcomeError",
    "NotStartedError",
    "BpmnError",
)


def connect(address: str | None = None, **options):
    """A raybee client. Without an address and with no Ray running: an embedded cluster of
    three Ray nodes on 127.0.0.1 with one broker each, stopped by `client.close()`. With
    `address="auto"` (or a Ray address): join a cluster where `raybee start` ran. Options:
    partitions, replication_factor, nodes, data_dir, tick_ms, ready_timeout_s."""
    from raybee.actors.client import connect as connect_client

    return connect_client(address, **options)


def __getattr__(name: str):
    if name in _ERRORS:
        from raybee.actors import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'raybee' has no attribute {name!r}")
