"""TLS for runners on TCP (``tcps://``): both clients call a runner server that presents a
certificate made by the test (trustme), with and without client certificates, and refuse one
they cannot trust."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trustme

from bentoml_classic.exceptions import InvalidArgument, ServiceUnavailable
from bentoml_classic.protocol.address import Address
from bentoml_classic.protocol.async_client import AsyncRunnerClient
from bentoml_classic.protocol.blocking_client import BlockingRunnerClient
from bentoml_classic.protocol.codec import STREAM_WINDOW
from bentoml_classic.protocol.tls import client_context, from_settings, server_context
from tests.support.waiting import WAIT
from tests.unit.protocol.served import TOKEN, ServedRunner, run_async


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, a server certificate for localhost, a client certificate; as files."""
    ca = trustme.CA()
    directory = tmp_path_factory.mktemp("pki")
    files = {"ca": directory / "ca.pem", "server": directory / "server.pem"}
    files["client"] = directory / "client.pem"
    ca.cert_pem.write_to_path(str(files["ca"]))
    ca.issue_cert("localhost", "127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(files["server"])
    )
    ca.issue_cert("api-worker.example").private_key_and_cert_chain_pem.write_to_path(
        str(files["client"])
    )
    return {name: str(path) for name, path in files.items()}


def calls_through_both_clients(url: str, context: ssl.SSLContext | None) -> list[Any]:
    addresses = [Address.parse(url)]

    async def scenario(client: AsyncRunnerClient) -> Any:
        return await client.call("add", (40,), {"b": 2})

    answers = [
        run_async(scenario, AsyncRunnerClient("test_runner", addresses, TOKEN, WAIT, context))
    ]
    blocking = BlockingRunnerClient("test_runner", addresses, TOKEN, WAIT, context)
    try:
        answers += [blocking.call("echo", (n,), {}) for n in range(3)]
        answers.append(blocking.call("echo", (b"x" * 300_000,), {})[:2])  # several TLS records
    finally:
        blocking.close()
    return answers


def test_both_clients_call_a_runner_over_tls(
    make_runner: Callable[..., ServedRunner], pki: dict[str, str]
) -> None:
    served = make_runner("tcp", token=TOKEN, ssl_context=server_context(pki["server"]))
    assert served.url.startswith("tcps://")
    assert calls_through_both_clients(served.url, client_context(pki["ca"])) == [42, 0, 1, 2, b"xx"]


def test_a_runner_whose_certificate_is_not_trusted_is_unavailable(
    make_runner: Callable[..., ServedRunner], pki: dict[str, str]
) -> None:
    served = make_runner("tcp", token=TOKEN, ssl_context=server_context(pki["server"]))
    untrusting = client_context()  # the system's CAs: the test CA is not among them
    with pytest.raises(ServiceUnavailable):
        calls_through_both_clients(served.url, untrusting)
    plain = served.url.replace("tcps://", "tcp://")  # a caller that does not speak TLS
    with pytest.raises((ServiceUnavailable, asyncio.TimeoutError)):
        calls_through_both_clients(plain, None)


def test_mutual_tls_demands_a_client_certificate(
    make_runner: Callable[..., ServedRunner], pki: dict[str, str]
) -> None:
    context = server_context(pki["server"], ca_certs=pki["ca"])
    served = make_runner("tcp", token=TOKEN, ssl_context=context)
    with pytest.raises(ServiceUnavailable):
        calls_through_both_clients(served.url, client_context(pki["ca"]))
    with_certificate = client_context(pki["ca"], certfile=pki["client"])
    assert calls_through_both_clients(served.url, with_certificate)[0] == 42


def test_settings_name_what_is_missing(tmp_path: Path) -> None:
    assert from_settings({"certfile": None, "keyfile": None}, server=True) is None
    with pytest.raises(InvalidArgument, match="--ssl-certfile"):
        from_settings({"ca_certs": "ca.pem"}, server=True)
    with pytest.raises(InvalidArgument, match="cannot load"):
        server_context(str(tmp_path / "missing.pem"))


def test_streams_over_tls(make_runner: Callable[..., ServedRunner], pki: dict[str, str]) -> None:
    served = make_runner("tcp", token=TOKEN, ssl_context=server_context(pki["server"]))
    addresses = [Address.parse(served.url)]
    context = client_context(pki["ca"])
    n = 2 * STREAM_WINDOW + 3  # credit goes back over TLS too

    async def scenario(client: AsyncRunnerClient) -> Any:
        return [item async for item in client.stream("count", (n,), {})]

    client = AsyncRunnerClient("test_runner", addresses, TOKEN, WAIT, context)
    assert run_async(scenario, client) == list(range(n))
    blocking = BlockingRunnerClient("test_runner", addresses, TOKEN, WAIT, context)
    try:
        assert list(blocking.stream("acount", (n,), {})) == list(range(n))
    finally:
        blocking.close()
