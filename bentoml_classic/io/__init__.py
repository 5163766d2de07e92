"""IO descriptors: how an API's request body becomes a Python value and its result a response.

Descriptors are imported on first use (module ``__getattr__``), so that ``import
bentoml_classic.io`` does not pull in numpy or pydantic for a service that never touches them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .base import IODescriptor

if TYPE_CHECKING:
    from .file import File
    from .image import Image
    from .json import JSON
    from .multipart import Multipart
    from .numpy import NumpyNdarray
    from .pandas import PandasDataFrame
    from .pandas_series import PandasSeries
    from .text import Text

__all__ = [
    "JSON",
    "File",
    "IODescriptor",
    "Image",
    "Multipart",
    "NumpyNdarray",
    "PandasDataFrame",
    "PandasSeries",
    "Text",
]

# public name -> submodule that defines it
_LAZY = {
    "NumpyNdarray": "numpy",
    "JSON": "json",
    "Text": "text",
    "PandasDataFrame": "pandas",
    "PandasSeries": "pandas_series",
    "Image": "image",
    "File": "file",
    "Multipart": "multipart",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
