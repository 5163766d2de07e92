"""``from_part`` of NumpyNdarray, JSON and Text: the same parsing as a request body, honouring the
part's own Content-Type, with every error naming the part."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from bentoml_classic.exceptions import BadInput, BentoMLException, UnsupportedMediaType
from bentoml_classic.io import JSON, NumpyNdarray, Text
from bentoml_classic.io.base import IODescriptor, Part
from bentoml_classic.io.mediatype import parse_media_type


class Point(BaseModel):
    x: float
    y: float


def from_part(
    descriptor: IODescriptor[Any], data: bytes, content_type: str | None = None, name: str = "p"
) -> Any:
    return asyncio.run(descriptor.from_part(Part(name, data, parse_media_type(content_type))))


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
    (STRICT, b"[[1.5, 2.5]]", "application/json", 400),
    (STRICT, b"[[1, 2]]", "application/xml", 415),
    (NumpyNdarray(), b"[[1, 2], [3]]", "application/json", 400),
    (NumpyNdarray(), b"\xff[1]", "application/json", 400),
    (JSON(), b"{", "application/json", 400),
    (JSON(), b"", None, 400),
    (JSON(), b"[1]", "image/png", 415),
    (JSON(pydantic_model=Point), b'{"x": 1}', "application/json", 400),
    (JSON(pydantic_model=Point), b'{"x": "far", "y": 1}', None, 400),
    (Text(), b"caf\xe9", "text/plain", 400),
    (Text(), b"abc", "text/plain; charset=no-such-codec", 415),
    (Text(), b"abc", "application/octet-stream", 415),
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


def test_json_part_with_a_binary_type_is_415_naming_the_part() -> None:
    exc = part_error(JSON(), b"{}", "image/png", name="meta")
    assert isinstance(exc, UnsupportedMediaType)
    assert exc.message.startswith("part 'meta': unsupported Content-Type 'image/png'")
    assert exc.detail == {
        "part": "meta",
        "content_type": "image/png",
        "expected": "application/json",
    }


def test_text_part_honours_its_charset_and_names_the_part_when_it_lies() -> None:
    assert from_part(Text(), "日本".encode("utf-16"), "text/plain; charset=utf-16") == "日本"
    exc = part_error(Text(), b"caf\xe9", "text/plain", name="note")
    assert isinstance(exc, BadInput)
    assert exc.message.startswith("part 'note': part body is not valid utf-8: ")
    assert exc.detail["part"] == "note"
    assert exc.detail["byte_offset"] == 3


@pytest.mark.parametrize("body", [b"NaN", b"[1, Infinity]", b'{"a": -Infinity}'])
def test_json_refuses_nan_and_infinity_that_it_could_not_send_back(
    parse_error: Any, body: bytes
) -> None:
    # Python's json takes these tokens, but JSON renders with allow_nan=False: an echo API would
    # answer 500. They are not JSON (RFC 8259), so they are the client's 400.
    exc = parse_error(JSON(), body)
    assert "not valid JSON" in exc.message
    assert "not valid JSON" in part_error(JSON(), body).message
    # NumpyNdarray keeps taking them: NaN is a legitimate array value (and classic sends it back)
    assert from_part(NumpyNdarray(), b"[NaN, 1]", None)[1] == 1
