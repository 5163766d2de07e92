"""The gRPC front door over real gRPC: every descriptor, the status codes of issue 22's list,
the bad inputs (each followed by a call that succeeds), the Python clients, and the production
topology of ``bentoml serve-grpc`` (health, reflection, metrics port, runners in their own
processes)."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import numpy as np
import pandas as pd
import pytest

grpc = pytest.importorskip("grpc")

from bentoml_classic.client import (  # noqa: E402
    AsyncGrpcClient,
    ClientRequestError,
    GrpcClient,
    ServerError,
)
from bentoml_classic.client.grpc_client import wait_until_serving  # noqa: E402
from bentoml_classic.config import BentoMLConfig, config_from_options  # noqa: E402
from bentoml_classic.grpc.codes import ENVELOPE_KEY  # noqa: E402
from bentoml_classic.grpc.v1 import service_pb2 as pb  # noqa: E402
from bentoml_classic.grpc.v1 import service_pb2_grpc  # noqa: E402
from bentoml_classic.grpc_server.server import GrpcApiServer, GrpcTls  # noqa: E402
from bentoml_classic.loader import import_service  # noqa: E402
from tests.support.servers import (  # noqa: E402
    E2E_SERVICES,
    IRIS,
    REPO,
    free_port,
    serve_subprocess,
)

CALL_TIMEOUT = 30.0


class ThreadedGrpcServer:
    """A real ``GrpcApiServer`` on 127.0.0.1 (a free port), its event loop in a thread."""

    def __init__(self, svc: Any, config: BentoMLConfig, tls: GrpcTls | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = GrpcApiServer(svc, config, metrics_port=False, tls=tls)

    def __enter__(self) -> str:
        self.thread.start()
        port = self._run(self.server.start("127.0.0.1", 0))
        return f"127.0.0.1:{port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(CALL_TIMEOUT)

    def __exit__(self, *exc_info: object) -> None:
        self._run(self.server.stop(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def service_module() -> Any:
    import sys

    svc = import_service("grpc_service:svc", str(E2E_SERVICES))
    return sys.modules[svc.apis["classify"].func.__module__]


@pytest.fixture(scope="module")
def target(service_module: Any) -> Iterator[str]:
    with ThreadedGrpcServer(service_module.svc, BentoMLConfig()) as address:
        yield address


@pytest.fixture(scope="module")
def stub(target: str) -> Iterator[Any]:
    channel = grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 200 * 1024 * 1024)]
    )
    yield service_pb2_grpc.BentoServiceStub(channel)
    channel.close()


def _call(stub: Any, **fields: Any) -> Any:
    return stub.Call(pb.Request(**fields), timeout=CALL_TIMEOUT)


def _refused(stub: Any, **fields: Any) -> tuple[Any, dict[str, Any], str]:
    """The status code, the envelope's error and the details of a call that must fail."""
    with pytest.raises(grpc.RpcError) as caught:
        _call(stub, **fields)
    exc = caught.value
    envelope = dict(exc.trailing_metadata() or ()).get(ENVELOPE_KEY)
    assert envelope is not None, exc.details()
    return exc.code(), json.loads(envelope)["error"], exc.details()


def _still_serving(stub: Any) -> None:
    answer = _call(
        stub, api_name="classify", ndarray=pb.NDArray(shape=[1, 4], float_values=[5, 5, 5, 5])
    )
    assert list(answer.ndarray.int64_values) == [1]


# -- every descriptor ------------------------------------------------------------------------


