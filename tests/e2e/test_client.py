"""The Python client against ``bentoml serve`` in the production topology (API workers and a
runner worker in their own processes): every IO descriptor both ways, sync and async, and the
errors a real server answers."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import PIL.Image
import pytest
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.client import (
    AsyncClient,
    Client,
    ClientRequestError,
    ReceivedFile,
    ServerError,
)
from bentoml_classic.exceptions import InvalidArgument
from tests.support.servers import E2E_SERVICES, serve_subprocess


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server, as soon as its API workers answer: its runner takes 2 s more to be ready."""
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("home")), "SLOW_INIT_SECONDS": "2"}
    args = ["client_service:svc", "--api-workers", "2"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env, ready_path="/livez") as (url, _):
        yield url


@pytest.fixture(scope="module")
def client(server_url: str) -> Iterator[Client]:
    with Client.from_url(server_url) as made:
        made.wait_until_server_ready(timeout=60)
        yield made


def test_a_client_waits_until_the_runner_is_ready(server_url: str) -> None:
    with Client.from_url(server_url) as fresh:
        fresh.wait_until_server_ready(timeout=60)
        assert fresh.is_ready()
    host, port = server_url.rsplit(":", 1)
    Client.wait_until_server_ready(host, int(port), timeout=60)  # classic's form
    assert fresh.endpoints[0] == "double"


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


FRAME = pd.DataFrame({"a": [1, 2], "b": [0.5, -1.5], "c": ["x", "y"]})
BLOB = b"\x00\r\n--boundary?\r\n\xff"


def _rgba() -> PIL.Image.Image:
    return PIL.Image.new("RGBA", (6, 4), (200, 100, 50, 128))


def _arrays_equal(expected: Any, dtype: str | None = None) -> Callable[[Any], None]:
    def check(got: Any) -> None:
        assert isinstance(got, np.ndarray)
        np.testing.assert_array_equal(got, expected)
        if dtype is not None:
            assert got.dtype == np.dtype(dtype)

    return check


def _frame_equal(got: Any) -> None:
    pd.testing.assert_frame_equal(got, FRAME, check_dtype=False)


def _split_frame(got: Any) -> None:
    pd.testing.assert_frame_equal(got, FRAME, check_dtype=False)
    assert got["a"].dtype == np.int32  # the output descriptor enforces it


def _series(got: Any) -> None:
    assert isinstance(got, pd.Series)
    assert (list(got.index), list(got)) == (["p", "q"], [1.5, 2.5])


def _image_back(got: Any) -> None:
    assert isinstance(got, PIL.Image.Image)
    assert (got.format, got.mode, got.getpixel((0, 0))) == ("PNG", "RGBA", (200, 100, 50, 128))


def _pdf(got: Any) -> None:
    assert isinstance(got, ReceivedFile)
    assert (got.read(), got.content_type) == (b"%PDF-1.7 x", "application/pdf")


def _parts(got: Any) -> None:
    np.testing.assert_array_equal(got["arr"], [1.5, 2.5])
    assert got["item"] == {"name": "n", "price": 2.0, "tags": ["t"]}
    assert (got["note"], got["blob"].read()) == ("ünïcode", BLOB)


def _equals(expected: Any) -> Callable[[Any], None]:
    def check(got: Any) -> None:
        assert got == expected

    return check


def cases(
    tmp_dir: Path,
) -> list[tuple[str, tuple[Any, ...], dict[str, Any], Callable[[Any], None]]]:
    """(API, positional arguments, keyword arguments, check of the answer) for every descriptor."""
    text_file = tmp_dir / "notes é.txt"
    text_file.write_text("twelve bytes")
    return [
        ("double", (np.array([[1, 2], [3, 4.5]]),), {}, _arrays_equal([[2, 4], [6, 9]], "float32")),
        ("ndarray_echo", ([[1, 2], [3, 4]],), {}, _arrays_equal([[1, 2], [3, 4]])),
        ("frame_echo", (FRAME,), {}, _frame_equal),
        ("frame_split", (FRAME,), {}, _split_frame),
        ("series_echo", (pd.Series([1.5, 2.5], index=["p", "q"]),), {}, _series),
        (
            "item_echo",
            (Item(name="a", price=1),),
            {},
            _equals({"name": "a", "price": 1.0, "tags": []}),
        ),
        ("json_echo", ({"x": [1, None, "é"]},), {}, _equals({"x": [1, None, "é"]})),
        ("json_echo", (), {"value": 3}, _equals(3)),
        ("shout", ("héllo",), {}, _equals("HÉLLO")),
        ("words", ("streamed in pieces",), {}, _equals("streamed\nin\npieces\n")),
        ("image_echo", (_rgba(),), {}, _image_back),
        ("image_info", (_rgba(),), {}, _equals({"format": "JPEG", "mode": "RGB", "size": [6, 4]})),
        (
            "file_info",
            (text_file,),
            {},
            _equals({"name": "notes é.txt", "content_type": "text/plain", "size": 12}),
        ),
        (
            "file_info",
            (io.BytesIO(b"abc"),),
            {},
            _equals(
                {"name": "<request body>", "content_type": "application/octet-stream", "size": 3}
            ),
        ),
        ("file_echo", (b"%PDF-1.7 x",), {}, _pdf),
        (
            "multipart_echo",
            (),
            {
                "arr": np.array([1.5, 2.5]),
                "item": Item(name="n", price=2, tags=["t"]),
                "note": "ünïcode",
                "blob": BLOB,
            },
            _parts,
        ),
    ]


