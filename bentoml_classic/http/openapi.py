"""The OpenAPI 3.1 document of a service: only what the server really accepts and returns."""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidArgument
from .errors import ERROR_SCHEMA
from .streaming import streams_chunks

if TYPE_CHECKING:
    from ..classic_service import InferenceAPI, Service

ERROR_SCHEMA_NAME = "ErrorEnvelope"
#: OpenAPI extensions classic BentoML's client looked for, under the same names
API_NAME_KEY = "x-bentoml-name"
IO_DESCRIPTOR_KEY = "x-bentoml-io-descriptor"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}
_ERROR_DESCRIPTIONS = {
    400: "The body is malformed or fails validation; `detail` says where.",
    404: "No such route.",
    405: "Method not allowed.",
    413: "The body is larger than the server accepts.",
    415: "Unsupported Content-Type.",
    500: "The API function raised; `detail.exception` names the exception type.",
    429: "The API worker serves its api_server.traffic.max_concurrency already; retry after "
    "Retry-After.",
    503: "Not ready yet, or a runner is unavailable or its queue is full; retry after Retry-After.",
    504: "No answer within api_server.traffic.timeout, or a runner did not answer in time.",
}


def _error_response(status: int) -> dict[str, Any]:
    description = _ERROR_DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


#: what any API can answer besides its input descriptor's 4xx: too large a body, a raising
#: function, past api_server.traffic.timeout
_EVERY_API_STATUSES = frozenset({413, 500, 504})
#: what an API of a service with runners can answer besides: runner down or shedding, too slow
_RUNNER_STATUSES = frozenset({503, 504})


def api_error_statuses(api: InferenceAPI, has_runners: bool, limited: bool = False) -> list[int]:
    """Every error status the server can answer ``api`` with, for the document to list them all;
    ``limited``: api_server.traffic.max_concurrency is set (429)."""
    statuses = {*api.input.input_error_statuses, *_EVERY_API_STATUSES}
    if has_runners:
        statuses |= _RUNNER_STATUSES
    if limited:
        statuses.add(429)
    return sorted(statuses)


#: the 200 of an API whose function is a generator (http/streaming.py)
STREAMED_DESCRIPTION = (
    "Success. The body is streamed: each chunk is sent as the function produces it "
    "(chunked transfer encoding). An error before the first chunk is answered with its error "
    "status; one after it cuts the stream (the connection closes before the final chunk)."
)


def _streams(api: InferenceAPI) -> bool:
    func = api.func
    makes_iterator = inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)
    # a class service's generator method may be called through a wrapper: its output says so
    return (makes_iterator or getattr(api.output, "streamed", False)) and streams_chunks(api.output)


def _api_operation(api: InferenceAPI, has_runners: bool, limited: bool) -> dict[str, Any]:
    description = STREAMED_DESCRIPTION if _streams(api) else "Success"
    # x-bentoml-*: what classic BentoML published for its client (bentoml_classic.client reads
    # them): the API's name, and each side's descriptor with the arguments a client needs
    success = {"description": description, **api.output.openapi_responses()}
    success[IO_DESCRIPTOR_KEY] = api.output.to_spec()
    responses: dict[str, Any] = {"200": success}
    for status in api_error_statuses(api, has_runners, limited):
        responses[str(status)] = _error_response(status)
    request_body = {**api.input.openapi_request_body(), IO_DESCRIPTOR_KEY: api.input.to_spec()}
    operation: dict[str, Any] = {
        "operationId": api.name,
        API_NAME_KEY: api.name,
        "tags": ["Service APIs"],
        "summary": f"POST /{api.route}",
        "requestBody": request_body,
        "responses": responses,
    }
    if api.doc:
        operation["description"] = api.doc
    return operation


def _probe(summary: str, statuses: tuple[int, ...] = (200,)) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in statuses:
        responses[str(status)] = (
            {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}
            if status == 200
            else _error_response(status)
        )
    return {"get": {"tags": ["Infrastructure"], "summary": summary, "responses": responses}}


def _merge_components(schemas: dict[str, Any], new: dict[str, Any], api_name: str) -> None:
    """Add named schemas; two different schemas under one name would make the document lie."""
    for name, schema in new.items():
        if name in schemas and schemas[name] != schema:
            raise InvalidArgument(
                f"API {api_name!r}: two different schemas are both named {name!r} in the OpenAPI "
                "document; rename one of the pydantic models"
            )
        schemas[name] = schema


def build_openapi(
    svc: Service, version: str = "0.0.0", max_concurrency: int | None = None
) -> dict[str, Any]:
    schemas: dict[str, Any] = {ERROR_SCHEMA_NAME: ERROR_SCHEMA}
    paths: dict[str, Any] = {
        "/healthz": _probe("Health: 200 while the process runs"),
        "/livez": _probe("Liveness: 200 while the process runs"),
        "/readyz": _probe("Readiness: 503 until every runner is ready", (200, 503)),
        "/docs.json": {
            "get": {
                "tags": ["Infrastructure"],
                "summary": "This OpenAPI document",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    for api in svc.apis.values():
        operation = _api_operation(api, bool(svc.runners), max_concurrency is not None)
        paths[f"/{api.route}"] = {"post": operation}
        for descriptor in (api.input, api.output):
            _merge_components(schemas, descriptor.openapi_components(), api.name)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": svc.name,
            "version": version,
            "description": f"Inference APIs of the {svc.name} service, served by bentoml_classic.",
        },
        "tags": [
            {"name": "Service APIs", "description": "The service's inference APIs"},
            {"name": "Infrastructure", "description": "Probes and documentation"},
        ],
        "paths": paths,
        "components": {"schemas": schemas},
    }
