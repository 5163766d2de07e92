"""Each codec against the server's own descriptor: what the client encodes, the descriptor
reads as the value sent; what the descriptor renders, the client decodes as the value returned.
The descriptors run as the server runs them, on real Starlette requests and responses."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import PIL.Image
import pytest
from pydantic import BaseModel
from starlette.requests import Request

from bentoml_classic.client.codec_base import Codec, Encoded
from bentoml_classic.client.media import ReceivedFile
from bentoml_classic.client.registry import codec_for
from bentoml_classic.io import (
    JSON,
    File,
    Image,
    Multipart,
    NumpyNdarray,
    PandasDataFrame,
    PandasSeries,
    Text,
)
from bentoml_classic.io.base import IODescriptor


def _request(encoded: Encoded) -> Request:
    headers = [(b"content-type", encoded.content_type.encode())]
    if encoded.filename:
        disposition = f'attachment; filename="{encoded.filename}"'.encode()
        headers.append((b"content-disposition", disposition))
    scope = {"type": "http", "method": "POST", "path": "/api", "headers": headers}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": encoded.content, "more_body": False}

    return Request(scope, receive)


def server_reads(descriptor: IODescriptor[Any], value: Any) -> Any:
    """What the API function gets when the client sends ``value`` to ``descriptor``."""
    encoded = codec_for(descriptor.to_spec()).encode(value)
    return asyncio.run(descriptor.from_http_request(_request(encoded)))


def client_gets(descriptor: IODescriptor[Any], value: Any) -> Any:
    """What the client decodes when the API function returns ``value`` through ``descriptor``."""
    response = asyncio.run(descriptor.to_http_response(value))
    body = bytes(response.body)
    return codec_for(descriptor.to_spec()).decode(body, response.headers.get("content-type"))


def codec(descriptor: IODescriptor[Any]) -> Codec:
    return codec_for(json.loads(json.dumps(descriptor.to_spec())))


# -- NumpyNdarray ------------------------------------------------------------------------------


def test_arrays_cross_both_ways_with_their_values() -> None:
    arr = np.array([[1.5, 2.25], [3.0, -4.0]])
    np.testing.assert_array_equal(server_reads(NumpyNdarray(), arr), arr)
    back = client_gets(NumpyNdarray(), arr)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, arr)


def test_an_array_comes_back_in_the_output_descriptors_dtype() -> None:
    back = client_gets(NumpyNdarray(dtype="float32"), np.array([0.1, 0.2], dtype="float32"))
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, np.array([0.1, 0.2], dtype="float32"))


def test_lists_and_numpy_scalars_are_sent_as_arrays() -> None:
    got = server_reads(NumpyNdarray(dtype="int64"), [np.int64(1), np.int64(2)])
    np.testing.assert_array_equal(got, np.array([1, 2]))


# -- pandas ------------------------------------------------------------------------------------

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.25, -2.0], "c": ["x", "y", "z"]})


#: orients the server cannot read back as sent, per kind: pandas reads a Series in the table
#: orient as a Series of the body's two keys (classic handed over the same); a frame in the
#: table orient is read without a dtype, as its schema carries the types
_READABLE = {("series", "table"): False}


@pytest.mark.parametrize("orient", ["records", "columns", "index", "split", "values", "table"])
def test_frames_cross_in_every_orient(orient: str) -> None:
    expected = FRAME if orient != "values" else FRAME.set_axis([0, 1, 2], axis=1)
    if _READABLE.get(("frame", orient), True):
        got = server_reads(PandasDataFrame(orient=orient), FRAME)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    back = client_gets(PandasDataFrame(orient=orient), FRAME)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


@pytest.mark.parametrize("default_format", ["csv", "parquet"])
def test_frames_go_in_the_descriptors_default_format(default_format: str) -> None:
    descriptor = PandasDataFrame(default_format=default_format)
    assert codec(descriptor).encode(FRAME).content_type == descriptor.mime_type
    pd.testing.assert_frame_equal(server_reads(descriptor, FRAME), FRAME, check_dtype=False)
    pd.testing.assert_frame_equal(client_gets(descriptor, FRAME), FRAME, check_dtype=False)


def test_an_enforced_output_dtype_survives_json() -> None:
    descriptor = PandasDataFrame(dtype={"a": "int32"}, enforce_dtype=True)
    back = client_gets(descriptor, FRAME.astype({"a": "int32"}))
    assert back["a"].dtype == np.int32


def test_records_are_sent_as_a_frame() -> None:
    got = server_reads(PandasDataFrame(), [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    assert got.to_dict("list") == {"a": [1, 2], "b": ["x", "y"]}


@pytest.mark.parametrize("orient", ["records", "values", "index", "split", "table"])
def test_series_cross_in_every_orient(orient: str) -> None:
    series = pd.Series([1.5, 2.5, 4.0], index=[0, 1, 2], name="s")
    if _READABLE.get(("series", orient), True):
        assert list(server_reads(PandasSeries(orient=orient), series)) == [1.5, 2.5, 4.0]
    back = client_gets(PandasSeries(orient=orient), series)
    assert isinstance(back, pd.Series)
    assert list(back) == [1.5, 2.5, 4.0]


# -- JSON and Text -----------------------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_json_takes_models_dataclasses_and_numpy_values() -> None:
    assert server_reads(JSON(pydantic_model=Item), Item(name="a", price=1.5)) == Item(
        name="a", price=1.5
    )
    assert server_reads(JSON(), {"p": Point(1, 2), "n": np.float32(0.5)}) == {
        "p": {"x": 1, "y": 2},
        "n": 0.5,
    }
    assert server_reads(JSON(), None) is None


def test_a_pydantic_output_comes_back_as_its_json() -> None:
    assert client_gets(JSON(pydantic_model=Item), Item(name="é", price=2)) == {
        "name": "é",
        "price": 2.0,
    }


def test_text_crosses_as_utf8() -> None:
    assert server_reads(Text(), "naïve ✓") == "naïve ✓"
    assert client_gets(Text(), "naïve ✓") == "naïve ✓"
    assert codec(Text()).decode("é".encode("latin-1"), "text/plain; charset=latin-1") == "é"


def test_text_refuses_what_is_no_text() -> None:
    with pytest.raises(TypeError, match="Text takes a str"):
        codec(Text()).encode(12)


# -- Image -------------------------------------------------------------------------------------


def _image(mode: str = "RGB", fmt: str | None = None) -> PIL.Image.Image:
    image = PIL.Image.new(mode, (5, 4), (10, 20, 30, 40)[: len(mode)] if mode != "L" else 7)
    if fmt is None:
        return image
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return PIL.Image.open(io.BytesIO(buffer.getvalue()))


def test_an_image_keeps_its_own_format_when_the_server_takes_it() -> None:
    encoded = codec(Image()).encode(_image(fmt="GIF"))
    assert encoded.content_type == "image/gif"
    assert server_reads(Image(), _image(fmt="GIF")).format == "GIF"


def test_a_new_image_goes_as_png_which_loses_nothing() -> None:
    got = server_reads(Image(), _image("RGBA"))
    assert (got.format, got.mode, got.getpixel((0, 0))) == ("PNG", "RGBA", (10, 20, 30, 40))


def test_an_image_goes_in_a_type_the_server_allows_converted_if_it_must() -> None:
    descriptor = Image(allowed_mime_types=["image/jpeg"])
    got = server_reads(descriptor, _image("RGBA"))
    assert (got.format, got.mode) == ("JPEG", "RGB")


def test_arrays_bytes_and_paths_are_images_too(tmp_path: Path) -> None:
    array = np.zeros((4, 6, 3), dtype=np.uint8)
    assert server_reads(Image(), array).size == (6, 4)
    buffer = io.BytesIO()
    _image().save(buffer, format="BMP")
    assert codec(Image()).encode(buffer.getvalue()).content_type == "image/bmp"
    path = tmp_path / "picture.png"
    _image().save(path)
    encoded = codec(Image()).encode(path)
    assert (encoded.content_type, encoded.filename) == ("image/png", "picture.png")
    assert server_reads(Image(), str(path)).format == "PNG"


def test_an_image_answer_is_a_pil_image() -> None:
    back = client_gets(Image(mime_type="image/png"), _image("RGBA"))
    assert isinstance(back, PIL.Image.Image)
    assert back.getpixel((1, 1)) == (10, 20, 30, 40)


# -- File --------------------------------------------------------------------------------------


def test_a_file_object_is_sent_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "résumé.txt"
    path.write_bytes(b"hello")
    with path.open("rb") as handle:
        got = server_reads(File(), handle)
    assert (got.read(), got.name, got.content_type) == (b"hello", "résumé.txt", "text/plain")
    got = server_reads(File(), path)
    assert (got.read(), got.name) == (b"hello", "résumé.txt")


def test_bytes_go_as_the_declared_type() -> None:
    got = server_reads(File(mime_type="application/pdf"), b"%PDF-")
    assert (got.read(), got.content_type) == (b"%PDF-", "application/pdf")


def test_a_file_answer_is_a_binary_file_object() -> None:
    back = client_gets(File(mime_type="application/pdf"), b"%PDF-1.7")
    assert isinstance(back, ReceivedFile)
    assert (back.read(), back.content_type) == (b"%PDF-1.7", "application/pdf")


def test_a_text_file_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("x")
    with path.open() as handle, pytest.raises(TypeError, match="open it as binary"):
        codec(File()).encode(handle)


# -- Multipart ---------------------------------------------------------------------------------

PARTS = Multipart(arr=NumpyNdarray(), item=JSON(pydantic_model=Item), note=Text(), blob=File())


def test_parts_are_read_by_their_descriptors() -> None:
    blob = b"\x00\r\n--\r\n\xff"
    got = server_reads(
        PARTS, {"arr": np.array([1, 2]), "item": Item(name="a", price=1), "note": "n", "blob": blob}
    )
    np.testing.assert_array_equal(got["arr"], [1, 2])
    assert (got["item"], got["note"], got["blob"].read()) == (Item(name="a", price=1), "n", blob)


def test_a_multipart_answer_is_a_dict_of_decoded_parts() -> None:
    blob = b"\x00\r\n--\r\n\xff"
    value = {"arr": np.array([1.5]), "item": Item(name="a", price=1), "note": "ü", "blob": blob}
    back = client_gets(PARTS, value)
    np.testing.assert_array_equal(back["arr"], [1.5])
    assert (back["item"], back["note"], back["blob"].read()) == (
        {"name": "a", "price": 1.0},
        "ü",
        blob,
    )


def test_parts_must_be_exactly_the_declared_ones() -> None:
    from bentoml_classic.exceptions import InvalidArgument

    with pytest.raises(InvalidArgument, match=r"missing \['note', 'blob'\]; unexpected \['x'\]"):
        codec(PARTS).encode({"arr": [1], "item": {}, "x": 1})


# -- a descriptor the client does not know -----------------------------------------------------


class Reversed(IODescriptor[bytes]):
    """A service's own descriptor."""

    mime_type = "application/x-reversed"

    async def from_http_request(self, request: Request) -> bytes:
        return (await request.body())[::-1]

    async def to_http_response(self, obj: bytes) -> Any:
        from starlette.responses import Response

        return Response(obj[::-1], media_type=self.mime_type)

    def openapi_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "binary"}


def test_an_unknown_descriptor_sends_and_returns_bytes() -> None:
    descriptor = Reversed()
    raw = codec_for(descriptor.to_spec(), ("application/x-reversed",))
    assert raw.descriptor.endswith("Reversed")
    encoded = raw.encode(b"abc")
    assert encoded.content_type == "application/x-reversed"
    assert asyncio.run(descriptor.from_http_request(_request(encoded))) == b"cba"
    assert raw.decode(b"xyz", "application/x-reversed") == b"xyz"
    with pytest.raises(TypeError, match="pass the request body as bytes or str"):
        raw.encode(1)


def test_an_image_in_a_mode_png_cannot_store_is_converted() -> None:
    got = server_reads(Image(), PIL.Image.new("CMYK", (3, 3), (0, 0, 0, 0)))
    assert (got.format, got.mode) == ("PNG", "RGBA")
