"""A JSON object whose keys are the parameters, validated by the model generated from the
signature: defaults, Optional, nested models, containers, arrays with the annotation's dtype,
DataFrames, **kwargs, and 400s naming the field."""

from __future__ import annotations

import typing as t
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, Field

from bentoml_classic.exceptions import BadInput
from bentoml_classic.io.typed import TypedArguments, input_for


class Inner(BaseModel):
    label: str
    weight: float = 1.0


class Params(BaseModel):
    prompt: str
    negative_prompt: t.Optional[str]  # noqa: UP045 (the guide's spelling)
    controlnet_conditioning_scale: float = 0.5
    num_inference_steps: int = 25
    inner: Inner | None = None


class Svc:
    async def generate(self, prompt: str, arr: np.ndarray[t.Any, np.uint8], **kwargs: t.Any):  # type: ignore[no-untyped-def]
        ...

    def typed_dtype(self, arr: np.ndarray[t.Any, np.dtype[np.float32]]) -> None: ...

    def any_array(self, arr: np.ndarray, masks: list[np.ndarray] | None = None) -> None: ...

    def annotated_array(
        self, arr: t.Annotated[np.ndarray[t.Any, np.int8], Field(description="pixels")]
    ) -> None: ...

    def defaults(
        self,
        text: str,
        temperature: float = Field(default=0.0, ge=0, le=2, description="sampling temperature"),
        max_tokens: t.Optional[int] = None,  # noqa: UP045
        tags: list[str] = [],  # noqa: B006
        extra: dict[str, float] | None = None,
    ) -> None: ...

    def nested(self, params: Params, history: list[Inner] = []) -> None:  # noqa: B006
        ...

    def awkward_names(
        self, json: dict[str, int], model_config: int, copy: bool = False
    ) -> None: ...

    def frame(self, df: pd.DataFrame) -> None: ...

    def nothing(self) -> None: ...


def parse_json(method: Callable[..., Any], body: bytes | str) -> TypedArguments:
    data = body.encode() if isinstance(body, str) else body
    return input_for(method).from_json(data)


def refused(method: Callable[..., Any], body: bytes | str) -> BadInput:
    with pytest.raises(BadInput) as info:
        parse_json(method, body)
    assert info.value.status_code == 400
    return info.value


def test_the_guides_ndarray_annotation_gives_the_dtype_and_kwargs_take_the_rest() -> None:
    args = parse_json(Svc.generate, '{"prompt": "a cat", "arr": [[1, 2], [3, 4]], "seed": 7}')
    assert list(args) == ["prompt", "arr", "seed"]
    assert args["prompt"] == "a cat" and args["seed"] == 7
    assert args["arr"].dtype == np.uint8 and args["arr"].tolist() == [[1, 2], [3, 4]]
    typed = parse_json(Svc.typed_dtype, '{"arr": [1, 2.5]}')["arr"]
    assert typed.dtype == np.float32 and typed.tolist() == [1.0, 2.5]


def test_an_annotated_array_keeps_its_dtype_and_description() -> None:
    descriptor = input_for(Svc.annotated_array)
    assert descriptor.from_json(b'{"arr": [1, -2]}')["arr"].dtype == np.int8
    schema = descriptor.openapi_components()["Svc.annotated_array.Input"]["properties"]["arr"]
    assert schema["description"] == "pixels" and schema["x-numpy-dtype"] == "int8"


def test_an_array_without_dtype_is_what_numpy_makes_and_arrays_nest_in_containers() -> None:
    args = parse_json(Svc.any_array, '{"arr": [1.5, 2], "masks": [[true, false], [1, 0]]}')
    assert args["arr"].dtype == np.float64
    assert [m.dtype for m in args["masks"]] == [np.bool_, np.int64]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('{"prompt": "x", "arr": [300]}', "arr", "out of bounds for uint8"),
        ('{"prompt": "x", "arr": "pixels"}', "arr", "expected an array"),
        ('{"prompt": "x", "arr": [[1], [2, 3]]}', "arr", "cannot be read as an array of uint8"),
        ('{"arr": [1]}', "prompt", "Field required"),
        ('{"prompt": 5, "arr": [1]}', "prompt", "valid string"),
    ],
)
def test_a_missing_or_mistyped_field_is_a_400_naming_it(body: str, field: str, words: str) -> None:
    exc = refused(Svc.generate, body)
    assert exc.detail[0]["loc"] == [field]
    assert f"{field}: " in exc.message and words in exc.message
    assert "Svc.generate" in exc.message