def test_ndarray_by_values_dtype_enum_and_raw_bytes(stub: Any) -> None:
    by_values = _call(
        stub,
        api_name="classify",
        ndarray=pb.NDArray(shape=[2, 4], double_values=[1, 1, 1, 1, 5, 5, 5, 5]),
    )
    assert by_values.ndarray.dtype == pb.NDArray.DTYPE_INT64
    assert list(by_values.ndarray.shape) == [2]
    assert list(by_values.ndarray.int64_values) == [0, 1]
    raw = np.array([[5, 5, 5, 5], [1, 1, 1, 1]], dtype="float32").tobytes()
    by_bytes = _call(stub, api_name="classify", serialized_bytes=raw)
    assert list(by_bytes.ndarray.int64_values) == [1, 0]
    doubled = _call(
        stub,
        api_name="double_ints",
        ndarray=pb.NDArray(dtype=pb.NDArray.DTYPE_INT32, shape=[3], int32_values=[1, 2, 3]),
    )
    assert list(doubled.ndarray.int32_values) == [2, 4, 6]
    strings = _call(stub, api_name="echo_array", ndarray=pb.NDArray(string_values=["a", "b"]))
    assert strings.ndarray.dtype == pb.NDArray.DTYPE_STRING
    assert list(strings.ndarray.string_values) == ["a", "b"]


def test_dataframe_series_json_text_file_image_multipart(stub: Any) -> None:
    frame = pb.DataFrame(
        column_names=["a", "b"],
        columns=[pb.Series(int64_values=[1, 2]), pb.Series(double_values=[0.5, 1.5])],
    )
    answer = _call(stub, api_name="frame_plus_one", dataframe=frame).dataframe
    assert list(answer.column_names) == ["a", "b"]
    assert list(answer.columns[0].int64_values) == [2, 3]
    assert list(answer.columns[1].double_values) == [1.5, 2.5]
    series = _call(stub, api_name="series_sum", series=pb.Series(int32_values=[1, 2, 3])).series
    assert list(series.double_values) == [6.0]
    from google.protobuf import json_format

    value = json_format.ParseDict({"x": 2, "y": 0.5}, pb.Request().json)
    answered = _call(stub, api_name="point", json=value).json
    assert json_format.MessageToDict(answered) == {"sum": 2.5, "kind": "Point"}
    assert _call(stub, api_name="shout", text={"value": "hi"}).text.value == "HI"
    csv = _call(stub, api_name="file_size", file=pb.File(kind="text/csv", content=b"a,b\n1,2\n"))
    assert csv.file.content == b"size,8"
    assert csv.file.kind.startswith("text/csv")
    png = io.BytesIO()
    import PIL.Image

    PIL.Image.new("RGB", (3, 2)).save(png, format="PNG")
    size = _call(
        stub, api_name="image_size", file=pb.File(kind="image/png", content=png.getvalue())
    )
    assert json_format.MessageToDict(size.json) == [3, 2]
    parts = pb.Multipart(
        fields={
            "arr": pb.Part(ndarray=pb.NDArray(double_values=[1, 2, 3.5])),
            "note": pb.Part(text={"value": "abc"}),
        }
    )
    mixed = _call(stub, api_name="mixed", multipart=parts).multipart
    assert json_format.MessageToDict(mixed.fields["total"].json) == 6.5
    assert mixed.fields["note"].text.value == "cba"


def test_metadata_in_and_trailing_metadata_out(stub: Any) -> None:
    answer, call = stub.Call.with_call(
        pb.Request(api_name="shout", text={"value": "x"}),
        metadata=(("x-who", "tester"),),
        timeout=CALL_TIMEOUT,
    )
    assert answer.text.value == "X"
    # the request's metadata reached ctx.request.headers, and the startup hook ran
    assert dict(call.trailing_metadata())["x-answered-by"] == "tester:yes"


def test_service_metadata_describes_every_api(stub: Any) -> None:
    described = stub.ServiceMetadata(pb.ServiceMetadataRequest(), timeout=CALL_TIMEOUT)
    assert described.name == "grpc_test"
    apis = {api.name: api for api in described.apis}
    assert apis["classify"].input.descriptor_id == "bentoml.io.NumpyNdarray"
    assert apis["classify"].input.attributes["dtype"] == "float32"
    assert apis["mixed"].output.descriptor_id == "bentoml.io.Multipart"


# -- bad input, each followed by a call that succeeds ------------------------------------------

BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("unknown API", {"api_name": "nope", "text": {"value": "x"}}, "unknown API 'nope'"),
    ("empty request", {}, "api_name is empty"),
    ("no content", {"api_name": "classify"}, "has no content"),
    ("wrong oneof", {"api_name": "classify", "text": {"value": "x"}}, "holds text"),
    (
        "values disagree with dtype",
        {
            "api_name": "classify",
            "ndarray": pb.NDArray(dtype=pb.NDArray.DTYPE_FLOAT, shape=[1, 4], int32_values=[1] * 4),
        },
        "ndarray.int32_values",
    ),
    (
        "values disagree with shape",
        {"api_name": "classify", "ndarray": pb.NDArray(shape=[3, 4], float_values=[1, 2])},
        "holds 12 values, and 2 were sent",
    ),
    (
        "enforced shape",
        {"api_name": "classify", "ndarray": pb.NDArray(shape=[2, 3], float_values=[1] * 6)},
        "does not match the expected shape",
    ),
    (
        "enforced dtype",
        {"api_name": "double_ints", "ndarray": pb.NDArray(string_values=["x"])},
        "cannot be used as the enforced dtype int32",
    ),
    (
        "serialized_bytes without a dtype",
        {"api_name": "echo_array", "serialized_bytes": b"\x00" * 8},
        "with a declared dtype",
    ),
    (
        "file of the wrong kind",
        {"api_name": "file_size", "file": pb.File(kind="image/png", content=b"x")},
        "unsupported Content-Type 'image/png'",
    ),
    (
        "multipart missing a field",
        {"api_name": "mixed", "multipart": pb.Multipart(fields={"note": pb.Part(text={})})},
        "missing ['arr']",
    ),
    (
        "multipart with an unexpected field",
        {
            "api_name": "mixed",
            "multipart": pb.Multipart(
                fields={
                    "arr": pb.Part(ndarray=pb.NDArray(double_values=[1])),
                    "note": pb.Part(text={"value": "a"}),
                    "extra": pb.Part(text={"value": "b"}),
                }
            ),
        },
        "unexpected ['extra']",
    ),
    (
        "a pydantic validation failure",
        {"api_name": "point", "json": {"string_value": "x"}},
        "Point",
    ),
]


