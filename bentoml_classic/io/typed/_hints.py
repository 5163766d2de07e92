"""Reading an API method's signature: which parameters there are, and what kind of value each
annotation asks for.

Only the types the contract treats specially are recognised here (files, images, paths, numpy
arrays, DataFrames); every other annotation is pydantic's to validate. Libraries are looked up in
``sys.modules`` rather than imported: an annotation naming ``PIL.Image.Image`` means the service
module imported PIL already, and a service that uses neither numpy nor PIL never loads them.
"""

from __future__ import annotations

import inspect
import io
import pathlib
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from .errors import signature_error

#: what a parameter's value is sent as: a JSON value, or one of the file kinds (a multipart part)
Kind = Literal["json", "image", "path", "file"]
FILE_KINDS: frozenset[str] = frozenset({"image", "path", "file"})
#: names under which an unannotated parameter is the request Context, as for classic APIs
_CONTEXT_NAMES = frozenset({"ctx", "context"})
EMPTY: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class Param:
    name: str
    #: the resolved annotation, ``Annotated`` metadata kept
    annotation: Any
    #: ``EMPTY`` when the parameter is required
    default: Any
    kind: Kind
    #: whether the part's text is the value as it is (a ``str`` parameter), not JSON
    plain_text: bool = False

    @property
    def required(self) -> bool:
        """No default; a ``pydantic.Field(...)`` default counts as one only if it gives one."""
        if self.default is EMPTY:
            return True
        is_required = getattr(self.default, "is_required", None)
        return (
            bool(is_required()) if callable(is_required) and _is_field_info(self.default) else False
        )

    @property
    def default_value(self) -> Any:
        """The value an absent part takes (``Field(default=...)``'s default, if that is it)."""
        if _is_field_info(self.default):
            return self.default.get_default(call_default_factory=True, validated_data={})
        return self.default

    @property
    def description(self) -> str | None:
        return self.default.description if _is_field_info(self.default) else None


def _is_field_info(value: Any) -> bool:
    fields = sys.modules.get("pydantic.fields")
    return fields is not None and isinstance(value, fields.FieldInfo)


@dataclass(frozen=True)
class Signature:
    #: how messages and schema names call the method: ``Class.method``
    method: str
    params: tuple[Param, ...]
    #: the ``**kwargs`` parameter, which takes the keys no parameter names
    var_keyword: str | None
    #: the parameter that receives the request Context (not part of the body)
    context_param: str | None
    #: the resolved return annotation, ``EMPTY`` when there is none
    returns: Any

    @property
    def has_files(self) -> bool:
        return any(p.kind in FILE_KINDS for p in self.params)


def read_signature(func: Callable[..., Any]) -> Signature:
    """The method's parameters (``self`` skipped) and return annotation, or a SignatureError."""
    method = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise signature_error(method, None, f"has no readable signature ({exc})") from None
    hints = _resolved_hints(func, method, signature)
    listed = list(signature.parameters.values())
    if not listed or listed[0].kind not in _POSITIONAL:
        raise signature_error(method, None, "must take `self` as its first parameter")
    params: list[Param] = []
    var_keyword = context_param = None
    for param in listed[1:]:
        annotation = hints.get(param.name, EMPTY)
        if _is_context(param, annotation):
            context_param = param.name
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = param.name
            continue
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            raise signature_error(
                method, param.name, "*args cannot be sent: a request names every value it sends"
            )
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise signature_error(
                method, param.name, "is positional-only, but the body's keys are passed by name"
            )
        if annotation is EMPTY:
            raise signature_error(
                method,
                param.name,
                "has no type hint; the request schema is inferred from type hints "
                "(annotate it, `typing.Any` for any JSON value)",
            )
        kind = value_kind(annotation, method, param.name)
        params.append(
            Param(param.name, annotation, param.default, kind, plain_text=_is_str(annotation))
        )
    returns = hints.get("return", EMPTY)
    return Signature(method, tuple(params), var_keyword, context_param, returns)


