"""JSON: any JSON value in the body, optionally validated by a pydantic v2 model.

pydantic and numpy are imported only when a model is declared or a value of theirs is rendered,
so a service that never uses them does not pay for importing them.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from ..exceptions import BadInput, InvalidArgument, excerpt
from ._fail_fast import fail_fast_validator
from ._fast_json import encode_as_stdlib
from .base import (
    REQUEST_BODY,
    JsonBodyDescriptor,
    load_json_body,
    require_nonempty,
)

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from starlette.responses import Response

_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9._-]")
#: errors listed in ``detail`` (the message names the first few and counts them all)
_MAX_ERRORS_IN_DETAIL = 20
#: beyond this many errors none is listed, only counted
_MAX_ERRORS_LISTED = 1000
#: characters of a key the client sent that an error repeats
_MAX_KEY_SHOWN = 100
_MAX_ERRORS_IN_MESSAGE = 3


class JSON(JsonBodyDescriptor[Any]):
    mime_type: ClassVar[str] = "application/json"

    def __init__(
        self,
        pydantic_model: type[BaseModel] | None = None,
        validate_json: bool | None = None,
        json_encoder: type[json.JSONEncoder] | None = None,
    ) -> None:
        if pydantic_model is not None:
            from pydantic import BaseModel

            if not (isinstance(pydantic_model, type) and issubclass(pydantic_model, BaseModel)):
                raise InvalidArgument(
                    f"JSON(pydantic_model=...) takes a pydantic.BaseModel subclass, "
                    f"got {pydantic_model!r}"
                )
        if validate_json is not None:
            warnings.warn(
                "JSON(validate_json=...) has no effect: a declared pydantic_model always validates",
                DeprecationWarning,
                stacklevel=2,
            )
        self.pydantic_model = pydantic_model
        #: built now, while the service module loads (one thread), if the model is complete;
        #: else on first use, when its forward references are resolved
        self._validator: Any = None
        if pydantic_model is not None and pydantic_model.__dict__.get("__pydantic_complete__"):
            self._validator = fail_fast_validator(pydantic_model)
        self.json_encoder = json_encoder
        self._encoder_cls = _with_fallback(json_encoder) if json_encoder is not None else None
        self._example: Any = None

    def __repr__(self) -> str:
        model = None if self.pydantic_model is None else self.pydantic_model.__name__
        return f"JSON(pydantic_model={model})"

    # -- input ---------------------------------------------------------------------------------

    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> Any:
        """JSON bytes -> value (model instance if declared): one path for bodies and parts.

        As in classic BentoML, ``json.loads`` reads the body (so a UTF-8 byte order mark,
        UTF-16/32 and Python's ``NaN`` / ``Infinity`` are taken) and the model validates the
        parsed value in pydantic's Python mode (``model_validate``), not its JSON mode, whose
        rules differ (strict models, JSON-only config such as base64 bytes).
        """
        obj = load_json_body(require_nonempty(body, where), where)
        return self.validate_value(obj, where)

    def validate_value(self, obj: Any, where: str = REQUEST_BODY) -> Any:
        """An already parsed JSON value (a gRPC ``google.protobuf.Value``) -> the value the
        function receives: the model's instance when one is declared."""
        if self.pydantic_model is None:
            return obj
        from pydantic import ValidationError

        if self._validator is None:
            self._validator = fail_fast_validator(self.pydantic_model)
        try:
            return self._validator.validate_python(obj)
        except ValidationError as exc:
            raise _validation_error(exc, self.pydantic_model.__name__, where) from None

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        return Response(self.render(obj), media_type=self.mime_type)

    def render(self, obj: Any) -> bytes:
        """Compact JSON bytes, as classic BentoML sends them (NaN and Infinity refused): msgspec's
        where they are the same bytes, else ``json.dumps``'s (``_fast_json``). A user's
        ``json_encoder`` is always the stdlib's."""
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(obj, pydantic.BaseModel):
            return cast(bytes, obj.model_dump_json().encode())
        options: dict[str, Any] = {"separators": (",", ":"), "allow_nan": False}
        if self._encoder_cls is not None:
            options["cls"] = self._encoder_cls
        else:
            fast = encode_as_stdlib(obj, default_json)
            if fast is not None:
                return fast
            options["default"] = default_json
        text = json.dumps(obj, ensure_ascii=False, **options)
        try:
            return text.encode()
        except UnicodeEncodeError:
            # A lone surrogate (json.loads accepts "\ud800") cannot be UTF-8; escaped it can.
            return json.dumps(obj, ensure_ascii=True, **options).encode()

    # -- documentation -------------------------------------------------------------------------

    def to_spec(self) -> dict[str, Any]:
        # the model itself cannot travel: a client gets plain JSON back, as classic's did
        return {
            "id": "bentoml.io.JSON",
            "args": {
                "has_pydantic_model": self.pydantic_model is not None,
                "has_json_encoder": self.json_encoder is not None,
            },
        }

    def openapi_schema(self) -> dict[str, Any]:
        if self.pydantic_model is None:
            return {}
        ref, _ = self._model_schemas()
        return ref

    def openapi_components(self) -> dict[str, Any]:
        if self.pydantic_model is None:
            return {}
        _, components = self._model_schemas()
        return components

    def _model_schemas(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``$ref`` to the model plus every named schema it needs, for ``components.schemas``."""
        model = self.pydantic_model
        assert model is not None
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components: dict[str, Any] = schema.pop("$defs", {})
        if "$ref" in schema:  # a self-referencing model is itself one of the $defs
            return {"$ref": schema["$ref"]}, components
        name = _COMPONENT_NAME.sub("_", model.__name__)
        components[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}, components

    def openapi_example(self) -> Any:
        return self._example

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> JSON:
        """A pydantic instance declares its model; any other JSON-ready value is just an example."""
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(sample, pydantic.BaseModel):
            descriptor = cls(pydantic_model=type(sample), **kwargs)
            descriptor._example = sample.model_dump(mode="json")
            return descriptor
        try:
            example = json.loads(json.dumps(sample, default=default_json, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"JSON.from_sample needs a JSON-ready value: {exc}") from None
        descriptor = cls(**kwargs)
        descriptor._example = example
        return descriptor


def default_json(obj: Any) -> Any:
    """``json.dumps`` hook for the values API functions commonly return besides plain JSON."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(obj, pydantic.BaseModel):
        return obj.model_dump(mode="json")
    np = sys.modules.get("numpy")
    if np is not None:
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, np.generic):
            return obj.item()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _with_fallback(encoder: type[json.JSONEncoder]) -> type[json.JSONEncoder]:
    """The user's encoder first; what it gives up on goes to ``default_json``."""

    class Encoder(encoder):  # type: ignore[misc, valid-type]
        def default(self, o: Any) -> Any:
            try:
                return super().default(o)
            except TypeError:
                return default_json(o)

    return Encoder


def _validation_error(exc: ValidationError, model_name: str, where: str) -> BadInput:
    count = exc.error_count()
    if count > _MAX_ERRORS_LISTED:
        # Listing them costs hundreds of bytes and microseconds each: a 1 MB list of wrong
        # items made 500,000 errors, 290 MB and 8 s to list. The count says enough.
        return BadInput(
            f"{where} failed validation against {model_name} ({count} errors, too many to list)",
            detail={"errors": count},
        )
    # No input values (they may be large or sensitive) and no ctx (it can hold exceptions).
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    # A location can hold a key the client sent, of any length; and a long list can fail on
    # every item: the body lists the first errors, each location cut to an excerpt.
    detail = [
        {"loc": [_loc_part(part) for part in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in errors[:_MAX_ERRORS_IN_DETAIL]
    ]
    parts = [f"{_loc_text(e['loc'])}: {e['msg']}" for e in detail[:_MAX_ERRORS_IN_MESSAGE]]
    if len(errors) > _MAX_ERRORS_IN_MESSAGE:
        parts.append(f"and {len(errors) - _MAX_ERRORS_IN_MESSAGE} more")
    plural = "s" if len(errors) != 1 else ""
    return BadInput(
        f"{where} failed validation against {model_name} "
        f"({len(errors)} error{plural}): " + "; ".join(parts),
        detail=detail,
    )


def _loc_part(part: int | str) -> int | str:
    return part if isinstance(part, int) else excerpt(part, _MAX_KEY_SHOWN)


def _loc_text(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) if loc else "body"
