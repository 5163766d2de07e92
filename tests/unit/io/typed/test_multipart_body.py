"""multipart/form-data with one part per parameter, when a parameter is a file: the guide's image
plus ``Params`` JSON part, text parts for ``str``, uploaded files for ``Path`` (removed after the
request) and file objects, and a 400 naming the part for a file where a field is expected or the
other way round."""

from __future__ import annotations

import asyncio
import gc
import io
import typing as t
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
from pydantic import BaseModel, Field

from bentoml_classic.exceptions import BadInput, BentoMLException, UnsupportedMediaType
from bentoml_classic.io.typed import TypedArguments, input_for

BOUNDARY = "typedBoundary42"
FORM = f"multipart/form-data; boundary={BOUNDARY}"


class Params(BaseModel):
    prompt: str
    negative_prompt: t.Optional[str]  # noqa: UP045 (the guide's spelling)
    controlnet_conditioning_scale: float = 0.5
    num_inference_steps: int = 25


class ControlNet:
    async def generate(self, image: PIL.Image.Image, params: Params) -> PIL.Image.Image: ...

    def transcribe(
        self, audio: Path, language: str = "en", beams: int = 1, mask: PIL.Image.Image | None = None
    ) -> str: ...

    def checksum(self, blob: t.BinaryIO, **options: t.Any) -> str: ...

    def plain(self, text: str, count: int = 1) -> str: ...


