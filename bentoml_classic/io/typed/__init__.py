"""The HTTP contract of a class service's API, inferred from its method's type hints.

``input_for(func)`` reads requests as BentoML 1.2 defines them for ``@bentoml.api`` methods: a
JSON object whose keys are the parameters, validated by a pydantic model generated from the
signature, or multipart/form-data with one part per parameter when one of them is a file.
``output_for(func)`` renders the return value by the return annotation. Both are ordinary IO
descriptors, so the server decodes, renders, documents and reports errors for class services as
it does for classic ones. docs/guide/typed_contract.md describes the contract.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..base import IODescriptor
from ._hints import read_return, read_signature
from ._uploads import TypedArguments
from .errors import SignatureError
from .input import TypedInput
from .output import output_descriptor

__all__ = ["SignatureError", "TypedArguments", "TypedInput", "input_for", "output_for"]


def input_for(func: Callable[..., Any]) -> TypedInput:
    """The request descriptor of an API method (``func`` unbound: ``self`` is skipped).

    Decoding gives ``{parameter: value}`` (a ``TypedArguments``), ready for
    ``func(self, **arguments)``; ``context_param`` names the parameter the runtime fills with
    the request Context, if the method takes one. A SignatureError names the method and the
    parameter whose annotation cannot be part of a request.
    """
    return TypedInput(read_signature(func))


def output_for(func: Callable[..., Any]) -> IODescriptor[Any]:
    """The response descriptor of an API method, from its return annotation (none: JSON)."""
    method, annotation = read_return(func)
    return output_descriptor(method, annotation, func)
