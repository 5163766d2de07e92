from __future__ import annotations

import jsonschema
import pytest

from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.io import Text


def test_utf8_by_default(parse):
    assert parse(Text(), "héllo wörld ✓".encode(), "text/plain") == "héllo wörld ✓"
    assert parse(Text(), "naïve".encode(), None) == "naïve"


def test_declared_charset_is_used(parse):
    assert parse(Text(), "café".encode("latin-1"), "text/plain; charset=ISO-8859-1") == "café"
    assert parse(Text(), "日本".encode("utf-16"), 'text/plain; charset="utf-16"') == "日本"


def test_empty_body_is_the_empty_string(parse):
    assert parse(Text(), b"", "text/plain") == ""


@pytest.mark.parametrize(
    "content_type",
    ["text/markdown", "application/x-www-form-urlencoded", "application/json", "application/xml"],
)
def test_textual_content_types_are_accepted(parse, content_type):
    assert parse(Text(), b"some text", content_type) == "some text"


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/octet-stream", "multipart/form-data; boundary=x"]
)
def test_binary_content_types_are_415(parse_error, content_type):
    exc = parse_error(Text(), b"abc", content_type, status=415)
    assert content_type.split(";")[0] in exc.message
    assert exc.detail["expected"] == "text/plain"


def test_invalid_utf8_names_the_byte_offset(parse_error):
    exc = parse_error(Text(), b"abc\xffdef", "text/plain")
    assert "byte 3" in exc.message
    assert exc.detail["byte_offset"] == 3
    assert exc.detail["charset"] == "utf-8"


def test_invalid_bytes_in_a_declared_charset(parse_error):
    exc = parse_error(Text(), b"ab\x80", "text/plain; charset=ascii")
    assert "ascii" in exc.message
    assert exc.detail["byte_offset"] == 2


@pytest.mark.parametrize("charset", ["klingon-8", "base64", "utf\x00"])
def test_unknown_or_non_text_charset_is_415(parse_error, charset):
    exc = parse_error(Text(), b"abc", f"text/plain; charset={charset}", status=415)
    assert "charset" in exc.message
    assert exc.detail["charset"] == charset


def test_idna_errors_are_400_not_500(parse_error):
    exc = parse_error(Text(), b"\xff", "text/plain; charset=idna")
    assert exc.detail["charset"] == "idna"


def test_output_is_utf8_plain_text(render):
    response = render(Text(), "résumé ✓")
    assert response.body == "résumé ✓".encode()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize("bad", [b"bytes", 42, None, ["a"]])
def test_output_refuses_non_strings(render, bad):
    with pytest.raises(TypeError, match="str"):
        render(Text(), bad)


def test_schema_and_sample():
    schema = Text().openapi_schema()
    assert schema == {"type": "string"}
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.Draft202012Validator(schema).is_valid("hello")
    assert not jsonschema.Draft202012Validator(schema).is_valid(1)
    media = Text.from_sample("Hello, world").openapi_request_body()["content"]["text/plain"]
    assert media == {"schema": {"type": "string"}, "example": "Hello, world"}
    assert "example" not in Text().openapi_request_body()["content"]["text/plain"]


def test_from_sample_takes_only_strings():
    with pytest.raises(InvalidArgument):
        Text.from_sample(b"bytes")


def test_empty_charset_parameter_means_the_default(parse):
    assert parse(Text(), "ü".encode(), "text/plain; charset=") == "ü"
