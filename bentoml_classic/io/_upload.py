"""The uploaded file of a multipart/form-data body, for the descriptors that read files.

Image and File take a raw body or a form, the way a browser form or ``curl -F file=@x.jpg``
sends it. As in classic BentoML, the form may hold other fields and other files: the first file
whose type the descriptor takes is the one read (classic read the first of an accepted type and
ignored the rest). Starlette's form parser keeps its own limits (1,000 files, 1,000 fields), which
are the ones classic had.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..exceptions import BadInput
from .base import Part
from .mediatype import MediaType, parse_media_type

if TYPE_CHECKING:
    from starlette.requests import Request


async def read_upload(request: Request, rank: Callable[[MediaType | None], int]) -> Part:
    """The file part of the lowest ``rank`` (0 for a type the descriptor takes), the first of
    them where several tie; the descriptor's ``from_part`` then takes it or says why not.

    Starlette's parser raises ``MultiPartException`` (or, inside an app, ``HTTPException``) on a
    malformed body; both are the client's fault and become a 400 here rather than a 500.
    """
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException

    try:
        async with request.form() as form:
            items = form.multi_items()
            files = [(key, value) for key, value in items if isinstance(value, UploadFile)]
            if not files:
                raise BadInput(
                    "multipart body has no file part: upload the file as a form field with a "
                    "filename (curl -F 'file=@path')",
                    detail={"reason": "no file part", "fields": sorted({k for k, _ in items})},
                )
            typed = [(rank(_media_type(upload)), i) for i, (_, upload) in enumerate(files)]
            name, upload = files[min(typed)[1]]
            data = await upload.read()
            return Part(name, data, _media_type(upload), upload.filename)
    except (MultiPartException, HTTPException) as exc:
        reason = str(getattr(exc, "message", None) or getattr(exc, "detail", None) or exc)
        raise BadInput(f"invalid multipart body: {reason}", detail={"reason": reason}) from None


def _media_type(upload: object) -> MediaType | None:
    headers = getattr(upload, "headers", None)
    return parse_media_type(headers.get("content-type") if headers is not None else None)
