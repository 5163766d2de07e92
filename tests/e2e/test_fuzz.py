"""Schemathesis against /docs.json of a real server whose APIs use every IO descriptor.

Valid and invalid bodies are generated from the document itself; every answer must be one the
document promises: no 5xx at all, a documented status code, a documented content type, and a
body that matches the documented schema (the error envelope for errors). The run is
deterministic (a fixed seed per operation) so CI does not flake; set ``FUZZ_MAX_EXAMPLES`` and
``FUZZ_SEED`` to explore further by hand.
"""

from __future__ import annotations

import email.parser
import email.policy
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bentoml_classic.classic_service import Service
from bentoml_classic.http.openapi import build_openapi
from tests.support.servers import E2E_SERVICES, serve_subprocess

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "30"))
SEED = int(os.environ.get("FUZZ_SEED", "20261122"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _load_service() -> Service:
    """The service module under a private name: no sys.path entry, no clash with the server's."""
    spec = importlib.util.spec_from_file_location("_fuzz_service", E2E_SERVICES / "fuzz_service.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # pydantic resolves the model's annotations through it
    spec.loader.exec_module(module)
    return module.svc


# schemathesis' fixture-based loader (schemathesis.pytest.from_fixture) sets a private pytest
# attribute that pytest 9 no longer has, so the schema is built here, at collection, from the
# same service the server runs; test_server_documents_what_is_fuzzed checks that /docs.json is
# exactly this document.
DOCUMENT = json.loads(json.dumps(build_openapi(_load_service())))
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).include(method="POST")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("home"))}
    args = ["fuzz_service:svc", "--development"]
    with serve_subprocess(args, cwd=E2E_SERVICES, env=env) as (base_url, _process):
        yield base_url


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_server_documents_what_is_fuzzed(fuzz_server: str) -> None:
    validate(DOCUMENT)  # openapi-spec-validator: a valid OpenAPI 3.1 document
    assert httpx.get(f"{fuzz_server}/docs.json").json() == DOCUMENT


def _validate(schema: dict[str, Any], value: Any, where: str) -> None:
    """JSON Schema 2020-12 (OpenAPI 3.1's dialect), with the document's components for $ref."""
    root = {**schema, "components": DOCUMENT["components"]}
    errors = [e.message for e in Draft202012Validator(root).iter_errors(value)]
    assert not errors, f"{where}: body does not match its documented schema: {errors[:3]}"


def _multipart_parts(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """name -> (content type, bytes) of a multipart/form-data response, with the stdlib parser."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    assert message.is_multipart(), "a multipart response that does not parse as one"
    parts = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        parts[str(name)] = (part.get_content_type(), part.get_payload(decode=True))
    return parts


def _check_against_document(case: Any, response: Any) -> None:
    """What schemathesis skips for its request-shape probes (no body, another Content-Type,
    another method): every answer, whatever was sent, must still be one the document lists."""
    where = f"{case.method} {case.path} -> {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.content[:500]!r}"
    content_type = (response.headers.get("content-type") or [""])[0]
    if case.method != "POST":  # not an operation at all: the envelope, as for any error
        assert response.status_code == 405, where
        _validate(
            {"$ref": "#/components/schemas/ErrorEnvelope"}, json.loads(response.content), where
        )
        return
    documented = DOCUMENT["paths"][case.path]["post"]["responses"]
    assert str(response.status_code) in documented, f"{where}: undocumented status"
    media = documented[str(response.status_code)].get("content", {})
    essence = content_type.split(";")[0].strip().lower()
    assert essence in media, f"{where}: Content-Type {content_type!r} not in {list(media)}"
    schema = media[essence]["schema"]
    if essence == "application/json":
        _validate(schema, json.loads(response.content), where)
    elif essence == "multipart/form-data":
        parts = _multipart_parts(content_type, response.content)
        assert sorted(parts) == sorted(schema["properties"]), f"{where}: parts {sorted(parts)}"
        for name, (part_type, data) in parts.items():
            if part_type == "application/json":
                _validate(schema["properties"][name], json.loads(data), f"{where} part {name}")


# PandasDataFrame also reads parquet, which schemathesis cannot generate: it says so and skips it.
@pytest.mark.filterwarnings("ignore:Skipped test cases with unsupported payload media types")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(case: Any, fuzz_server: str, http: requests.Session) -> None:
    response = case.call_and_validate(base_url=fuzz_server, session=http, checks=CHECKS, timeout=30)
    _check_against_document(case, response)


def test_each_operation_is_its_own_test(request: pytest.FixtureRequest) -> None:
    """One node id per operation (tests/conftest.py), so that pytest-xdist runs every one."""
    ids = [item.nodeid for item in request.session.items if "test_every_answer" in item.nodeid]
    operations = [path for path, methods in DOCUMENT["paths"].items() if "post" in methods]
    assert len(ids) == len(set(ids)) == len(operations), ids
