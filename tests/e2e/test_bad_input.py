"""Every bad input of the foundation issue, over real HTTP to `bentoml serve`: a 4xx JSON error
that names the problem, never a 500 or a hang, and the server answers normally afterwards.
Bodies classic BentoML 1.1 served are served (test_classic_compat.py has those)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import serve_subprocess

SERVICES = Path(__file__).resolve().parent / "services"
JSON_TYPE = {"content-type": "application/json"}
DEEP = b"[" * 100_000 + b"]" * 100_000
BOUNDARY = "e2eBoundary"
FORM_TYPE = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
FLOWER = b'{"sepal_length": 1, "sepal_width": 2, "species": "x"}'


def form(*parts: tuple[str, bytes]) -> bytes:
    """A multipart/form-data body of (name, JSON bytes) parts."""
    body = b""
    for name, data in parts:
        body += (
            (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n'
                "Content-Type: application/json\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    return body + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("home"))}
    with serve_subprocess(["validation_service:svc"], cwd=SERVICES, env=env) as (base, _process):
        yield base


def assert_still_serving(url: str) -> None:
    response = httpx.post(f"{url}/strict", json=[[1, 2]], timeout=10)
    assert (response.status_code, response.json()) == (200, [3])


# (route, body, content type, expected status, a word the error message must contain)
BAD_REQUESTS = [
    ("strict", b"[[1, 2", JSON_TYPE, 400, "JSON"),
    ("strict", b"", JSON_TYPE, 400, "empty"),
    ("strict", b'{"a": 1}', JSON_TYPE, 400, "array"),
    ("strict", b"null", JSON_TYPE, 400, "array"),
    ("strict", b"[[1, 2], [3]]", JSON_TYPE, 400, "ragged"),
    ("strict", DEEP, JSON_TYPE, 400, "nest"),
    ("strict", b"[[1, 2, 3]]", JSON_TYPE, 400, "shape"),
    ("strict", b"[[1, NaN]]", JSON_TYPE, 400, "dtype"),
    ("strict", b'[["a", "b"]]', JSON_TYPE, 400, "dtype"),
    ("strict", b"[[1000000000000000000000, 1]]", JSON_TYPE, 400, "int64"),
    ("flower", b'{"sepal_length": 1.0, "species": "x"}', JSON_TYPE, 400, "sepal_width"),
    (
        "flower",
        b'{"sepal_length": "long", "sepal_width": 1, "species": "x"}',
        JSON_TYPE,
        400,
        "sepal_length",
    ),
    ("flower", b'{"sepal_length": 1', JSON_TYPE, 400, "JSON"),
    ("flower", DEEP, JSON_TYPE, 400, ""),
    ("shout", b"caf\xe9", {"content-type": "text/plain"}, 400, "UTF-8"),
    ("parts", FLOWER, JSON_TYPE, 415, "multipart/form-data"),
    ("parts", form(("flower", FLOWER)), FORM_TYPE, 400, "no part named 'arr'"),
    ("parts", form(("arr", b'["x"]'), ("flower", b"{}")), FORM_TYPE, 400, "sepal_length"),
    ("parts", b"this is not multipart", FORM_TYPE, 400, "multipart"),
    ("parts", form(("arr", b"[1, 2"), ("flower", FLOWER)), FORM_TYPE, 400, "part 'arr'"),
]


@pytest.mark.parametrize(
    ("route", "body", "headers", "status", "word"),
    BAD_REQUESTS,
    ids=[f"{r[0]}-{i}" for i, r in enumerate(BAD_REQUESTS)],
)
def test_bad_request_gets_4xx_envelope(
    url: str, route: str, body: bytes, headers: dict[str, str], status: int, word: str
) -> None:
    response = httpx.post(f"{url}/{route}", content=body, headers=headers, timeout=30)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"]
    error = response.json()["error"]
    assert error["type"] in {"BadInput", "UnsupportedMediaType"}
    assert word.lower() in (error["message"] + str(error.get("detail", ""))).lower()
    assert_still_serving(url)


def test_pydantic_error_detail_names_the_field(url: str) -> None:
    response = httpx.post(f"{url}/flower", json={"sepal_length": 1.0, "species": "x"})
    detail = response.json()["error"]["detail"]
    assert any(err["loc"] == ["sepal_width"] and err["type"] == "missing" for err in detail)


def test_shape_error_detail_gives_both_shapes(url: str) -> None:
    detail = httpx.post(f"{url}/strict", json=[[1, 2, 3]]).json()["error"]["detail"]
    assert detail["expected_shape"] == [-1, 2]
    assert detail["received_shape"] == [1, 3]


def test_unknown_route_is_404(url: str) -> None:
    response = httpx.post(f"{url}/no_such_api", json=[1])
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"
    assert_still_serving(url)


def test_get_on_an_api_is_405(url: str) -> None:
    response = httpx.get(f"{url}/strict")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "MethodNotAllowed"
    assert_still_serving(url)


def test_exception_in_user_code_is_500_naming_it(url: str) -> None:
    response = httpx.post(f"{url}/divide", json={"a": 1, "b": 0})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["detail"]["exception"] == "ZeroDivisionError"
    assert "traceback" not in error["detail"]
    assert_still_serving(url)


def test_multipart_errors_name_the_parts_in_detail(url: str) -> None:
    body = form(("flower", FLOWER))
    detail = httpx.post(f"{url}/parts", content=body, headers=FORM_TYPE).json()["error"]["detail"]
    assert detail == {"expected": ["arr", "flower"], "missing": ["arr"], "received": 1}
    # classic matched parts of other names by position: the part's own name is in the error
    body = form(("flower", FLOWER), ("extra", b"1"))
    detail = httpx.post(f"{url}/parts", content=body, headers=FORM_TYPE).json()["error"]["detail"]
    assert detail["part"] == "flower"
    ok = httpx.post(
        f"{url}/parts",
        content=form(("flower", FLOWER), ("arr", b"[1, 2]"), ("extra", b"1")),
        headers=FORM_TYPE,
    )
    assert (ok.status_code, ok.json()) == (200, {"sum": 3, "species": "x"})


def test_valid_requests_succeed_with_classic_bodies(url: str) -> None:
    flower = httpx.post(
        f"{url}/flower", json={"sepal_length": 2, "sepal_width": 3, "species": "iris"}
    )
    assert flower.text == '{"species":"iris","area":6.0}'
    shout = httpx.post(
        f"{url}/shout", content="café".encode(), headers={"content-type": "text/plain"}
    )
    assert shout.text == "CAFÉ"
    assert shout.headers["content-type"] == "text/plain; charset=utf-8"
