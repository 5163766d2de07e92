"""Each IO descriptor over gRPC: a ``Request``'s content -> the function's value, its result ->
a ``Response``'s content, with the descriptor's own validation.

The messages are turned into what the descriptor's HTTP path would have parsed (an array, a
frame, a JSON value, bytes with a media type) and handed to the descriptor's own checks
(``validate_array``, ``validate``, ``validate_series``, ``validate_value``, ``from_bytes``), so
a mistake gets the message, type and detail the HTTP envelope has. Which content each descriptor
takes is classic BentoML's, plus ``serialized_bytes`` as parquet for tables (classic raised
``NotImplementedError``).

Descriptors are told apart by their ``to_spec()`` id, so a user's subclass of one is read as
it; a descriptor of the user's own has no gRPC form: its input is UNIMPLEMENTED, and its output
goes as ``serialized_bytes`` (what it renders over HTTP).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from ..exceptions import BadInput, BentoMLException
from ..grpc import wire
from ..io.base import IODescriptor, naming_part
from ..io.mediatype import MediaType, parse_media_type


class UnsupportedOverGrpc(BentoMLException):
    """The API's descriptor has no gRPC form: answered UNIMPLEMENTED."""

    status_code = 501


#: which content fields each descriptor reads (the first is its own message)
ACCEPTED: dict[str, tuple[str, ...]] = {
    "bentoml.io.NumpyNdarray": ("ndarray", "serialized_bytes"),
    "bentoml.io.PandasDataFrame": ("dataframe", "serialized_bytes"),
    "bentoml.io.PandasSeries": ("series", "serialized_bytes"),
    "bentoml.io.JSON": ("json", "serialized_bytes"),
    "bentoml.io.Text": ("text", "serialized_bytes"),
    "bentoml.io.File": ("file", "serialized_bytes"),
    "bentoml.io.Image": ("file", "serialized_bytes"),
    "bentoml.io.Multipart": ("multipart",),
}


def descriptor_id(descriptor: IODescriptor[Any]) -> str:
    """The descriptor's ``to_spec()`` id, worked out once per descriptor (a spec is a dict
    built anew on each call, and every request asks)."""
    known = _IDS.get(id(descriptor))
    if known is not None and known[0] is descriptor:
        return known[1]
    found = str(descriptor.to_spec().get("id", ""))
    _IDS[id(descriptor)] = (descriptor, found)
    return found


#: id(descriptor) -> (the descriptor, its spec id); descriptors live as long as their service
_IDS: dict[int, tuple[IODescriptor[Any], str]] = {}


@contextlib.contextmanager
def _no_context() -> Iterator[None]:
    yield


async def read_content(
    descriptor: IODescriptor[Any], message: Any, oneof: str, api_name: str, part: str | None = None
) -> Any:
    """The value for the API function from ``message`` (a ``Request`` or a multipart ``Part``),
    whose ``oneof`` group holds the content."""
    kind = descriptor_id(descriptor)
    accepted = ACCEPTED.get(kind)
    where = "request" if part is None else f"multipart field {part!r}"
    if accepted is None:
        raise UnsupportedOverGrpc(
            f"API {api_name!r} takes {type(descriptor).__name__}, which has no gRPC form; "
            "call it over HTTP",
            detail={"descriptor": type(descriptor).__name__},
        )
    field = message.WhichOneof(oneof)
    if field is None:
        raise BadInput(
            f"the {where} has no content: API {api_name!r} takes "
            f"{' or '.join(accepted)} ({type(descriptor).__name__})",
            detail={"field": "content", "expected": list(accepted)},
        )
    if field not in accepted:
        raise BadInput(
            f"API {api_name!r} takes {' or '.join(accepted)} ({type(descriptor).__name__}), "
            f"and the {where} holds {field}",
            detail={"field": field, "expected": list(accepted)},
        )
    value = getattr(message, field)
    with naming_part(part) if part is not None else _no_context():
        return await _read(kind, descriptor, field, value, api_name)


async def _read(kind: str, descriptor: Any, field: str, value: Any, api_name: str) -> Any:
    if kind == "bentoml.io.NumpyNdarray":
        if field == "serialized_bytes":
            if descriptor.dtype is None:
                raise BadInput(
                    "serialized_bytes holds an array's raw bytes, which only a NumpyNdarray "
                    "with a declared dtype can read; send an ndarray",
                    detail={"field": field, "reason": "no dtype declared"},
                )
            flat = wire.ndarray_from_bytes(value, descriptor.dtype, field)
            return descriptor.validate_array(_shaped(flat, descriptor.shape))
        return descriptor.validate_array(wire.ndarray_to_numpy(value, field))
    if kind == "bentoml.io.PandasDataFrame":
        return descriptor.validate(_frame(field, value))
    if kind == "bentoml.io.PandasSeries":
        return descriptor.validate_series(_series(field, value))
    if kind == "bentoml.io.JSON":
        if field == "serialized_bytes":
            return descriptor.parse_bytes(value)
        from google.protobuf import json_format

        return descriptor.validate_value(json_format.MessageToDict(value))
    if kind == "bentoml.io.Text":
        if field == "serialized_bytes":
            return descriptor.parse_bytes(value, None)
        return str(value.value)
    if kind == "bentoml.io.File":
        data, media_type = _file(field, value)
        return descriptor.from_bytes(data, media_type)
    if kind == "bentoml.io.Image":
        data, media_type = _file(field, value)
        return await descriptor.from_bytes(data, media_type)
    assert kind == "bentoml.io.Multipart"
    return await _multipart(descriptor, value, api_name)


