"""The response by the return annotation: JSON for data, nested lists for arrays, text, encoded
images with their content type, files for paths, octet-stream for bytes, streams for
generators."""

from __future__ import annotations

import dataclasses
import io
import json
import typing as t
from collections.abc import AsyncGenerator, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import PIL.Image
import pytest
from pydantic import BaseModel

from bentoml_classic.http.streaming import streams_chunks
from bentoml_classic.io.typed import SignatureError, output_for


class Answer(BaseModel):
    label: str
    score: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Svc:
    def untyped(self):  # type: ignore[no-untyped-def]
        ...

    def mapping(self) -> dict[str, int]: ...

    def model(self) -> Answer: ...

    def models(self) -> list[Answer]: ...

    def point(self) -> Point: ...

    def number(self) -> float: ...

    def array(self) -> np.ndarray: ...

    def frame(self) -> pd.DataFrame: ...

    def text(self) -> str: ...

    def frames(self) -> dict[str, pd.DataFrame]: ...

    def arrays(self) -> list[np.ndarray]: ...

    def image(self) -> PIL.Image.Image: ...

    def path(self) -> Path: ...

    def raw(self) -> bytes: ...

    def sync_stream(self) -> Generator[str, None, None]: ...

    async def async_stream(self) -> AsyncGenerator[str, None]: ...

    def byte_stream(self) -> Iterator[bytes]: ...

    def bare_generator(self):  # type: ignore[no-untyped-def]
        yield "a"


def rendered(method: Any, value: Any) -> tuple[bytes, str]:
    import asyncio

    response = asyncio.run(output_for(method).to_http_response(value))
    return bytes(response.body), response.headers["content-type"]


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [
        (Svc.untyped, {"a": [1, 2.5, None]}, {"a": [1, 2.5, None]}),
        (Svc.untyped, np.arange(3), [0, 1, 2]),
        (Svc.mapping, {"a": 1}, {"a": 1}),
        (Svc.model, Answer(label="cat", score=0.5), {"label": "cat", "score": 0.5}),
        (Svc.models, [Answer(label="a", score=1)], [{"label": "a", "score": 1.0}]),
        (Svc.point, Point(1, 2), {"x": 1, "y": 2}),
        (Svc.number, 2.5, 2.5),
        (Svc.array, np.array([[1.5, 2.0]], dtype=np.float32), [[1.5, 2.0]]),
        (Svc.frame, pd.DataFrame({"a": [1, 2]}), [{"a": 1}, {"a": 2}]),
        (Svc.frames, {"x": pd.DataFrame({"a": [1]})}, {"x": [{"a": 1}]}),
        (Svc.arrays, [np.arange(2), np.ones(1)], [[0, 1], [1.0]]),
    ],
)
def test_data_is_json(method: Any, value: Any, expected: Any) -> None:
    body, content_type = rendered(method, value)
    assert content_type == "application/json"
    assert json.loads(body) == expected


def test_text_bytes_and_paths(tmp_path: Path) -> None:
    assert not getattr(output_for(Svc.text), "streamed", False)
    assert rendered(Svc.text, "héllo") == ("héllo".encode(), "text/plain; charset=utf-8")
    assert rendered(Svc.raw, b"\x00\xff") == (b"\x00\xff", "application/octet-stream")
    target = tmp_path / "report.csv"
    target.write_text("a,b\n")
    import asyncio

    response = asyncio.run(output_for(Svc.path).to_http_response(target))
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="report.csv"' in response.headers["content-disposition"]
    assert str(tmp_path) not in str(response.headers)
    with pytest.raises(ValueError, match="names no regular file") as info:
        asyncio.run(output_for(Svc.path).to_http_response(tmp_path / "gone"))
    assert str(tmp_path) not in str(info.value)


def test_an_image_keeps_its_format_else_is_png() -> None:
    body, content_type = rendered(Svc.image, PIL.Image.new("RGBA", (3, 2), "blue"))
    assert content_type == "image/png"
    assert PIL.Image.open(io.BytesIO(body)).size == (3, 2)
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (5, 5)).save(buffer, format="JPEG")
    opened = PIL.Image.open(io.BytesIO(buffer.getvalue()))
    body, content_type = rendered(Svc.image, opened)
    assert content_type == "image/jpeg" and body[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    ("method", "media_type"),
    [
        (Svc.sync_stream, "text/plain"),
        (Svc.async_stream, "text/plain"),
        (Svc.bare_generator, "text/plain"),
        (Svc.byte_stream, "application/octet-stream"),
    ],
)
def test_generators_stream(method: Any, media_type: str) -> None:
    descriptor = output_for(method)
    assert streams_chunks(descriptor) and getattr(descriptor, "streamed", False)
    assert descriptor.mime_type == media_type


def test_response_schemas_follow_the_annotation() -> None:
    assert output_for(Svc.mapping).openapi_schema() == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
    }
    model = output_for(Svc.model)
    assert model.openapi_schema() == {"$ref": "#/components/schemas/Answer"}
    assert model.openapi_components()["Answer"]["required"] == ["label", "score"]
    models = output_for(Svc.models)
    assert models.openapi_schema()["items"] == {"$ref": "#/components/schemas/Answer"}
    assert output_for(Svc.untyped).openapi_schema() == {}
    assert output_for(Svc.image).openapi_responses()["content"].keys() == {"image/*"}
    spec_ids = {m.__name__: output_for(m).to_spec()["id"] for m in (Svc.text, Svc.array, Svc.raw)}
    assert spec_ids == {
        "text": "bentoml.io.Text",
        "array": "bentoml.io.NumpyNdarray",
        "raw": "bentoml.io.File",
    }


def test_an_optional_return_is_json_so_that_none_is_null() -> None:
    class Maybe:
        def text(self) -> t.Optional[str]:  # noqa: UP045
            ...

        def image(self) -> PIL.Image.Image | None: ...

    assert rendered(Maybe.text, None) == (b"null", "application/json")
    assert rendered(Maybe.text, "a") == (b'"a"', "application/json")
    with pytest.raises(SignatureError, match=r"Maybe\.image"):
        output_for(Maybe.image)
