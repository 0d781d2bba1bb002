"""`raybee gateway`: serve Zeebe's gateway protocol for a raybee cluster."""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path

from raybee.actors.gateway.server import (
    HOST_DEFAULT,
    MESSAGE_BYTES_MAX_DEFAULT,
    PORT_DEFAULT,
    GatewayConfig,
    GatewayServer,
)

TOKEN_ENVIRONMENT_VARIABLE = "RAYBEE_GATEWAY_TOKEN"

EPILOG = f"""\
Clients connect to HOST:PORT as to a Zeebe gateway, for example
  zbctl --insecure --address 127.0.0.1:26500 status
  pyzeebe: ZeebeClient(create_insecure_channel("127.0.0.1:26500"))

Security:
  The gateway binds 127.0.0.1 unless --host says otherwise. Anyone who reaches the port can
  deploy and run processes: on any other interface use TLS and a token.
  TLS: --tls-cert server.pem --tls-key server.key (PEM). Clients verify the certificate with
    the CA that signed it:  zbctl --certPath ca.pem ...  /  pyzeebe
    create_secure_channel(address, channel_credentials=grpc.ssl_channel_credentials(ca)).
  Token: --token T (or --token-file F, or ${TOKEN_ENVIRONMENT_VARIABLE}): every call must
    carry "authorization: Bearer T", else UNAUTHENTICATED (the health service stays open).
    Zeebe's clients send it when configured for OAuth: have your OAuth server issue T to
    them and use  zbctl --clientId ID --clientSecret S --authzUrl URL ...  or pyzeebe
    create_oauth2_client_credentials_channel(...). Any gRPC client can also send the header
    itself.
  Size: requests and responses above --max-message-bytes (default {MESSAGE_BYTES_MAX_DEFAULT})
    are refused with RESOURCE_EXHAUSTED.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raybee gateway",
        description="Serve Zeebe's gRPC gateway protocol (gateway_protocol.Gateway) and the "
        "standard gRPC health service for a raybee cluster: Zeebe's clients work unchanged.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=PORT_DEFAULT, help="0 picks a free port")
    parser.add_argument(
        "--host", default=HOST_DEFAULT, help="interface to bind (default: 127.0.0.1)"
    )
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument(
        "--address",
        default=None,
        help="the Ray cluster where `raybee start` ran ('auto' finds it; the default)",
    )
    backend.add_argument(
        "--embedded",
        action="store_true",
        help="start the local default cluster first (3 Ray nodes on 127.0.0.1, one broker "
        "each); stopped when the gateway stops",
    )
    backend.add_argument(
        "--in-process",
        action="store_true",
        help="no Ray: ONE partition in this process, in memory unless --data-dir (a test "
        "backend for trying clients; no replication, no failover)",
    )
    parser.add_argument("--partitions", type=int, default=None, help="--embedded only")
    parser.add_argument("--nodes", type=int, default=3, help="--embedded only")
    parser.add_argument("--data-dir", type=Path, default=None, help="--in-process only")
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM)")
    parser.add_argument("--tls-key", type=Path, help="the certificate's private key (PEM)")
    parser.add_argument("--token", default=None, help="require 'authorization: Bearer TOKEN'")
    parser.add_argument("--token-file", type=Path, default=None, help="read the token here")
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=MESSAGE_BYTES_MAX_DEFAULT,
        help=f"largest request or response (default {MESSAGE_BYTES_MAX_DEFAULT})",
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser


def _token(opts) -> str | None:
    if opts.token_file is not None:
        return opts.token_file.read_text().strip()
    return opts.token or os.environ.get(TOKEN_ENVIRONMENT_VARIABLE) or None


async def _serve(backend_factory, config: GatewayConfig, describe: str) -> None:
    backend = await backend_factory()
    server = GatewayServer(backend, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        port = await server.start()
        security = "TLS" if config.tls else "plaintext"
        token = "token required" if config.token else "no token"
        print(
            f"raybee gateway serving gateway_protocol.Gateway on {config.host}:{port} "
            f"({security}, {token}) for {describe}",
            flush=True,
        )
        await stop.wait()
    finally:
        await server.stop()
        await backend.close()
        # What the gateway did, for `raybee bench gateway` (read after SIGTERM).
        print(json.dumps({"gateway_stats": server.summary()}, default=str), flush=True)


def main(argv: list[str]) -> int:
    opts = _parser().parse_args(argv)
    logging.basicConfig(level=opts.log_level.upper())
    try:
        config = GatewayConfig(
            host=opts.host,
            port=opts.port,
            tls_cert=opts.tls_cert,
            tls_key=opts.tls_key,
            token=_token(opts),
            message_bytes_max=opts.max_message_bytes,
        )
    except (ValueError, OSError) as error:
        print(f"raybee gateway: {error}", file=sys.stderr)
        return 2
    for warning in config.warnings():
        print(f"raybee gateway: WARNING: {warning}", file=sys.stderr)
    if opts.in_process:
        from raybee.actors.gateway.inprocess import in_process_backend

        def factory():
            return in_process_backend(opts.data_dir)

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(factory, config, "an in-process partition (test backend)"))
        return 0
    from raybee.actors.gateway.ray_backend import connect_cluster, ray_backend

    started = time.monotonic()
    client = connect_cluster(opts.address, opts.embedded, opts.partitions, opts.nodes)
    try:
        where = "the embedded local cluster" if opts.embedded else "the Ray cluster"
        print(f"raybee gateway: joined {where} in {time.monotonic() - started:.1f} s", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(lambda: ray_backend(client), config, where))
    finally:
        client.close()
    return 0
