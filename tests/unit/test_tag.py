"""Names and ``name:version`` tags: validation, case folding, parsing and printing."""

from __future__ import annotations

import logging

import pytest

from bentoml_classic.exceptions import InvalidArgument
from bentoml_classic.tag import MAX_NAME_LENGTH, Tag, validate_name


@pytest.mark.parametrize(
    "name",
    ["a", "0", "iris_clf", "iris-clf", "iris.clf", "a1.b-c_d", "a" * MAX_NAME_LENGTH, "v1.0.2"],
)
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert validate_name(name) == name


def test_max_name_length_is_63() -> None:
    assert MAX_NAME_LENGTH == 63
    assert validate_name("a" * 63) == "a" * 63
    with pytest.raises(InvalidArgument, match="at most 63"):
        validate_name("a" * 64)


@pytest.mark.parametrize(
    "name",
    ["", "-a", "a-", ".a", "a.", "_a", "a_", "a b", "a/b", "a:b", "a@b", "é", "a\tb", " a"],
)
def test_invalid_names_are_refused_with_the_name_quoted(name: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        validate_name(name, "model name")
    assert repr(name) in str(info.value)
    assert "model name" in str(info.value)


# Regression: the name pattern ended in `$`, which also matches before a trailing "\n", so
# `validate_name("abc\n")` returned "abc\n" instead of raising; names are now matched whole.
@pytest.mark.parametrize("name", ["abc\n", "iris_clf\n"])
def test_trailing_newline_is_refused(name: str) -> None:
    with pytest.raises(InvalidArgument):
        validate_name(name)


@pytest.mark.parametrize("value", [None, 1, 1.5, b"abc", ["abc"], object()])
def test_non_strings_are_refused_naming_the_type(value: object) -> None:
    with pytest.raises(InvalidArgument, match="must be a string") as info:
        validate_name(value, "runner name")
    assert type(value).__name__ in str(info.value)
    assert "runner name" in str(info.value)


def test_upper_case_is_folded_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bentoml_classic.tag"):
        assert validate_name("IrisClf", "model name") == "irisclf"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "'IrisClf'" in message
    assert "'irisclf'" in message


def test_lower_case_name_logs_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bentoml_classic.tag"):
        validate_name("irisclf")
    assert caplog.records == []


def test_upper_case_with_invalid_characters_is_still_refused() -> None:
    with pytest.raises(InvalidArgument):
        validate_name("Iris Clf")


def test_tag_folds_name_and_version(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bentoml_classic.tag"):
        tag = Tag("IrisClf", "V1")
    assert tag == Tag("irisclf", "v1")
    assert tag.name == "irisclf"
    assert tag.version == "v1"
    assert len(caplog.records) == 2


def test_tag_without_version() -> None:
    tag = Tag("iris_clf")
    assert tag.version is None
    assert str(tag) == "iris_clf"


@pytest.mark.parametrize(("name", "version"), [("", None), ("a b", None), ("a", ""), ("a", "-x")])
def test_tag_validates_its_parts(name: str, version: str | None) -> None:
    with pytest.raises(InvalidArgument):
        Tag(name, version)


def test_tag_is_frozen_and_hashable() -> None:
    tag = Tag("a", "v1")
    with pytest.raises(AttributeError):
        tag.name = "b"  # type: ignore[misc]
    assert {tag, Tag("a", "v1")} == {Tag("a", "v1")}


@pytest.mark.parametrize(
    ("text", "name", "version"),
    [
        ("iris_clf", "iris_clf", None),
        ("iris_clf:latest", "iris_clf", "latest"),
        ("iris_clf:abc123", "iris_clf", "abc123"),
        ("Iris:V2", "iris", "v2"),
    ],
)
def test_from_str(text: str, name: str, version: str | None) -> None:
    tag = Tag.from_str(text)
    assert (tag.name, tag.version) == (name, version)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a:", "empty version"),
        ("a:b:c", "more than one"),
        ("", "expected 'name' or 'name:version'"),
        (":", "empty version"),
    ],
)
def test_from_str_refuses(text: str, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match) as info:
        Tag.from_str(text)
    assert repr(text) in str(info.value)


def test_from_str_refuses_empty_name() -> None:
    with pytest.raises(InvalidArgument, match="invalid tag name ''"):
        Tag.from_str(":v")


@pytest.mark.parametrize("value", [None, 3, b"a:b"])
def test_from_str_refuses_non_strings(value: object) -> None:
    with pytest.raises(InvalidArgument):
        Tag.from_str(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["a", "a:b", "iris_clf:20240101.abc", "x-y.z:v_1"])
def test_str_round_trip(text: str) -> None:
    tag = Tag.from_str(text)
    assert str(tag) == text
    assert Tag.from_str(str(tag)) == tag


def test_from_taglike_returns_tags_unchanged() -> None:
    tag = Tag("a", "b")
    assert Tag.from_taglike(tag) is tag


def test_from_taglike_parses_strings() -> None:
    assert Tag.from_taglike("a:b") == Tag("a", "b")
    assert Tag.from_taglike("a") == Tag("a")


def test_from_taglike_refuses_garbage() -> None:
    with pytest.raises(InvalidArgument):
        Tag.from_taglike("a:b:c")
    with pytest.raises(InvalidArgument):
        Tag.from_taglike(42)  # type: ignore[arg-type]
