"""PandasDataFrame and PandasSeries: JSON (any pandas orient), CSV or parquet in, pandas out.

Classic BentoML answered bad frames with 500s and never enforced dtypes. Here every malformed
body is a 400 naming the row, column or line; ``columns``, ``shape`` and ``dtype`` are checked
on the frame the function would really get (see ``_pandas_dtypes`` for what "without loss" means).
``columns`` is enforced (exact names, reordered as declared) whenever ``enforce_dtype`` or
``enforce_shape`` is on; otherwise it only names array rows and documents the schema.
"""

from __future__ import annotations

import io
import json
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pandas as pd

from ..exceptions import BadInput, InvalidArgument, UnsupportedMediaType
from . import _pandas_dtypes as dtypes
from . import _pandas_parse as parse
from . import _pandas_schema as schemas
from ._numeric_json import parse_numeric_array
from .base import (
    _LENIENT_JSON_TYPES,
    PART_BODY,
    REQUEST_BODY,
    IODescriptor,
    JsonBodyDescriptor,
    Part,
    load_json_body,
    naming_part,
    request_media_type,
    require_nonempty,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .mediatype import MediaType

_FRAME_ORIENTS = ("records", "columns", "index", "split", "values")
_SERIES_ORIENTS = ("records", "values", "index", "split")
_PARQUET_TYPES = ("application/octet-stream", "application/vnd.apache.parquet")
_FORMAT_TYPES = {"json": "application/json", "csv": "text/csv", "parquet": _PARQUET_TYPES[0]}
_BINARY = {"type": "string", "format": "binary"}


def _is_json(media_type: MediaType | None) -> bool:
    return media_type is None or media_type.is_json or media_type.essence in _LENIENT_JSON_TYPES


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
        if default_format == "parquet" and not parse.have_pyarrow():
            raise InvalidArgument(f"{owner}(default_format='parquet') needs pyarrow installed")
        if columns is not None:
            columns = list(columns)
            if len(set(columns)) != len(columns):
                raise InvalidArgument(f"{owner}: columns has duplicates: {columns}")
        if apply_column_names and columns is None:
            raise InvalidArgument(f"{owner}(apply_column_names=True) needs columns")
        if enforce_dtype and dtype is None:
            raise InvalidArgument(f"{owner}(enforce_dtype=True) needs a dtype")
        if enforce_shape and shape is None:
            raise InvalidArgument(f"{owner}(enforce_shape=True) needs a shape")
        self.orient = orient
        self.columns = columns
        self.apply_column_names = apply_column_names
        self.dtype: Any = None
        if isinstance(dtype, dict):
            self.dtype = {col: dtypes.to_dtype(d, owner) for col, d in dtype.items()}
            if columns is not None and set(self.dtype) - set(columns):
                raise InvalidArgument(
                    f"{owner}: dtype names columns not in columns: "
                    f"{sorted(map(str, set(self.dtype) - set(columns)))}"
                )
        elif dtype is not None:
            self.dtype = dtypes.to_dtype(dtype, owner)
        self.enforce_dtype = enforce_dtype
        self.shape = _to_shape(shape, 2, owner)
        self.enforce_shape = enforce_shape
        self._enforce_columns = columns is not None and (enforce_dtype or enforce_shape)
        if self._enforce_columns and orient == "values" and not apply_column_names:
            raise InvalidArgument(
                f"{owner}(orient='values') sends no column names: enforcing columns needs "
                "apply_column_names=True"
            )
        if (
            self.shape
            and self.enforce_shape
            and columns
            and self.shape[1] not in (-1, len(columns))
        ):
            raise InvalidArgument(
                f"{owner}: shape {self.shape} disagrees with {len(columns)} columns"
            )
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
        media_type = request_media_type(request)
        self._check_media_type(media_type, REQUEST_BODY)  # before reading a body we refuse
        return self.parse_bytes(await request.body(), media_type)

    async def from_part(self, part: Part) -> pd.DataFrame:
        with naming_part(part.name):
            self._check_media_type(part.media_type, PART_BODY)
            return self.parse_bytes(part.data, part.media_type, PART_BODY)

    @staticmethod
    def _check_media_type(media_type: MediaType | None, where: str) -> None:
        if media_type is None or _is_json(media_type):
            return
        if media_type.essence == "text/csv" or media_type.essence in _PARQUET_TYPES:
            return
        accepted = [
            "application/json",
            "text/csv",
            *(_PARQUET_TYPES if parse.have_pyarrow() else ()),
        ]
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media_type.essence!r} for the {where}: expected "
            f"{', '.join(accepted)}",
            detail={"content_type": media_type.essence, "expected": accepted},
        )

    def parse_bytes(
        self, body: bytes, media_type: MediaType | None, where: str = REQUEST_BODY
    ) -> pd.DataFrame:
        """The validated frame, from a body of an accepted media type."""
        require_nonempty(body, where)
        if _is_json(media_type):
            names = self.columns if self.apply_column_names else None
            required = self.columns if self._enforce_columns else None
            obj = load_json_body(body, where)
            frame = parse.frame_from_json(obj, self.orient, names, required)
        elif media_type is not None and media_type.essence == "text/csv":
            charset = media_type.params.get("charset") or "utf-8"
            frame = parse.frame_from_csv(body, charset, self._csv_text_dtypes(), where)
        else:
            frame = parse.frame_from_parquet(body, where)
        return self.validate(frame)

    def _csv_text_dtypes(self) -> Any:
        """CSV cells are text: declared text columns are read as such ("007" stays "007")."""
        text = ("string", "category", "object")
        if isinstance(self.dtype, dict):
            wanted = {c: d for c, d in self.dtype.items() if dtypes.family(d) in text}
            return wanted or None
        if self.dtype is not None and dtypes.family(self.dtype) in text:
            return self.dtype
        return None

    def validate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Columns, then shape, then dtypes: the frame the API function receives, or BadInput."""
        if frame.columns.has_duplicates:
            dupes = sorted(
                {dtypes.label(c) for c in frame.columns[frame.columns.duplicated()]}, key=str
            )
            raise BadInput(f"duplicate column names: {dupes}", detail={"duplicates": dupes})
        if self._enforce_columns:
            frame = self._check_columns(frame)
        if self.enforce_shape:
            assert self.shape is not None
            _check_shape(self.shape, frame.shape)
        if isinstance(self.dtype, dict):
            missing = [c for c in self.dtype if c not in frame.columns]
            if self.enforce_dtype and missing:
                raise BadInput(
                    f"missing columns {[dtypes.label(c) for c in missing]} (declared with dtypes)",
                    detail={"missing": [dtypes.label(c) for c in missing]},
                )
            targets = {c: d for c, d in self.dtype.items() if c in frame.columns}
        elif self.dtype is not None:
            targets = dict.fromkeys(frame.columns, self.dtype)
        else:
            return frame
        result = frame
        for col, target in targets.items():
            column = frame[col]
            converted = dtypes.convert(column, target, enforce=self.enforce_dtype, column=col)
            if converted is not column:
                if result is frame:  # never modify a frame the caller handed in
                    result = frame.copy(deep=False)
                result[col] = converted
        return result

    def _check_columns(self, frame: pd.DataFrame) -> pd.DataFrame:
        assert self.columns is not None
        have = set(frame.columns)
        missing = [c for c in self.columns if c not in have]
        unexpected = [c for c in frame.columns if c not in set(self.columns)]
        if missing or unexpected:
            missing_l = [dtypes.label(c) for c in missing]
            unexpected_l = [dtypes.label(c) for c in unexpected]
            parts = ([f"missing {missing_l}"] if missing else []) + (
                [f"unexpected {unexpected_l}"] if unexpected else []
            )
            raise BadInput(
                f"columns do not match the declared columns: {'; '.join(parts)}",
                detail={
                    "missing": missing_l,
                    "unexpected": unexpected_l,
                    "expected": [dtypes.label(c) for c in self.columns],
                },
            )
        return frame if list(frame.columns) == self.columns else frame[self.columns]

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
            enforce_columns=self._enforce_columns,
            apply_column_names=self.apply_column_names,
            shape=self.shape if self.enforce_shape else None,
        )

    def openapi_example(self) -> Any:
        return self._example

    def openapi_request_body(self) -> dict[str, Any]:
        body = super().openapi_request_body()
        content = {"application/json": body["content"].pop(self.mime_type)}
        content["text/csv"] = {"schema": {"type": "string"}}
        if parse.have_pyarrow():
            for media_type in _PARQUET_TYPES:
                content[media_type] = {"schema": dict(_BINARY)}
        return {"required": True, "content": content}

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
    input_error_statuses: ClassVar[frozenset[int]] = frozenset({400, 415})

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
            raise InvalidArgument(f"{owner}(enforce_dtype=True) needs a dtype")
        if enforce_shape and shape is None:
            raise InvalidArgument(f"{owner}(enforce_shape=True) needs a shape")
        self.orient = orient
        self.dtype = None if dtype is None else dtypes.to_dtype(dtype, owner)
        self.enforce_dtype = enforce_dtype
        self.shape = _to_shape(shape, 1, owner)
        self.enforce_shape = enforce_shape
        self._example: Any = None

    def __repr__(self) -> str:
        return (
            f"PandasSeries(orient={self.orient!r}, dtype={self.dtype!r}, "
            f"enforce_dtype={self.enforce_dtype}, shape={self.shape}, "
            f"enforce_shape={self.enforce_shape})"
        )

    def parse_bytes(self, body: bytes, where: str = REQUEST_BODY) -> pd.Series:
        if self.orient in ("records", "values"):
            # a large array of plain numbers: straight into numpy, no Python object per value
            numbers = parse_numeric_array(require_nonempty(body, where))
            if numbers is not None and numbers.ndim == 1:
                return self._checked(pd.Series(numbers))
        return self.validate_json(load_json_body(require_nonempty(body, where), where))

    def validate_json(self, obj: Any) -> pd.Series:
        return self._checked(parse.series_from_json(obj, self.orient))

    def _checked(self, series: pd.Series) -> pd.Series:
        """The declared shape checked and the declared dtype applied."""
        if self.enforce_shape:
            assert self.shape is not None
            _check_shape(self.shape, series.shape)
        if self.dtype is not None:
            series = dtypes.convert(series, self.dtype, enforce=self.enforce_dtype, column=None)
        return series

    async def to_http_response(self, obj: Any) -> Response:
        from starlette.responses import Response

        series = obj if isinstance(obj, pd.Series) else pd.Series(obj)
        body = series.to_json(orient=self.orient, double_precision=_DIGITS)
        return Response(body, media_type=self.mime_type)

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
