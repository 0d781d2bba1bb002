"""Transport security and authentication.

- TLS: a server certificate and its private key (PEM files); clients verify it with the CA that
  signed it (zbctl `--certPath`, pyzeebe `create_secure_channel(channel_credentials=...)`).
- Bearer token: with `token` set, every Gateway call must carry the header
  `authorization: Bearer <token>`, else UNAUTHENTICATED. That is what Zeebe's clients send when
  configured for OAuth: zbctl (`--clientId --clientSecret --authzUrl`) and pyzeebe
  (`create_oauth2_client_credentials_channel`) fetch the token from the OAuth server you name
  and put it there. The health service stays open (probes carry no token).
"""

import hmac
from pathlib import Path

import grpc

HEALTH_METHOD_PREFIX = "/grpc.health.v1.Health/"
BEARER = "bearer "


def server_credentials(cert_path: Path, key_path: Path) -> grpc.ServerCredentials:
    cert, key = Path(cert_path).read_bytes(), Path(key_path).read_bytes()
    if b"BEGIN" not in cert or b"PRIVATE KEY" not in key:
        raise ValueError(
            f"expected a PEM certificate in {cert_path} and a PEM private key in {key_path}"
        )
    return grpc.ssl_server_credentials([(key, cert)])


def _refusal(handler, message: str):
    async def refuse_unary(request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def refuse_streaming(request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover  (makes this an async generator)

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            refuse_streaming,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    assert handler.unary_unary is not None, "the Gateway service has no client streaming"
    return grpc.unary_unary_rpc_method_handler(
        refuse_unary,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str) -> None:
        if not token or token != token.strip():
            raise ValueError("the gateway's token must be non-empty, without surrounding spaces")
        self._token = token.encode()
        self.refused = 0

    def accepts(self, metadata) -> bool:
        for name, value in metadata or ():
            if (
                name == "authorization"
                and isinstance(value, str)
                and value[: len(BEARER)].lower() == BEARER
            ):
                return hmac.compare_digest(value[len(BEARER) :].strip().encode(), self._token)
        return False

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(HEALTH_METHOD_PREFIX):
            return handler
        if self.accepts(handler_call_details.invocation_metadata):
            return handler
        self.refused += 1
        return _refusal(
            handler,
            "Expected a valid access token in the 'authorization' header ('Bearer <token>'), "
            "but it was missing or wrong",
        )
