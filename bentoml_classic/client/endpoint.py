"""One API as the client calls it: the arguments of a call to a request, an answer to a value
or an error. Shared by the sync and the async client, which only move the bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..exceptions import InvalidArgument, excerpt
from .codec_base import Codec, Encoded, disposition_filename
from .description import ApiDescription
from .errors import ResponseDecodeError, response_error
from .multipart import MultipartCodec
from .registry import codec_for


class _Nothing:
    """The input of a call that passed none (``None`` is a value: JSON's null)."""

    def __repr__(self) -> str:
        return "<no input>"


NOTHING: Any = _Nothing()


@dataclass(frozen=True)
class Endpoint:
    api: ApiDescription
    input: Codec
    output: Codec

    @classmethod
    def of(cls, api: ApiDescription) -> Endpoint:
        return cls(api, codec_for(api.input_spec, api.request_types), codec_for(api.output_spec))

    @property
    def takes_parts(self) -> bool:
        """A Multipart input: its parts are passed as keyword arguments."""
        return isinstance(self.input, MultipartCodec)

    @property
    def part_names(self) -> list[str]:
        return list(self.input.parts) if isinstance(self.input, MultipartCodec) else []

    def describe(self) -> str:
        """The generated method's docstring: the API's own doc, else what goes in and out."""
        summary = f"POST {self.api.path}: {self.input.descriptor} in, {self.output.descriptor} out"
        if self.takes_parts:
            summary += f"; parts as keyword arguments: {', '.join(self.part_names)}"
        return f"{self.api.doc}\n\n{summary}" if self.api.doc else summary

    def request(self, inp: Any, kwargs: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
        """Body and headers for a call with ``inp`` (or NOTHING) and keyword arguments."""
        value = self._input_value(inp, kwargs)
        try:
            encoded = self.input.encode(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(
                f"API {self.api.name!r}: cannot send {type(value).__name__} as "
                f"{self.input.descriptor}: {excerpt(exc)}",
                detail={"api": self.api.name, "descriptor": self.input.descriptor},
            ) from exc
        return encoded.content, _headers(encoded)

    def _input_value(self, inp: Any, kwargs: Mapping[str, Any]) -> Any:
        name = self.api.name
        if self.takes_parts:
            if inp is not NOTHING:
                raise InvalidArgument(
                    f"API {name!r} takes a multipart body: pass its parts as keyword arguments "
                    f"({', '.join(self.part_names)}), not positionally"
                )
            return dict(kwargs)
        if not kwargs:
            if inp is NOTHING:
                raise InvalidArgument(f"API {name!r} takes one input; none was given")
            return inp
        if inp is NOTHING and len(kwargs) == 1:  # client.classify(input_series=arr)
            return next(iter(kwargs.values()))
        raise InvalidArgument(
            f"API {name!r} takes one input, positionally or as one keyword argument; got "
            f"{int(inp is not NOTHING)} positional and the keywords {sorted(kwargs)}"
        )

    def result(self, response: httpx.Response) -> Any:
        """The decoded value of a 2xx answer; the error for any other."""
        if not 200 <= response.status_code < 300:
            raise response_error(self.api.name, response)
        headers = response.headers
        filename = disposition_filename(headers.get("content-disposition"))
        try:
            return self.output.decode(response.content, headers.get("content-type"), filename)
        except Exception as exc:
            raise ResponseDecodeError(
                f"API {self.api.name!r} at {response.request.url} answered "
                f"{response.status_code} with a body its {self.output.descriptor} output cannot "
                f"have produced: {type(exc).__name__}: {excerpt(exc)}"
            ) from exc


def _headers(encoded: Encoded) -> dict[str, Any]:
    headers: dict[str, Any] = {"content-type": encoded.content_type}
    if encoded.filename:
        # the server names the file it hands the function after this; UTF-8 as browsers send it
        quoted = encoded.filename.replace("\\", "\\\\").replace('"', '\\"')
        headers["content-disposition"] = f'attachment; filename="{quoted}"'.encode()
    return headers
