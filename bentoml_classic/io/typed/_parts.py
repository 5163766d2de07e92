"""The values of a multipart/form-data request, one part per parameter.

A file parameter (image, path, file) takes a part that is a file: one with a filename, or with a
media type that is not text or JSON. Any other parameter takes a form field (or a text or JSON
file, ``curl -F params=@params.json``): a ``str`` parameter its text as it is, the others JSON (a
pydantic model part as the guide sends ``params``); a field that is not JSON is handed to pydantic
as text, which converts ``"3"`` for an ``int`` or says what it expected. A binary file where a
field is expected, or a field where a file is, is a 400 naming the part.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ...exceptions import BadInput
from .._fast_json import decode_or_none
from ..base import PART_BODY, Part, load_json_body, naming_part
from ..text import Text
from ._hints import Param

if TYPE_CHECKING:
    from ..file import File
    from ..image import Image
    from ._uploads import UploadFolder

_TEXT = Text()
#: a field that opens an object or an array is JSON, and a 400 if it is broken (matched on the
#: bytes: a large part is not copied to be looked at)
_OPENS_CONTAINER = re.compile(rb"[ \t\r\n]*[\[{]")


def is_file_part(part: Part) -> bool:
    media_type = part.media_type
    if part.filename:
        return True
    return media_type is not None and not (media_type.type == "text" or media_type.is_json)


def _type_text(part: Part) -> str:
    return part.media_type.essence if part.media_type else "no Content-Type"


def field_value(param: Param, part: Part) -> Any:
    """A form field's value for a JSON parameter (validated later, with the others)."""
    media_type = part.media_type
    readable = media_type is not None and (media_type.type == "text" or media_type.is_json)
    if is_file_part(part) and not readable:  # a text or JSON file is its text; others are not
        raise BadInput(
            f"part {param.name!r} is a file ({_type_text(part)}), but parameter {param.name!r} "
            f"takes {'text' if param.plain_text else 'JSON'}: send it as a form field",
            detail={"part": param.name, "expected": "field", "received": "file"},
        )
    with naming_part(param.name):
        if param.plain_text:
            return _TEXT.parse_bytes(part.data, media_type, PART_BODY, latin1_fallback=True)
        if (media_type is not None and media_type.is_json) or _OPENS_CONTAINER.match(part.data):
            return load_json_body(part.data, PART_BODY)
        parsed, value = decode_or_none(part.data)
        if parsed:
            return value
        return _TEXT.parse_bytes(part.data, media_type, PART_BODY, latin1_fallback=True)


async def file_value(
    param: Param,
    part: Part,
    image: Image | None,
    file: File | None,
    uploads: UploadFolder,
) -> Any:
    """The value of a file parameter: a PIL image, a stored path, or a file object."""
    if not is_file_part(part):
        raise BadInput(
            f"part {param.name!r} is a form field, but parameter {param.name!r} takes a file "
            f"({param.kind}): upload it as a file (curl -F '{param.name}=@path')",
            detail={"part": param.name, "expected": "file", "received": "field"},
        )
    if param.kind == "image":
        assert image is not None
        return await image.from_part(part)
    if param.kind == "file":
        assert file is not None
        return await file.from_part(part)
    if len(part.data) > _WRITE_IN_THREAD:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(uploads.store, param.name, part.filename, part.data)
    return uploads.store(param.name, part.filename, part.data)


#: parts larger than this are written to disk off the event loop
_WRITE_IN_THREAD = 1 << 20
