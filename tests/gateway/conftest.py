"""Fixtures for the gateway tests: a gateway on the in-process backend (one partition in this
process, in a background thread), the real clients (pyzeebe from PyPI, zbctl 8.4 from npm,
installed by `make zbctl` into build/npm), BPMN files, a throwaway TLS certificate and a tiny
OAuth token server on 127.0.0.1."""

import base64
import json
import os
import shutil
import subprocess
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from raybee.actors.gateway.inprocess import in_process_backend
from raybee.actors.gateway.server import GatewayConfig
from raybee.actors.gateway.threaded import ThreadedGateway
from raybee.partitions.testing import (
    bpmn_error,
    bpmn_message,
    bpmn_process,
    error_definition,
    message_definition,
    one_task_process,
)

ROOT = Path(__file__).resolve().parents[2]
ZBCTL = ROOT / "build" / "npm" / "node_modules" / ".bin" / "zbctl"
ZBCTL_VERSION = "8.4"
ZBCTL_TIMEOUT_S = 30


# ---------------------------------------------------------------------- processes
def _task(element_id: str, job_type: str) -> str:
    return (
        f'<bpmn:serviceTask id="{element_id}"><bpmn:extensionElements>'
        f'<zeebe:taskDefinition type="{job_type}"/></bpmn:extensionElements>'
        "</bpmn:serviceTask>"
    )


def _flow(flow_id: str, source: str, target: str) -> str:
    return f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>'


def guarded_process() -> str:
    """start -> risky (job 'risky') -> done; an error boundary on risky catching NO_FUNDS ->
    handle (job 'handle') -> handled."""
    body = (
        '<bpmn:startEvent id="start"/>'
        + _task("risky", "risky")
        + '<bpmn:endEvent id="done"/>'
        + '<bpmn:boundaryEvent id="caught" attachedToRef="risky">'
        + error_definition("err")
        + "</bpmn:boundaryEvent>"
        + _task("handle", "handle")
        + '<bpmn:endEvent id="handled"/>'
        + _flow("f1", "start", "risky")
        + _flow("f2", "risky", "done")
        + _flow("f3", "caught", "handle")
        + _flow("f4", "handle", "handled")
    )
    return bpmn_process("guarded", body, extra=bpmn_error("err", "NO_FUNDS"))


def waiting_process() -> str:
    """start -> wait for message 'paid' (correlation key = orderId) -> end."""
    body = (
        '<bpmn:startEvent id="start"/>'
        + '<bpmn:intermediateCatchEvent id="wait">'
        + message_definition("msg")
        + "</bpmn:intermediateCatchEvent>"
        + '<bpmn:endEvent id="end"/>'
        + _flow("f1", "start", "wait")
        + _flow("f2", "wait", "end")
    )
    return bpmn_process("waiting", body, extra=bpmn_message("msg", "paid", "=orderId"))


PROCESSES = {
    "order.bpmn": one_task_process("order", "work"),
    "flaky.bpmn": one_task_process("flaky", "flaky"),
    "guarded.bpmn": guarded_process(),
    "waiting.bpmn": waiting_process(),
    "malformed.bpmn": '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="nope"><oops',
    "decision.dmn": '<?xml version="1.0"?><definitions/>',
}


