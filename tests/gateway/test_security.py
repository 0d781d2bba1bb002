"""TLS and the bearer token, with the clients' own options: zbctl `--certPath` and OAuth
(`--clientId --clientSecret --authzUrl`), pyzeebe `create_secure_channel` and
`create_oauth2_client_credentials_channel` - against a throwaway certificate and a token server
on 127.0.0.1."""

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pyzeebe import ZeebeClient, create_oauth2_client_credentials_channel, create_secure_channel
from pyzeebe.errors import UnknownGrpcStatusCodeError
from pyzeebe.proto import gateway_pb2 as pb
from pyzeebe.proto import gateway_pb2_grpc

from raybee.actors.gateway.inprocess import in_process_backend
from raybee.actors.gateway.server import GatewayConfig
from raybee.actors.gateway.threaded import ThreadedGateway

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def tls_gateway(tls_files):
    cert, key = tls_files
    with ThreadedGateway(
        in_process_backend, GatewayConfig(port=0, tls_cert=cert, tls_key=key)
    ) as g:
        yield g


@pytest.fixture(scope="module")
def guarded_gateway(tls_files):
    """TLS and a token."""
    cert, key = tls_files
    config = GatewayConfig(port=0, tls_cert=cert, tls_key=key, token=TOKEN)
    with ThreadedGateway(in_process_backend, config) as g:
        yield g


@pytest.fixture(scope="module")
def token_only_gateway():
    with ThreadedGateway(in_process_backend, GatewayConfig(port=0, token=TOKEN)) as g:
        yield g


def credentials(tls_files) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=tls_files[0].read_bytes())


def test_zbctl_over_tls(tls_gateway, tls_files, zbctl_factory, bpmn_files):
    zbctl = zbctl_factory(f"127.0.0.1:{tls_gateway.port}", "--certPath", str(tls_files[0]))
    assert "Cluster size: 1" in zbctl("status").stdout
    assert zbctl.json("deploy", str(bpmn_files["order.bpmn"]))["processes"]
    plaintext = zbctl_factory(f"127.0.0.1:{tls_gateway.port}", "--insecure")
    refused = plaintext("status", "--requestTimeout", "3s", check=False)
    assert refused.returncode != 0


def test_pyzeebe_over_tls(tls_gateway, tls_files, bpmn_files):
    async def flow():
        channel = create_secure_channel(
            f"127.0.0.1:{tls_gateway.port}", channel_credentials=credentials(tls_files)
        )
        client = ZeebeClient(channel)
        topology = await client.topology()
        assert topology.partitions_count == 1
        deployed = await client.deploy_resource(str(bpmn_files["order.bpmn"]))
        assert deployed.deployments[0].bpmn_process_id == "order"
        await channel.close()

    asyncio.run(flow())


def test_zbctl_with_oauth_gets_the_token_and_is_let_in(
    guarded_gateway, tls_files, zbctl_factory, token_server
):
    address = f"127.0.0.1:{guarded_gateway.port}"
    oauth = (
        "--certPath", str(tls_files[0]), "--clientId", token_server.client_id,
        "--clientSecret", token_server.client_secret, "--authzUrl", token_server.url,
        "--audience", "raybee",
    )  # fmt: skip
    assert "Cluster size: 1" in zbctl_factory(address, *oauth)("status").stdout
    assert token_server.issued >= 1
    anonymous = zbctl_factory(address, "--certPath", str(tls_files[0]))("status", check=False)
    assert "code = Unauthenticated" in anonymous.stderr


def test_pyzeebe_with_oauth_gets_the_token_and_is_let_in(
    guarded_gateway, tls_files, token_server, monkeypatch
):
    # oauthlib insists on https for token endpoints; the test's endpoint is plain http on
    # 127.0.0.1 (the token then travels to the gateway over TLS, which is what is tested).
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    address = f"127.0.0.1:{guarded_gateway.port}"

    async def flow():
        channel = create_oauth2_client_credentials_channel(
            address,
            client_id=token_server.client_id,
            client_secret=token_server.client_secret,
            authorization_server=token_server.url,
            audience="raybee",
            channel_credentials=credentials(tls_files),
        )
        assert (await ZeebeClient(channel).topology()).partitions_count == 1
        await channel.close()
        anonymous = create_secure_channel(address, channel_credentials=credentials(tls_files))
        with pytest.raises(UnknownGrpcStatusCodeError) as raised:
            await ZeebeClient(anonymous).topology()
        assert raised.value.grpc_error.code() == grpc.StatusCode.UNAUTHENTICATED
        await anonymous.close()

    refused_before = guarded_gateway.server.interceptor.refused
    asyncio.run(flow())
    assert token_server.issued >= 1
    assert guarded_gateway.server.interceptor.refused == refused_before + 1


def test_a_wrong_token_is_unauthenticated_on_every_kind_of_call(token_only_gateway):
    with grpc.insecure_channel(f"127.0.0.1:{token_only_gateway.port}") as channel:
        stub = gateway_pb2_grpc.GatewayStub(channel)
        for metadata in ([], [("authorization", "Bearer wrong")], [("authorization", TOKEN)]):
            with pytest.raises(grpc.RpcError) as unary:
                stub.Topology(pb.TopologyRequest(), metadata=metadata, timeout=5)
            assert unary.value.code() == grpc.StatusCode.UNAUTHENTICATED
            request = pb.ActivateJobsRequest(type="work", timeout=1000, maxJobsToActivate=1)
            with pytest.raises(grpc.RpcError) as streaming:
                list(stub.ActivateJobs(request, metadata=metadata, timeout=5))
            assert streaming.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert token_only_gateway.stats.calls["Topology"] == 0  # refused before the handler
        good = [("authorization", f"Bearer {TOKEN}")]
        assert stub.Topology(pb.TopologyRequest(), metadata=good, timeout=5).clusterSize == 1
        # Probes carry no token: the health service stays open.
        health = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=5).status
        assert status == health_pb2.HealthCheckResponse.SERVING


def test_config_refuses_half_a_tls_setup_and_silly_limits(tls_files):
    with pytest.raises(ValueError, match="both a certificate"):
        GatewayConfig(tls_cert=tls_files[0])
    with pytest.raises(ValueError, match="message size limit"):
        GatewayConfig(message_bytes_max=10)
    assert GatewayConfig().warnings() == []
    warned = " ".join(GatewayConfig(host="0.0.0.0").warnings())
    assert "without TLS" in warned and "without --token" in warned
