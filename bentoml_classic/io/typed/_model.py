"""The pydantic model generated from an API method's signature: one field per JSON parameter.

Fields are given internal names and the parameter's name as their alias, so that a parameter
may be called anything a Python identifier can (``json``, ``copy``, ``model_config``) without
shadowing pydantic's own attributes; validation, errors (``loc``) and the JSON schema all use the
alias, which is what the client sends.
"""

from __future__ import annotations

import re
from typing import Any

from ._arrays import with_pydantic_fields
from ._hints import EMPTY, Signature
from .errors import signature_error

_COMPONENT_NAME = re.compile(r"[^A-Za-z0-9._-]")


def component_name(method: str, suffix: str) -> str:
    """``ControlNet.generate`` -> ``ControlNet.generate.Input``: unique per method of a service,
    and a valid key of ``components.schemas``."""
    return _COMPONENT_NAME.sub("_", f"{method}.{suffix}")


def build_model(signature: Signature, params: list[str]) -> type[Any]:
    """A model with the given parameters (by name) as fields, extra keys kept when the method
    takes ``**kwargs``; a SignatureError naming the parameter pydantic cannot make a field of."""
    from pydantic import ConfigDict, Field, create_model
    from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError
    from pydantic.fields import FieldInfo

    by_name = {p.name: p for p in signature.params}
    config = ConfigDict(
        extra="allow" if signature.var_keyword else "ignore",
        populate_by_name=False,
        arbitrary_types_allowed=False,
        protected_namespaces=(),
    )
    fields: dict[str, Any] = {}
    for index, name in enumerate(params):
        param = by_name[name]
        annotation = with_pydantic_fields(param.annotation)
        if isinstance(param.default, FieldInfo):
            fields[f"f{index}"] = (annotation, _with_alias(param.default, name))
        else:
            default = ... if param.default is EMPTY else param.default
            fields[f"f{index}"] = (annotation, Field(default, alias=name))
    name = component_name(signature.method, "Input")
    try:
        model: type[Any] = create_model(name, __config__=config, **fields)
        return model
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError):
        pass
    # which parameter: each field alone, only now that one of them failed
    for index, param_name in enumerate(params):
        try:
            create_model("Probe", __config__=config, probe=fields[f"f{index}"])
        except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
            raise signature_error(
                signature.method,
                param_name,
                f"its annotation {by_name[param_name].annotation!r} cannot be validated from "
                f"JSON: {str(exc).splitlines()[0]}",
            ) from None
    # every field works alone: what fails is their combination, in pydantic's own words
    combined: type[Any] = create_model(name, __config__=config, **fields)
    return combined


def _with_alias(info: Any, name: str) -> Any:
    """The user's ``Field(...)`` (default, constraints, description) under the parameter's
    name; merging with a new Field is what makes pydantic take the alias for validation."""
    from pydantic import Field
    from pydantic.fields import FieldInfo

    return FieldInfo.merge_field_infos(info, Field(alias=name))