@pytest.fixture(scope="session")
def bpmn_files(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("bpmn")
    paths = {}
    for name, text in PROCESSES.items():
        paths[name] = directory / name
        paths[name].write_text(text)
    return paths


# ---------------------------------------------------------------------- gateways
@pytest.fixture(scope="module")
def gateway():
    """A plaintext gateway on 127.0.0.1 (a free port) over a fresh in-process partition."""
    with ThreadedGateway(in_process_backend, GatewayConfig(port=0)) as running:
        yield running


@pytest.fixture
def address(gateway) -> str:
    return f"127.0.0.1:{gateway.port}"


# ---------------------------------------------------------------------- zbctl
@pytest.fixture(scope="session")
def zbctl_path() -> Path:
    if not ZBCTL.exists():
        pytest.fail(f"zbctl is not installed at {ZBCTL}: run `make zbctl` (npm, zbctl 8.4)")
    out = subprocess.run([ZBCTL, "version"], capture_output=True, text=True, timeout=30)
    assert f"zbctl {ZBCTL_VERSION}" in out.stdout, out.stdout + out.stderr
    return ZBCTL


class Zbctl:
    def __init__(self, path: Path, address: str, home: Path, *flags: str) -> None:
        self.path = path
        self.flags = ["--address", address, *flags]
        # zbctl reads ZEEBE_* variables and keeps an OAuth cache in $HOME: keep both ours.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("ZEEBE_", "CAMUNDA_"))}
        self.env["HOME"] = str(home)

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.path, *self.flags, *args],
            capture_output=True,
            text=True,
            timeout=ZBCTL_TIMEOUT_S,
            env=self.env,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"zbctl {' '.join(args)} failed: {result.stderr}{result.stdout}")
        return result

    def json(self, *args: str) -> dict:
        return json.loads(self(*args).stdout)


@pytest.fixture
def zbctl(zbctl_path, address, tmp_path) -> Zbctl:
    return Zbctl(zbctl_path, address, tmp_path, "--insecure")


@pytest.fixture(scope="session")
def zbctl_factory(zbctl_path, tmp_path_factory):
    def make(address: str, *flags: str) -> Zbctl:
        return Zbctl(zbctl_path, address, tmp_path_factory.mktemp("zbctl-home"), *flags)

    return make


# ---------------------------------------------------------------------- TLS and OAuth
@pytest.fixture(scope="session")
def tls_files(tmp_path_factory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost (its own CA)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the TLS tests make their certificate with `openssl`, which is missing")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


def _credentials(body: str, authorization: str) -> list[tuple[str, str]]:
    """The (client id, secret) pairs a token request carries: as JSON (zbctl), as a form, or
    as HTTP basic authentication (requests-oauthlib)."""
    found = []
    try:
        fields = json.loads(body)
    except ValueError:
        fields = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
    if isinstance(fields, dict) and "client_id" in fields:
        found.append((fields.get("client_id"), fields.get("client_secret")))
    if authorization.lower().startswith("basic "):
        decoded = base64.b64decode(authorization[6:]).decode()
        client_id, _, secret = decoded.partition(":")
        found.append((urllib.parse.unquote(client_id), urllib.parse.unquote(secret)))
    return found


class TokenServer:
    """An OAuth client-credentials endpoint on 127.0.0.1 that issues one fixed token to one
    client; counts what it was asked."""

    def __init__(self, token: str, client_id: str, client_secret: str) -> None:
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.issued = 0
        self.refused = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                authorized = (server.client_id, server.client_secret) in _credentials(
                    body, self.headers.get("Authorization", "")
                )
                if authorized:
                    server.issued += 1
                    status, answer = (
                        200,
                        {
                            "access_token": server.token,
                            "token_type": "Bearer",
                            "expires_in": 3600,
                        },
                    )
                else:
                    server.refused += 1
                    status, answer = 401, {"error": "invalid_client"}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oauth/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_server():
    server = TokenServer("s3cret-token", "raybee-client", "client-secret")
    try:
        yield server
    finally:
        server.close()


# ---------------------------------------------------------------------- the partition's log
def events_of(gateway: ThreadedGateway, value_type, intent) -> list:
    """Events of one kind in the in-process partition's log (read on the gateway's loop)."""

    async def read():
        log = gateway.backend.router.partition.log
        return [
            r
            for r in log.read_from(1, skip_commands=True)
            if r.value_type == value_type and r.intent == intent and r.is_event
        ]

    return gateway.run(read(), 10)


@pytest.fixture
def log_events(gateway):
    return lambda value_type, intent: events_of(gateway, value_type, intent)
