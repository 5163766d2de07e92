"""Records of any JSON values read through one struct per record (``records_frame``): exactly
the frame pandas' constructor makes of the parsed list of dicts, the same frame (dtypes
included) and the same 4xx envelopes from the descriptor as the general path, which reads a
dict per record, and every body whose records differ left to that path."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from bentoml_classic.exceptions import BentoMLException
from bentoml_classic.io import PandasDataFrame, _pandas_parse, _pandas_records

#: bodies read through the structs: (body, why it is worth a case)
TAKEN = [
    ('[{"a": "x", "b": "yz"}, {"a": "", "b": "w"}]', "strings: pandas 3's str dtype"),
    ('[{"a": null, "b": 1}, {"a": null, "b": null}]', "an all-null column, a null among ints"),
    ('[{"a": true, "b": false}, {"a": false, "b": true}]', "booleans"),
    ('[{"a": true, "b": 1}, {"a": null, "b": "x"}]', "mixed columns: object"),
    ('[{"a": "x", "b": null}, {"a": null, "b": 2.5}]', "a null among strings, among floats"),
    ('[{"a": [1, 2], "b": {"c": {"d": null}}}, {"a": [], "b": {}}]', "nested values"),
    ('[{"é": "ünïçødé", "日本": "語"}]', "unicode keys and values"),
    (r'[{"a}": "q\"}\\n\t", "b": "\ud83d\ude00\u0041"}]', "escapes, braces in a key, a value"),
    ('[{"a": 1, "a": "x", "b": null}, {"b": 2, "a": "y"}]', "the last of duplicate keys"),
    ('[{"a": "1.5", "b": "2"}, {"a": "3", "b": "-4"}]', "numeric strings: inferred as numbers"),
    ('[{"a": 18446744073709551616, "b": -1}]', "an integer beyond int64"),
    ('[{"a": 9007199254740993, "b": 0.5}]', "an integer beyond float64's exact range"),
    ('[{"created_at": 1700000000000, "b": "x"}]', "a column named like a date"),
    ('[{"modified": "2024-01-01", "b": "2024-01-02"}]', "date strings"),
    ('[{"0": "x", "1": null}]', "numeric labels become integers"),
    ('[{"a": {"}": "}"}, "b": 1}, {"a": 1, "b": {"x": [{}]}}]', "braces nested in the first"),
    ('  [ {"a" : "x" } ,{"a":"y"}]  ', "whitespace around the tokens"),
]
#: bodies left to the general path
LEFT = [
    "[]",
    "[{}]",
    '{"a": ["x", "y"]}',
    '"x"',
    '[{"a": "x"}, {"b": "y"}]',  # another field
    '[{"a": "x", "b": null}, {"a": "y"}]',  # a missing one
    '[{"a": "x"}, {"a": "y", "b": null}]',  # an extra one
    '[{"a": "x"}, "y"]',
    '[{"a": "x"}, null]',
    '[{"a": "x"}, ["y"]]',
    '[{"a": NaN}]',  # Python's extension: json.loads reads it
    '[{"a": "x"}, {"a": 1e400}]',  # beyond a float: json.loads makes it inf
    '[{"a": "x"}',
    '[{"a": "x"}] y',
    r'[{"\ud800": "x"}]',  # a lone surrogate in a key
    r'[{"a\"": "x"}]',  # a quote in a key: msgspec matches no field named so
    r'[{"a\\": "x"}]',  # a backslash
    r'[{"a\n": "x"}]',  # a control character
    b'[{"a": "\xff"}]',  # not UTF-8
]


def _general(monkeypatch: pytest.MonkeyPatch, read: Callable[[], Any]) -> Any:
    """What ``read`` gives (or raises) with records read as dicts, as before the structs."""
    with monkeypatch.context() as patched:
        patched.setattr(_pandas_parse, "records_frame", lambda body: None)
        return _outcome(read)


def _outcome(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except BentoMLException as exc:
        return exc.status_code, exc.to_payload()


def _assert_same(got: Any, expected: Any, why: str) -> None:
    if isinstance(expected, pd.DataFrame):
        assert isinstance(got, pd.DataFrame), (why, got)
        pd.testing.assert_frame_equal(got, expected, obj=why)
    else:
        assert got == expected, why


@pytest.mark.parametrize(("body", "why"), TAKEN)
def test_taken_bodies_give_the_constructors_frame(body: str, why: str) -> None:
    frame = _pandas_records.records_frame(body.encode())
    assert frame is not None, why
    pd.testing.assert_frame_equal(frame, pd.DataFrame(json.loads(body)), obj=why)


@pytest.mark.parametrize(("body", "why"), TAKEN)
def test_taken_bodies_give_what_the_general_path_gives(
    monkeypatch: pytest.MonkeyPatch, parse: Any, body: str, why: str
) -> None:
    descriptor = PandasDataFrame()
    got = parse(descriptor, body)
    _assert_same(got, _general(monkeypatch, lambda: parse(descriptor, body)), why)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('[{"a": "x", "b": "y"}, {"a": "z", "b": "w"}]', "strings"),
        ('[{"a": true, "b": null}, {"a": false, "b": 2}]', "booleans and a null"),
        ('[{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]', "numeric strings"),
    ],
)
def test_classics_read_json_gives_the_same_frame(parse: Any, body: str, why: str) -> None:
    classic = pd.read_json(io.BytesIO(body.encode()), orient="records", dtype=True)
    pd.testing.assert_frame_equal(parse(PandasDataFrame(), body), classic, obj=why)


@pytest.mark.parametrize("body", LEFT)
def test_other_bodies_are_left_to_the_general_path(body: str | bytes) -> None:
    assert _pandas_records.records_frame(body if isinstance(body, bytes) else body.encode()) is None


@pytest.mark.parametrize(
    "descriptor",
    [
        PandasDataFrame(dtype={"a": "float64"}, enforce_dtype=True),
        PandasDataFrame(dtype="int8", enforce_dtype=True),
        PandasDataFrame(dtype={"b": "str"}, enforce_dtype=True),
        PandasDataFrame(columns=["x", "y"], apply_column_names=True),
        PandasDataFrame(shape=(-1, 3), enforce_shape=True),
    ],
    ids=["float-column", "int8", "str-column", "names", "shape"],
)
@pytest.mark.parametrize(
    "body",
    [
        '[{"a": "x", "b": 1}, {"a": "y", "b": 2}]',
        '[{"a": "1.5", "b": null}]',
        '[{"a": 300, "b": "7"}]',
        '[{"a": null, "b": true}]',
    ],
)
def test_declared_dtypes_and_shapes_answer_as_before(
    monkeypatch: pytest.MonkeyPatch, parse: Any, descriptor: PandasDataFrame, body: str
) -> None:
    """The structs make the frame before the declared dtypes, names and shape are applied: the
    frame, or the 4xx envelope, is the general path's."""
    got = _outcome(lambda: parse(descriptor, body))
    _assert_same(got, _general(monkeypatch, lambda: parse(descriptor, body)), body)


