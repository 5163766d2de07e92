"""``io._pandas_inference``: pandas' JSON dtype inference on whole columns gives the frame
``pd.read_json`` (classic's call) gives, for numeric bodies of every kind it takes a shortcut
for, and leaves everything else to pandas."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.io import PandasDataFrame
from bentoml_classic.io import _pandas_inference as inference

CELLS: list[Any] = [
    0,
    -1,
    7,
    2**62,
    -(2**63),
    1.0,
    -0.0,
    2.5,
    1e15,
    9.223372036854776e18,  # 2**63: no int64
    1e300,
    -1e-300,
    None,
    True,
    False,
]


def classic(body: str, orient: str) -> pd.DataFrame:
    return pd.read_json(io.StringIO(body), orient=orient, dtype=True)


def random_records(rng: random.Random) -> list[dict[str, Any]]:
    names = rng.sample(["a", "b", "x1", "price", "f0", "score", "n"], rng.randint(1, 4))
    kinds = {name: rng.sample(CELLS, rng.randint(1, 3)) for name in names}
    return [{n: rng.choice(kinds[n]) for n in names} for _ in range(rng.randint(1, 6))]


@pytest.mark.parametrize("orient", ["records", "columns", "values", "index"])
def test_numeric_bodies_read_as_pandas_reads_them(parse, orient):
    rng = random.Random(orient)
    descriptor = PandasDataFrame(orient=orient)
    for _ in range(60):
        body = pd.DataFrame(random_records(rng)).to_json(orient=orient, double_precision=15)
        try:
            expected = classic(body, orient)
        except ValueError:
            continue  # pandas' own parser refused (a 400 here, tested elsewhere)
        got = parse(descriptor, body)
        pd.testing.assert_frame_equal(got, expected, obj=body)


def test_a_float_column_of_integral_values_becomes_int64_as_in_pandas():
    frame = pd.DataFrame({"a": [1.0, -0.0, 3.0], "b": [1.0, 2.5, 3.0], "c": [1.0, np.nan, 2.0]})
    got = inference.inferred_numeric_frame(frame)
    assert got is not None
    assert got.dtypes.tolist() == [np.int64, np.float64, np.float64]
    assert frame["a"].dtype == np.float64  # the frame handed in is not modified


def test_out_of_int64_range_and_infinity_stay_float():
    for values in ([9.223372036854776e18, 1.0], [np.inf, 1.0], [-1e300]):
        frame = pd.DataFrame({"a": values})
        assert inference.inferred_numeric_frame(frame) is frame


def test_date_like_names_and_other_dtypes_go_to_pandas():
    assert inference.inferred_numeric_frame(pd.DataFrame({"created_at": [1.0]})) is None
    assert inference.inferred_numeric_frame(pd.DataFrame({"a": ["1"]})) is None
    assert inference.inferred_numeric_frame(pd.DataFrame({"a": [1.5]}, dtype="float32")) is None


def test_column_names_left_alone_are_remembered_and_dates_are_not(parse):
    inference._clear()
    descriptor = PandasDataFrame()
    body = json.dumps([{"f0": 1.5, "f1": 2}])
    for _ in range(2):
        pd.testing.assert_frame_equal(parse(descriptor, body), classic(body, "records"))
    axis = pd.Index(["f0", "f1"])
    assert inference.known_unchanged("records", "columns", axis)
    assert not inference.known_unchanged("split", "columns", axis)  # per orient
    # labels pandas reads as dates are converted every time, never remembered
    dated = json.dumps({"2024-01-02": [1], "2024-01-03": [2]})
    for _ in range(2):
        pd.testing.assert_frame_equal(parse(descriptor, dated), classic(dated, "records"))
    assert not inference.known_unchanged(
        "records", "columns", pd.Index(["2024-01-02", "2024-01-03"])
    )


def test_the_remembered_names_are_bounded():
    inference._clear()
    for i in range(inference._REMEMBERED + 50):
        inference.remember_unchanged("records", "columns", pd.Index([f"c{i}"]))
    assert len(inference._unchanged_labels) == inference._REMEMBERED
    assert not inference.known_unchanged("records", "columns", pd.Index(["c0"]))  # the oldest
    many = pd.Index([f"c{i}" for i in range(inference._MAX_LABELS + 1)])
    inference.remember_unchanged("records", "columns", many)
    assert not inference.known_unchanged("records", "columns", many)
    inference._clear()
