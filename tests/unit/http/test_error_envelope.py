"""The error envelope is strict JSON whatever its ``detail`` quotes."""

from __future__ import annotations

import json

from bentoml_classic.exceptions import BadInput
from bentoml_classic.http.errors import error_response


def _strict(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_detail_quoting_nan_or_infinity_stays_strict_json() -> None:
    detail = {"row": 3, "value": float("nan"), "bounds": [float("-inf"), 1.5, (float("inf"),)]}
    response = error_response(BadInput("out of range", detail=detail))
    body = _strict(bytes(response.body).decode())
    assert body == {
        "error": {
            "type": "BadInput",
            "message": "out of range",
            "detail": {"row": 3, "value": "nan", "bounds": ["-inf", 1.5, ["inf"]]},
        }
    }
    assert response.status_code == 400


def test_an_ordinary_envelope_is_unchanged() -> None:
    response = error_response(BadInput("bad", detail={"field": "x", "expected": 1.0}))
    assert bytes(response.body).decode() == (
        '{"error": {"type": "BadInput", "message": "bad", '
        '"detail": {"field": "x", "expected": 1.0}}}'
    )
