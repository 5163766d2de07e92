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
    ["text/markdown", "application/x-www-form-urlencoded", "application/json", "application/xml",
     "image/png", "application/octet-stream", "multipart/form-data; boundary=x"],
)  # fmt: skip
def test_any_content_type_is_read_as_in_classic(parse, content_type):
    assert parse(Text(), b"some text", content_type) == "some text"


def test_utf8_comes_first_as_in_classic_whatever_the_charset_says(parse):
    # classic decoded every body as UTF-8: a client that mislabels UTF-8 was served
    assert parse(Text(), "café".encode(), "text/plain; charset=ISO-8859-1") == "café"


def test_invalid_utf8_names_the_byte_offset(parse_error):
    exc = parse_error(Text(), b"abc\xffdef", "text/plain")
    assert "byte 3" in exc.message
    assert exc.detail["byte_offset"] == 3
    assert exc.detail["charset"] == "utf-8"


def test_invalid_bytes_in_utf8_and_the_declared_charset(parse_error):
    exc = parse_error(Text(), b"ab\x80", "text/plain; charset=ascii")
    assert "not valid utf-8 (nor ascii)" in exc.message
    assert exc.detail["byte_offset"] == 2


@pytest.mark.parametrize("charset", ["klingon-8", "base64", "utf\x00"])
def test_unknown_or_non_text_charset_is_ignored_as_in_classic(parse, charset):
    assert parse(Text(), b"abc", f"text/plain; charset={charset}") == "abc"


def test_idna_errors_are_400_not_500(parse_error):
    exc = parse_error(Text(), b"\xff", "text/plain; charset=idna")
    assert "idna" in exc.message


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
