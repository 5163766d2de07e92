"""Which codec serves a descriptor spec from ``/docs.json``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .arrays import DataFrameCodec, NumpyCodec, SeriesCodec
from .codec_base import Codec, RawCodec
from .media import FileCodec, ImageCodec, JsonCodec, TextCodec
from .multipart import MultipartCodec

#: classic BentoML's descriptor ids, which the server publishes for its own descriptors
_CODECS: dict[str, Callable[[Mapping[str, Any]], Codec]] = {
    "bentoml.io.NumpyNdarray": NumpyCodec,
    "bentoml.io.PandasDataFrame": DataFrameCodec,
    "bentoml.io.PandasSeries": SeriesCodec,
    "bentoml.io.JSON": JsonCodec,
    "bentoml.io.Text": TextCodec,
    "bentoml.io.Image": ImageCodec,
    "bentoml.io.File": FileCodec,
}
MULTIPART_ID = "bentoml.io.Multipart"


def codec_for(spec: Mapping[str, Any], request_types: tuple[str, ...] = ()) -> Codec:
    """The codec for ``spec`` (``{"id": ..., "args": {...}}``); a descriptor this client does
    not know gets a codec that sends bytes and returns bytes."""
    descriptor_id = str(spec.get("id"))
    args = spec.get("args")
    if not isinstance(args, Mapping):
        args = {}
    if descriptor_id == MULTIPART_ID:
        parts = {
            str(name): codec_for(part) for name, part in args.items() if isinstance(part, Mapping)
        }
        return MultipartCodec(args, parts)
    factory = _CODECS.get(descriptor_id)
    if factory is None:
        return RawCodec(args, descriptor_id, request_types)
    return factory(args)
