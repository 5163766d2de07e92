"""``from_part`` of NumpyNdarray, JSON and Text: the same parsing as a request body (the part's
Content-Type read as a body's would be), with every error naming the part."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from bentoml_classic.exceptions import BadInput, BentoMLException
from bentoml_classic.io import JSON, NumpyNdarray, Text
from bentoml_classic.io.base import IODescriptor, Part
from bentoml_classic.io.mediatype import parse_media_type


class Point(BaseModel):
    x: float
    y: float


def from_part(
    descriptor: IODescriptor[Any],
    data: bytes,
    content_type: str | None = None,
    name: str = "p",
    filename: str | None = "upload",
) -> Any:
    part = Part(name, data, parse_media_type(content_type), filename)
    return asyncio.run(descriptor.from_part(part))


def part_error(
    descriptor: IODescriptor[Any], data: bytes, content_type: str | None = None, name: str = "p"
) -> BentoMLException:
    with pytest.raises(BentoMLException) as info:
        from_part(descriptor, data, content_type, name)
    return info.value


STRICT = NumpyNdarray(dtype="int64", enforce_dtype=True, shape=(-1, 2), enforce_shape=True)

# (descriptor, body, content type, status): each is refused both as a request body and as a part
BAD = [
    (STRICT, b"[[1, 2", "application/json", 400),
    (STRICT, b"", "application/json", 400),
    (STRICT, b'{"a": 1}', None, 400),
    (STRICT, b"[[1, 2, 3]]", "application/json", 400),
    (STRICT, b'[["1", "x"]]', "application/json", 400),
    (STRICT, b"[[1, 2]]x", "application/xml", 400),
    (NumpyNdarray(), b"[[1, 2], [3]]", "application/json", 400),
    (NumpyNdarray(), b"\xff[1]", "application/json", 400),
    (JSON(), b"{", "application/json", 400),
    (JSON(), b"", None, 400),
    (JSON(), b"[1", "image/png", 400),
    (JSON(pydantic_model=Point), b'{"x": 1}', "application/json", 400),
    (JSON(pydantic_model=Point), b'{"x": "far", "y": 1}', None, 400),
    (Text(), b"caf\xe9", "text/plain", 400),
    (Text(), b"ab\x80", "text/plain; charset=ascii", 400),
]


@pytest.mark.parametrize(("descriptor", "body", "content_type", "status"), BAD)
def test_a_part_is_refused_exactly_like_a_body_with_the_part_named(
    parse_error: Any,
    descriptor: IODescriptor[Any],
    body: bytes,
    content_type: str | None,
    status: int,
) -> None:
    as_body = parse_error(descriptor, body, content_type, status=status)
    as_part = part_error(descriptor, body, content_type, name="features")
    assert type(as_part) is type(as_body)
    assert as_part.message.startswith("part 'features': ")
    # the same check answered: the wording differs only in naming the part instead of the body
    expected = as_body.message.replace("request body", "part body")
    assert as_part.message == f"part 'features': {expected}"
    if isinstance(as_body.detail, dict):
        assert as_part.detail == {"part": "features", **as_body.detail}
    elif as_body.detail is None:
        assert as_part.detail == {"part": "features"}
    else:  # pydantic's list of errors is kept as it is
        assert as_part.detail == as_body.detail


@pytest.mark.parametrize(
    ("descriptor", "body", "content_type", "expected"),
    [
        (STRICT, b"[[1, 2], [3, 4]]", "application/json", [[1, 2], [3, 4]]),
        (STRICT, b"[[1, 2]]", None, [[1, 2]]),  # a form field without a type: lenient, as bodies
        (STRICT, b"[[1, 2]]", "text/plain", [[1, 2]]),
        (STRICT, b"[[1.5, 2.5]]", "application/xml", [[1, 2]]),  # any type; np.array truncates
        (JSON(), b"[1]", "image/png", [1]),
        (Text(), b"abc", "application/octet-stream", "abc"),
        (Text(), b"abc", "text/plain; charset=no-such-codec", "abc"),
        (NumpyNdarray(dtype="float32"), b"[1, 2.5]", "application/json", [1.0, 2.5]),
        (JSON(), b'{"a": [1, null]}', "application/json", {"a": [1, None]}),
        (JSON(), b'"x"', None, "x"),
        (Text(), "café".encode(), None, "café"),
        (Text(), "café".encode("latin-1"), "text/plain; charset=latin-1", "café"),
        (Text(), b"", "text/plain", ""),
    ],
)
def test_a_part_parses_like_a_body(
    parse: Any, descriptor: IODescriptor[Any], body: bytes, content_type: str | None, expected: Any
) -> None:
    as_part = from_part(descriptor, body, content_type)
    as_body = parse(descriptor, body, content_type)
    if isinstance(as_part, np.ndarray):
        assert as_part.dtype == as_body.dtype
        np.testing.assert_array_equal(as_part, as_body)
        assert as_part.tolist() == expected
    else:
        assert as_part == as_body == expected


def test_numpy_part_keeps_the_declared_dtype() -> None:
    arr = from_part(NumpyNdarray(dtype="int16"), b"[1, 2, 3]", "application/json")
    assert arr.dtype == np.int16


def test_pydantic_part_gives_a_model_instance_and_names_part_and_field() -> None:
    assert from_part(JSON(pydantic_model=Point), b'{"x": 1, "y": 2}') == Point(x=1, y=2)
    exc = part_error(JSON(pydantic_model=Point), b'{"x": 1}', name="where")
    assert isinstance(exc, BadInput)
    assert exc.message.startswith("part 'where': part body failed validation against Point")
    assert exc.detail[0]["loc"] == ["y"]


def test_a_plain_form_field_that_is_not_utf8_is_latin1_as_classic_read_it() -> None:
    # classic's form parser decoded a field without a filename as UTF-8, else latin-1
    assert from_part(Text(), b"caf\xe9", "text/plain", filename=None) == "café"
    assert isinstance(part_error(Text(), b"caf\xe9", "text/plain"), BadInput)  # a file: UTF-8


def test_text_part_honours_its_charset_and_names_the_part_when_it_lies() -> None:
    assert from_part(Text(), "日本".encode("utf-16"), "text/plain; charset=utf-16") == "日本"
    exc = part_error(Text(), b"caf\xe9", "text/plain", name="note")
    assert isinstance(exc, BadInput)
    assert exc.message.startswith("part 'note': part body is not valid utf-8: ")
    assert exc.detail["part"] == "note"
    assert exc.detail["byte_offset"] == 3


@pytest.mark.parametrize("body", [b"[1, Infinity]", b'{"a": -Infinity}'])
def test_json_takes_nan_and_infinity_as_classic_did(parse: Any, body: bytes) -> None:
    # Python's json takes these tokens, and classic handed them to the function; only an echo
    # of them fails, in rendering (allow_nan=False), as it did in classic
    assert parse(JSON(), body) == from_part(JSON(), body)
    assert from_part(NumpyNdarray(), b"[NaN, 1]", None)[1] == 1
