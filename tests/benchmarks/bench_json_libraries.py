"""Which fast JSON library the IO descriptors use: stdlib ``json``, orjson and msgspec, timed on
the bodies each descriptor reads and writes, and the memory each takes to parse a large body.

    python tests/benchmarks/bench_json_libraries.py [--write]

Times are the best of several repeats, in this process (a shared machine's speed drifts: only
the ratios against ``json`` in the same run mean something). The memory figure is the rise of
a fresh process's peak resident size (``VmHWM``) while it parses one body and holds the result,
divided by the body's size. ``--write`` puts the tables into docs/benchmarks.md between the
``bench_json_libraries`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import platform
import random
import re
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import orjson
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench_json_libraries: begin -->", "<!-- bench_json_libraries: end -->"


def bodies() -> dict[str, bytes]:
    """The request bodies of issue 17's workloads, one per descriptor and orient."""
    rng = np.random.default_rng(17)
    frame = pd.DataFrame(rng.random((1000, 8)), columns=[f"f{i}" for i in range(8)])
    words = ["alpha", "beta", "gamma", "delta"]
    nested = {
        "items": [
            {"id": i, "name": random.Random(i).choice(words), "price": i * 0.25, "tags": ["a"]}
            for i in range(1500)
        ],
        "total": 1500,
    }
    return {
        "NumpyNdarray iris `[[5.9,3,5.1,1.8]]`": b"[[5.9,3,5.1,1.8]]",
        "NumpyNdarray 100x784 float32": json.dumps(
            rng.random((100, 784), dtype=np.float32).tolist()
        ).encode(),
        "PandasDataFrame records 1000x8": frame.to_json(orient="records").encode(),
        "PandasDataFrame columns 1000x8": frame.to_json(orient="columns").encode(),
        "PandasDataFrame split 1000x8": frame.to_json(orient="split").encode(),
        "PandasDataFrame values 1000x8": frame.to_json(orient="values").encode(),
        "PandasSeries 10000 floats": pd.Series(rng.random(10000))
        .to_json(orient="records")
        .encode(),
        "JSON 1500 objects": json.dumps(nested).encode(),
    }


PARSERS: dict[str, Callable[[bytes], Any]] = {
    "json": json.loads,
    "orjson": orjson.loads,
    "msgspec": msgspec.json.decode,
}
RENDERERS: dict[str, Callable[[Any], Any]] = {
    "json": lambda obj: json.dumps(obj).encode(),
    "orjson": orjson.dumps,
    "msgspec": msgspec.json.encode,
}


def best_us(call: Callable[[], Any], budget_s: float = 0.15) -> float:
    """Microseconds per call: the best of 5 repeats of as many calls as fill the budget."""
    timer = timeit.Timer(call)
    number, elapsed = timer.autorange()
    number = max(1, int(number * budget_s / max(elapsed, 1e-9) / 5))
    return min(timer.repeat(5, number)) / number * 1e6


