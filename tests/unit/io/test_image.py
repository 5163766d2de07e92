from __future__ import annotations

import asyncio
import io
import json
import struct
import warnings
import zlib

import jsonschema
import numpy as np
import PIL.Image
import PIL.ImageFile
import pytest

from bentoml_classic.exceptions import BentoMLException, InvalidArgument, PayloadTooLarge
from bentoml_classic.io import Image
from bentoml_classic.io.base import Part
from bentoml_classic.io.mediatype import parse_media_type

BOUNDARY = "----bentoTestBoundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _encode(image: PIL.Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _png(size=(4, 3), mode="RGBA", color=(10, 20, 30, 255)) -> bytes:
    return _encode(PIL.Image.new(mode, size, color), "PNG")


def _noise_png(size=(64, 64)) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return _encode(PIL.Image.fromarray(pixels), "PNG")


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _form(*files: tuple[str, str | None, str | None, bytes], fields=()) -> bytes:
    """A multipart/form-data body: files as (field, filename, content type, data)."""
    out = b""
    for name, value in fields:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    for name, filename, content_type, data in files:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        out += head.encode() + b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def _part(descriptor, data, content_type="image/png", name="image"):
    part = Part(name=name, data=data, media_type=parse_media_type(content_type), filename="x")
    return asyncio.run(descriptor.from_part(part))


# -- raw bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_decodes_each_common_format_as_pillow_opens_it(parse, fmt):
    sent = PIL.Image.new("RGB", (8, 6), (200, 100, 50))
    data = _encode(sent, fmt)
    image = parse(Image(), data, PIL.Image.MIME[fmt])
    opened = PIL.Image.open(io.BytesIO(data))
    assert isinstance(image, PIL.Image.Image)
    assert image.size == (8, 6)
    assert (image.mode, image.format, type(image)) == (opened.mode, fmt, type(opened))


@pytest.mark.parametrize("mode", ["RGBA", "L", "LA", "P", "I;16", "1"])
def test_the_mode_is_kept_as_in_classic(parse, mode):
    data = _encode(PIL.Image.new(mode, (3, 2)), "PNG")
    image = parse(Image(), data, "image/png")
    assert image.mode == PIL.Image.open(io.BytesIO(data)).mode
    assert image.format == "PNG"
    assert parse(Image(pilmode=None), data, "image/png").mode == image.mode


def test_a_named_pilmode_converts_after_loading(parse):
    image = parse(Image(pilmode="L"), _png(), "image/png")
    assert image.mode == "L"
    grey = PIL.Image.new("RGB", (1, 1), (10, 20, 30)).convert("L")
    assert image.getpixel((0, 0)) == grey.getpixel((0, 0))
    assert parse(Image(pilmode="RGB"), _png(), "image/png").mode == "RGB"  # even the default


@pytest.mark.parametrize(
    ("content_type", "needle"),
    [
        ("application/octet-stream", "'application/octet-stream' Content-Type"),
        ("application/json", "'application/json' Content-Type"),
        ("text/plain", "'text/plain'"),
        (None, "missing Content-Type"),
    ],
)
def test_non_image_content_types_are_415(parse_error, content_type, needle):
    exc = parse_error(Image(), _png(), content_type, status=415)
    assert needle in exc.message
    assert exc.detail["expected"] == ["image/*"]


def test_allowed_mime_types_restrict_the_content_type(parse, parse_error):
    descriptor = Image(allowed_mime_types=["image/png", "image/webp"])
    assert parse(descriptor, _png(), "image/png").size == (4, 3)
    exc = parse_error(descriptor, _encode(PIL.Image.new("RGB", (2, 2)), "JPEG"), "image/jpeg", 415)
    assert exc.detail == {"content_type": "image/jpeg", "expected": ["image/png", "image/webp"]}


def test_bytes_of_another_format_than_the_label_are_read_as_in_classic(parse):
    # Declared as PNG, but JPEG bytes: classic let Pillow find out what they are.
    jpeg = _encode(PIL.Image.new("RGB", (2, 2)), "JPEG")
    assert parse(Image(allowed_mime_types=["image/png"]), jpeg, "image/png").format == "JPEG"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"", "request body is empty"),
        (b"definitely not an image", "not an image of an accepted type"),
        (b"\x89PNG\r\n\x1a\n", "not an image"),  # the signature alone
        (b"GIF89a" + b"\0" * 5, "image"),
    ],
)
def test_garbage_and_empty_bodies_are_400(parse_error, body, needle):
    assert needle in parse_error(Image(), body, "image/png").message


