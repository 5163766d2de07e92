"""Arrays, series and tables as bentoml.grpc.v1 messages, and the status-code mapping."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("google.protobuf")

from bentoml_classic.exceptions import (
    BadInput,
    GatewayTimeout,
    InternalServerError,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    UnsupportedMediaType,
)
from bentoml_classic.grpc import wire
from bentoml_classic.grpc.codes import code_name, envelope_metadata, read_envelope
from bentoml_classic.grpc.v1 import service_pb2 as pb


@pytest.mark.parametrize(
    ("dtype", "field"),
    [
        ("float32", "float_values"),
        ("float64", "double_values"),
        ("bool", "bool_values"),
        ("int32", "int32_values"),
        ("int64", "int64_values"),
        ("uint32", "uint32_values"),
        ("uint64", "uint64_values"),
        ("int8", "int32_values"),
        ("float16", "float_values"),
    ],
)
def test_ndarray_round_trip(dtype: str, field: str) -> None:
    arr = np.arange(6).reshape(2, 3).astype(dtype)
    message = wire.numpy_to_ndarray(arr, pb.NDArray())
    assert len(getattr(message, field)) == 6
    back = wire.ndarray_to_numpy(message)
    assert back.shape == (2, 3)
    assert back.tolist() == arr.tolist()


def test_strings_and_refusals() -> None:
    message = wire.numpy_to_ndarray(np.array(["a", "bc"]), pb.NDArray())
    assert message.dtype == pb.NDArray.DTYPE_STRING
    assert wire.ndarray_to_numpy(message).tolist() == ["a", "bc"]
    with pytest.raises(TypeError):
        wire.numpy_to_ndarray(np.array([object()]), pb.NDArray())
    with pytest.raises(BadInput, match="values in one field"):
        wire.ndarray_to_numpy(pb.NDArray(float_values=[1], int32_values=[1]))
    with pytest.raises(BadInput, match="negative"):
        wire.ndarray_to_numpy(pb.NDArray(shape=[-1], float_values=[1]))
    with pytest.raises(BadInput, match="not a whole number"):
        wire.ndarray_from_bytes(b"\x00" * 5, np.dtype("float32"), "serialized_bytes")


def test_frame_columns_must_fit() -> None:
    frame = pb.DataFrame(
        column_names=["a", "b"], columns=[pb.Series(int64_values=[1]), pb.Series(bool_values=[1])]
    )
    assert {k: v.tolist() for k, v in wire.frame_columns(frame).items()} == {
        "a": [1],
        "b": [True],
    }
    with pytest.raises(BadInput, match="column_names"):
        wire.frame_columns(pb.DataFrame(column_names=["a"]))
    uneven = pb.DataFrame(
        column_names=["a", "b"],
        columns=[pb.Series(int64_values=[1, 2]), pb.Series(int64_values=[1])],
    )
    with pytest.raises(BadInput, match="has 1 values"):
        wire.frame_columns(uneven)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BadInput("x"), "INVALID_ARGUMENT"),
        (UnsupportedMediaType("x"), "INVALID_ARGUMENT"),
        (PayloadTooLarge("x"), "RESOURCE_EXHAUSTED"),
        (TooManyRequests("x"), "RESOURCE_EXHAUSTED"),
        (InternalServerError("x"), "INTERNAL"),
        (ServiceUnavailable("x"), "UNAVAILABLE"),
        (GatewayTimeout("x"), "DEADLINE_EXCEEDED"),
    ],
)
def test_status_codes(error: Exception, code: str) -> None:
    assert code_name(error) == code  # type: ignore[arg-type]


def test_envelope_travels_as_ascii_json() -> None:
    trailing = envelope_metadata(BadInput("naïve", detail={"value": 1.5}))
    assert trailing[0][1].isascii()
    assert read_envelope(trailing) == {
        "type": "BadInput",
        "message": "naïve",
        "detail": {"value": 1.5},
    }
    assert read_envelope((("other", "x"),)) is None


def test_start_grpc_server_has_classic_signature() -> None:
    import inspect

    from bentoml_classic.start import start_grpc_server

    positional = [
        name
        for name, param in inspect.signature(start_grpc_server).parameters.items()
        if param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    ]
    assert positional == [
        "bento_identifier", "runner_map", "working_dir", "port", "host", "backlog",
        "api_workers", "reflection", "channelz", "max_concurrent_streams", "ssl_certfile",
        "ssl_keyfile", "ssl_ca_certs", "protocol_version",
    ]  # fmt: skip
