"""Reading /docs.json: the document the server builds becomes the client's APIs and codecs, and
a document that is not a service's is refused with a message that says so."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

import bentoml_classic as bentoml
from bentoml_classic.client.arrays import DataFrameCodec, NumpyCodec
from bentoml_classic.client.description import parse_document, read_description
from bentoml_classic.client.endpoint import Endpoint
from bentoml_classic.client.errors import ServiceDescriptionError
from bentoml_classic.client.media import FileCodec, ImageCodec, JsonCodec, TextCodec
from bentoml_classic.client.multipart import MultipartCodec
from bentoml_classic.http.openapi import build_openapi
from bentoml_classic.io import JSON, File, Image, Multipart, NumpyNdarray, PandasDataFrame, Text


def service() -> bentoml.Service:
    svc = bentoml.Service("described")

    @svc.api(input=NumpyNdarray(dtype="float32"), output=JSON(), route="/v1/predict")
    def predict(arr: np.ndarray) -> Any:
        """Predicts."""
        return arr.tolist()

    @svc.api(input=Multipart(img=Image(), meta=JSON()), output=PandasDataFrame(orient="split"))
    def mixed(img: Any, meta: Any) -> Any:
        return None

    @svc.api(input=File(mime_type="application/pdf"), output=Text())
    def read_pdf(f: Any) -> str:
        return ""

    return svc


def document() -> Any:
    """The document as a client receives it: through JSON."""
    return json.loads(json.dumps(build_openapi(service())))


def test_every_api_is_found_with_its_route_doc_and_descriptors() -> None:
    description = parse_document(document(), "here")
    assert description.name == "described"
    assert list(description.apis) == ["predict", "mixed", "read_pdf"]
    predict = description.apis["predict"]
    assert (predict.path, predict.doc) == ("/v1/predict", "Predicts.")
    assert predict.input_spec["args"]["dtype"] == "float32"


def test_each_descriptor_gets_its_codec() -> None:
    apis = parse_document(document(), "here").apis
    predict, mixed, read_pdf = (Endpoint.of(apis[name]) for name in apis)
    assert isinstance(predict.input, NumpyCodec) and isinstance(predict.output, JsonCodec)
    assert isinstance(mixed.input, MultipartCodec)
    assert {name: type(c) for name, c in mixed.input.parts.items()} == {
        "img": ImageCodec,
        "meta": JsonCodec,
    }
    assert isinstance(mixed.output, DataFrameCodec) and mixed.output.orient == "split"
    assert isinstance(read_pdf.input, FileCodec) and isinstance(read_pdf.output, TextCodec)
    assert read_pdf.input.args["mime_type"] == "application/pdf"
    assert mixed.describe() == (
        "POST /mixed: Multipart in, PandasDataFrame out; parts as keyword arguments: img, meta"
    )


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ([1, 2], "not an OpenAPI document"),
        ({"paths": {}}, "not an OpenAPI document"),
        (
            {"openapi": "3.1.0", "paths": {"/items": {"get": {"responses": {}}}}},
            "describes no operation marked 'x-bentoml-name'",
        ),
        (
            {"openapi": "3.1.0", "paths": {"/x": {"post": {"x-bentoml-name": "x"}}}},
            "the operation at '/x' has 'x-bentoml-name' but no usable 'x-bentoml-io-descriptor'",
        ),
    ],
)
def test_a_document_of_no_service_is_refused(doc: Any, says: str) -> None:
    with pytest.raises(ServiceDescriptionError, match=says):
        parse_document(doc, "http://h/docs.json")


def _answer(status: int, content: bytes, content_type: str = "application/json") -> httpx.Response:
    request = httpx.Request("GET", "http://h:1/docs.json")
    return httpx.Response(
        status, content=content, headers={"content-type": content_type}, request=request
    )


def test_a_missing_document_says_the_server_is_no_service() -> None:
    with pytest.raises(ServiceDescriptionError) as caught:
        read_description("http://h:1", _answer(404, b"{}"))
    assert "http://h:1/docs.json answered 404 Not Found" in caught.value.message
    assert "does not describe a bentoml_classic service" in caught.value.message


def test_a_page_that_is_not_json_is_refused() -> None:
    with pytest.raises(ServiceDescriptionError, match=r"is not JSON \(text/html\)"):
        read_description("http://h:1", _answer(200, b"<html>", "text/html"))


def test_the_servers_document_is_read_from_its_answer() -> None:
    body = json.dumps(build_openapi(service())).encode()
    assert list(read_description("http://h:1", _answer(200, body)).apis) == [
        "predict",
        "mixed",
        "read_pdf",
    ]