def test_truncated_image_is_a_400_not_a_500_later(parse_error):
    data = _noise_png()
    exc = parse_error(Image(), data[: len(data) // 2], "image/png")
    assert "request body is not a decodable image" in exc.message
    assert exc.detail["exception"] in {"OSError", "SyntaxError", "ValueError"}


def test_corrupt_jpeg_is_400(parse_error):
    pixels = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    data = bytearray(_encode(PIL.Image.fromarray(pixels), "JPEG"))
    data[200:] = b"\xff" * (len(data) - 200)
    parse_error(Image(), bytes(data), "image/jpeg")


# -- pixel limit -----------------------------------------------------------------------------------


def test_pixel_limit_is_checked_before_decoding(parse_error, monkeypatch):
    data = _png((4, 3))
    loads = []
    monkeypatch.setattr(PIL.ImageFile.ImageFile, "load", lambda self: loads.append(self))
    exc = parse_error(Image(max_pixels=11), data, "image/png", status=413)
    assert isinstance(exc, PayloadTooLarge)
    assert exc.detail == {"width": 4, "height": 3, "pixels": 12, "max_pixels": 11}
    assert "4x3" in exc.message and "11" in exc.message
    assert loads == []


def test_pixel_limit_allows_images_at_the_limit(parse):
    assert parse(Image(max_pixels=12), _png((4, 3)), "image/png").size == (4, 3)


def test_by_default_the_limit_is_pillows_as_in_classic(parse_error):
    # 48 MP (a phone's photo) is opened, as in classic; what Pillow refuses is a 413
    descriptor = Image()
    assert descriptor.max_pixels is None
    image = descriptor._open(_png_header_only(8000, 6000))
    assert image.size == (8000, 6000)
    limit = 2 * PIL.Image.MAX_IMAGE_PIXELS
    data = _png_header_only(20_000, limit // 20_000 + 1)
    assert "too large" in parse_error(descriptor, data, "image/png", status=413).message


def test_decompression_bomb_over_pillows_limit_is_413(parse_error):
    exc = parse_error(Image(max_pixels=None), _png_header_only(100_000, 100_000), "image/png", 413)
    assert "too large" in exc.message


def test_pillows_bomb_warning_as_an_error_is_413():
    # Between Pillow's limit and twice it, Pillow warns; where warnings are errors, that is
    # an exception raised inside Image.open, and it must still be a 413.
    pixels = PIL.Image.MAX_IMAGE_PIXELS + 1_000_000
    data = _png_header_only(10_000, pixels // 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PIL.Image.DecompressionBombWarning)
        with pytest.raises(PayloadTooLarge):
            Image(max_pixels=None).decode(data)


# -- multipart -------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["image/png", "application/octet-stream", None])
def test_multipart_upload_with_one_file(parse, content_type):
    body = _form(("file", "cat.png", content_type, _png()), fields=[("note", "hi")])
    image = parse(Image(), body, MULTIPART)
    assert (image.size, image.mode, image.format) == ((4, 3), "RGBA", "PNG")  # as Pillow opened it


def test_multipart_with_several_files_reads_the_first_image_as_in_classic(parse):
    red = _png((1, 1), "RGB", (255, 0, 0))
    blue = _png((2, 2), "RGB", (0, 0, 255))
    body = _form(("notes", "a.txt", "text/plain", b"hello"), ("img", "r.png", "image/png", red),
                 ("img2", "b.png", "image/png", blue))  # fmt: skip
    image = parse(Image(), body, MULTIPART)
    assert image.size == (1, 1) and image.getpixel((0, 0)) == (255, 0, 0)
    untyped_first = _form(("raw", "x.bin", None, blue), ("img", "r.png", "image/png", red))
    assert parse(Image(), untyped_first, MULTIPART).size == (1, 1)  # a typed image first


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        (_form(fields=[("a", "b")]), MULTIPART, 400, "no file part"),
        (_form(("a", "1.png", "image/png", _png())), "multipart/form-data", 400,
         "invalid multipart body"),
        (_form(("img", "x.txt", "text/plain", b"hello")), MULTIPART, 415,
         "part 'img': unsupported Content-Type 'text/plain'"),
        (_form(("img", "x.png", "image/png", b"nope")), MULTIPART, 400,
         "part 'img': part body is not an image"),
        (_form(("img", "x.png", "image/png", b"")), MULTIPART, 400,
         "part 'img': part body is empty"),
    ],
)  # fmt: skip
def test_bad_multipart_uploads(parse_error, body, content_type, status, needle):
    exc = parse_error(Image(), body, content_type, status=status)
    assert needle in exc.message


def test_from_part():
    assert _part(Image(), _png()).size == (4, 3)
    assert _part(Image(), _png(), None).size == (4, 3)


@pytest.mark.parametrize(
    ("data", "content_type", "status", "needle"),
    [
        (b"", "image/png", 400, "part 'image': part body is empty"),
        (b"garbage", "image/png", 400, "part 'image': part body is not an image"),
        (_png(), "text/csv", 415, "part 'image': unsupported Content-Type 'text/csv'"),
        (_png(), "image/gif", 415, "expected image/png"),
        (_png((5, 5)), "image/png", 413, "over the limit of 20 pixels"),
    ],
)
def test_from_part_errors_name_the_part(data, content_type, status, needle):
    descriptor = Image(allowed_mime_types=["image/png"], max_pixels=20)
    with pytest.raises(BentoMLException) as info:
        _part(descriptor, data, content_type)
    exc = info.value
    assert exc.status_code == status
    assert needle in exc.message
    assert exc.detail["part"] == "image"
    json.dumps(exc.to_payload())


# -- output ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "L", "LA"])
def test_jpeg_output_converts_modes_jpeg_cannot_store(render, mode):
    response = render(Image(), PIL.Image.new(mode, (6, 4)))
    assert response.headers["content-type"] == "image/jpeg"
    decoded = PIL.Image.open(io.BytesIO(response.body))
    assert decoded.format == "JPEG" and decoded.size == (6, 4)


def test_png_output_keeps_alpha(render):
    response = render(Image(mime_type="image/png"), PIL.Image.new("RGBA", (2, 2), (1, 2, 3, 4)))
    assert response.headers["content-type"] == "image/png"
    decoded = PIL.Image.open(io.BytesIO(response.body))
    assert decoded.getpixel((0, 0)) == (1, 2, 3, 4)


def test_numpy_output(render):
    array = np.zeros((3, 5, 3), dtype=np.uint8)
    array[..., 0] = 255
    decoded = PIL.Image.open(io.BytesIO(render(Image(mime_type="image/png"), array).body))
    assert decoded.size == (5, 3)
    assert decoded.getpixel((0, 0)) == (255, 0, 0)


def test_output_refuses_other_values(render):
    with pytest.raises(TypeError, match="Image output"):
        render(Image(), b"bytes")


def test_output_round_trips_through_input(render, parse):
    descriptor = Image(mime_type="image/png")
    sent = PIL.Image.new("RGB", (3, 3), (9, 8, 7))
    response = render(descriptor, sent)
    assert parse(descriptor, response.body, "image/png").getpixel((1, 1)) == (9, 8, 7)


# -- declaration and documentation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"pilmode": "RGBZ"},
        {"mime_type": "text/plain"},
        {"mime_type": "image/x-no-such-format"},
        {"allowed_mime_types": ["application/pdf"]},
        {"allowed_mime_types": ["image/x-unknown"]},
        {"allowed_mime_types": "image/png"},
        {"allowed_mime_types": []},
        {"max_pixels": 0},
    ],
)
def test_unusable_arguments_are_refused_at_declaration(kwargs):
    with pytest.raises(InvalidArgument):
        Image(**kwargs)