@pytest.mark.parametrize(
    ("fields", "message"), [b[1:] for b in BAD_REQUESTS], ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_input_is_invalid_argument(stub: Any, fields: dict[str, Any], message: str) -> None:
    code, error, details = _refused(stub, **fields)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert message in error["message"]
    assert details == error["message"]  # the status' details are the envelope's message
    _still_serving(stub)


def test_same_message_as_the_http_envelope(stub: Any) -> None:
    from bentoml_classic.exceptions import BadInput
    from bentoml_classic.io import NumpyNdarray

    http_descriptor = NumpyNdarray(dtype="float32", shape=(-1, 4), enforce_shape=True)
    with pytest.raises(BadInput) as over_http:
        http_descriptor.parse_bytes(b"[[1, 2, 3], [4, 5, 6]]")
    _, error, _ = _refused(
        stub, api_name="classify", ndarray=pb.NDArray(shape=[2, 3], float_values=[1] * 6)
    )
    assert error["message"] == over_http.value.message
    assert error["detail"] == over_http.value.detail


def test_message_of_100_mb_is_resource_exhausted(stub: Any) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _call(stub, api_name="classify", serialized_bytes=b"\x00" * (100 * 1024 * 1024))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _still_serving(stub)


def test_garbage_bytes_on_the_port(target: str, stub: Any) -> None:
    host, port = target.rsplit(":", 1)
    rng = np.random.default_rng(22)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(rng.bytes(64 * 1024))
        sock.settimeout(5)
        try:
            while sock.recv(65536):  # the server answers with a GOAWAY and closes, or resets
                pass
        except (TimeoutError, ConnectionError):
            pass
    _still_serving(stub)


# -- status codes ------------------------------------------------------------------------------


def test_user_exception_is_internal_naming_its_type_only(stub: Any) -> None:
    code, error, _ = _refused(stub, api_name="explode", text={"value": "x"})
    assert code == grpc.StatusCode.INTERNAL
    assert error["detail"]["exception"] == "ValueError"
    assert "/etc" not in json.dumps(error)  # the exception's message stays in the log
    _still_serving(stub)


def test_unavailable_and_client_deadline(stub: Any) -> None:
    code, error, _ = _refused(stub, api_name="overloaded", text={"value": "x"})
    assert code == grpc.StatusCode.UNAVAILABLE
    assert error["type"] == "ServiceUnavailable"
    with pytest.raises(grpc.RpcError) as caught:
        stub.Call(pb.Request(api_name="sleepy", text={"value": "5"}), timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    _still_serving(stub)


def test_server_timeout_and_max_concurrency(service_module: Any) -> None:
    config = config_from_options(
        "api_server.traffic.timeout=1 api_server.traffic.max_concurrency=2"
        " api_server.grpc.channelz.enabled=true"
    )
    with ThreadedGrpcServer(service_module.svc, config) as address:
        channel = grpc.insecure_channel(address)
        from grpc_channelz.v1 import channelz_pb2, channelz_pb2_grpc

        servers = channelz_pb2_grpc.ChannelzStub(channel).GetServers(
            channelz_pb2.GetServersRequest(), timeout=CALL_TIMEOUT
        )
        assert len(servers.server) >= 1  # channelz switched on answers
        limited = service_pb2_grpc.BentoServiceStub(channel)
        code, error, _ = _refused(limited, api_name="sleepy", text={"value": "10"})
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert error["type"] == "GatewayTimeout"
        service_module.holding.clear()
        service_module.gate.clear()
        held: list[Future[Any]] = [
            limited.Call.future(pb.Request(api_name="hold", text={"value": str(i)}), timeout=60)
            for i in range(2)
        ]
        try:
            _wait_for(lambda: len(service_module.holding) == 2)
            code, error, _ = _refused(limited, api_name="shout", text={"value": "x"})
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert error["type"] == "TooManyRequests"
        finally:
            service_module.gate.set()
        assert [f.result(30).text.value for f in held] == ["released", "released"]
        assert _call(limited, api_name="shout", text={"value": "ok"}).text.value == "OK"
        channel.close()


def test_tls_with_client_certificates(service_module: Any, tmp_path: Any) -> None:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_file, key_file, ca_file = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    client_cert = ca.issue_cert("client")
    tls = GrpcTls(str(cert_file), str(key_file), str(ca_file))
    with ThreadedGrpcServer(service_module.svc, BentoMLConfig(), tls=tls) as address:
        trusted = grpc.ssl_channel_credentials(
            root_certificates=ca.cert_pem.bytes(),
            private_key=client_cert.private_key_pem.bytes(),
            certificate_chain=client_cert.cert_chain_pems[0].bytes(),
        )
        with GrpcClient.from_url(address, credentials=trusted) as client:
            assert client.shout("tls") == "TLS"
        anonymous = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
        channel = grpc.secure_channel(address, anonymous)
        with pytest.raises(grpc.RpcError):  # no client certificate: the handshake fails
            service_pb2_grpc.BentoServiceStub(channel).Call(
                pb.Request(api_name="shout", text={"value": "x"}), timeout=10
            )
        channel.close()


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- the Python clients ------------------------------------------------------------------------


def test_grpc_client_round_trips_and_typed_errors(target: str) -> None:
    with GrpcClient.from_url(target) as client:
        client.wait_until_server_ready(timeout=10)
        assert client.classify(np.array([[5, 5, 5, 5]], dtype="float32")).tolist() == [1]
        frame = client.frame_plus_one(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.0]}))
        assert frame.to_dict("list") == {"a": [2, 3], "b": [1.5, 2.0]}
        assert client.point({"x": 1, "y": 2.0}) == {"sum": 3.0, "kind": "Point"}
        assert client.shout("abc") == "ABC"
        assert client.mixed(arr=np.array([1.0, 2.0]), note="xy") == {"total": 3.0, "note": "yx"}
        with pytest.raises(ClientRequestError) as refused:
            client.classify(np.array([[1.0, 2.0]]))
        assert refused.value.status == 400
        assert refused.value.grpc_code == "INVALID_ARGUMENT"  # type: ignore[attr-defined]
        assert refused.value.detail["expected_shape"] == [-1, 4]
        with pytest.raises(ServerError) as failed:
            client.explode("x")
        assert failed.value.error_type == "InternalServerError"


