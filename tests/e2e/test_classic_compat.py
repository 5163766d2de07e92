"""Over HTTP to ``bentoml serve`` (production topology): requests classic BentoML 1.1 served are
served, and the function gets the value classic handed it; what classic answered with a 500 is
a 400 that names the place. docs/classic_compatibility.md lists every check."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.servers import E2E_SERVICES, serve_subprocess

BOUNDARY = "compatBoundary"
FORM_TYPE = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
IRIS = ["5.9", "3.0", "5.1", "1.8"]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {"BENTOML_HOME": str(tmp_path_factory.mktemp("home"))}
    with serve_subprocess(["compat_service:svc"], cwd=E2E_SERVICES, env=env) as (base, _process):
        yield base


def post(url: str, route: str, body: bytes, content_type: str | None = None) -> httpx.Response:
    headers = {} if content_type is None else {"content-type": content_type}
    return httpx.post(f"{url}/{route}", content=body, headers=headers, timeout=30)


def served(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert len(response.content) < 4096
    error: dict[str, Any] = response.json()["error"]
    return error


def png(mode: str, size: tuple[int, int] = (3, 2)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


def form(*parts: tuple[str, str | None, str | None, bytes]) -> bytes:
    """(field name, filename, content type, data) parts."""
    body = b""
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        if content_type:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + data + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


# -- the three known departures --------------------------------------------------------------------


def test_numeric_strings_under_an_enforced_float_dtype_are_read_as_numbers(url: str) -> None:
    got = served(post(url, "iris_f32", json.dumps([IRIS]).encode(), "application/json"))
    assert got["dtype"] == "float32" and got["shape"] == [1, 4]
    assert got["values"][0] == pytest.approx([5.9, 3.0, 5.1, 1.8])
    large = json.dumps([IRIS] * 5000).encode()  # the fast path for numbers sent as strings
    assert served(post(url, "iris_f32", large, "application/json"))["shape"] == [5000, 4]


def test_a_string_that_is_no_number_is_a_400_naming_it(url: str) -> None:
    error = refused(post(url, "iris_f32", b'[["5.9", "3.0", "five", "1.8"]]', "application/json"))
    assert error["detail"]["path"] == [0, 2]
    assert "'five'" in error["message"]
    long = json.dumps([[1, 2, "x" * 5_000_000]]).encode()
    error = refused(post(url, "iris_f32", long, "application/json"))
    assert error["detail"]["path"] == [0, 2] and "5000000 characters" in error["message"]


def test_frame_and_series_with_dtypes_read_numeric_strings(url: str) -> None:
    got = served(post(url, "frame_f32", b'[{"a": "5.9", "b": "x"}]', "application/json"))
    assert got["dtypes"] == ["float32", "str"] and got["records"][0]["a"] == pytest.approx(5.9)
    error = refused(post(url, "frame_f32", b'[{"a": "5.9"}, {"a": "abc"}]', "application/json"))
    assert error["detail"]["column"] == "a" and "row 1" in error["message"]
    got = served(post(url, "series_f32", b'["5.9", 2]', "application/json"))
    assert got["dtype"] == "float32" and got["values"] == pytest.approx([5.9, 2.0])
    assert "a string 'x'" in refused(post(url, "series_f32", b'["x"]'))["message"]


@pytest.mark.parametrize(
    "body",
    [b'{"a": {"0": 1, "1": 2}, "b": {"0": 3, "1": 4}}', b'{"a": [1, 2], "b": [3, 4]}'],
    ids=["columns orient", "column arrays"],
)
def test_a_records_api_reads_other_orients_as_pandas_does(url: str, body: bytes) -> None:
    got = served(post(url, "records", body, "application/json"))
    assert got["columns"] == ["a", "b"] and got["dtypes"] == ["int64", "int64"]
    assert got["records"] == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]


@pytest.mark.parametrize("mode", ["RGBA", "L", "P", "LA"])
def test_an_image_arrives_as_pillow_opened_it_raw_or_in_a_form(url: str, mode: str) -> None:
    data = png(mode)
    expected = {"mode": mode, "format": "PNG", "size": [3, 2]}
    assert served(post(url, "image", data, "image/png")) == expected
    body = form(("note", None, None, b"hi"), ("file", "x.png", "image/png", data))
    assert served(post(url, "image", body, FORM_TYPE["content-type"])) == expected
    assert served(post(url, "image_grey", data, "image/png"))["mode"] == "L"  # a named pilmode


# -- the other departures found --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "body"),
    [("iris_f32", b"[[1, 2, 3, 4]]"), ("json_any", b'{"a": 1}'), ("series_f32", b"[1, 2]"),
     ("text", b"hello")],
)  # fmt: skip
@pytest.mark.parametrize("content_type", [None, "application/octet-stream", "text/csv"])
def test_the_content_type_is_not_looked_at(
    url: str, route: str, body: bytes, content_type: str | None
) -> None:
    served_value = post(url, route, body, content_type)
    assert served_value.status_code == 200, served_value.text


def test_a_json_scalar_and_nulls_are_arrays_as_numpy_makes_them(url: str) -> None:
    assert served(post(url, "any_array", b"5"))["shape"] == []
    assert served(post(url, "any_array", b"[1, null]"))["dtype"] == "object"
    shaped = served(post(url, "iris_shaped", b"[1, 2, 3, 4]"))
    assert shaped["shape"] == [1, 4]  # reshaped to the declared, unenforced shape


def test_json_takes_what_json_loads_takes(url: str) -> None:
    assert served(post(url, "json_any", b'{"x": NaN}'))["repr"] == "{'x': nan}"
    flower = '{"sepal_length": 1, "species": "x"}'
    for encoding in ("utf-8-sig", "utf-16"):
        got = served(post(url, "flower", flower.encode(encoding), "application/json"))
        assert got == {"sepal_length": 1.0, "species": "x"}


def test_text_decodes_utf8_whatever_the_charset_claims(url: str) -> None:
    response = post(url, "text", "café".encode(), "text/plain; charset=ISO-8859-1")
    assert response.text == "café"
    latin = post(url, "text", "café".encode("latin-1"), "text/plain; charset=ISO-8859-1")
    assert latin.text == "café"  # not UTF-8: the declared charset (classic answered a 500)


def test_file_has_a_name_and_a_form_may_hold_several_files(url: str) -> None:
    assert served(post(url, "file", b"abc", "application/pdf")) == {
        "name": "<request body>",
        "size": 3,
    }
    body = form(("a", "one.bin", None, b"1"), ("b", "two.bin", None, b"22"))
    assert served(post(url, "file", body, FORM_TYPE["content-type"])) == {
        "name": "one.bin",
        "size": 1,
    }


def test_multipart_parts_are_matched_as_classic_matched_them(url: str) -> None:
    extra = form(("meta", None, None, b'{"k": 1}'), ("x", None, None, b"0"),
                 ("arr", None, None, b"[1, 2]"))  # fmt: skip
    assert served(post(url, "parts", extra, FORM_TYPE["content-type"])) == {
        "arr": [1, 2],
        "meta": {"k": 1},
    }
    by_position = form(("a", None, None, b"[3]"), ("b", None, None, b'"m"'))
    assert served(post(url, "parts", by_position, FORM_TYPE["content-type"])) == {
        "arr": [3],
        "meta": "m",
    }
    error = refused(post(url, "parts", form(("meta", None, None, b"1")), FORM_TYPE["content-type"]))
    assert error["detail"]["missing"] == ["arr"]


def test_the_server_still_answers_after_all_of_it(url: str) -> None:
    assert httpx.get(f"{url}/livez", timeout=10).status_code == 200
