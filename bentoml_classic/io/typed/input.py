"""The request side of a class service's API: the body whose keys are the method's parameters.

A JSON object validated by the model generated from the signature, or, when a parameter is a file
(``PIL.Image.Image``, ``pathlib.Path``, a file object), a multipart/form-data body with one part
per parameter. A JSON API also takes its values as form fields (each field as its multipart part
would be read), as ``curl -F`` sends them. Decoding gives ``TypedArguments``, the dict the method
is called with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ...exceptions import BadInput, UnsupportedMediaType
from .._fail_fast import fail_fast_validator
from .._form import FORM_DATA, check_boundary, read_parts
from ..base import (
    REQUEST_BODY,
    IODescriptor,
    Part,
    json_type_name,
    load_json_body,
    request_media_type,
)
from ..json import _validation_error
from ._hints import FILE_KINDS, Signature
from ._model import build_model, component_name
from ._parts import field_value, file_value
from ._uploads import TypedArguments, UploadFolder

if TYPE_CHECKING:
    from pydantic import ValidationError
    from starlette.requests import Request
    from starlette.responses import Response

    from ..file import File
    from ..image import Image

#: bodies larger than this are split into parts in a worker thread
_SPLIT_IN_THREAD = 1 << 20
_BINARY = {"type": "string", "format": "binary"}
_MULTIPART_BODY = "multipart body"


class TypedInput(IODescriptor[dict[str, Any]]):
    """Decodes a request into ``{parameter: value}`` for one ``@bentoml.api`` method."""

    mime_type: ClassVar[str] = "application/json"

    def __init__(self, signature: Signature) -> None:
        self.signature = signature
        #: the parameter that receives the request Context, which the runtime fills
        self.context_param = signature.context_param
        #: the ``**kwargs`` parameter: body keys that name no parameter go there
        self.var_keyword = signature.var_keyword
        self.multipart = signature.has_files
        self.json_params = [p.name for p in signature.params if p.kind not in FILE_KINDS]
        self.model = build_model(signature, self.json_params)
        self._validator = fail_fast_validator(self.model)
        from pydantic import ValidationError

        # looked up once: pydantic's lazy module attributes cost microseconds per request
        self._invalid: type[ValidationError] = ValidationError
        self._fields = {f"f{i}": name for i, name in enumerate(self.json_params)}
        self._image: Image | None = None
        self._file: File | None = None
        kinds = {p.kind for p in signature.params}
        if "image" in kinds:
            from ..image import Image

            self._image = Image()
        if "file" in kinds:
            from ..file import File

            self._file = File()
        if self.multipart:
            self.mime_type = FORM_DATA  # type: ignore[misc]
            statuses = {400, 415}
            if self._image is not None:
                statuses |= self._image.input_error_statuses
            self.input_error_statuses = frozenset(statuses)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"TypedInput({self.signature.method})"

    # -- input ---------------------------------------------------------------------------------

    async def from_http_request(self, request: Request) -> TypedArguments:
        media_type = request_media_type(request)
        if media_type is not None and media_type.essence == FORM_DATA:
            boundary = check_boundary(media_type.params.get("boundary"))
            return await self.from_form(await request.body(), boundary)
        if self.multipart:
            received = media_type.essence if media_type else None
            files = [p.name for p in self.signature.params if p.kind in FILE_KINDS]
            raise UnsupportedMediaType(
                f"unsupported Content-Type {received!r}: this API reads {FORM_DATA}, one part per "
                f"parameter, since {', '.join(repr(f) for f in files)} "
                f"{'is a file' if len(files) == 1 else 'are files'}",
                detail={"content_type": received, "expected": FORM_DATA, "files": files},
            )
        return self.from_json(await request.body())

    def from_json(self, body: bytes, where: str = REQUEST_BODY) -> TypedArguments:
        """A JSON object of the parameters; an empty body is ``{}`` (every parameter defaulted)."""
        obj = {} if not body or body.isspace() else load_json_body(body, where)
        if not isinstance(obj, dict):
            raise BadInput(
                f"{where} must be a JSON object whose keys are the parameters "
                f"{self.json_params}, got {json_type_name(obj)}",
                detail={"expected": "object", "received": json_type_name(obj)},
            )
        return self.validate(obj, where)

    async def from_form(self, body: bytes, boundary: bytes) -> TypedArguments:
        names = [p.name for p in self.signature.params]
        if len(body) > _SPLIT_IN_THREAD:
            from starlette.concurrency import run_in_threadpool

            parts = await run_in_threadpool(read_parts, body, boundary, names)
        else:
            parts = read_parts(body, boundary, names)
        return await self.from_parts(parts)

    async def from_parts(self, parts: dict[str, Part]) -> TypedArguments:
        values: dict[str, Any] = {}
        files: dict[str, Any] = {}
        missing: list[str] = []
        uploads: UploadFolder | None = None
        try:
            for param in self.signature.params:
                part = parts.get(param.name)
                if part is None:
                    if param.kind in FILE_KINDS:
                        if param.required:
                            missing.append(param.name)
                        else:
                            files[param.name] = param.default_value
                    continue
                if param.kind not in FILE_KINDS:
                    values[param.name] = field_value(param, part)
                    continue
                if param.kind == "path" and uploads is None:
                    uploads = UploadFolder()
                files[param.name] = await file_value(
                    param,
                    part,
                    self._image,
                    self._file,
                    uploads,  # type: ignore[arg-type]
                )
            if missing:
                expected = [p.name for p in self.signature.params]
                raise BadInput(
                    f"{_MULTIPART_BODY} has no part named {', '.join(repr(m) for m in missing)}"
                    f" (a file); the parts of this API are {expected}",
                    detail={"missing": missing},
                )
            if self.var_keyword is not None:
                for name, part in parts.items():
                    if name not in values and name not in files and name != self.context_param:
                        values[name] = field_value(_extra_param(name), part)
            arguments = self.validate(values, _MULTIPART_BODY)
        except BaseException:
            if uploads is not None:
                uploads.remove()
            raise
        arguments.update(files)
        arguments.upload_folder = uploads
        return arguments

    def validate(self, obj: dict[str, Any], where: str = REQUEST_BODY) -> TypedArguments:
        """Already parsed values -> the arguments: the generated model validates them."""
        try:
            instance = self._validator.validate_python(obj)
        except self._invalid as exc:
            raise _validation_error(
                exc, f"the parameters of {self.signature.method}", where
            ) from None
        values = instance.__dict__  # the fields, by their internal names
        arguments = TypedArguments({name: values[field] for field, name in self._fields.items()})
        extra = instance.__pydantic_extra__
        if extra:
            for key, value in extra.items():
                if key != self.context_param:
                    arguments[key] = value
        return arguments

    async def to_http_response(self, obj: Any) -> Response:
        raise NotImplementedError("TypedInput reads requests; output_for() renders responses")

    # -- documentation -------------------------------------------------------------------------

    def openapi_schema(self) -> dict[str, Any]:
        if not self.multipart:
            return {"$ref": f"#/components/schemas/{self._name}"}
        model_schema = self._model_schema()
        properties: dict[str, Any] = dict(model_schema.get("properties", {}))
        required = set(model_schema.get("required", []))
        for param in self.signature.params:
            if param.kind in FILE_KINDS:
                properties[param.name] = {**_BINARY, "title": param.name}
                if param.description:
                    properties[param.name]["description"] = param.description
                if param.required:
                    required.add(param.name)
        ordered = {p.name: properties[p.name] for p in self.signature.params}
        schema: dict[str, Any] = {"type": "object", "properties": ordered}
        if required:
            schema["required"] = [p.name for p in self.signature.params if p.name in required]
        if self.var_keyword is not None:
            schema["additionalProperties"] = True
        return schema

    def openapi_request_body(self) -> dict[str, Any]:
        media: dict[str, Any] = {"schema": self.openapi_schema()}
        if self.multipart:
            media["encoding"] = {
                p.name: {"contentType": _part_types(p)} for p in self.signature.params
            }
        return {"required": not self._all_optional(), "content": {self.mime_type: media}}

    def openapi_components(self) -> dict[str, Any]:
        schema = self._model_schema()
        components: dict[str, Any] = schema.pop("$defs", {})
        if not self.multipart:
            components[self._name] = schema
        return components

    def to_spec(self) -> dict[str, Any]:
        """Classic's ids (a JSON body, or a Multipart of Image / File / JSON / Text parts), so
        classic BentoML's client can call the API; ``inferred_from`` says where it came from."""
        inferred = {"inferred_from": f"type hints of {self.signature.method}"}
        if not self.multipart:
            return {
                "id": "bentoml.io.JSON",
                "args": {"has_pydantic_model": True, "has_json_encoder": False},
                **inferred,
            }
        parts = {p.name: _part_spec(p, self) for p in self.signature.params}
        return {"id": "bentoml.io.Multipart", "args": parts, **inferred}

    @property
    def _name(self) -> str:
        return component_name(self.signature.method, "Input")

    def _model_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = self.model.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        schema["title"] = self._name
        return schema

    def _all_optional(self) -> bool:
        return not any(p.required for p in self.signature.params)


def _extra_param(name: str) -> Any:
    from ._hints import EMPTY, Param

    return Param(name, Any, EMPTY, "json")


def _part_types(param: Any) -> str:
    if param.kind == "image":
        return "image/*"
    if param.kind in FILE_KINDS:
        return "application/octet-stream, */*"
    return "text/plain" if param.plain_text else "application/json"


def _part_spec(param: Any, descriptor: TypedInput) -> dict[str, Any]:
    if param.kind == "image":
        assert descriptor._image is not None
        return descriptor._image.to_spec()
    if param.kind in FILE_KINDS:
        return {"id": "bentoml.io.File", "args": {"kind": "binaryio", "mime_type": None}}
    if param.plain_text:
        return {"id": "bentoml.io.Text", "args": {}}
    return {
        "id": "bentoml.io.JSON",
        "args": {"has_pydantic_model": True, "has_json_encoder": False},
    }
