"""The one uploaded file of a multipart/form-data body, for the descriptors that read files.

Image and File take a raw body or a form with one file, the way a browser form or
``curl -F file=@x.jpg`` sends it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..exceptions import BadInput
from .base import Part
from .mediatype import parse_media_type

if TYPE_CHECKING:
    from starlette.requests import Request


async def read_single_upload(request: Request) -> Part:
    """The one file part of a multipart/form-data request; plain form fields are ignored.

    Starlette's parser raises ``MultiPartException`` (or, inside an app, ``HTTPException``) on a
    malformed body; both are the client's fault and become a 400 here rather than a 500.
    """
    from starlette.datastructures import UploadFile
    from starlette.exceptions import HTTPException
    from starlette.formparsers import MultiPartException

    try:
        # max_files=1: a second file is refused by the parser before it is spooled to disk.
        async with request.form(max_files=1) as form:
            uploads = list(form.multi_items())
            files = [(key, value) for key, value in uploads if isinstance(value, UploadFile)]
            if not files:
                fields = sorted({key for key, _ in uploads})
                raise BadInput(
                    "multipart body has no file part: upload the file as a form field with a "
                    "filename (curl -F 'file=@path')",
                    detail={"reason": "no file part", "fields": fields},
                )
            name, upload = files[0]
            data = await upload.read()
            content_type = upload.headers.get("content-type")
            return Part(
                name=name,
                data=data,
                media_type=parse_media_type(content_type),
                filename=upload.filename,
            )
    except (MultiPartException, HTTPException) as exc:
        reason = str(getattr(exc, "message", None) or getattr(exc, "detail", None) or exc)
        if "Too many files" in reason:
            raise BadInput(
                "multipart body has more than one file part; this API takes exactly one",
                detail={"reason": "more than one file part"},
            ) from None
        raise BadInput(f"invalid multipart body: {reason}", detail={"reason": reason}) from None
