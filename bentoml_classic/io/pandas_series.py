"""PandasSeries: a JSON body (any of pandas' series orients) in, a ``pd.Series`` out.

The function gets what classic BentoML 1.1 handed it: what ``pd.read_json(body, typ="series")``
makes of the body, with the declared orient (``_pandas_parse`` says how that is done at less
cost), then the declared shape and dtype as classic applied them (``validate_series``). The
body is JSON whatever the Content-Type says, as in classic (``JsonBodyDescriptor``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from ..exceptions import InvalidArgument
from . import _pandas_dtypes as dtypes
from . import _pandas_parse as parse
from . import _pandas_schema as schemas
from ._numeric_json import parse_numeric_array, worth_reading_as_text
from ._pandas_declarations import (
    DIGITS,
    check_shape,
    declaration_warning,
    sample_example,
    to_shape,
)
from .base import REQUEST_BODY, JsonBodyDescriptor, require_nonempty

if TYPE_CHECKING:
    from starlette.responses import Response

_SERIES_ORIENTS = ("records", "values", "index", "split", "table")


class PandasSeries(JsonBodyDescriptor[pd.Series]):
    mime_type: ClassVar[str] = "application/json"

    def __init__(
        self,
        orient: str = "records",
        dtype: Any = None,
        enforce_dtype: bool = False,
        shape: Sequence[int] | None = None,
        enforce_shape: bool = False,
    ) -> None:
        owner = "PandasSeries"
        if orient not in _SERIES_ORIENTS:
            raise InvalidArgument(f"{owner}(orient={orient!r}): one of {_SERIES_ORIENTS}")
        if isinstance(dtype, dict):
            raise InvalidArgument(f"{owner}: dtype is a single dtype, not a dict")
        if enforce_dtype and dtype is None:
            declaration_warning(owner, "dtype")
        if enforce_shape and shape is None:
            declaration_warning(owner, "shape")
        self.orient = orient
        self.dtype = None if dtype is None else dtypes.to_dtype(dtype, owner)
        self.enforce_dtype = enforce_dtype and dtype is not None
        self.shape = to_shape(shape, 1, owner)
        self.enforce_shape = enforce_shape and shape is not None
        self._example: Any = None

    def __repr__(self) -> str:
        return (
            f"PandasSeries(orient={self.orient!r}, dtype={self.dtype!r}, "
            f"enforce_dtype={self.enforce_dtype}, shape={self.shape}, "
            f"enforce_shape={self.enforce_shape})"
        )

    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> pd.Series:
        """What ``pd.read_json(body, typ="series")`` gives, then shape and dtype as classic."""
        numbers = None
        if self.orient in ("records", "values") and worth_reading_as_text(body):
            # a large array of plain numbers: straight into numpy, no Python object per value
            numbers = parse_numeric_array(require_nonempty(body, where))
            if numbers is not None and numbers.ndim != 1:
                numbers = None
        forced = dtypes.dtype_name(self.dtype) if self.enforce_dtype else True
        series = parse.series_from_json(
            require_nonempty(body, where), self.orient, forced, where, numbers, self._check_range
        )
        return self.validate_series(series)

    def _check_range(self, raw: pd.Series) -> None:
        """Refuse integers a declared integer dtype cannot hold, before pandas wraps them."""
        if self.enforce_dtype and dtypes.family(self.dtype) == "int":
            dtypes.check_int_range(raw, self.dtype, None)

    def validate_series(self, series: pd.Series) -> pd.Series:
        """Classic's check: the shape where enforced; the dtype cast where ``same_kind``, and
        where it is not, a 400 only under ``enforce_dtype``."""
        if self.enforce_shape:
            assert self.shape is not None
            check_shape(self.shape, series.shape)
        if self.dtype is not None:
            series = dtypes.conform(series, self.dtype, enforce=self.enforce_dtype, column=None)
        return series

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        series = obj if isinstance(obj, pd.Series) else pd.Series(obj)
        body = series.to_json(orient=self.orient, double_precision=DIGITS)
        return Response(body, media_type=self.mime_type)

    def to_spec(self) -> dict[str, Any]:
        return {
            "id": "bentoml.io.PandasSeries",
            "args": {
                "orient": self.orient,
                "dtype": dtypes.spec_of(self.dtype),
                "shape": None if self.shape is None else list(self.shape),
                "enforce_dtype": self.enforce_dtype,
                "enforce_shape": self.enforce_shape,
            },
        }

    def openapi_schema(self) -> dict[str, Any]:
        shape = self.shape if self.enforce_shape else None
        return schemas.series_schema(self.orient, self.dtype, typed=self.enforce_dtype, shape=shape)

    def openapi_example(self) -> Any:
        return self._example

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> PandasSeries:
        if not isinstance(sample, pd.Series):
            raise InvalidArgument(
                f"PandasSeries.from_sample takes a Series, got {type(sample).__name__}"
            )
        kwargs.setdefault("dtype", sample.dtype)
        kwargs.setdefault("shape", (-1,))
        descriptor = cls(**kwargs)
        descriptor._example = sample_example(sample, descriptor.orient)
        return descriptor
