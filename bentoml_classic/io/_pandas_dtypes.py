"""Declared dtypes for PandasDataFrame / PandasSeries: normalising, enforcing, documenting.

Classic BentoML applied a declared dtype in two ways, and so does this: under ``enforce_dtype``
``pd.read_json`` / ``pd.read_csv`` convert each declared column with ``astype`` while reading,
and a Series is also cast afterwards where numpy calls the cast ``same_kind`` (int64 to
float32), enforced or not. What is still not of the declared dtype after that (a string that is
no number, a null in an int column) was handed over by classic as it was; under
``enforce_dtype`` it is a 400 here that names the column and the first row at fault. Integers
out of a declared integer dtype's range are refused rather than wrapped (pandas makes 1000 an
int8 -24).
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, pandas_dtype

from ..exceptions import BadInput, InvalidArgument, excerpt


def to_dtype(value: Any, owner: str) -> Any:
    """``pandas_dtype`` with the error a developer can act on."""
    try:
        return pandas_dtype(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{owner}: invalid dtype {value!r}: {exc}") from None


def family(dtype: Any) -> str:
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if isinstance(dtype, pd.StringDtype) or dtype.kind in "US":
        return "string"
    return {
        "i": "int",
        "u": "int",
        "f": "float",
        "c": "complex",
        "b": "bool",
        "M": "datetime",
        "m": "timedelta",
    }.get(dtype.kind, "object")


def is_nullable(dtype: Any) -> bool:
    """numpy ints and bools have no missing value: NaN cannot go into them."""
    return not (isinstance(dtype, np.dtype) and dtype.kind in "iub")


def label(value: Hashable) -> Any:
    """A column or index label as a JSON-ready value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, int, float)) or value is None:
        return value
    return str(value)


def dtype_name(dtype: Any) -> str:
    return str(dtype)


def spec_of(dtype: Any) -> Any:
    """A declared dtype (one, or one per column) as JSON, for /docs.json: pandas' own names,
    which ``pandas_dtype`` reads back."""
    if dtype is None:
        return None
    if isinstance(dtype, dict):
        return {str(col): dtype_name(d) for col, d in dtype.items()}
    return dtype_name(dtype)


def conform(values: pd.Series, target: Any, *, enforce: bool, column: Hashable | None) -> pd.Series:
    """``values`` as ``target`` where numpy calls the cast ``same_kind``; anything else as it
    is, or under ``enforce`` a BadInput that names the column, both dtypes and the first misfit."""
    if _matches(values.dtype, target):
        return values
    if _same_kind(values.dtype, target):
        if family(target) == "int":
            check_int_range(values, target, column)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                return values.astype(target)
        except (ValueError, TypeError, OverflowError, ArithmeticError):
            pass
    if not enforce:
        return values
    present = values.dropna()
    if len(present) < len(values) and not is_nullable(target):
        hint = " (declare 'Int64' for nullable integers)" if family(target) == "int" else ""
        raise _refusal(
            values, target, column, f"has missing values (null), which {target} cannot hold{hint}"
        )
    inferred = infer_dtype(present, skipna=False) if len(present) else "empty"
    raise _refusal(
        values,
        target,
        column,
        f"{_describe(inferred)} values (dtype {values.dtype}) cannot be used as {target}"
        f"{_first_misfit(present, family(target))}",
    )


def check_int_range(values: pd.Series, target: Any, column: Hashable | None) -> None:
    """pandas and numpy wrap integers silently (1000 as int8 is -24): refuse what cannot fit."""
    if values.dtype.kind not in "iuf" or not len(values):
        return
    info = np.iinfo(getattr(target, "numpy_dtype", target))
    low, high = values.min(), values.max()
    if values.dtype.kind == "f":
        if not (np.isfinite(low) and np.isfinite(high)):
            return  # NaN / inf: the cast fails and says so
        fits = info.min - 1 < low and high < info.max + 1  # casting truncates toward zero
    else:
        fits = info.min <= low and high <= info.max
    if not fits:
        bad = label(low if low < info.min else high)
        raise _refusal(
            values,
            target,
            column,
            f"value {bad} is out of range for {target} ({info.min}..{info.max})",
        )


def _refusal(values: pd.Series, target: Any, column: Hashable | None, reason: str) -> BadInput:
    where = "series" if column is None else f"column {label(column)!r}"
    detail: dict[str, Any] = {
        "expected_dtype": dtype_name(target),
        "received_dtype": dtype_name(values.dtype),
        "reason": reason,
    }
    if column is not None:
        detail = {"column": label(column), **detail}
    return BadInput(f"{where}: {reason}", detail=detail)


def _same_kind(have: Any, want: Any) -> bool:
    try:
        return bool(np.can_cast(np.dtype(have), np.dtype(want), casting="same_kind"))
    except TypeError:  # a pandas extension dtype: numpy has no rule for it
        return False


def _matches(have: Any, want: Any) -> bool:
    if isinstance(want, pd.CategoricalDtype) and want.categories is None:
        return isinstance(have, pd.CategoricalDtype)
    return bool(have == want)


def _describe(inferred: str) -> str:
    if inferred.startswith("mixed") and inferred != "mixed-integer-float":
        return "mixed-type"
    return {
        "floating": "float",
        "mixed-integer-float": "number",
        "datetime64": "datetime",
        "timedelta64": "timedelta",
    }.get(inferred, inferred)


# the Python types of the values a family takes (bool is an int to Python, not to a client)
_FITS: dict[str, tuple[type, ...]] = {
    "bool": (bool, np.bool_),
    "string": (str,),
}
#: characters of a client's value an error message repeats
_SHOWN = 40


def _first_misfit(present: pd.Series, kind: str) -> str:
    """``; first at row 3: a string 'abc'``: where to look in a long column. For numbers, a
    string that spells one (``"5.9"``) fits: pandas reads it."""
    if kind in ("int", "float", "complex"):
        with np.errstate(all="ignore"):
            misfits = pd.to_numeric(present, errors="coerce").isna()
        if not misfits.any():
            return ""
        row = misfits.idxmax()
        return f"; first at row {label(row)!r}: {_what(present[row])}"
    fits = _FITS.get(kind)
    if fits is None:
        return ""
    values = present.to_numpy(dtype=object)
    # isinstance of each value in a C loop (map of a builtin), not a Python step per value
    fitting = np.fromiter(map(isinstance, values, repeat(fits)), bool, count=len(values))
    if fitting.all():
        return ""
    position = int((~fitting).argmax())
    return f"; first at row {label(present.index[position])!r}: {_what(values[position])}"


def _what(value: Any) -> str:
    if isinstance(value, str):
        return f"a string {excerpt(value, _SHOWN)!r}"
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    return {"int": "an integer", "float": "a number", "list": "an array", "dict": "an object"}.get(
        type(value).__name__, type(value).__name__
    )
