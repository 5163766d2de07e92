"""Codecs for NumpyNdarray, PandasDataFrame and PandasSeries: arrays and frames as the server's
descriptors read and write them (JSON in the declared orient, CSV, parquet)."""

from __future__ import annotations

import io
import json
from typing import Any

from ..io.json import default_json
from .codec_base import OCTET_STREAM, Codec, Encoded, essence

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
_PARQUET_TYPES = (OCTET_STREAM, "application/vnd.apache.parquet")
#: the most significant digits pandas' JSON writer gives a float (the server sends as many)
_DIGITS = 15


class NumpyCodec(Codec):
    """An array (or anything ``np.asarray`` takes) as a JSON array; the answer as an ndarray of
    the output descriptor's declared dtype, when it has one."""

    descriptor = "NumpyNdarray"

    def encode(self, value: Any) -> Encoded:
        import numpy as np

        values = value.tolist() if isinstance(value, np.ndarray) else value
        return Encoded(json.dumps(values, default=default_json).encode(), JSON_TYPE)

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        import numpy as np

        values = json.loads(body)
        dtype = self.args.get("dtype")
        if dtype is not None:
            try:
                return np.array(values, dtype=dtype)
            except (TypeError, ValueError):  # the server, too, handed such values over as is
                pass
        return np.array(values)


class DataFrameCodec(Codec):
    """A DataFrame (or what ``pd.DataFrame`` takes) in the descriptor's ``default_format``, as
    classic's client sent it; the answer read in the format its Content-Type names."""

    descriptor = "PandasDataFrame"

    @property
    def orient(self) -> str:
        return str(self.args.get("orient") or "records")

    def encode(self, value: Any) -> Encoded:
        import pandas as pd

        frame = value if isinstance(value, pd.DataFrame) else pd.DataFrame(value)
        body_format = self.args.get("default_format") or "json"
        if body_format == "csv":
            return Encoded(frame.to_csv(index=False).encode(), CSV_TYPE)
        if body_format == "parquet" and _have_pyarrow():
            buffer = io.BytesIO()
            frame.to_parquet(buffer, engine="pyarrow")
            return Encoded(buffer.getvalue(), OCTET_STREAM)
        # JSON also when the server prefers parquet but this machine cannot write it: the
        # Content-Type tells the server what it gets
        body = frame.to_json(orient=self.orient, double_precision=_DIGITS)
        return Encoded(body.encode(), JSON_TYPE)

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        import pandas as pd

        media_type = essence(content_type)
        if media_type == CSV_TYPE:
            return pd.read_csv(io.BytesIO(body))
        if media_type in _PARQUET_TYPES:
            return pd.read_parquet(io.BytesIO(body))
        return _declared(pd.read_json(io.BytesIO(body), orient=self.orient), self.args)


class SeriesCodec(Codec):
    """A Series (or what ``pd.Series`` takes) as JSON in the descriptor's orient."""

    descriptor = "PandasSeries"

    @property
    def orient(self) -> str:
        return str(self.args.get("orient") or "records")

    def encode(self, value: Any) -> Encoded:
        import pandas as pd

        series = value if isinstance(value, pd.Series) else pd.Series(value)
        body = series.to_json(orient=self.orient, double_precision=_DIGITS)
        return Encoded(body.encode(), JSON_TYPE)

    def decode(self, body: bytes, content_type: str | None, filename: str | None = None) -> Any:
        import pandas as pd

        if self.orient == "table":
            # pandas reads a series' table orient only as a frame (typ="series" returns the dict)
            series = pd.read_json(io.BytesIO(body), orient="table").iloc[:, 0]
        else:
            series = pd.read_json(io.BytesIO(body), typ="series", orient=self.orient)
        return _declared(series, self.args)


def _declared(obj: Any, args: Any) -> Any:
    """``obj`` (a frame or series read with pandas' inference) in the dtype the output
    descriptor enforces, which the server's answer had before JSON lost it (int32 read back
    as int64); as read where that cast fails or nothing is enforced."""
    dtype = args.get("dtype")
    if not args.get("enforce_dtype") or dtype is None:
        return obj
    if isinstance(dtype, dict):
        dtype = {col: d for col, d in dtype.items() if col in getattr(obj, "columns", ())}
    try:
        return obj.astype(dtype)
    except (TypeError, ValueError, KeyError):
        return obj


def _have_pyarrow() -> bool:
    import importlib.util

    return importlib.util.find_spec("pyarrow") is not None