_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _resolved_hints(
    func: Callable[..., Any], method: str, signature: inspect.Signature
) -> dict[str, Any]:
    """``typing.get_type_hints`` (string annotations evaluated); a name that does not resolve
    is a SignatureError naming the parameter whose annotation holds it."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        failure = exc
    namespace = getattr(func, "__globals__", {})
    for name, param in [*signature.parameters.items(), ("return", None)]:
        raw = signature.return_annotation if param is None else param.annotation
        if isinstance(raw, str):
            try:
                eval(raw, namespace)
            except Exception as exc:
                what = "the return annotation" if param is None else None
                problem = f"annotation {raw!r} cannot be resolved ({type(exc).__name__}: {exc})"
                if what:
                    raise signature_error(method, None, f"{what} {problem}") from None
                raise signature_error(method, name, problem) from None
    raise signature_error(method, None, f"type hints cannot be resolved: {failure}")


def _is_context(param: inspect.Parameter, annotation: Any) -> bool:
    named = getattr(annotation, "__name__", None) == "Context" and "context" in str(
        getattr(annotation, "__module__", "")
    )
    return named or (annotation is EMPTY and param.name in _CONTEXT_NAMES)


def strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def strip_optional(annotation: Any) -> Any:
    """``X`` of ``Optional[X]`` / ``X | None``; any other annotation as it is."""
    annotation = strip_annotated(annotation)
    if is_union(annotation):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return strip_annotated(members[0])
    return annotation


def is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_str(annotation: Any) -> bool:
    return strip_optional(annotation) is str


def file_kind(annotation: Any) -> Kind | None:
    """The file kind of a bare annotation (``Optional`` and ``Annotated`` removed), or None."""
    bare = strip_optional(annotation)
    target = typing.get_origin(bare) or bare
    if not isinstance(target, type):
        return None
    pil = sys.modules.get("PIL.Image")
    if pil is not None and issubclass(target, pil.Image):
        return "image"
    if issubclass(target, pathlib.PurePath):
        return "path"
    if target in (typing.IO, typing.BinaryIO) or issubclass(target, io.IOBase):
        return "file"
    return None


def value_kind(annotation: Any, method: str, param: str) -> Kind:
    """``json`` or the file kind; a file type anywhere deeper (``list[Path]``, a union of an
    image and something else) is refused, since one part carries one file."""
    kind = file_kind(annotation)
    if kind is not None:
        return kind
    nested = _nested_file(strip_annotated(annotation))
    if nested is not None:
        raise signature_error(
            method,
            param,
            f"{_type_name(annotation)} is not supported: a file type ({nested}) is sent as one "
            "multipart part, so it can only be a whole parameter (optionally Optional)",
        )
    return "json"


def _nested_file(annotation: Any) -> str | None:
    for arg in typing.get_args(annotation):
        if file_kind(arg) is not None:
            return _type_name(arg)
        deeper = _nested_file(strip_annotated(arg))
        if deeper is not None:
            return deeper
    return None


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return f"{annotation.__module__}.{annotation.__qualname__}".removeprefix("builtins.")
    return repr(annotation).replace("typing.", "")


def read_return(func: Callable[..., Any]) -> tuple[str, Any]:
    """The method's name and resolved return annotation (``EMPTY`` when there is none), without
    judging its parameters (``read_signature`` does that)."""
    method = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
    raw = inspect.signature(func).return_annotation
    if raw is inspect.Signature.empty:
        return method, EMPTY
    if not isinstance(raw, str):
        return method, raw
    try:
        return method, typing.get_type_hints(func, include_extras=True).get("return", EMPTY)
    except Exception:
        pass
    try:
        return method, eval(raw, getattr(func, "__globals__", {}))
    except Exception as exc:
        raise signature_error(
            method,
            None,
            f"the return annotation {raw!r} cannot be resolved ({type(exc).__name__}: {exc})",
        ) from None
