"""The inferred contract through the real API app, served by uvicorn on 127.0.0.1: each
class-service method is registered as a classic API whose input and output are ``input_for`` /
``output_for``, the way the class-service runtime registers them. The guide's ControlNet example
answers an image for an image and a ``Params`` part; bad input is a 400 envelope naming the field
or the part; streams stream; /docs.json is valid OpenAPI 3.1 and describes each body truthfully.
"""

from __future__ import annotations

import inspect
import io
import time
import typing as t
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import PIL.Image
import PIL.ImageOps
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.io.typed import input_for, output_for
from tests.support.servers import live_server


class Params(BaseModel):
    prompt: str
    negative_prompt: t.Optional[str]  # noqa: UP045 (the guide's spelling)
    controlnet_conditioning_scale: float = 0.5
    num_inference_steps: int = 25


class ControlNet:
    """The guide's service, with a PIL transform standing in for the diffusers pipeline."""

    async def generate(self, image: PIL.Image.Image, params: Params) -> PIL.Image.Image:
        steps = min(max(params.num_inference_steps, 1), 64)
        return PIL.ImageOps.invert(image.convert("RGB")).resize((steps, steps))

    def scale(
        self, arr: np.ndarray[t.Any, np.uint8], factor: float = 2.0, **kwargs: t.Any
    ) -> np.ndarray:
        return arr * factor + len(kwargs)

    def words(self, text: str, repeat: int = 1) -> Iterator[str]:
        for word in text.split() * max(min(repeat, 10), 0):
            yield word + " "

    async def count(self, upto: int) -> AsyncGenerator[str, None]:
        for i in range(upto):
            yield f"{i}\n"

    def upload(self, doc: Path, note: str = "") -> dict[str, t.Any]:
        return {"where": str(doc), "size": doc.stat().st_size, "note": note}

    def describe(self, params: Params) -> dict[str, t.Any]:
        return {"prompt": params.prompt, "steps": params.num_inference_steps}


def register(svc: bentoml.Service, instance: Any, name: str) -> None:
    method: Callable[..., Any] = getattr(type(instance), name)
    bound = getattr(instance, name)
    api = svc.api(input=input_for(method), output=output_for(method), name=name)
    # a plain wrapper, even around a generator method: the output descriptor says it streams
    if inspect.iscoroutinefunction(method):

        async def call_async(arguments: dict[str, Any]) -> Any:
            return await bound(**arguments)

        api(call_async)
    else:

        def call(arguments: dict[str, Any]) -> Any:
            return bound(**arguments)

        api(call)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    svc = bentoml.Service("controlnet")
    instance = ControlNet()
    for name in ("generate", "scale", "words", "count", "describe", "upload"):
        register(svc, instance, name)
    with live_server(build_app(svc)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http


def png(color: str = "white") -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (8, 8), color).save(buffer, format="PNG")
    return buffer.getvalue()


PARAMS = '{"prompt": "a cat", "negative_prompt": null, "num_inference_steps": 6}'


