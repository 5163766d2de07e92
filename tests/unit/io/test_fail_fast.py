"""``io._fail_fast`` and the bounds on JSON validation errors: a body with a great many wrong
items is refused after the first wrong item of each list, at a small cost, with a short answer."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, Field, field_validator, model_validator

from bentoml_classic.exceptions import BadInput
from bentoml_classic.io import JSON
from bentoml_classic.io._fail_fast import fail_fast_validator


class Part(BaseModel):
    sizes: list[int]


class Order(BaseModel):
    name: str = Field(max_length=20)
    tags: list[str] = []
    parts: list[Part] = []
    codes: tuple[int, ...] = ()
    seen: list[str] = []

    @field_validator("name")
    @classmethod
    def shout(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def remember(self) -> Order:
        self.seen = [*self.seen, "after"]
        return self


VALID = [
    b'{"name": "a"}',
    b'{"name": "b", "tags": ["x", "y"], "parts": [{"sizes": [1, 2]}], "codes": [3, 4]}',
]


@pytest.mark.parametrize("body", VALID)
def test_valid_bodies_give_what_the_model_gives(body: bytes) -> None:
    fast = fail_fast_validator(Order).validate_json(body)
    assert type(fast) is Order
    assert fast == Order.model_validate_json(body)
    assert fast.name.isupper() and fast.seen == ["after"]


def test_each_list_reports_its_first_bad_item_only() -> None:
    body = json.dumps(
        {"name": "n", "tags": [1] * 10_000, "parts": [{"sizes": ["x"] * 100}] * 100}
    ).encode()
    with pytest.raises(Exception) as caught:
        fail_fast_validator(Order).validate_json(body)
    assert caught.value.error_count() <= 3  # type: ignore[attr-defined]
    with pytest.raises(Exception) as full:
        Order.model_validate_json(body)
    assert full.value.error_count() > 10_000  # type: ignore[attr-defined]


def test_the_models_own_validator_is_left_as_it_was() -> None:
    fail_fast_validator(Order)
    assert Order.__pydantic_complete__ is True and Part.__pydantic_complete__ is True
    with pytest.raises(Exception) as caught:
        Order.model_validate_json(json.dumps({"name": "n", "tags": [1, 2, 3]}))
    assert caught.value.error_count() == 3  # type: ignore[attr-defined]


def test_a_body_of_many_wrong_items_gets_a_short_400() -> None:
    body = json.dumps({"name": "n", "tags": [1] * 200_000}).encode()
    with pytest.raises(BadInput) as caught:
        JSON(pydantic_model=Order).parse_bytes(body)
    assert "tags.0" in caught.value.message
    assert len(json.dumps(caught.value.to_payload())) < 1000


class Counts(BaseModel):
    counts: dict[str, int]


def test_more_errors_than_can_be_listed_are_counted() -> None:
    body = json.dumps({"counts": {f"k{i}": "x" for i in range(3000)}}).encode()
    with pytest.raises(BadInput) as caught:
        JSON(pydantic_model=Counts).parse_bytes(body)
    assert "3000 errors, too many to list" in caught.value.message
    assert caught.value.detail == {"errors": 3000}


def test_a_long_key_is_cut_in_the_error() -> None:
    class Strict(BaseModel, extra="forbid"):
        a: int = 0

    body = json.dumps({"k" * 100_000: 1}).encode()
    with pytest.raises(BadInput) as caught:
        JSON(pydantic_model=Strict).parse_bytes(body)
    assert len(json.dumps(caught.value.to_payload())) < 1000
