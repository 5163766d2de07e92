"""Large JSON bodies of short numbers: the whole-buffer reader against the text way it replaced.

    python tests/benchmarks/bench_short_numbers.py [--repeat 40] [--write]

In one process, the three ways taken in turns, request body by request body (the best of
``--repeat`` each): ``parse_numeric_array`` (``io/_number_tokens.py`` first), ``read_as_text``
(eight grammar patterns and ``np.fromstring``: the way before, still the fallback), and
msgspec + ``np.asarray`` (a Python object per number: what those bodies are kept from, for
memory). Four seeded bodies: pixels as integers, 0/1 features, one- and two-decimal values.
Each way's array is checked against ``np.asarray(json.loads(body))`` first. ``--write`` puts
the table into docs/benchmarks.md between its markers.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # run as a script: bentoml_classic is found from the repository

from bentoml_classic.io._numeric_json import (  # noqa: E402
    object_factor,
    parse_numeric_array,
    read_as_text,
)
from tests.benchmarks.harness import write_report  # noqa: E402


def bodies() -> dict[str, bytes]:
    rng = np.random.default_rng(1)
    values = {
        "pixels 100x784, integers 0-255": rng.integers(0, 256, (100, 784)),
        "0/1 features 1000x100": rng.integers(0, 2, (1000, 100)),
        "100x784, one decimal": np.round(rng.random((100, 784)), 1),
        "100x784, two decimals": np.round(rng.random((100, 784)), 2),
    }
    return {name: json.dumps(array.tolist()).encode() for name, array in values.items()}


def ways(body: bytes) -> dict[str, Callable[[], Any]]:
    count = math.prod(np.asarray(json.loads(body)).shape)
    return {
        "parse_numeric_array": lambda: parse_numeric_array(body),
        "read_as_text": lambda: read_as_text(body, count),
        "msgspec": lambda: np.asarray(msgspec.json.decode(body)),
    }


def best_of(functions: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Each function's best time in ms, taken in turns so that the machine's moods fall on all."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    return {name: 1000 * min(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    lines = [
        "| body | size | objects / body | text way (before) | now | | msgspec + `np.asarray` |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, body in bodies().items():
        expected = np.asarray(json.loads(body))
        functions = ways(body)
        for way, function in functions.items():
            got = np.asarray(function()).reshape(expected.shape)
            assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes(), way
        ms = best_of(functions, args.repeat)
        now, before = ms["parse_numeric_array"], ms["read_as_text"]
        lines.append(
            f"| {name} | {len(body) // 1024} KiB | {object_factor(body):.1f}x | {before:.2f} ms "
            f"| {now:.2f} ms | {before / now:.1f}x | {ms['msgspec']:.2f} ms |"
        )
    lines += [
        "",
        f"- best of {args.repeat} each, in turns, one process; Python "
        f"{platform.python_version()}, measured "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_report(REPO / "docs" / "benchmarks.md", table, marker="bench_short_numbers")


if __name__ == "__main__":
    main()