def test_every_descriptor_through_the_sync_methods(client: Client, tmp_path: Path) -> None:
    for api, args, kwargs, check in cases(tmp_path):
        check(getattr(client, api)(*args, **kwargs))
    # fresh values: a file object sent once has been read to its end
    for api, args, kwargs, check in cases(tmp_path):
        check(client.call(api, *args, **kwargs))


def test_every_descriptor_through_the_async_client(server_url: str, tmp_path: Path) -> None:
    async def main() -> list[Any]:
        async with await AsyncClient.from_url(server_url) as async_client:
            await async_client.wait_until_server_ready(timeout=60)
            calls = [getattr(async_client, api)(*a, **kw) for api, a, kw, _ in cases(tmp_path)]
            return await asyncio.gather(*calls)  # at once: over several connections

    for (_, _, _, check), result in zip(cases(tmp_path), asyncio.run(main()), strict=True):
        check(result)


def test_every_descriptor_through_the_sync_clients_async_methods(
    client: Client, tmp_path: Path
) -> None:
    async def main() -> list[Any]:
        calls = [getattr(client, f"async_{api}")(*a, **kw) for api, a, kw, _ in cases(tmp_path)]
        results = await asyncio.gather(*calls)
        results.append(await client.async_call("shout", "again"))
        return results

    results = asyncio.run(main())
    for (_, _, _, check), result in zip(cases(tmp_path), results, strict=False):
        check(result)
    assert results[-1] == "AGAIN"


# -- errors ----------------------------------------------------------------------------------------


def test_a_refused_input_is_a_request_error_naming_the_field(client: Client) -> None:
    with pytest.raises(ClientRequestError) as caught:
        client.double(np.array([[1, 2, 3]]))
    error = caught.value
    assert (error.status, error.error_type) == (400, "BadInput")
    assert error.detail == {"expected_shape": [-1, 2], "received_shape": [1, 3]}
    assert error.request_id and error.request_id == error.headers["x-request-id"]
    assert "does not match the expected shape" in error.message


def test_an_error_raised_on_purpose_keeps_its_detail(client: Client) -> None:
    async def main() -> None:
        await client.async_refuse({"a": 1})

    with pytest.raises(ClientRequestError) as caught:
        asyncio.run(main())
    assert (caught.value.message, caught.value.detail) == (
        "value refused on purpose",
        {"field": "value"},
    )


def test_a_crashing_api_is_a_server_error_without_its_secrets(server_url: str) -> None:
    async def main() -> None:
        async with await AsyncClient.from_url(server_url) as async_client:
            await async_client.crash(1)

    with pytest.raises(ServerError) as caught:
        asyncio.run(main())
    error = caught.value
    assert (error.status, error.detail["exception"]) == (500, "ValueError")
    assert "secret internals" not in str(error)
    assert error.request_id is not None and error.request_id in error.message


def test_a_client_error_inside_a_service_stays_inside(client: Client) -> None:
    with pytest.raises(ServerError) as caught:
        client.call_elsewhere("http://127.0.0.1:1")
    assert caught.value.detail["exception"] == "ClientConnectionError"
    assert "127.0.0.1:1" not in caught.value.message


def test_wrong_parts_are_refused_before_anything_is_sent(client: Client) -> None:
    with pytest.raises(InvalidArgument, match=r"missing \['note', 'blob'\]"):
        client.multipart_echo(arr=[1], item={"name": "n", "price": 1})


def test_the_package_names_the_client_lazily() -> None:
    assert bentoml.client.Client is Client
    assert bentoml.client.HTTPClient is Client
