"""The frames built without pandas' walk over the cells (records of plain numbers without a
dict per record, split bodies of plain numbers as one array): the same frame as classic's
``pd.read_json``, and every other body left to the general path."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pandas as pd
import pytest

from bentoml_classic.io import PandasDataFrame, _pandas_records

#: bodies the fast path takes: (body, why it is worth a case)
TAKEN = [
    ('[{"a": 1, "b": 2}, {"a": 3, "b": 4}]', "integers become int64 again"),
    ('[{"a": 1.5, "b": 2}, {"a": 3, "b": 4.25}]', "mixed columns stay float64"),
    ('[{"a": 1.0, "b": -0.0}]', "integral floats become int64, as pandas infers"),
    ('[{"b": 1, "a": 2}, {"a": 3, "b": 4}]', "the first record's order names the columns"),
    ('[{"a": 1, "a": 2, "b": 3}, {"b": 1, "a": 5}]', "the last of duplicate keys"),
    ('[{"0": 1, "1": 2.5}]', "numeric labels become integers"),
    ('[{"é x": 1e-7, "class": 3}]', "any key, not only identifiers"),
    ('  [ {"a" : 9007199254740992 } ,{"a":-9007199254740992}]  ', "float64's exact limit"),
    ('[{"a": 1e300, "b": 2.2250738585072014e-308}]', "extreme floats"),
    ('[{"a}": 1, "{b": 2}]', "braces inside the keys"),
]
#: bodies it leaves to the general path
LEFT = [
    "[]",
    "[{}]",
    '{"a": [1, 2]}',
    '[{"a": 1}, {"b": 2}]',  # another field
    '[{"a": 1, "b": 2}, {"a": 3}]',  # a missing one
    '[{"a": 1}, {"a": 2, "b": 3}]',  # an extra one
    '[{"a": true}]',
    '[{"a": null}]',
    '[{"a": "1.5"}]',
    '[{"a": [1]}]',
    '[{"a": {"b": 1}}]',
    '[{"a": 9007199254740993}]',  # not exact as a float
    '[{"a": 1}, {"a": 18446744073709551616}]',
    '[{"created_at": 1700000000000}]',  # pandas reads it as a date
    '[{"a": 1}, 2]',
    '[{"a": 1}',
    r'[{"a\"": 1}]',  # a quote in a key: msgspec matches no field named so (was a 500)
]


def _classic(body: str) -> pd.DataFrame:
    return pd.read_json(io.BytesIO(body.encode()), orient="records", dtype=True)


@pytest.mark.parametrize(("body", "why"), TAKEN)
def test_taken_bodies_give_classics_frame(parse, body, why):
    assert _pandas_records.numeric_records_frame(body.encode()) is not None, why
    pd.testing.assert_frame_equal(parse(PandasDataFrame(), body), _classic(body), obj=why)


@pytest.mark.parametrize("body", LEFT)
def test_other_bodies_are_left_to_the_general_path(body):
    assert _pandas_records.numeric_records_frame(body.encode()) is None


def test_random_numeric_records_match_read_json(parse):
    rng = random.Random(17)
    for _ in range(40):
        names = [f"k{i}" for i in range(rng.randint(1, 6))]
        kinds = [rng.choice(("int", "float", "integral", "mixed")) for _ in names]

        def value(kind: str) -> float | int:
            if kind == "int" or (kind == "mixed" and rng.random() < 0.5):
                return rng.randint(-(2**40), 2**40)
            if kind == "integral":
                return float(rng.randint(-1000, 1000))
            return rng.uniform(-1e6, 1e6)

        rows = [
            {name: value(kind) for name, kind in zip(names, kinds, strict=True)}
            for _ in range(rng.randint(1, 50))
        ]
        body = json.dumps(rows)
        assert _pandas_records.numeric_records_frame(body.encode()) is not None
        pd.testing.assert_frame_equal(parse(PandasDataFrame(), body), _classic(body))


def test_the_block_is_laid_out_as_pandas_lays_it_out():
    frame = _pandas_records.numeric_records_frame(b'[{"a": 0.5, "b": 1.5}, {"a": 2.5, "b": 3}]')
    assert frame is not None
    (block,) = frame._mgr.blocks
    assert block.values.flags.c_contiguous and block.values.shape == (2, 2)
    assert np.array_equal(frame.to_numpy(), [[0.5, 1.5], [2.5, 3.0]])


def test_split_orient_bodies_match_read_json(parse):
    """Split bodies are built here, not by ``pd.read_json``: the same frame, float or integer
    rows through numpy, anything else through pandas' constructor."""
    rng = random.Random(12)
    kinds = {
        "floats": lambda: rng.choice([0.5, 1.0, -2.25, 1e-7]),
        "ints": lambda: rng.choice([0, 1, -7, 2**40]),
        "mixed": lambda: rng.choice([1, 2.5, "x", None, True]),
    }
    for _ in range(60):
        width = rng.randint(1, 3)
        make = kinds[rng.choice(list(kinds))]
        data = [[make() for _ in range(width)] for _ in range(rng.randint(1, 4))]
        names = rng.choice([["a", "b", "c"], ["a", "a", "b"], [["x", 1], ["x", 2], ["y", 1]]])
        body_obj: dict[str, object] = {"columns": names[:width], "data": data}
        if rng.random() < 0.5:
            body_obj["index"] = [f"r{i}" for i in range(len(data))]
        body = json.dumps(body_obj)
        expected = pd.read_json(io.BytesIO(body.encode()), orient="split", dtype=True)
        got = parse(PandasDataFrame(orient="split"), body)
        pd.testing.assert_frame_equal(got, expected, obj=body)