def test_a_huge_array_of_strings_is_refused_before_numpy_pads_it() -> None:
    body = '{"arr": ["' + "x" * 100_000 + '"' + ', "y"' * 200 + "]}"
    exc = refused(Svc.any_array, body)
    assert exc.detail[0]["loc"] == ["arr"] and "MiB" in exc.message
    assert len(exc.message) < 400


def test_defaults_optional_and_field_constraints() -> None:
    args = parse_json(Svc.defaults, '{"text": "hi"}')
    assert args == {"text": "hi", "temperature": 0.0, "max_tokens": None, "tags": [], "extra": None}
    args = parse_json(Svc.defaults, '{"text": "hi", "max_tokens": 9, "extra": {"a": 1}}')
    assert args["max_tokens"] == 9 and args["extra"] == {"a": 1.0}
    exc = refused(Svc.defaults, '{"text": "hi", "temperature": 3}')
    assert exc.detail[0]["loc"] == ["temperature"]
    # without **kwargs an unknown key is ignored, as pydantic ignores it
    assert "bogus" not in parse_json(Svc.defaults, '{"text": "hi", "bogus": 1}')


def test_nested_models_are_instances_and_their_errors_name_the_path() -> None:
    args = parse_json(
        Svc.nested,
        '{"params": {"prompt": "p", "negative_prompt": null, "inner": {"label": "l"}},'
        ' "history": [{"label": "a", "weight": 2}]}',
    )
    params = args["params"]
    assert isinstance(params, Params) and params.num_inference_steps == 25
    assert params.inner == Inner(label="l")
    assert args["history"] == [Inner(label="a", weight=2.0)]
    exc = refused(Svc.nested, '{"params": {"prompt": "p", "negative_prompt": null, "inner": {}}}')
    assert exc.detail[0]["loc"] == ["params", "inner", "label"]


def test_parameters_may_be_named_like_pydantic_attributes() -> None:
    args = parse_json(Svc.awkward_names, '{"json": {"a": 1}, "model_config": 2}')
    assert args == {"json": {"a": 1}, "model_config": 2, "copy": False}


def test_a_dataframe_is_records_or_columns() -> None:
    records = parse_json(Svc.frame, '{"df": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}')["df"]
    columns = parse_json(Svc.frame, '{"df": {"a": [1, 2], "b": ["x", "y"]}}')["df"]
    assert isinstance(records, pd.DataFrame)
    pd.testing.assert_frame_equal(records, columns)
    assert refused(Svc.frame, '{"df": 3}').detail[0]["loc"] == ["df"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("[1, 2]", "must be a JSON object"),
        ("{nope", "invalid JSON in request body"),
        (b"\xff\xfe{", "request body"),
    ],
)
def test_a_body_that_is_no_json_object_is_a_400(body: bytes | str, words: str) -> None:
    assert words in refused(Svc.defaults, body).message


def test_an_empty_body_is_an_empty_object() -> None:
    assert parse_json(Svc.nothing, b"") == {}
    assert parse_json(Svc.nothing, b" \r\n") == {}
    assert refused(Svc.defaults, b"").detail[0]["loc"] == ["text"]


def test_validation_errors_do_not_echo_long_keys_or_values() -> None:
    long_key = "k" * 10_000
    exc = refused(Svc.nested, '{"params": {"' + long_key + '": 1, "prompt": 5}}')
    assert len(str(exc.to_payload())) < 3_000


def test_requests_through_from_http_request(parse: Any, parse_error: Any) -> None:
    descriptor = input_for(Svc.defaults)
    assert parse(descriptor, '{"text": "x"}')["text"] == "x"
    assert parse(descriptor, '{"text": "x"}', "text/plain")["text"] == "x"
    assert parse_error(descriptor, '{"text": 1}').detail[0]["loc"] == ["text"]