def test_async_grpc_client(target: str) -> None:
    async def scenario() -> list[Any]:
        client = await AsyncGrpcClient.from_url(target)
        try:
            await client.wait_until_server_ready(timeout=10)
            return list(await asyncio.gather(*(client.shout(f"n{i}") for i in range(5))))
        finally:
            await client.close()

    assert asyncio.run(scenario()) == [f"N{i}" for i in range(5)]


# -- the production topology -------------------------------------------------------------------


def test_serve_grpc_production(iris_env: dict[str, str]) -> None:
    import httpx
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )

    metrics_port = free_port()
    env = {**iris_env, "BENTOML_CONFIG_OPTIONS": f"api_server.grpc.metrics.port={metrics_port}"}
    port = free_port()
    with serve_subprocess(
        ["service:svc", "--api-workers", "2", "--enable-reflection"],
        cwd=IRIS,
        env=env,
        command="serve-grpc",
        ready_path="",
        port=port,
    ):
        wait_until_serving(f"127.0.0.1:{port}", timeout=60)
        with GrpcClient.from_url(f"127.0.0.1:{port}") as client:
            assert client.health() == "SERVING"
            assert client.classify(np.array([[5.9, 3.0, 5.1, 1.8]])).tolist() == [2]
            with pytest.raises(ClientRequestError):
                client.classify(np.array([[1.0]]))
            services = ProtoReflectionDescriptorDatabase(client._channel).get_services()
            assert "bentoml.grpc.v1.BentoService" in services
        # each answer counted under its status, the refused call as the 400 it is over HTTP;
        # a worker writes its counts a few times a second, so the other may not have them yet
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        _wait_for(lambda: 'http_response_code="400"' in httpx.get(url, timeout=10).text)
        metrics = httpx.get(url, timeout=10).text
        assert 'endpoint="/classify"' in metrics
        assert 'http_response_code="200"' in metrics
        assert "bentoml_runner" in metrics or "iris_clf" in metrics


def test_serve_grpc_serves_a_composed_service_with_its_dependencies(
    iris_env: dict[str, str],
) -> None:
    """serve-grpc starts the graph as serve does (serving/backends.py): the pipeline's entry
    answers over gRPC through its three dependency services, and a client mistake is refused."""
    metrics_port = free_port()
    env = {**iris_env, "BENTOML_CONFIG_OPTIONS": f"api_server.grpc.metrics.port={metrics_port}"}
    port = free_port()
    with serve_subprocess(
        ["service:pipeline", "--api-workers", "1"],
        cwd=REPO / "examples" / "pipeline",
        env=env,
        command="serve-grpc",
        ready_path="",
        port=port,
    ):
        wait_until_serving(f"127.0.0.1:{port}", timeout=60)
        with GrpcClient.from_url(f"127.0.0.1:{port}") as client:
            flowers = [
                {"sepal_length": 59, "sepal_width": 30, "petal_length": 51, "petal_width": 18},
                {"sepal_length": 51, "sepal_width": 35, "petal_length": 14, "petal_width": 2},
            ]
            assert client.species({"flowers": flowers}) == ["virginica", "setosa"]
            # a client mistake is answered at the entry, before any dependency is called
            with pytest.raises(ClientRequestError):
                client.species({"flowers": [{"sepal_length": "long"}]})
            assert client.species({"flowers": flowers[1:]}) == ["setosa"]