def test_random_records_match_the_general_path(monkeypatch: pytest.MonkeyPatch, parse: Any) -> None:
    rng = random.Random(15)
    values: list[Callable[[], Any]] = [
        lambda: rng.choice(["", "a", "xyz", "é🙂", 'q"}\\', "1.5", "-3", "NaN", "2024-01-01"]),
        lambda: None,
        lambda: rng.choice([True, False]),
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.randint(-5, 5),
        lambda: rng.uniform(-1e6, 1e6),
        lambda: [rng.randint(0, 3)] * rng.randint(0, 2),
        lambda: {"k": rng.choice([None, "v", 1])},
    ]
    descriptor = PandasDataFrame()
    for _ in range(30):
        names = rng.sample(["a", "b", "c_at", "0", "é", "d}"], rng.randint(1, 4))
        # each column draws from one or two kinds of value, so that inference has a case
        kinds = {name: rng.sample(values, rng.randint(1, 2)) for name in names}
        rows = [
            {name: rng.choice(kinds[name])() for name in rng.sample(names, len(names))}
            for _ in range(rng.randint(1, 30))
        ]
        body = json.dumps(rows, ensure_ascii=rng.random() < 0.5)
        frame = _pandas_records.records_frame(body.encode())
        assert frame is not None, body
        pd.testing.assert_frame_equal(frame, pd.DataFrame(json.loads(body)), obj=body)
        got = _outcome(lambda: parse(descriptor, body))  # noqa: B023 (called at once)
        expected = _general(monkeypatch, lambda: parse(descriptor, body))  # noqa: B023
        _assert_same(got, expected, body)
