"""``torch.Tensor`` parameters and returns, as the BentoML 1.2 guide lists them: nested lists
on the wire, a tensor in the method."""

from __future__ import annotations

import asyncio
import json

import pytest

from bentoml_classic.exceptions import BadInput
from bentoml_classic.io.typed import input_for, output_for

torch = pytest.importorskip("torch")


class Classifier:
    def classify(self, features: torch.Tensor, top: int = 1) -> torch.Tensor:
        return features.sum(dim=-1)


def test_a_tensor_parameter_and_return() -> None:
    args = input_for(Classifier.classify).from_json(b'{"features": [[0.5, 1.5], [2, 3]]}')
    assert isinstance(args["features"], torch.Tensor)
    assert args["features"].shape == (2, 2) and args["top"] == 1
    result = Classifier().classify(**args)
    response = asyncio.run(output_for(Classifier.classify).to_http_response(result))
    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.body) == [2.0, 5.0]


def test_a_bad_tensor_is_a_400_naming_the_field() -> None:
    with pytest.raises(BadInput) as info:
        input_for(Classifier.classify).from_json(b'{"features": [[1], [2, 3]]}')
    assert info.value.detail[0]["loc"] == ["features"]
    schema = input_for(Classifier.classify).openapi_components()["Classifier.classify.Input"]
    assert schema["properties"]["features"]["type"] == "array"
    assert output_for(Classifier.classify).openapi_schema()["type"] == "array"
