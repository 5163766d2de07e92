"""A pandas DataFrame's column dtypes, without what ``frame.dtypes`` builds around them.

``frame.dtypes`` makes a Series and an Index of the column labels for the dtypes (about 70 µs
on an 8-column frame, most of it the labels' str Index), where the block manager holds them as
an array (about 5 µs). Both the CSV reader's dtype check (``io``) and a frame's batching
signature (``batching``) ask per request. This module imports nothing, pandas included: a
process that never sees a frame does not load it.
"""

from __future__ import annotations

from typing import Any


def column_dtypes(frame: Any) -> tuple[Any, ...]:
    """``tuple(frame.dtypes)``, from pandas' block manager where it has ``get_dtypes`` (not
    public); else, or where that answers something else, ``frame.dtypes``."""
    get_dtypes = getattr(getattr(frame, "_mgr", None), "get_dtypes", None)
    if get_dtypes is not None:
        try:
            dtypes = tuple(get_dtypes())
        except Exception:  # another manager's method of that name: pandas' public answer
            dtypes = ()
        if len(dtypes) == frame.shape[1]:
            return dtypes
    return tuple(frame.dtypes)