def part(
    name: str, data: bytes, content_type: str | None = None, filename: str | None = None
) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    return head.encode() + b"\r\n" + data + b"\r\n"


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def png(size: tuple[int, int] = (4, 3), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


PARAMS = b'{"prompt": "a cat", "negative_prompt": null, "num_inference_steps": 5}'


def test_the_guides_image_and_params_parts(parse: Any) -> None:
    body = form(
        part("image", png(), "image/png", "cat.png"),
        part("params", PARAMS, "application/json"),
    )
    args = parse(input_for(ControlNet.generate), body, FORM)
    assert isinstance(args, TypedArguments)
    assert isinstance(args["image"], PIL.Image.Image) and args["image"].size == (4, 3)
    assert args["params"] == Params(prompt="a cat", negative_prompt=None, num_inference_steps=5)


def test_a_json_part_may_come_without_content_type_and_a_field_is_read_as_pydantic_would(
    parse: Any,
) -> None:
    descriptor = input_for(ControlNet.transcribe)
    body = form(
        part("audio", b"RIFF....", None, "../../etc/clip.wav"),
        part("language", b"fr"),
        part("beams", b"3"),
    )
    args = parse(descriptor, body, FORM)
    assert args["language"] == "fr" and args["beams"] == 3 and args["mask"] is None
    path = args["audio"]
    assert isinstance(path, Path) and path.name == "clip.wav" and path.read_bytes() == b"RIFF...."
    assert "etc" not in path.parts


def test_uploaded_files_are_removed_on_close_or_when_unreferenced(parse: Any) -> None:
    descriptor = input_for(ControlNet.transcribe)
    body = form(part("audio", b"abc", "audio/wav", "a.wav"))
    args = parse(descriptor, body, FORM)
    folder = args["audio"].parent.parent
    assert folder.is_dir()
    args.close()
    assert not folder.exists()
    args = parse(descriptor, body, FORM)
    kept = args["audio"]
    folder = kept.parent.parent
    del args
    gc.collect()
    assert kept.read_bytes() == b"abc"  # the path keeps its folder while it is used
    del kept
    gc.collect()
    assert not folder.exists()


def test_a_refused_request_leaves_no_uploaded_file(
    parse_error: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    body = form(part("audio", b"abc", "audio/wav", "a.wav"), part("beams", b"many"))
    exc = parse_error(input_for(ControlNet.transcribe), body, FORM)
    assert exc.detail[0]["loc"] == ["beams"]
    assert list(tmp_path.iterdir()) == []


def test_a_file_object_parameter_and_kwargs_parts(parse: Any) -> None:
    body = form(
        part("blob", b"\x00\x01", "application/octet-stream", "b.bin"),
        part("level", b"9"),
        part("mode", b"fast"),
    )
    args = parse(input_for(ControlNet.checksum), body, FORM)
    assert args["blob"].read() == b"\x00\x01"
    assert args["level"] == 9 and args["mode"] == "fast"


@pytest.mark.parametrize(
    ("parts", "name", "words"),
    [
        (
            [part("image", png(), "image/png", "x.png"), part("params", png(), "image/png", "p")],
            "params",
            "is a file (image/png), but parameter 'params' takes JSON",
        ),
        (
            [part("image", b"just text"), part("params", PARAMS, "application/json")],
            "image",
            "is a form field, but parameter 'image' takes a file",
        ),
        (
            [part("image", b"not an image", "image/png", "x.png"), part("params", PARAMS)],
            "image",
            "part 'image'",
        ),
        (
            [part("image", png(), "image/png", "x.png"), part("params", b"{broken")],
            "params",
            "part 'params': invalid JSON",
        ),
    ],
)
def test_a_part_of_the_wrong_kind_is_a_400_naming_it(
    parse_error: Any, parts: list[bytes], name: str, words: str
) -> None:
    exc = parse_error(input_for(ControlNet.generate), form(*parts), FORM)
    assert words in exc.message
    assert exc.detail["part"] == name


def test_missing_parts_are_named(parse_error: Any) -> None:
    descriptor = input_for(ControlNet.generate)
    exc = parse_error(descriptor, form(part("params", PARAMS)), FORM)
    assert "no part named 'image'" in exc.message and exc.detail == {"missing": ["image"]}
    exc = parse_error(descriptor, form(part("image", png(), "image/png", "x.png")), FORM)
    assert exc.detail[0]["loc"] == ["params"] and "Field required" in exc.message
    exc = parse_error(
        descriptor,
        form(part("image", png(), "image/png", "x.png"), part("params", b'{"prompt": 1}')),
        FORM,
    )
    assert [e["loc"] for e in exc.detail] == [["params", "prompt"], ["params", "negative_prompt"]]


def test_json_to_a_multipart_api_is_a_415_naming_the_file_parameters(parse_error: Any) -> None:
    exc = parse_error(input_for(ControlNet.generate), b"{}", "application/json", status=415)
    assert isinstance(exc, UnsupportedMediaType)
    assert exc.detail["files"] == ["image"] and "multipart/form-data" in exc.message


def test_a_json_api_also_takes_form_fields(parse: Any) -> None:
    args = parse(input_for(ControlNet.plain), form(part("text", b"hi"), part("count", b"2")), FORM)
    assert args == {"text": "hi", "count": 2}


def test_text_and_json_files_are_read_as_fields(parse: Any, parse_error: Any) -> None:
    body = form(
        part("text", "héllo".encode(), "text/plain", "note.txt"),
        part("count", b"3", "application/json", "count.json"),
    )
    assert parse(input_for(ControlNet.plain), body, FORM) == {"text": "héllo", "count": 3}
    body = form(part("text", b"\x00\x01", None, "blob.bin"))
    exc = parse_error(input_for(ControlNet.plain), body, FORM)
    assert "is a file (no Content-Type)" in exc.message and exc.detail["part"] == "text"


def test_malformed_multipart_is_a_400(parse_error: Any) -> None:
    exc = parse_error(input_for(ControlNet.generate), b"--nope", FORM)
    assert "multipart" in exc.message
    exc = parse_error(input_for(ControlNet.generate), form(), "multipart/form-data")
    assert "boundary" in exc.message


def test_errors_are_json_ready_envelopes() -> None:
    async def run() -> BentoMLException:
        try:
            await input_for(ControlNet.generate).from_form(
                form(part("params", b"x" * 100_000, "image/png", "big.png")), BOUNDARY.encode()
            )
        except BentoMLException as exc:
            return exc
        raise AssertionError("accepted")

    exc = asyncio.run(run())
    assert isinstance(exc, BadInput) and len(exc.message) < 500


class Described:
    def run(
        self,
        image: PIL.Image.Image = Field(description="the input picture"),  # noqa: B008
        mask: PIL.Image.Image | None = Field(default=None, description="optional mask"),  # noqa: B008
    ) -> None: ...


def test_field_defaults_on_file_parameters(parse: Any, parse_error: Any) -> None:
    descriptor = input_for(Described.run)
    args = parse(descriptor, form(part("image", png(), "image/png", "x.png")), FORM)
    assert args["mask"] is None and isinstance(args["image"], PIL.Image.Image)
    exc = parse_error(descriptor, form(part("mask", png(), "image/png", "m.png")), FORM)
    assert exc.detail == {"missing": ["image"]}
    schema = descriptor.openapi_schema()
    assert schema["required"] == ["image"]
    assert schema["properties"]["image"]["description"] == "the input picture"
    assert descriptor.openapi_request_body()["required"] is True
