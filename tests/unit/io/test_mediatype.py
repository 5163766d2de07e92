"""``parse_media_type``: Content-Type parsing, its cache, and the read-only parameters it shares."""

from __future__ import annotations

import dataclasses

import pytest

from bentoml_classic.io.mediatype import MediaType, parse_media_type


def test_type_subtype_and_params_are_parsed() -> None:
    parsed = parse_media_type("text/plain; charset=utf-8")
    assert parsed is not None
    assert (parsed.type, parsed.subtype, parsed.essence) == ("text", "plain", "text/plain")
    assert dict(parsed.params) == {"charset": "utf-8"}


def test_type_and_subtype_are_lower_cased_and_stripped() -> None:
    parsed = parse_media_type("  Application/JSON  ; Charset=UTF-8")
    assert parsed is not None
    assert parsed.essence == "application/json"
    assert parsed.is_json


def test_param_keys_are_lower_cased_values_keep_their_case_and_lose_quotes() -> None:
    parsed = parse_media_type(
        'multipart/form-data; BOUNDARY="----Abc123"; Charset = UTF-8 ;name="a b"'
    )
    assert parsed is not None
    assert dict(parsed.params) == {"boundary": "----Abc123", "charset": "UTF-8", "name": "a b"}


def test_params_without_a_value_are_dropped() -> None:
    parsed = parse_media_type("text/csv; header; ; charset=latin-1")
    assert parsed is not None
    assert dict(parsed.params) == {"charset": "latin-1"}


def test_no_params_gives_an_empty_mapping() -> None:
    parsed = parse_media_type("image/png")
    assert parsed is not None
    assert dict(parsed.params) == {}
    assert parsed.params.get("charset") is None


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "text", "text/", "/plain", "/", ";charset=utf-8", "  ; a=b", "json"],
)
def test_absent_or_invalid_headers_give_none(header: str | None) -> None:
    assert parse_media_type(header) is None


def test_the_same_header_gives_the_same_object() -> None:
    header = "application/vnd.test-cache+json; charset=utf-8; v=1"
    first = parse_media_type(header)
    assert first is not None
    assert parse_media_type(header) is first
    # an equal string built anew hits the same entry
    rebuilt = "".join(["application/vnd.test-cache+json; ", "charset=utf-8; v=1"])
    assert rebuilt is not header
    assert parse_media_type(rebuilt) is first
    assert first.is_json


def test_different_headers_give_different_objects() -> None:
    first = parse_media_type("text/plain; charset=utf-8")
    second = parse_media_type("text/plain; charset=latin-1")
    assert first is not None and second is not None
    assert first is not second
    assert first.params["charset"] == "utf-8"
    assert second.params["charset"] == "latin-1"


def test_params_are_read_only() -> None:
    parsed = parse_media_type("text/plain; charset=utf-8")
    assert parsed is not None
    with pytest.raises(TypeError):
        parsed.params["charset"] = "latin-1"  # type: ignore[index]
    with pytest.raises(TypeError):
        del parsed.params["charset"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        parsed.params.update(charset="latin-1")  # type: ignore[attr-defined]
    # the cached object every later request gets is unchanged
    again = parse_media_type("text/plain; charset=utf-8")
    assert again is parsed
    assert again.params["charset"] == "utf-8"


def test_media_type_fields_are_frozen() -> None:
    parsed = parse_media_type("text/plain")
    assert parsed is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.subtype = "html"  # type: ignore[misc]
    assert parse_media_type("text/plain").subtype == "plain"  # type: ignore[union-attr]


def test_default_params_are_read_only_too() -> None:
    media_type = MediaType("text", "plain")
    assert dict(media_type.params) == {}
    with pytest.raises(TypeError):
        media_type.params["charset"] = "utf-8"


@pytest.mark.parametrize(
    ("header", "pattern", "expected"),
    [
        ("image/png", "image/*", True),
        ("image/png", "*/*", True),
        ("image/png", "IMAGE/PNG", True),
        ("image/png", "image/jpeg", False),
        ("text/png", "image/*", False),
    ],
)
def test_matches(header: str, pattern: str, expected: bool) -> None:
    parsed = parse_media_type(header)
    assert parsed is not None
    assert parsed.matches(pattern) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", True),
        ("application/problem+json", True),
        ("text/json", False),
        ("application/jsonl", False),
    ],
)
def test_is_json(header: str, expected: bool) -> None:
    parsed = parse_media_type(header)
    assert parsed is not None
    assert parsed.is_json is expected


def test_spaces_around_the_slash_are_ignored() -> None:
    parsed = parse_media_type(" Text / Plain ; charset=utf-8")
    assert parsed is not None
    assert (parsed.type, parsed.subtype, parsed.essence) == ("text", "plain", "text/plain")
    assert parsed.params["charset"] == "utf-8"


@pytest.mark.parametrize(
    ("header", "params"),
    [
        ('text/plain; name="a;b"; charset=utf-8', {"name": "a;b", "charset": "utf-8"}),
        ('text/plain; name="say \\"hi\\"; now"', {"name": 'say "hi"; now'}),
        ('text/plain; name="back\\\\slash"', {"name": "back\\slash"}),
        ('multipart/form-data; boundary="a=b c"', {"boundary": "a=b c"}),
        ('text/plain; name=""', {"name": ""}),
    ],
)
def test_quoted_values_keep_semicolons_and_resolve_escapes(
    header: str, params: dict[str, str]
) -> None:
    parsed = parse_media_type(header)
    assert parsed is not None
    assert dict(parsed.params) == params