def _shaped(flat: Any, shape: tuple[int, ...] | None) -> Any:
    """Raw bytes carry no shape: the declared one is applied where the size allows (one -1 at
    most), and what does not fit is left flat for the descriptor to judge."""
    if shape is None or list(shape).count(-1) > 1:
        return flat
    try:
        return flat.reshape(shape)
    except ValueError:
        return flat


def _file(field: str, value: Any) -> tuple[bytes, MediaType | None]:
    if field == "serialized_bytes":
        return bytes(value), None
    media_type = None
    if value.HasField("kind") and value.kind:
        media_type = parse_media_type(value.kind)
        if media_type is None:
            raise BadInput(
                f"file.kind {value.kind[:100]!r} is not a media type (type/subtype)",
                detail={"field": "file.kind"},
            )
    return bytes(value.content), media_type


def _frame(field: str, value: Any) -> Any:
    import pandas as pd

    if field == "serialized_bytes":
        from ..io._pandas_files import frame_from_parquet

        return frame_from_parquet(bytes(value), "serialized_bytes")
    return pd.DataFrame(wire.frame_columns(value, field))


def _series(field: str, value: Any) -> Any:
    import pandas as pd

    if field == "serialized_bytes":
        frame = _frame(field, value)
        if frame.shape[1] != 1:
            raise BadInput(
                f"serialized_bytes holds a parquet table of {frame.shape[1]} columns; a series "
                "is sent as a table of one",
                detail={"field": field, "columns": frame.shape[1]},
            )
        return frame.iloc[:, 0]
    return pd.Series(wire.series_values(value, field))


async def _multipart(descriptor: Any, value: Any, api_name: str) -> dict[str, Any]:
    declared: dict[str, IODescriptor[Any]] = descriptor.descriptors
    sent = dict(value.fields)
    missing = [name for name in declared if name not in sent]
    unexpected = sorted(name[:100] for name in sent if name not in declared)
    if missing or unexpected:
        raise BadInput(
            f"multipart fields must be {list(declared)}: missing {missing}, "
            f"unexpected {unexpected[:10]}",
            detail={"missing": missing, "unexpected": unexpected[:10]},
        )
    return {
        name: await read_content(part, sent[name], "representation", api_name, part=name)
        for name, part in declared.items()
    }


# -- output ------------------------------------------------------------------------------------


async def write_content(descriptor: IODescriptor[Any], result: Any, message: Any) -> None:
    """Put ``result`` in ``message`` (a ``Response`` or a ``Part``) as the descriptor's gRPC
    form; TypeError (the function's fault, a 500) for a value the descriptor cannot render."""
    kind = descriptor_id(descriptor)
    if kind == "bentoml.io.NumpyNdarray":
        import numpy as np

        arr = result if isinstance(result, np.ndarray) else np.asarray(result)
        if descriptor.dtype is not None or descriptor.shape is not None:  # type: ignore[attr-defined]
            try:
                arr = descriptor.validate_array(arr)  # type: ignore[attr-defined]
            except BadInput as exc:
                raise TypeError(f"NumpyNdarray output: {exc.message}") from None
        wire.numpy_to_ndarray(arr, message.ndarray)
    elif kind == "bentoml.io.PandasDataFrame":
        import pandas as pd

        frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame(result)
        target = message.dataframe
        for name in frame.columns:
            target.column_names.append(str(name))
            wire.fill_series(frame[name].to_numpy(), target.columns.add())
    elif kind == "bentoml.io.PandasSeries":
        import pandas as pd

        series = result if isinstance(result, pd.Series) else pd.Series(result)
        wire.fill_series(series.to_numpy(), message.series)
    elif kind == "bentoml.io.JSON":
        from google.protobuf import json_format

        json_format.Parse(descriptor.render(result), message.json)  # type: ignore[attr-defined]
    elif kind == "bentoml.io.Text":
        if not isinstance(result, str):
            raise TypeError(f"Text output expects a str, got {type(result).__name__}")
        message.text.value = result
    elif kind == "bentoml.io.Multipart":
        await _write_multipart(descriptor, result, message)
    else:
        response = await descriptor.to_http_response(result)
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):
            raise TypeError(f"{type(descriptor).__name__} rendered a streamed response")
        if kind in ("bentoml.io.File", "bentoml.io.Image"):
            message.file.content = body
            media_type = response.headers.get("content-type")
            if media_type:
                message.file.kind = media_type
        else:
            message.serialized_bytes = body


async def _write_multipart(descriptor: Any, result: Any, message: Any) -> None:
    declared: dict[str, IODescriptor[Any]] = descriptor.descriptors
    if not isinstance(result, dict) or set(result) != set(declared):
        got = list(result) if isinstance(result, dict) else type(result).__name__
        raise TypeError(f"Multipart output expects exactly the parts {list(declared)}, got {got}")
    for name, part in declared.items():
        await write_content(part, result[name], message.multipart.fields[name])


def jsonable_attributes(descriptor: IODescriptor[Any]) -> dict[str, Any]:
    """A descriptor's ``to_spec()`` arguments, as a ``google.protobuf.Struct`` can hold them."""
    args = descriptor.to_spec().get("args", {})
    return dict(json.loads(json.dumps(args, default=str)))
