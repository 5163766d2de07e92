"""What PandasDataFrame and PandasSeries declare alike, and check alike: a shape (ints, -1 for
any size) and a body's shape against it; the warning where ``enforce_dtype`` or
``enforce_shape`` comes without what to enforce (classic BentoML took that, and enforced
nothing); and the JSON both write, in their answers and in the example a sample becomes.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from ..exceptions import BadInput, InvalidArgument


def declaration_warning(owner: str, what: str) -> None:
    warnings.warn(
        f"{owner}(enforce_{what}=True) without a {what} enforces nothing (as in classic BentoML)",
        UserWarning,
        stacklevel=3,
    )


def to_shape(shape: Sequence[int] | None, ndim: int, owner: str) -> tuple[int, ...] | None:
    if shape is None:
        return None
    dims = tuple(shape)
    if len(dims) != ndim or not all(isinstance(d, int) and d >= -1 for d in dims):
        raise InvalidArgument(f"{owner}: shape must be {ndim} ints >= -1 (-1: any), got {shape!r}")
    return dims


#: pandas' JSON writer rounds floats to 10 significant digits unless told otherwise; 15 is the
#: most it allows (float64 needs 17 to round-trip every value exactly).
DIGITS = 15


def check_shape(expected: tuple[int, ...], received: tuple[int, ...]) -> None:
    if not all(want in (-1, got) for want, got in zip(expected, received, strict=True)):
        raise BadInput(
            f"shape {list(received)} does not match the expected shape {list(expected)}"
            " (-1 means any size)",
            detail={"expected_shape": list(expected), "received_shape": list(received)},
        )


def sample_example(obj: Any, orient: str) -> Any:
    return json.loads(obj.to_json(orient=orient, double_precision=DIGITS))
