"""The network options of ``send`` and ``read``, end to end: AMQP over WebSockets (wss://)."""

from __future__ import annotations

import inspect
import json
import ssl
import sys
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from anyio_eventhubs import open_streaming_producer
from anyio_eventhubs._cli import main
from anyio_eventhubs._cli._network import parse_proxy
from anyio_eventhubs.testing.emulator import EventHubsEmulator

NETWORK = ("transport_type", "http_proxy", "custom_endpoint_address", "connection_verify")


@pytest.fixture
def ca_path(tmp_path: Path) -> tuple[str, ssl.SSLContext]:
    ca = trustme.CA()
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return str(path), context


def test_the_library_takes_what_the_command_passes() -> None:
    parameters = inspect.signature(open_streaming_producer).parameters
    assert set(NETWORK) | {"user_agent"} <= set(parameters)


_CONNECTION_STRING = (
    "Endpoint=sb://localhost/;SharedAccessKeyName=emulator;SharedAccessKey=emulator-key;"
    "EntityPath=eh1"
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_send_over_websockets_and_read_over_tls_with_a_ca_bundle(
    runner: CliRunner, ca_path: tuple[str, ssl.SSLContext], backend: str
) -> None:
    path, server_context = ca_path
    with EventHubsEmulator({"eh1": 2}, tls=server_context, websocket_port=0) as emulator:
        common = ["--connection-string", _CONNECTION_STRING, "--connection-verify", path]
        common += ["--user-agent", "cli-test", "--open-timeout", "10", "--backend", backend]
        sent = runner.invoke(
            main,
            [
                "send",
                *common,
                "--transport-type",
                "websocket",
                "--custom-endpoint-address",
                f"https://127.0.0.1:{emulator.websocket_port}",
            ],
            input="one\ntwo\n",
        )
        assert sent.exit_code == 0, sent.output
        assert emulator.event_count("eh1") == 2
        read = runner.invoke(
            main,
            [
                "read",
                *common,
                "--custom-endpoint-address",
                f"sb://127.0.0.1:{emulator.tls_port}",
                "--count",
                "2",
            ],
        )
        assert read.exit_code == 0, read.output
        bodies = sorted(json.loads(line)["body"] for line in read.stdout.splitlines())
        assert bodies == ["one", "two"]


def test_a_wrong_ca_bundle_fails_to_connect(runner: CliRunner, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1", "localhost").configure_cert(server)
    with EventHubsEmulator({"eh1": 1}, tls=server, websocket_port=0) as emulator:
        result = runner.invoke(
            main,
            [
                "send",
                "--connection-string",
                "Endpoint=sb://localhost/;SharedAccessKeyName=emulator;"
                "SharedAccessKey=emulator-key;EntityPath=eh1",
                "--custom-endpoint-address",
                f"sb://127.0.0.1:{emulator.tls_port}",
                "--connection-verify",
                str(other),
                "--open-timeout",
                "10",
            ],
            input="a\n",
        )
    assert result.exit_code == 1
    assert "ConnectError" in result.stderr
    assert emulator.event_count("eh1") == 0


def test_a_proxy_is_host_port_with_optional_credentials() -> None:
    assert parse_proxy("proxy.example:3128") == {
        "proxy_hostname": "proxy.example",
        "proxy_port": 3128,
    }
    assert parse_proxy("http://u:p@10.0.0.1:8080") == {
        "proxy_hostname": "10.0.0.1",
        "proxy_port": 8080,
        "username": "u",
        "password": "p",
    }
    for bad in ("proxy.example", "http://:80", "host:port"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_proxy(bad)


def test_a_bad_proxy_is_a_usage_error_that_does_not_echo_its_password(
    runner: CliRunner,
) -> None:
    result = runner.invoke(
        main,
        ["send", "--connection-string", "Endpoint=sb://x/", "--http-proxy", "u:s3cret@host"],
        input="a\n",
    )
    assert result.exit_code == 2
    assert "--http-proxy" in result.stderr
    assert "s3cret" not in result.stderr


def test_read_over_websockets_says_what_it_needs(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "websocket", None)
    result = runner.invoke(
        main,
        ["read", "--connection-string", _CONNECTION_STRING, "--transport-type", "websocket"],
    )
    assert result.exit_code == 2
    assert "pip install websocket-client" in result.stderr