def test_the_allowed_decoders_are_tried_first_and_only_image_decoders_at_all():
    png_only = Image(allowed_mime_types=["image/png"])
    assert png_only._formats == ["PNG"]
    assert "JPEG" in png_only._other_formats and "PNG" not in png_only._other_formats
    formats = Image()._formats
    assert "PNG" in formats and "JPEG" in formats
    for descriptor in (png_only, Image()):  # PostScript would run Ghostscript on client bytes
        assert "EPS" not in descriptor._formats + descriptor._other_formats


def test_openapi():
    descriptor = Image(allowed_mime_types=["image/png", "image/jpeg"], mime_type="image/png")
    schema = descriptor.openapi_schema()
    assert schema == {"type": "string", "format": "binary"}
    jsonschema.Draft202012Validator.check_schema(schema)
    content = descriptor.openapi_request_body()["content"]
    assert set(content) == {"image/png", "image/jpeg", "multipart/form-data"}
    form = content["multipart/form-data"]["schema"]
    assert form["properties"]["file"]["format"] == "binary"
    assert descriptor.openapi_responses() == {"content": {"image/png": {"schema": schema}}}
    assert set(Image.input_error_statuses) == {400, 413, 415}


def test_from_sample_with_an_image_and_a_path(tmp_path):
    sample = PIL.Image.open(io.BytesIO(_png()))
    descriptor = Image.from_sample(sample)
    assert descriptor.mime_type == "image/png" and descriptor._convert_to is None
    path = tmp_path / "x.jpg"
    PIL.Image.new("L", (2, 2)).save(path)
    descriptor = Image.from_sample(path, pilmode="RGB")
    assert descriptor.mime_type == "image/jpeg" and descriptor._convert_to == "RGB"
    with pytest.raises(InvalidArgument):
        Image.from_sample(tmp_path / "missing.png")
    with pytest.raises(InvalidArgument):
        Image.from_sample(b"bytes")
