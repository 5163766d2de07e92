"""Stand-in for ``io/typed`` (brief L) until it lands: a JSON object of the parameters in, JSON
out. Deleted when the real contract is merged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..exceptions import BadInput, BentoMLException
from ..io.base import REQUEST_BODY
from ..io.json import JSON


class SignatureError(BentoMLException):
    pass


class _ParamsJSON(JSON):
    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> Any:
        value = super().parse_bytes(body, where)
        if not isinstance(value, dict):
            raise BadInput("the request body must be a JSON object of the API's parameters")
        return value


def input_for(func: Callable[..., Any]) -> Any:
    return _ParamsJSON()


def output_for(func: Callable[..., Any]) -> Any:
    return JSON()