def test_the_guides_example_sends_an_image_and_params_and_gets_one(client: httpx.Client) -> None:
    response = client.post(
        "/generate",
        files={
            "image": ("in.png", png("white"), "image/png"),
            "params": (None, PARAMS, "application/json"),
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    image = PIL.Image.open(io.BytesIO(response.content))
    assert image.size == (6, 6) and image.getpixel((0, 0)) == (0, 0, 0)


def test_a_part_of_the_wrong_kind_is_a_400_envelope_naming_it(client: httpx.Client) -> None:
    response = client.post(
        "/generate",
        files={"image": (None, "text", "text/plain"), "params": (None, PARAMS, "application/json")},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "BadInput" and error["detail"]["part"] == "image"
    response = client.post("/generate", json={"image": "x", "params": {}})
    assert response.status_code == 415 and response.json()["error"]["detail"]["files"] == ["image"]


def test_json_bodies_arrays_and_kwargs(client: httpx.Client) -> None:
    response = client.post("/scale", json={"arr": [[1, 2]], "factor": 1.5, "a": 0, "b": 0})
    assert response.status_code == 200 and response.json() == [[3.5, 5.0]]
    response = client.post("/scale", json={"arr": [256]})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["detail"][0]["loc"] == ["arr"] and "uint8" in error["message"]
    response = client.post("/describe", json={"params": {"negative_prompt": None}})
    assert response.status_code == 400
    assert response.json()["error"]["detail"][0]["loc"] == ["params", "prompt"]
    response = client.post("/describe", json={"params": {"prompt": "p", "negative_prompt": "n"}})
    assert response.json() == {"prompt": "p", "steps": 25}


def test_generators_stream_text(client: httpx.Client) -> None:
    response = client.post("/words", json={"text": "a b", "repeat": 2})
    assert response.status_code == 200 and response.text == "a b a b "
    assert response.headers["content-type"].startswith("text/plain")
    assert client.post("/count", json={"upto": 3}).text == "0\n1\n2\n"


def test_docs_json_describes_the_inferred_contract(client: httpx.Client) -> None:
    document = client.get("/docs.json").json()
    validate(document)
    schemas = document["components"]["schemas"]
    generate = document["paths"]["/generate"]["post"]
    form = generate["requestBody"]["content"]["multipart/form-data"]
    assert form["schema"]["properties"]["image"]["format"] == "binary"
    assert form["schema"]["properties"]["params"] == {"$ref": "#/components/schemas/Params"}
    assert form["schema"]["required"] == ["image", "params"]
    assert form["encoding"]["params"]["contentType"] == "application/json"
    assert schemas["Params"]["required"] == ["prompt", "negative_prompt"]
    assert generate["requestBody"]["x-bentoml-io-descriptor"]["id"] == "bentoml.io.Multipart"
    assert "image/*" in generate["responses"]["200"]["content"]
    assert {"400", "415"} <= set(generate["responses"])
    scale = document["paths"]["/scale"]["post"]
    body = scale["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ControlNet.scale.Input"}
    model = schemas["ControlNet.scale.Input"]
    assert model["required"] == ["arr"] and model["additionalProperties"] is True
    assert model["properties"]["arr"]["x-numpy-dtype"] == "uint8"
    assert model["properties"]["factor"]["default"] == 2.0
    assert scale["requestBody"]["x-bentoml-io-descriptor"]["id"] == "bentoml.io.JSON"
    describe = document["paths"]["/describe"]["post"]["responses"]["200"]
    assert describe["content"]["application/json"]["schema"]["type"] == "object"
    words = document["paths"]["/words"]["post"]["responses"]["200"]
    assert "streamed" in words["description"]


def test_the_classic_python_client_calls_the_inferred_apis(server: str) -> None:
    """/docs.json names classic descriptors, so classic's client encodes each call."""
    from bentoml_classic.client import Client

    client = Client.from_url(server)
    try:
        described = client.call("describe", {"params": {"prompt": "p", "negative_prompt": None}})
        assert described == {"prompt": "p", "steps": 25}
        assert client.call("scale", {"arr": [[1, 2]]}).tolist() == [[2.0, 4.0]]
        image = PIL.Image.open(io.BytesIO(png("black")))
        params = {"prompt": "x", "negative_prompt": None, "num_inference_steps": 4}
        answer = client.call("generate", image=image, params=params)
        assert answer.size == (4, 4) and answer.getpixel((0, 0)) == (255, 255, 255)
    finally:
        client.close()


def test_an_uploaded_path_is_gone_once_answered(client: httpx.Client) -> None:
    response = client.post(
        "/upload",
        files={"doc": ("report.txt", b"12345", "text/plain"), "note": (None, "hi")},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["size"] == 5 and answer["note"] == "hi"
    stored = Path(answer["where"])
    assert stored.name == "report.txt"
    # Removed when the last reference goes: the request's, or a pool thread's that ran the
    # function and may drop it a moment after the answer left. A bounded wait, not a timing.
    for _ in range(200):
        if not stored.parent.parent.exists():
            break
        time.sleep(0.05)
    assert not stored.exists() and not stored.parent.parent.exists()
