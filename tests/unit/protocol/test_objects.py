"""Any Python object through the runner codec: pydantic models, dataclasses, containers, the
file a ``File()`` input gives, and classes that are not where their pickle says."""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pydantic
import pytest

import __main__
from bentoml_classic.exceptions import RunnerError
from bentoml_classic.io.file import FileInput
from bentoml_classic.protocol import codec
from bentoml_classic.protocol.frame_reader import FrameReader
from bentoml_classic.protocol.user_classes import UnknownClass
from tests.unit.protocol.served import ServedRunner, blocking_client
from tests.unit.protocol.wire import feed, join


class Order(pydantic.BaseModel):
    item: str
    quantity: int = 1


@dataclasses.dataclass
class Point:
    x: float
    y: float


def round_trip(value: Any) -> Any:
    """``value`` as a runner receives it in a call (frame bytes, parsed, decoded)."""
    data = join(codec.encode_call(1, "m", (value,), {}))
    [(_, kind, buffers)] = feed(FrameReader(), data)
    _, args, _ = codec.decode(kind, buffers)
    return args[0]


def test_objects_cross_as_they_are() -> None:
    nested = {"orders": [Order(item="tea", quantity=2)], "at": Point(1.0, 2.5), "n": (1, None)}
    received = round_trip(nested)
    assert received == nested
    assert isinstance(received["orders"][0], Order) and isinstance(received["at"], Point)


def test_a_file_input_carries_its_bytes_out_of_band() -> None:
    data = bytes(range(256)) * 1024
    upload = FileInput(data, "../../upload.bin", "application/octet-stream")
    assert upload.read(10) == data[:10]
    chunks = codec.encode(1, codec.RESULT, upload)
    # the bytes are a buffer of their own, not copied into the pickle stream
    assert any(isinstance(chunk, memoryview) and chunk.nbytes == len(data) for chunk in chunks)
    received = round_trip(upload)
    assert isinstance(received, FileInput)
    assert (received.name, received.content_type, received.tell()) == (
        "upload.bin",
        "application/octet-stream",
        10,
    )
    assert received.read() == data[10:]
    received.seek(0)
    received.write(b"writable")  # a file of its own, not a view of the frame
    assert upload.getvalue() == data


# -- classes not where their pickle says -------------------------------------------------------


@pytest.fixture
def user_module(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A module of the user's, loaded from under the working directory."""
    name = f"user_objects_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import dataclasses

            @dataclasses.dataclass
            class Reading:
                value: float

                class Unit:
                    pass
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    __import__(name)
    yield sys.modules[name]
    sys.modules.pop(name, None)


def pickled_as(module_name: str, value: Any, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The frame of a call with ``value``, pickled as if its class lived in ``module_name``."""
    cls = type(value)
    home = ModuleType(module_name)
    setattr(home, cls.__qualname__, cls)
    with monkeypatch.context() as patch:
        patch.setattr(cls, "__module__", module_name)
        parts = module_name.split(".")
        for depth in range(1, len(parts)):  # its parent packages, for pickle's import
            patch.setitem(sys.modules, ".".join(parts[:depth]), ModuleType(parts[depth - 1]))
        patch.setitem(sys.modules, module_name, home)
        if module_name == "__main__":
            patch.setattr(__main__, cls.__qualname__, cls, raising=False)
        return join(codec.encode_call(1, "echo", (value,), {}))


@pytest.mark.parametrize("pickled_in", ["__main__", "app.package.{name}"])
def test_a_class_is_found_among_the_user_modules(
    user_module: ModuleType, monkeypatch: pytest.MonkeyPatch, pickled_in: str
) -> None:
    reading = user_module.Reading(2.5)
    data = pickled_as(pickled_in.format(name=user_module.__name__), reading, monkeypatch)
    [(_, kind, buffers)] = feed(FrameReader(), data)
    _, (received,), _ = codec.decode(kind, buffers)
    assert type(received) is user_module.Reading and received.value == 2.5


def test_an_ambiguous_or_missing_class_is_an_unknown_class(
    user_module: ModuleType, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "second_user_module.py").write_text("class Reading:\n    pass\n")
    __import__("second_user_module")
    try:
        data = pickled_as("__main__", user_module.Reading(1.0), monkeypatch)
        [(_, kind, buffers)] = feed(FrameReader(), data)
        with pytest.raises(UnknownClass, match=r"__main__\.Reading cannot be found.*top level"):
            codec.decode(kind, buffers)
    finally:
        sys.modules.pop("second_user_module", None)


class Ghost:
    """Pickled as ``__main__.Ghost`` from a working directory where no module defines it."""


def test_the_runner_answers_a_class_it_lacks_with_a_500(
    runner: ServedRunner, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no user module under it
    with monkeypatch.context() as patch:
        patch.setattr(Ghost, "__module__", "__main__")
        patch.setattr(__main__, "Ghost", Ghost, raising=False)
        frame = codec.encode_call(7, "echo", (Ghost(),), {})
    with blocking_client(runner.url) as client:
        kind, buffers = client._send_and_receive(7, frame)
        error = codec.decode_error(buffers)
        assert (kind, error["type"], error["status"]) == (codec.ERROR, "UnknownClass", 500)
        assert "__main__.Ghost cannot be found" in error["message"]
        assert runner.calls == []
        with pytest.raises(RunnerError, match="arguments cannot be sent to the runner"):
            client.call("echo", (lambda: None,), {})
        np.testing.assert_array_equal(client.call("echo", (np.arange(3),), {}), np.arange(3))
