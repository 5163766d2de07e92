"""PandasDataFrame and PandasSeries: JSON (any pandas orient), CSV or parquet in, pandas out.

The function gets what classic BentoML 1.1 handed it: what ``pd.read_json`` (with the declared
orient, and the declared dtypes only under ``enforce_dtype``), ``pd.read_csv`` or
``pd.read_parquet`` makes of the body (``_pandas_parse`` and ``_pandas_files`` say how that is
done at less cost).
The format follows the Content-Type (``application/json``, ``text/csv``, parquet as
``application/octet-stream``); any other type, or none, is read in ``default_format``, as
classic did. Then ``apply_column_names`` names the columns, and what ``enforce_shape`` and
``enforce_dtype`` check (``_pandas_dtypes``) is a 400 that names the column and row. ``columns``
alone, as in classic, only documents.

Where classic answered a 500 (a body pandas cannot read, an enforced shape that does not match),
this answers a 400.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pandas as pd

from ..exceptions import BadInput, InvalidArgument
from . import _pandas_dtypes as dtypes
from . import _pandas_files as files
from . import _pandas_parse as parse
from . import _pandas_schema as schemas
from ._numeric_json import parse_numeric_array, worth_reading_as_text
from .base import (
    PART_BODY,
    REQUEST_BODY,
    IODescriptor,
    JsonBodyDescriptor,
    Part,
    naming_part,
    request_media_type,
    require_nonempty,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .mediatype import MediaType

_FRAME_ORIENTS = ("records", "columns", "index", "split", "values", "table")
_SERIES_ORIENTS = ("records", "values", "index", "split", "table")
_PARQUET_TYPES = ("application/octet-stream", "application/vnd.apache.parquet")
_FORMAT_TYPES = {"json": "application/json", "csv": "text/csv", "parquet": _PARQUET_TYPES[0]}
_BINARY = {"type": "string", "format": "binary"}


#: the Content-Types classic BentoML recognised, compared as whole header values
_CLASSIC_TYPES = {
    "application/json": "json",
    "text/csv": "csv",
    "application/octet-stream": "parquet",
}


def _body_formats(media_type: MediaType | None, default: str) -> list[str]:
    """The formats to read the body in, in order. Classic's rule first: one of its three types,
    exactly, names the format; any other header (with a charset, say), or none, means the
    default. If that fails where the type names another format (``text/csv; charset=latin-1``
    under a JSON default, ``+json``, the parquet type's own name), that is tried next: classic
    answered those with a 500."""
    if media_type is None:
        return [default]
    if not media_type.params and media_type.essence in _CLASSIC_TYPES:
        return [_CLASSIC_TYPES[media_type.essence]]
    named = None
    if media_type.is_json:
        named = "json"
    elif media_type.essence == "text/csv":
        named = "csv"
    elif media_type.essence in _PARQUET_TYPES:
        named = "parquet"
    return [default] if named in (None, default) else [default, named]


def _declaration_warning(owner: str, what: str) -> None:
    warnings.warn(
        f"{owner}(enforce_{what}=True) without a {what} enforces nothing (as in classic BentoML)",
        UserWarning,
        stacklevel=3,
    )


def _to_shape(shape: Sequence[int] | None, ndim: int, owner: str) -> tuple[int, ...] | None:
    if shape is None:
        return None
    dims = tuple(shape)
    if len(dims) != ndim or not all(isinstance(d, int) and d >= -1 for d in dims):
        raise InvalidArgument(f"{owner}: shape must be {ndim} ints >= -1 (-1: any), got {shape!r}")
    return dims


#: pandas' JSON writer rounds floats to 10 significant digits unless told otherwise; 15 is the
#: most it allows (float64 needs 17 to round-trip every value exactly).
_DIGITS = 15


def _check_shape(expected: tuple[int, ...], received: tuple[int, ...]) -> None:
    if not all(want in (-1, got) for want, got in zip(expected, received, strict=True)):
        raise BadInput(
            f"shape {list(received)} does not match the expected shape {list(expected)}"
            " (-1 means any size)",
            detail={"expected_shape": list(expected), "received_shape": list(received)},
        )


def _sample_example(obj: Any, orient: str) -> Any:
    return json.loads(obj.to_json(orient=orient, double_precision=_DIGITS))


class PandasDataFrame(IODescriptor[pd.DataFrame]):
    mime_type: ClassVar[str] = "application/json"
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400, 415})

    def __init__(
        self,
        orient: str = "records",
        columns: Sequence[Hashable] | None = None,
        apply_column_names: bool = False,
        dtype: Any = None,
        enforce_dtype: bool = False,
        shape: Sequence[int] | None = None,
        enforce_shape: bool = False,
        default_format: str = "json",
    ) -> None:
        owner = "PandasDataFrame"
        if orient not in _FRAME_ORIENTS:
            raise InvalidArgument(f"{owner}(orient={orient!r}): one of {_FRAME_ORIENTS}")
        if default_format not in _FORMAT_TYPES:
            raise InvalidArgument(
                f"{owner}(default_format={default_format!r}): json, csv or parquet"
            )
        if default_format == "parquet" and not files.have_pyarrow():
            raise InvalidArgument(f"{owner}(default_format='parquet') needs pyarrow installed")
        if columns is not None:
            columns = list(columns)
        if apply_column_names and not columns:
            raise InvalidArgument(f"{owner}(apply_column_names=True) needs columns")
        if enforce_dtype and dtype is None:
            _declaration_warning(owner, "dtype")
        if enforce_shape and shape is None:
            _declaration_warning(owner, "shape")
        self.orient = orient
        self.columns = columns
        self.apply_column_names = apply_column_names
        self.dtype: Any = None
        if isinstance(dtype, dict):
            self.dtype = {col: dtypes.to_dtype(d, owner) for col, d in dtype.items()}
        elif dtype is not None:
            self.dtype = dtypes.to_dtype(dtype, owner)
        self.enforce_dtype = enforce_dtype and dtype is not None
        self.shape = _to_shape(shape, 2, owner)
        self.enforce_shape = enforce_shape and shape is not None
        self.default_format = default_format
        self.mime_type = _FORMAT_TYPES[default_format]  # type: ignore[misc]
        self._example: Any = None

    def __repr__(self) -> str:
        return (
            f"PandasDataFrame(orient={self.orient!r}, columns={self.columns!r}, "
            f"dtype={self.dtype!r}, enforce_dtype={self.enforce_dtype}, shape={self.shape}, "
            f"enforce_shape={self.enforce_shape}, default_format={self.default_format!r})"
        )

    # -- input ---------------------------------------------------------------------------------

    async def from_http_request(self, request: Request) -> pd.DataFrame:
        return self.parse_bytes(await request.body(), request_media_type(request))

    async def from_part(self, part: Part) -> pd.DataFrame:
        with naming_part(part.name):
            return self.parse_bytes(part.data, part.media_type, PART_BODY)

    def parse_bytes(
        self, body: bytes, media_type: MediaType | None, where: str = REQUEST_BODY
    ) -> pd.DataFrame:
        """The validated frame, read in the format the media type names (else the default)."""
        require_nonempty(body, where)
        *first, last = _body_formats(media_type, self.default_format)
        for body_format in first:
            with contextlib.suppress(BadInput):
                return self._read(body, body_format, media_type, where)
        return self._read(body, last, media_type, where)

    def _read(
        self, body: bytes, body_format: str, media_type: MediaType | None, where: str
    ) -> pd.DataFrame:
        forced = self._read_dtypes()
        if body_format == "json":
            dtype = True if forced is None else forced
            frame = parse.frame_from_json(body, self.orient, dtype, where, self._check_ranges)
        elif body_format == "csv":
            charset = media_type.params.get("charset") if media_type is not None else None
            frame = files.frame_from_csv(body, charset, forced, where)
        else:
            frame = files.frame_from_parquet(body, where)
        return self.validate(frame)

    def _check_ranges(self, raw: pd.DataFrame) -> None:
        """Refuse integers an enforced integer dtype cannot hold, before pandas wraps them."""
        if not self.enforce_dtype:
            return
        if isinstance(self.dtype, dict):
            declared = self.dtype
        else:
            declared = dict.fromkeys(raw.columns, self.dtype)
        for col, target in declared.items():
            if dtypes.family(target) == "int" and col in raw.columns:
                column = raw[col]
                if isinstance(column, pd.Series):
                    dtypes.check_int_range(column, target, col)

    def _read_dtypes(self) -> Any:
        """What classic passed to the reader as ``dtype``: the declared dtypes, only enforced."""
        if not self.enforce_dtype:
            return None
        if isinstance(self.dtype, dict):
            return {col: dtypes.dtype_name(d) for col, d in self.dtype.items()}
        return dtypes.dtype_name(self.dtype)

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Column names applied, then shape and dtypes checked where enforced."""
        if self.apply_column_names:
            assert self.columns is not None
            if len(self.columns) != frame.shape[1]:
                raise BadInput(
                    f"the body has {frame.shape[1]} columns, and {len(self.columns)} names are "
                    f"declared: {[dtypes.label(c) for c in self.columns]}",
                    detail={"expected": len(self.columns), "received": frame.shape[1]},
                )
            frame.columns = pd.Index(self.columns)
        if self.enforce_shape:
            assert self.shape is not None
            _check_shape(self.shape, frame.shape)
        if not self.enforce_dtype:
            return frame
        if isinstance(self.dtype, dict):
            targets = {c: d for c, d in self.dtype.items() if c in frame.columns}
        else:
            targets = dict.fromkeys(frame.columns, self.dtype)
        result = frame
        for col, target in targets.items():
            column = frame[col]
            if isinstance(column, pd.DataFrame):  # a repeated column name: pandas' business
                continue
            converted = dtypes.conform(column, target, enforce=True, column=col)
            if converted is not column:
                if result is frame:  # never modify a frame the caller handed in
                    result = frame.copy(deep=False)
                result[col] = converted
        return result

    # -- output --------------------------------------------------------------------------------

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        return Response(self.render(obj), media_type=self.mime_type)

    def render(self, obj: Any) -> bytes | str:
        frame = obj if isinstance(obj, pd.DataFrame) else pd.DataFrame(obj)
        if self.default_format == "csv":
            # read back by this descriptor without an extra column
            return cast(str, frame.to_csv(index=False))
        if self.default_format == "parquet":
            buffer = io.BytesIO()
            frame.to_parquet(buffer, engine="pyarrow")
            return buffer.getvalue()
        return cast(str, frame.to_json(orient=self.orient, double_precision=_DIGITS))

    # -- documentation -------------------------------------------------------------------------

    def openapi_schema(self) -> dict[str, Any]:
        return schemas.frame_schema(
            self.orient,
            columns=self.columns,
            dtype=self.dtype,
            typed=self.enforce_dtype,
            apply_column_names=self.apply_column_names,
            shape=self.shape if self.enforce_shape else None,
        )

    def openapi_example(self) -> Any:
        return self._example

    def openapi_request_body(self) -> dict[str, Any]:
        body = super().openapi_request_body()
        content = {"application/json": body["content"].pop(self.mime_type)}
        content["text/csv"] = {"schema": {"type": "string"}}
        if files.have_pyarrow():
            for media_type in _PARQUET_TYPES:
                content[media_type] = {"schema": dict(_BINARY)}
        return {"required": True, "content": content}

    def to_spec(self) -> dict[str, Any]:
        return {
            "id": "bentoml.io.PandasDataFrame",
            "args": {
                "orient": self.orient,
                "columns": None
                if self.columns is None
                else [dtypes.label(c) for c in self.columns],
                "apply_column_names": self.apply_column_names,
                "dtype": dtypes.spec_of(self.dtype),
                "shape": None if self.shape is None else list(self.shape),
                "enforce_dtype": self.enforce_dtype,
                "enforce_shape": self.enforce_shape,
                "default_format": self.default_format,
            },
        }

    def openapi_responses(self) -> dict[str, Any]:
        schema = {"json": self.openapi_schema(), "csv": {"type": "string"}, "parquet": _BINARY}
        return {"content": {self.mime_type: {"schema": dict(schema[self.default_format])}}}

    @classmethod
    def from_sample(cls, sample: Any, **kwargs: Any) -> PandasDataFrame:
        """Columns, dtypes and width from ``sample`` (any row count); it becomes the example."""
        if not isinstance(sample, pd.DataFrame):
            raise InvalidArgument(
                f"PandasDataFrame.from_sample takes a DataFrame, got {type(sample).__name__}"
            )
        named = all(isinstance(c, str) for c in sample.columns)
        if named:
            kwargs.setdefault("columns", list(sample.columns))
            kwargs.setdefault("dtype", dict(sample.dtypes.items()))
        elif sample.dtypes.nunique() == 1:
            kwargs.setdefault("dtype", sample.dtypes.iloc[0])
        kwargs.setdefault("shape", (-1, sample.shape[1]))
        descriptor = cls(**kwargs)
        descriptor._example = _sample_example(sample, descriptor.orient)
        return descriptor


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
            _declaration_warning(owner, "dtype")
        if enforce_shape and shape is None:
            _declaration_warning(owner, "shape")
        self.orient = orient
        self.dtype = None if dtype is None else dtypes.to_dtype(dtype, owner)
        self.enforce_dtype = enforce_dtype and dtype is not None
        self.shape = _to_shape(shape, 1, owner)
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
            _check_shape(self.shape, series.shape)
        if self.dtype is not None:
            series = dtypes.conform(series, self.dtype, enforce=self.enforce_dtype, column=None)
        return series

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        series = obj if isinstance(obj, pd.Series) else pd.Series(obj)
        body = series.to_json(orient=self.orient, double_precision=_DIGITS)
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
        descriptor._example = _sample_example(sample, descriptor.orient)
        return descriptor
