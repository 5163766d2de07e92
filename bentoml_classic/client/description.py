"""A service as ``/docs.json`` describes it: its APIs, their routes and descriptors.

The server marks every API operation with ``x-bentoml-name`` and gives its request body and its
200 response an ``x-bentoml-io-descriptor`` (``http/openapi.py``), as classic BentoML's server
did for classic's client. Reading the document is all the client knows of the server: nothing
of the service's code is imported, so a client runs where the service's dependencies are not
installed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..exceptions import excerpt
from .errors import ServiceDescriptionError

DOCS_PATH = "/docs.json"
API_NAME_KEY = "x-bentoml-name"
IO_DESCRIPTOR_KEY = "x-bentoml-io-descriptor"


@dataclass(frozen=True)
class ApiDescription:
    """One API: what the client needs to call it."""

    name: str
    #: the path after the server's URL, with its leading "/"
    path: str
    doc: str | None
    input_spec: Mapping[str, Any]
    output_spec: Mapping[str, Any]
    #: the media types the request body may have, as documented (for descriptors the client
    #: does not know)
    request_types: tuple[str, ...]


@dataclass(frozen=True)
class ServiceDescription:
    name: str
    apis: Mapping[str, ApiDescription]


def read_description(url: str, response: httpx.Response) -> ServiceDescription:
    """The service behind ``url``, from the answer to ``GET /docs.json``; an error that says
    why when that answer is no service's description."""
    where = f"{url}{DOCS_PATH}"
    if response.status_code != 200:
        raise ServiceDescriptionError(
            f"{where} answered {response.status_code} {response.reason_phrase}: the server at "
            f"{url} does not describe a bentoml_classic service (is it one, and is this its "
            "URL?)"
        )
    try:
        document = json.loads(response.content)
    except ValueError:
        raise ServiceDescriptionError(
            f"{where} is not JSON ({excerpt(response.headers.get('content-type'))}): the server "
            f"at {url} is not a bentoml_classic service"
        ) from None
    return parse_document(document, where)


def parse_document(document: Any, where: str) -> ServiceDescription:
    """The APIs of an OpenAPI document that a BentoML server published; ``where`` names it in
    errors."""
    paths = document.get("paths") if isinstance(document, dict) else None
    if not isinstance(paths, dict) or "openapi" not in document:
        raise ServiceDescriptionError(
            f"{where} is not an OpenAPI document: the server is not a bentoml_classic service"
        )
    apis: dict[str, ApiDescription] = {}
    for path, operations in paths.items():
        if not isinstance(operations, dict):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and API_NAME_KEY in operation:
                api = _api(str(path), operation, where)
                apis[api.name] = api
    if not apis:
        raise ServiceDescriptionError(
            f"{where} describes no operation marked {API_NAME_KEY!r}: the server is not a "
            "bentoml_classic (or BentoML 1.x) service, or it has no APIs"
        )
    info = document.get("info")
    title = info.get("title") if isinstance(info, dict) else None
    return ServiceDescription(name=str(title or ""), apis=apis)


def _api(path: str, operation: dict[str, Any], where: str) -> ApiDescription:
    name = operation[API_NAME_KEY]
    request_body = operation.get("requestBody")
    responses = operation.get("responses")
    success = responses.get("200") if isinstance(responses, dict) else None
    input_spec = request_body.get(IO_DESCRIPTOR_KEY) if isinstance(request_body, dict) else None
    output_spec = success.get(IO_DESCRIPTOR_KEY) if isinstance(success, dict) else None
    if not isinstance(name, str) or not _is_spec(input_spec) or not _is_spec(output_spec):
        raise ServiceDescriptionError(
            f"{where}: the operation at {path!r} has {API_NAME_KEY!r} but no usable "
            f"{IO_DESCRIPTOR_KEY!r} on its request body and 200 response; the document is "
            "malformed"
        )
    assert isinstance(request_body, dict) and input_spec is not None and output_spec is not None
    content = request_body.get("content")
    doc = operation.get("description")
    return ApiDescription(
        name=name,
        path=path if path.startswith("/") else f"/{path}",
        doc=doc if isinstance(doc, str) else None,
        input_spec=input_spec,
        output_spec=output_spec,
        request_types=tuple(content) if isinstance(content, dict) else (),
    )


def _is_spec(spec: Any) -> bool:
    return isinstance(spec, dict) and isinstance(spec.get("id"), str)