def timings() -> list[str]:
    rows = [
        "| body | size | parse: json | orjson | msgspec | render: json | orjson | msgspec |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, body in bodies().items():
        obj = json.loads(body)
        parse = {lib: best_us(functools.partial(f, body)) for lib, f in PARSERS.items()}
        render = {lib: best_us(functools.partial(f, obj)) for lib, f in RENDERERS.items()}
        cells = [f"{name}", _size(len(body))]
        for figures in (parse, render):
            base = figures["json"]
            cells.append(_us(base))
            cells += [
                f"{_us(figures[lib])} ({figures[lib] / base:.2f}x)" for lib in ("orjson", "msgspec")
            ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


_MEMORY_PROBE = """
import gc, sys, re
body = open(sys.argv[2], "rb").read()
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
import json, orjson, msgspec
parse = {"json": json.loads, "orjson": orjson.loads, "msgspec": msgspec.json.decode}[sys.argv[1]]
gc.collect()
before = rss()
open("/proc/self/clear_refs", "w").write("5")
value = parse(body)
print((hwm() - before) / len(body))
"""


def memory(tmp: Path) -> list[str]:
    """Peak rise per body byte, each library in a fresh process."""
    big = {
        "an object of 940,000 keys (15 MB)": b"{"
        + b",".join(b'"k%d": %d' % (i, i % 10) for i in range(940_000))
        + b"}",
        '940,000 records `{"a": 1}` (15 MB)': b"["
        + b", ".join(b'{"a": %d}' % (i % 10) for i in range(940_000))
        + b"]",
    }
    rows = ["| body | json | orjson | msgspec |", "|---|---|---|---|"]
    for name, body in big.items():
        path = tmp / "body.json"
        path.write_bytes(body)
        cells = [name]
        for lib in PARSERS:
            out = subprocess.run(
                [sys.executable, "-c", _MEMORY_PROBE, lib, str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            cells.append(f"{float(out.stdout):.1f}x")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def descriptors() -> list[str]:
    """The descriptors as they are now against what a hand-written app does with the stdlib
    (``pd.DataFrame(json.loads(body))``, ``np.asarray(json.loads(body))``,
    ``json.dumps(arr.tolist())``), and against the same with msgspec (the limit)."""
    from bentoml_classic.io import JSON, NumpyNdarray, PandasDataFrame, PandasSeries
    from bentoml_classic.io.mediatype import parse_media_type

    every = bodies()
    json_type = parse_media_type("application/json")
    rng = np.random.default_rng(3)
    frame_out = pd.DataFrame(rng.random((1000, 8)), columns=[f"f{i}" for i in range(8)])
    cases: list[tuple[str, Callable[[], Any], Callable[[], Any], Callable[[], Any]]] = []
    for orient in ("records", "columns", "split", "values"):
        body = every[f"PandasDataFrame {orient} 1000x8"]
        descriptor = PandasDataFrame(orient=orient)
        cases.append(
            (
                f"PandasDataFrame({orient!r}) parse 1000x8",
                functools.partial(descriptor.parse_bytes, body, json_type),
                functools.partial(_stdlib_frame, body, orient),
                functools.partial(_msgspec_frame, body, orient),
            )
        )
    series_body = every["PandasSeries 10000 floats"]
    cases.append(
        (
            "PandasSeries parse 10000",
            functools.partial(PandasSeries().parse_bytes, series_body),
            lambda: pd.Series(json.loads(series_body)),
            lambda: pd.Series(msgspec.json.decode(series_body)),
        )
    )
    for name in ("NumpyNdarray iris `[[5.9,3,5.1,1.8]]`", "NumpyNdarray 100x784 float32"):
        body = every[name]
        descriptor = NumpyNdarray(dtype="float32") if "784" in name else NumpyNdarray()
        cases.append(
            (
                f"{name} parse",
                functools.partial(descriptor.parse_bytes, body),
                lambda body=body: np.asarray(json.loads(body), dtype="float32"),
                lambda body=body: np.asarray(msgspec.json.decode(body), dtype="float32"),
            )
        )
    for name, arr in (
        ("NumpyNdarray iris answer `[2]` render", np.array([2])),
        ("NumpyNdarray 100x784 float32 render", rng.random((100, 784), dtype=np.float32)),
    ):
        cases.append(
            (
                name,
                functools.partial(render_array, arr),
                lambda arr=arr: json.dumps(arr.tolist()).encode(),
                lambda arr=arr: msgspec.json.encode(arr.tolist()),
            )
        )
    cases.append(
        (
            "PandasDataFrame records 1000x8 render",
            functools.partial(PandasDataFrame().render, frame_out),
            lambda: json.dumps(frame_out.to_dict(orient="records")).encode(),
            lambda: msgspec.json.encode(frame_out.to_dict(orient="records")),
        )
    )
    nested = json.loads(every["JSON 1500 objects"])
    cases.append(
        (
            "JSON 1500 objects render",
            functools.partial(JSON().render, nested),
            lambda: json.dumps(nested, separators=(",", ":")).encode(),
            lambda: msgspec.json.encode(nested),
        )
    )
    rows = [
        "| what | descriptor | hand-written, stdlib json | ratio | hand-written, msgspec | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, ours, stdlib, limit in cases:
        mine, base, fast = best_us(ours), best_us(stdlib), best_us(limit)
        rows.append(
            f"| {name} | {_us(mine)} | {_us(base)} | {mine / base:.2f}x | {_us(fast)} "
            f"| {mine / fast:.2f}x |"
        )
    return rows


def render_array(arr: np.ndarray) -> bytes:
    from bentoml_classic.io.numpy import render_array as render

    return render(arr)


def _stdlib_frame(body: bytes, orient: str) -> pd.DataFrame:
    value = json.loads(body)
    return _frame(value, orient)


def _msgspec_frame(body: bytes, orient: str) -> pd.DataFrame:
    return _frame(msgspec.json.decode(body), orient)


def _frame(value: Any, orient: str) -> pd.DataFrame:
    if orient == "split":
        return pd.DataFrame(value["data"], columns=value["columns"], index=value["index"])
    return pd.DataFrame(value)


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} B"


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 1000 else f"{value:.1f} µs"


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser()
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    lines = timings()
    print("\n".join(lines))
    ours = descriptors()
    print("\n".join(ours))
    with tempfile.TemporaryDirectory() as tmp:
        mem = memory(Path(tmp))
    print("\n".join(mem))
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join(
        [
            BEGIN,
            f"Parse (bytes to Python objects) and render (objects to bytes), best of 5, "
            f"orjson {orjson.__version__}, msgspec {msgspec.__version__}, Python "
            f"{platform.python_version()}, {when}:",
            "",
            *lines,
            "",
            "The descriptors (parse: bytes to the validated value; render: value to the "
            "response's bytes) against hand-written code with the stdlib and with msgspec, "
            "same run:",
            "",
            *ours,
            "",
            "Peak resident memory while parsing a large body, per byte of body (a fresh "
            "process each):",
            "",
            *mem,
            END,
        ]
    )
    if args.write:
        text = DOC.read_text()
        if BEGIN in text:
            text = re.sub(
                re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S
            )
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(text)


if __name__ == "__main__":
    main()
