"""``runner.containers``: rows, signature, concat, take and split along a batch dimension.

Covers numpy arrays (1-D and 2-D, batch_dim 0, 1 and negative), pandas DataFrames and Series
(their index survives a concat followed by a split), plain lists, the signatures that keep
unjoinable values apart, and the errors for non-batchable values, bad batch dimensions and a
split whose sizes do not add up. torch is not installed here, so tensors are not covered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.batching import containers
from bentoml_classic.exceptions import InternalServerError, InvalidArgument

# --- rows ------------------------------------------------------------------------------------


def test_rows_of_numpy_arrays() -> None:
    assert containers.rows(np.arange(5), 0) == 5
    assert containers.rows(np.arange(5), -1) == 5
    matrix = np.zeros((3, 7))
    assert containers.rows(matrix, 0) == 3
    assert containers.rows(matrix, 1) == 7
    assert containers.rows(matrix, -1) == 7
    assert containers.rows(matrix, -2) == 3
    assert containers.rows(np.zeros((0, 2)), 0) == 0


def test_rows_of_pandas_and_lists() -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]})
    assert containers.rows(frame, 0) == 3
    assert containers.rows(frame, -1) == 3
    assert containers.rows(pd.Series([1, 2]), 0) == 2
    assert containers.rows([1, "two", None, 4], 0) == 4
    assert containers.rows([], 0) == 0


@pytest.mark.parametrize("value", [np.arange(3), np.zeros((2, 3))])
@pytest.mark.parametrize("dim", [2, 5, -3])
def test_rows_with_a_missing_numpy_dimension_is_invalid_argument(value: Any, dim: int) -> None:
    with pytest.raises(InvalidArgument, match=f"batch_dim {dim}") as info:
        containers.rows(value, dim)
    assert "ndarray" in str(info.value)
    assert info.value.status_code == 400


def test_rows_of_a_zero_dimensional_array_is_invalid_argument() -> None:
    # a client sending a bare number to a method batched on dim 0
    with pytest.raises(InvalidArgument, match=r"0 dimension\(s\)"):
        containers.rows(np.array(3.0), 0)


@pytest.mark.parametrize(
    "value", [pd.DataFrame({"a": [1]}), pd.Series([1]), [1, 2]], ids=["frame", "series", "list"]
)
def test_rows_of_one_dimensional_containers_only_accepts_dim_0(value: Any) -> None:
    with pytest.raises(InvalidArgument, match="batch_dim 1"):
        containers.rows(value, 1)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [("abc", "str"), (5, "int"), ({"a": 1}, "dict"), ((1, 2), "tuple"), (None, "NoneType")],
)
def test_non_batchable_values_raise_internal_server_error_naming_the_type(
    value: Any, type_name: str
) -> None:
    assert containers.is_batchable(value) is False
    for action in (
        lambda: containers.rows(value, 0),
        lambda: containers.signature(value, 0),
        lambda: containers.take(value, 0, 1, 0),
        lambda: containers.split(value, [1], 0),
        lambda: containers.concat([value, value], 0),
    ):
        with pytest.raises(InternalServerError) as info:
            action()
        assert f"got {type_name}" in str(info.value)
        assert "numpy arrays" in str(info.value)
        assert info.value.status_code == 500


def test_batchable_values() -> None:
    for value in (np.arange(2), pd.DataFrame({"a": [1]}), pd.Series([1.0]), [1], []):
        assert containers.is_batchable(value) is True
    assert containers.is_batchable(np.float64(1.0)) is False  # a numpy scalar is not an array


# --- signature -------------------------------------------------------------------------------


def test_numpy_signature_ignores_the_batch_size_only() -> None:
    sig = containers.signature
    assert sig(np.zeros((2, 3)), 0) == sig(np.zeros((9, 3)), 0)
    assert sig(np.zeros((3, 2)), 1) == sig(np.zeros((3, 9)), 1)
    assert sig(np.zeros((3, 2)), -1) == sig(np.zeros((3, 9)), 1)
    # dtype
    assert sig(np.zeros(3, dtype=np.float64), 0) != sig(np.zeros(3, dtype=np.int64), 0)
    assert sig(np.zeros(3, dtype=np.float32), 0) != sig(np.zeros(3, dtype=np.float64), 0)
    # trailing shape
    assert sig(np.zeros((2, 3)), 0) != sig(np.zeros((2, 4)), 0)
    assert sig(np.zeros((3, 2)), 1) != sig(np.zeros((4, 2)), 1)
    # number of dimensions
    assert sig(np.zeros(3), 0) != sig(np.zeros((3, 1)), 0)


def test_pandas_signatures() -> None:
    sig = containers.signature
    frame = pd.DataFrame({"a": [1, 2], "b": [1.0, 2.0]})
    assert sig(frame, 0) == sig(pd.DataFrame({"a": [7], "b": [3.5]}), 0)
    assert sig(frame, 0) != sig(pd.DataFrame({"a": [1], "c": [1.0]}), 0)  # other column
    assert sig(frame, 0) != sig(pd.DataFrame({"b": [1.0], "a": [1]}), 0)  # column order
    assert sig(frame, 0) != sig(pd.DataFrame({"a": [1.0], "b": [1.0]}), 0)  # column dtype
    assert sig(frame, 0) != sig(pd.DataFrame({"a": [1]}), 0)  # fewer columns
    series = pd.Series([1, 2], name="x")
    assert sig(series, 0) == sig(pd.Series([5], name="x"), 0)
    assert sig(series, 0) != sig(pd.Series([5], name="y"), 0)
    assert sig(series, 0) != sig(pd.Series([5.0], name="x"), 0)
    assert sig(series, 0) != sig(pd.DataFrame({"x": [1, 2]}), 0)


def test_list_and_numpy_signatures_differ() -> None:
    assert containers.signature([1, 2], 0) == containers.signature(["a"], 0)
    assert containers.signature([1, 2], 0) != containers.signature(np.array([1, 2]), 0)


# --- concat, take, split ---------------------------------------------------------------------


def test_numpy_1d_concat_take_split() -> None:
    a, b, c = np.array([1, 2]), np.array([3]), np.array([4, 5, 6])
    joined = containers.concat([a, b, c], 0)
    np.testing.assert_array_equal(joined, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(containers.take(joined, 2, 5, 0), [3, 4, 5])
    pieces = containers.split(joined, [2, 1, 3], 0)
    assert len(pieces) == 3
    for piece, original in zip(pieces, (a, b, c), strict=True):
        np.testing.assert_array_equal(piece, original)


def test_numpy_2d_along_dim_0() -> None:
    a = np.arange(6).reshape(2, 3)
    b = np.arange(6, 9).reshape(1, 3)
    joined = containers.concat([a, b], 0)
    assert joined.shape == (3, 3)
    np.testing.assert_array_equal(containers.take(joined, 1, 3, 0), [[3, 4, 5], [6, 7, 8]])
    first, second = containers.split(joined, [2, 1], 0)
    np.testing.assert_array_equal(first, a)
    np.testing.assert_array_equal(second, b)


@pytest.mark.parametrize("dim", [1, -1])
def test_numpy_2d_along_dim_1(dim: int) -> None:
    a = np.array([[1, 2], [10, 20]])
    b = np.array([[3], [30]])
    joined = containers.concat([a, b], dim)
    np.testing.assert_array_equal(joined, [[1, 2, 3], [10, 20, 30]])
    assert containers.rows(joined, dim) == 3
    np.testing.assert_array_equal(containers.take(joined, 1, 3, dim), [[2, 3], [20, 30]])
    first, second = containers.split(joined, [2, 1], dim)
    np.testing.assert_array_equal(first, a)
    np.testing.assert_array_equal(second, b)


def test_concat_of_one_value_is_that_value() -> None:
    value = np.arange(3)
    assert containers.concat([value], 0) is value


def test_split_into_one_piece_is_the_value_itself() -> None:
    value = np.arange(3)
    assert containers.split(value, [3], 0)[0] is value


def test_dataframe_index_survives_concat_and_split() -> None:
    a = pd.DataFrame({"x": [1, 2], "y": [0.5, 1.5]}, index=["a1", "a2"])
    b = pd.DataFrame({"x": [3], "y": [2.5]}, index=["b1"])
    c = pd.DataFrame({"x": [4, 5], "y": [3.5, 4.5]}, index=[10, 11])
    joined = containers.concat([a, b, c], 0)
    assert list(joined.index) == ["a1", "a2", "b1", 10, 11]
    assert list(joined["x"]) == [1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(containers.take(joined, 1, 3, 0), joined.iloc[1:3])
    pieces = containers.split(joined, [2, 1, 2], 0)
    # the joined index mixes strings and ints, so its dtype is object: compare values only
    pd.testing.assert_frame_equal(pieces[0], a, check_index_type=False)
    pd.testing.assert_frame_equal(pieces[1], b, check_index_type=False)
    assert list(pieces[2].index) == [10, 11]
    assert list(pieces[2]["y"]) == [3.5, 4.5]


def test_series_index_and_name_survive_concat_and_split() -> None:
    a = pd.Series([1.0, 2.0], index=[5, 6], name="s")
    b = pd.Series([3.0], index=[0], name="s")
    joined = containers.concat([a, b], 0)
    assert list(joined.index) == [5, 6, 0]
    assert joined.name == "s"
    first, second = containers.split(joined, [2, 1], 0)
    pd.testing.assert_series_equal(first, a)
    pd.testing.assert_series_equal(second, b)


def test_lists() -> None:
    joined = containers.concat([[1, "a"], [], [None]], 0)
    assert joined == [1, "a", None]
    assert containers.take(joined, 1, 3, 0) == ["a", None]
    assert containers.split(joined, [1, 0, 2], 0) == [[1], [], ["a", None]]


def test_concat_does_not_modify_its_inputs() -> None:
    first = [1, 2]
    containers.concat([first, [3]], 0)
    assert first == [1, 2]


@pytest.mark.parametrize(
    ("value", "sizes"),
    [
        (np.arange(5), [2, 2]),
        (np.arange(5), [4]),
        (np.arange(5), [3, 3]),
        (np.zeros((2, 5)), [2]),  # rows along dim 1 are 5, not 2
        (pd.DataFrame({"a": [1, 2]}), [3]),
        ([1, 2, 3], [1, 1]),
    ],
)
def test_split_with_the_wrong_total_is_internal_server_error(value: Any, sizes: list[int]) -> None:
    dim = 1 if isinstance(value, np.ndarray) and value.ndim == 2 else 0
    with pytest.raises(InternalServerError, match="one output row per input row") as info:
        containers.split(value, sizes, dim)
    total = containers.rows(value, dim)
    assert f"returned {total} row(s) for {sum(sizes)} input row(s)" in str(info.value)


def test_split_with_a_bad_dim_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        containers.split(np.arange(4), [2, 2], 1)


def test_a_frame_signature_holds_its_dtypes_column_by_column() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5], "c": ["x", "y"], "d": [True, False]})
    frame["e"] = frame["a"]  # a second int64 column, in another block
    expected = ("frame", tuple(frame.columns), tuple(frame.dtypes))
    assert containers.signature(frame, 0) == expected
    assert containers.signature(frame[["d", "a"]], 0) != containers.signature(frame[["a", "d"]], 0)
