"""PandasDataFrame: JSON (any pandas orient), CSV or parquet in, a ``pd.DataFrame`` out.

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

PandasSeries lives in ``pandas_series.py``; it is imported here too, where it always was.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

import pandas as pd

from ..exceptions import BadInput, InvalidArgument
from . import _pandas_dtypes as dtypes
from . import _pandas_files as files
from . import _pandas_parse as parse
from . import _pandas_schema as schemas
from ._pandas_declarations import (
    DIGITS,
    check_shape,
    declaration_warning,
    sample_example,
    to_shape,
)
from .base import (
    PART_BODY,
    REQUEST_BODY,
    IODescriptor,
    Part,
    naming_part,
    request_media_type,
    require_nonempty,
)
from .pandas_series import PandasSeries

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .mediatype import MediaType

__all__ = ["PandasDataFrame", "PandasSeries"]

_FRAME_ORIENTS = ("records", "columns", "index", "split", "values", "table")
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
            declaration_warning(owner, "dtype")
        if enforce_shape and shape is None:
            declaration_warning(owner, "shape")
        self.orient = orient
        self.columns = columns
        self.apply_column_names = apply_column_names
        self.dtype: Any = None
        if isinstance(dtype, dict):
            self.dtype = {col: dtypes.to_dtype(d, owner) for col, d in dtype.items()}
        elif dtype is not None:
            self.dtype = dtypes.to_dtype(dtype, owner)
        self.enforce_dtype = enforce_dtype and dtype is not None
        self.shape = to_shape(shape, 2, owner)
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
            check_shape(self.shape, frame.shape)
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
        return cast(str, frame.to_json(orient=self.orient, double_precision=DIGITS))

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
        descriptor._example = sample_example(sample, descriptor.orient)
        return descriptor
