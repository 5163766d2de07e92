"""A pydantic model's validator that stops at the first bad item of each list.

pydantic reports every error: a 1 MB list of numbers where strings are declared made 500,000
errors, held at a few hundred bytes each while validation ran (186 MB for that 1 MB body, and
it grows with the body). A client needs to know that its body is wrong and roughly where, not
every place. pydantic-core's list, tuple and set schemas take ``fail_fast``; this builds a
validator from the model's own core schema with it set on each of them. It answers valid input
exactly as the model's validator does (the same schema, the same validators, instances of the
model's class) and invalid input with fewer errors.

pydantic-core reuses a model class's own validator for a ``model`` schema of that class (which
would ignore the change), unless the class says it is not complete: the classes in the schema
are marked so while the validator is built, and restored at once. If building it fails in any
way (a pydantic that works otherwise), the model's own validator is used: correct, only slower
on hostile input.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

_SEQUENCES = frozenset({"list", "tuple", "set", "frozenset"})


def fail_fast_validator(model: type[Any]) -> Any:
    """A validator with ``validate_python`` like ``model.__pydantic_validator__``, failing fast."""
    try:
        from pydantic_core import SchemaValidator

        classes: list[type[Any]] = []
        schema = _with_fail_fast(model.__pydantic_core_schema__, classes)
        complete = [(cls, cls.__dict__.get("__pydantic_complete__")) for cls in classes]
        for cls, _ in complete:
            type.__setattr__(cls, "__pydantic_complete__", False)
        try:
            return SchemaValidator(schema, schema.get("config"))
        finally:
            for cls, was in complete:
                type.__setattr__(cls, "__pydantic_complete__", was)
    except Exception as exc:
        logger.debug("no fail-fast validator for %s: %s", model.__name__, exc)
        return model.__pydantic_validator__


def _with_fail_fast(schema: Any, classes: list[type[Any]]) -> Any:
    if isinstance(schema, dict):
        copy = {key: _with_fail_fast(value, classes) for key, value in schema.items()}
        kind = copy.get("type")
        if kind in _SEQUENCES:
            copy["fail_fast"] = True
        elif kind in ("model", "dataclass") and isinstance(copy.get("cls"), type):
            classes.append(copy["cls"])
        return copy
    if isinstance(schema, list):
        return [_with_fail_fast(item, classes) for item in schema]
    return schema
