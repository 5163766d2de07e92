"""What the inferred contract of class services costs against the classic descriptors that read
and write the same values (issue 19): the request decoded by ``input_for`` against ``JSON``,
``NumpyNdarray`` and ``Multipart``, in the same run.

    python tests/benchmarks/bench_typed_contract.py [--write]

Each figure is the best of 9 slices, the classic and the inferred path alternating; only the
ratio within a row means something on a shared machine. ``--write`` puts the table into
docs/benchmarks.md between the ``bench_typed_contract`` markers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import io
import json
import platform
import re
import timeit
import typing as t
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
from pydantic import BaseModel
from starlette.requests import Request

from bentoml_classic.io import JSON, Image, Multipart, NumpyNdarray
from bentoml_classic.io.typed import input_for

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench_typed_contract: begin -->", "<!-- bench_typed_contract: end -->"
BOUNDARY = "benchBoundary"


class Params(BaseModel):
    prompt: str
    negative_prompt: t.Optional[str]  # noqa: UP045 (the guide's spelling)
    controlnet_conditioning_scale: float = 0.5
    num_inference_steps: int = 25


class ControlNet:
    def describe(self, params: Params) -> None: ...

    def scale(self, arr: np.ndarray[t.Any, np.float32]) -> None: ...

    def generate(self, image: PIL.Image.Image, params: Params) -> None: ...


def best_pair_us(first: Callable[[], Any], second: Callable[[], Any]) -> tuple[float, float]:
    """Microseconds per call of each: the best of 9 slices, the two alternating, so that a
    spell of load on the shared machine falls on both."""
    timers = [timeit.Timer(first), timeit.Timer(second)]
    numbers = []
    for timer in timers:
        number, elapsed = timer.autorange()
        numbers.append(max(1, int(number * 0.05 / max(elapsed, 1e-9))))
    best = [float("inf"), float("inf")]
    for _ in range(9):
        for i, timer in enumerate(timers):
            best[i] = min(best[i], timer.timeit(numbers[i]) / numbers[i] * 1e6)
    return best[0], best[1]


def request(body: bytes, content_type: str) -> Request:
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
    return Request({"type": "http", "method": "POST", "headers": headers}, receive)


def form(parts: list[tuple[str, bytes, str, str | None]]) -> bytes:
    out = b""
    for name, data, content_type, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += (
            f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def rows() -> list[str]:
    loop = asyncio.new_event_loop()

    def decode(descriptor: Any, body: bytes, content_type: str) -> Callable[[], Any]:
        return lambda: loop.run_until_complete(
            descriptor.from_http_request(request(body, content_type))
        )

    params = {"prompt": "a cat", "negative_prompt": None, "num_inference_steps": 5}
    arr = np.random.default_rng(19).random((100, 784), dtype=np.float32).tolist()
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (512, 512), "gray").save(buffer, format="PNG")
    image_form = form(
        [
            ("image", buffer.getvalue(), "image/png", "in.png"),
            ("params", json.dumps(params).encode(), "application/json", None),
        ]
    )
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    cases = [
        (
            "a `Params` model (the guide's)",
            decode(JSON(pydantic_model=Params), json.dumps(params).encode(), "application/json"),
            decode(
                input_for(ControlNet.describe),
                json.dumps({"params": params}).encode(),
                "application/json",
            ),
        ),
        (
            "a 100x784 float32 array",
            decode(NumpyNdarray(dtype="float32"), json.dumps(arr).encode(), "application/json"),
            decode(
                input_for(ControlNet.scale), json.dumps({"arr": arr}).encode(), "application/json"
            ),
        ),
        (
            "a 512x512 PNG and a `Params` part",
            decode(
                Multipart(image=Image(), params=JSON(pydantic_model=Params)), image_form, multipart
            ),
            decode(input_for(ControlNet.generate), image_form, multipart),
        ),
    ]
    out = [
        "| request | classic descriptor | inferred (`input_for`) | ratio |",
        "|---|---|---|---|",
    ]
    for what, classic, typed in cases:
        base, inferred = best_pair_us(classic, typed)
        out.append(f"| {what} | {_time(base)} | {_time(inferred)} | {inferred / base:.2f}x |")
    loop.close()
    return out


def _time(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.1f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"Decoding a request, best of 9 alternating slices, Python {platform.python_version()}, "
        f"{when} (the request built in memory, as the endpoint hands it over):"
    )
    block = "\n".join([BEGIN, header, "", *rows(), END])
    print(block)
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
