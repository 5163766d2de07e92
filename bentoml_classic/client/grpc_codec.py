"""Python values as ``bentoml.grpc.v1`` request contents, and response contents as values, by
the descriptor ids ``ServiceMetadata`` gives (the same ids ``/docs.json`` gives the HTTP
client). Like the HTTP client's codecs these validate nothing: the server does, and answers
INVALID_ARGUMENT naming the field."""

from __future__ import annotations

import io
import json
from typing import Any

from ..exceptions import InvalidArgument
from ..grpc import wire


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # a pydantic model
        return dump(mode="json")
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _file_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    read = getattr(value, "read", None)
    if callable(read):
        data = read()
        return data if isinstance(data, bytes) else str(data).encode()
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        with open(value, "rb") as file:
            return file.read()
    raise InvalidArgument(f"a File input takes bytes, a file or a path, got {type(value).__name__}")


def encode(descriptor_id: str, attributes: dict[str, Any], value: Any, message: Any) -> None:
    """Put ``value`` in ``message`` (a ``Request`` or a ``Part``) as the descriptor reads it."""
    if descriptor_id == "bentoml.io.NumpyNdarray":
        import numpy as np

        wire.numpy_to_ndarray(np.asarray(value), message.ndarray)
    elif descriptor_id == "bentoml.io.PandasDataFrame":
        import pandas as pd

        frame = value if isinstance(value, pd.DataFrame) else pd.DataFrame(value)
        for name in frame.columns:
            message.dataframe.column_names.append(str(name))
            wire.fill_series(frame[name].to_numpy(), message.dataframe.columns.add())
    elif descriptor_id == "bentoml.io.PandasSeries":
        import numpy as np

        wire.fill_series(np.asarray(value), message.series)
    elif descriptor_id == "bentoml.io.JSON":
        from google.protobuf import json_format

        json_format.ParseDict(_jsonable(value), message.json)
    elif descriptor_id == "bentoml.io.Text":
        message.text.value = str(value)
    elif descriptor_id == "bentoml.io.Image":
        if hasattr(value, "save"):  # a PIL image
            buffer = io.BytesIO()
            value.save(buffer, format="PNG")
            message.file.content = buffer.getvalue()
            message.file.kind = "image/png"
        else:
            message.file.content = _file_bytes(value)
    elif descriptor_id == "bentoml.io.File":
        message.file.content = _file_bytes(value)
        if attributes.get("mime_type"):
            message.file.kind = str(attributes["mime_type"])
    else:
        message.serialized_bytes = _file_bytes(value)


def decode(descriptor_id: str, attributes: dict[str, Any], message: Any, oneof: str) -> Any:
    """The value in ``message``'s ``oneof`` content (a ``Response`` or a ``Part``); a
    Multipart's ``attributes`` are its parts' specs."""
    field = message.WhichOneof(oneof)
    if field is None:
        return None
    value = getattr(message, field)
    if field == "ndarray":
        return wire.ndarray_to_numpy(value)
    if field == "dataframe":
        import pandas as pd

        return pd.DataFrame(wire.frame_columns(value))
    if field == "series":
        import pandas as pd

        return pd.Series(wire.series_values(value))
    if field == "json":
        from google.protobuf import json_format

        return json_format.MessageToDict(value)
    if field == "text":
        return str(value.value)
    if field == "file":
        data = bytes(value.content)
        if descriptor_id == "bentoml.io.Image":
            import PIL.Image

            return PIL.Image.open(io.BytesIO(data))
        return data
    if field == "multipart":
        specs = {name: spec for name, spec in attributes.items() if isinstance(spec, dict)}
        return {
            name: decode(
                str(specs.get(name, {}).get("id", "")),
                dict(specs.get(name, {}).get("args") or {}),
                part,
                "representation",
            )
            for name, part in value.fields.items()
        }
    return bytes(value)
