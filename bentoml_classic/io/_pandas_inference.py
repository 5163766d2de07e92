"""pandas' JSON dtype inference, done on whole columns where its outcome is known beforehand.

``pd.read_json(dtype=True)`` runs, for each column and axis, a chain of tries through pandas'
Series machinery (dates, floats, ints); on a body of 1,000 rows of 8 floats that took longer
than parsing the JSON. For the columns a model's body is usually made of the chain's outcome
is simple, and numpy gets it in one operation per column:

- an int64 or bool column is left as it is;
- a float64 column becomes int64 when every value is finite and integral (pandas' own test:
  cast to int64, compare), else stays float64;
- a column named like a date (pandas' rule: ``_at``, ``_time``, ``modified``, ``date``,
  ``datetime``, ``timestamp...``; matched more widely here) or of any other dtype goes through
  pandas' own methods, as does the whole frame then.

Axis labels are tried as dates and numbers too: column names that pandas left unchanged once
are remembered (a few hundred sets of names, each bounded), since the same API gets the same
names request after request. Only "unchanged" is remembered: a conversion can depend on the day
(a time of day is read as today's date).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

#: words in a column name that may make pandas read the column as dates (its rule: "_at",
#: "_time", "modified", "date", "datetime", "timestamp..."; these cover more, to be safe)
DATE_LIKE = re.compile(r"_at|time|modified|date", re.IGNORECASE)

#: how many sets of labels are remembered, and how large one may be (labels, characters)
_REMEMBERED = 256
_MAX_LABELS = 512
_MAX_CHARS = 8192
_unchanged_labels: OrderedDict[tuple[str, str, tuple[str, ...]], None] = OrderedDict()
_lock = threading.Lock()


def inferred_numeric_frame(frame: pd.DataFrame) -> pd.DataFrame | None:
    """What pandas' inference makes of ``frame`` when each column is int64, bool or float64 and
    none is named like a date (``frame`` itself where nothing changes); None for any other
    frame, which pandas' own methods then convert."""
    if any(isinstance(c, str) and DATE_LIKE.search(c) for c in frame.columns):
        return None
    dtypes = list(frame.dtypes)
    if len(frame) and dtypes and all(dtype == np.float64 for dtype in dtypes):
        # the common case, every column a float: one look at the whole block, not a column at
        # a time through ``iloc`` (most of this function's cost on a 1,000 x 8 frame)
        values = frame.to_numpy(copy=False)
        with np.errstate(invalid="ignore"):  # NaN, or out of int64's range: not integral
            integral_columns = np.isfinite(values).all(axis=0) & (
                values.astype(np.int64) == values
            ).all(axis=0)
        if not integral_columns.any():
            return frame
    integral: dict[int, np.ndarray] = {}
    for position, dtype in enumerate(dtypes):
        if dtype == np.int64 or dtype == np.bool_:
            continue
        if dtype != np.float64:
            return None
        ints = _as_integers(frame.iloc[:, position].to_numpy())
        if ints is not None:
            integral[position] = ints
    if not integral:
        return frame
    result = frame.copy(deep=False)
    for position, ints in integral.items():
        result.isetitem(position, ints)
    return result


def _as_integers(values: np.ndarray) -> np.ndarray | None:
    """``values`` as int64 where pandas makes them so: non-empty, finite, every one integral."""
    if not len(values) or not np.isfinite(values).all():
        return None
    with np.errstate(invalid="ignore"):  # out of int64's range: the comparison then fails
        ints = values.astype(np.int64)
    return ints if bool((ints == values).all()) else None


def _key(orient: str, axis_name: str, axis: pd.Index) -> tuple[str, str, tuple[str, ...]] | None:
    if len(axis) > _MAX_LABELS:
        return None
    labels = tuple(axis)
    if not all(type(label) is str for label in labels):
        return None
    if sum(map(len, labels)) > _MAX_CHARS:
        return None
    return orient, axis_name, labels


def known_unchanged(orient: str, axis_name: str, axis: pd.Index) -> bool:
    """Whether pandas' conversion left these labels unchanged before (in this orient: pandas
    treats a split body's index apart)."""
    key = _key(orient, axis_name, axis)
    if key is None:
        return False
    with _lock:
        if key not in _unchanged_labels:
            return False
        _unchanged_labels.move_to_end(key)
        return True


def remember_unchanged(orient: str, axis_name: str, axis: pd.Index) -> None:
    key = _key(orient, axis_name, axis)
    if key is None:
        return
    with _lock:
        _unchanged_labels[key] = None
        while len(_unchanged_labels) > _REMEMBERED:
            _unchanged_labels.popitem(last=False)


def _clear() -> None:
    """Forget every remembered set of labels (for tests)."""
    with _lock:
        _unchanged_labels.clear()
