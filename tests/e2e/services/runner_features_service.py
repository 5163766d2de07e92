"""Runner features across processes: streams from generator methods, any Python object to and
from a runner (pydantic, dataclasses, containers, plain classes of this module, a ``File()``
upload), and ``Model.with_options`` (needs the ``ridge`` model in ``BENTOML_HOME``).

``GATE_DIR`` is a directory the test shares with the runner: the gated generator waits for a
file there, and generators write a file there when they are closed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pydantic

import bentoml_classic as bentoml
from bentoml_classic.io import JSON, File, NumpyNdarray, Text

GATE_DIR = Path(os.environ.get("GATE_DIR", "."))


# -- objects of this module's own classes cross the process boundary --------------------------


class Order(pydantic.BaseModel):
    item: str
    quantity: int


class Receipt(pydantic.BaseModel):
    item: str
    total: float
    runner_pid: int


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Plain:
    """Neither pydantic nor a dataclass: pickled by its ``__dict__``."""

    def __init__(self, label: str, values: list[int]) -> None:
        self.label = label
        self.values = values


class Objects(bentoml.Runnable):
    @bentoml.Runnable.method
    def price(self, order: Order) -> Receipt:
        assert isinstance(order, Order), type(order)
        return Receipt(item=order.item, total=order.quantity * 2.5, runner_pid=os.getpid())

    @bentoml.Runnable.method
    def move(self, point: Point, by: dict[str, float]) -> Point:
        assert isinstance(point, Point), type(point)
        return Point(point.x + by["x"], point.y + by["y"])

    @bentoml.Runnable.method
    def relabel(self, plain: Plain) -> Plain:
        assert isinstance(plain, Plain), type(plain)
        return Plain(plain.label.upper(), [*plain.values, len(plain.values)])

    @bentoml.Runnable.method(batchable=True)
    def file_sizes(self, files: list[Any]) -> list[dict[str, Any]]:
        """Batchable: the list of every caller's uploads of the batch, each readable here."""
        return [
            {"name": getattr(f, "name", None), "size": len(f.read()), "pid": os.getpid()}
            for f in files
        ]


# -- streams -------------------------------------------------------------------------------------


class Tokens(bentoml.Runnable):
    @bentoml.Runnable.method
    def words(self, text: str) -> Iterator[str]:
        yield from text.split()

    @bentoml.Runnable.method
    async def awords(self, text: str) -> AsyncIterator[str]:
        for word in text.split():
            yield word

    @bentoml.Runnable.method
    def gated(self, name: str) -> Iterator[str]:
        """Yields "first", then "second" only once the file ``name`` exists in GATE_DIR."""
        yield "first"
        deadline = time.monotonic() + 30
        while not (GATE_DIR / name).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} never appeared")
            time.sleep(0.01)
        yield "second"

    @bentoml.Runnable.method
    def fail_after(self, n: int) -> Iterator[int]:
        yield from range(n)
        raise ValueError(f"failed after {n} items")

    @bentoml.Runnable.method
    def endless(self, name: str) -> Iterator[int]:
        """Yields until its consumer leaves; then writes ``name`` into GATE_DIR."""
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            (GATE_DIR / name).write_text(str(os.getpid()))


objects = bentoml.Runner(Objects, name="objects")
tokens = bentoml.Runner(Tokens, name="tokens")
ridge = (
    bentoml.sklearn.get("ridge:latest")
    .with_options(partial_kwargs={"predict": {"return_std": True}})
    .to_runner(name="ridge")
)
svc = bentoml.Service("runner_features", runners=[objects, tokens, ridge])


@svc.api(input=JSON(), output=JSON())
async def price(payload: dict[str, Any]) -> Receipt:
    receipt: Receipt = await objects.price.async_run(Order(**payload))
    assert isinstance(receipt, Receipt), type(receipt)
    return receipt


@svc.api(input=JSON(), output=JSON())
def move(payload: dict[str, Any]) -> dict[str, Any]:
    moved = objects.move.run(Point(**payload["point"]), by=payload["by"])
    assert isinstance(moved, Point), type(moved)
    return dataclasses.asdict(moved)


@svc.api(input=JSON(), output=JSON())
def relabel(payload: dict[str, Any]) -> dict[str, Any]:
    relabelled = objects.relabel.run(Plain(payload["label"], payload["values"]))
    assert isinstance(relabelled, Plain), type(relabelled)
    return {"label": relabelled.label, "values": relabelled.values}


@svc.api(input=File(), output=JSON())
def file_size(upload: Any) -> dict[str, Any]:
    [size] = objects.file_sizes.run([upload])
    return {**size, "api_pid": os.getpid()}


@svc.api(input=Text(), output=JSON())
async def words(text: str) -> dict[str, list[str]]:
    return {
        "sync_generator": [word async for word in tokens.words.async_stream(text)],
        "async_generator": [word async for word in tokens.awords.async_stream(text)],
    }


@svc.api(input=Text(), output=JSON())
def words_from_sync_api(text: str) -> dict[str, list[str]]:
    return {
        "stream": list(tokens.words.stream(text)),
        "run": list(tokens.awords.run(text)),
    }


@svc.api(input=Text(), output=JSON())
async def gated(name: str) -> list[str]:
    """Takes the first item, then opens the gate the generator waits on for the second: the
    first item came across before the second existed."""
    received = []
    async for item in tokens.gated.async_stream(name):
        received.append(item)
        (GATE_DIR / name).touch()
    return received


@svc.api(input=Text(), output=Text())
async def gated_text(name: str) -> AsyncIterator[str]:
    """The runner's stream, streamed on to the HTTP client as it comes."""
    return tokens.gated.async_stream(name)


@svc.api(input=Text(), output=Text())
def words_text(text: str) -> Iterator[str]:
    return tokens.words.stream(text)


@svc.api(input=JSON(), output=JSON())
async def fail_after(n: int) -> dict[str, Any]:
    received = []
    try:
        async for item in tokens.fail_after.async_stream(n):
            received.append(item)
    except bentoml.exceptions.RunnerError as exc:  # from a runner worker
        return {"items": received, "error": exc.message, "type": exc.detail["exception"]}
    except ValueError as exc:  # from a runner in this process (--development)
        return {"items": received, "error": str(exc), "type": type(exc).__name__}
    return {"items": received}


@svc.api(input=Text(), output=JSON())
async def first_of_endless(name: str) -> int:
    async with contextlib.aclosing(tokens.endless.async_stream(name)) as items:
        async for item in items:
            return int(item)
    raise AssertionError("the stream was empty")


@svc.api(input=Text(), output=JSON())
def first_of_endless_sync(name: str) -> int:
    for item in tokens.endless.stream(name):
        return int(item)
    raise AssertionError("the stream was empty")


@svc.api(input=NumpyNdarray(dtype="float64"), output=JSON())
def ridge_predict(x: np.ndarray) -> dict[str, list[float]]:
    # with_options bound return_std=True into predict: it answers (mean, std)
    mean, std = ridge.predict.run(x)
    return {"mean": mean.tolist(), "std": std.tolist()}
