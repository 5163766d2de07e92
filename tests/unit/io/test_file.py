from __future__ import annotations

import asyncio
import io
import json

import jsonschema
import pytest

from bentoml_classic.exceptions import BentoMLException, InvalidArgument
from bentoml_classic.io import File
from bentoml_classic.io.base import Part
from bentoml_classic.io.file import FileInput
from bentoml_classic.io.mediatype import parse_media_type

BOUNDARY = "fileBoundary42"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _form(*files: tuple[str, str | None, str | None, bytes], fields=()) -> bytes:
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


def _part(descriptor, data, content_type=None, filename=None, name="doc"):
    part = Part(name=name, data=data, media_type=parse_media_type(content_type), filename=filename)
    return asyncio.run(descriptor.from_part(part))


# -- input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/pdf", "text/plain", "image/png", None]
)
def test_raw_body_of_any_type_becomes_a_bytesio(parse, content_type):
    received = parse(File(), b"\x00\x01binary", content_type)
    assert isinstance(received, io.BytesIO) and isinstance(received, FileInput)
    assert received.read() == b"\x00\x01binary"
    assert received.content_type == (content_type and content_type.split(";")[0])
    assert received.name == "<request body>"  # no filename was sent: classic's name for it


def test_empty_body_is_an_empty_file(parse):
    received = parse(File(), b"", "application/octet-stream")
    assert received.read() == b""


def test_filename_from_content_disposition(make_request):
    request = make_request(b"data", "application/pdf")
    request.scope["headers"].append(
        (b"content-disposition", b'attachment; filename="../../etc/report.pdf"')
    )
    received = asyncio.run(File().from_http_request(request))
    assert received.name == "report.pdf"  # a name, never a path
    assert received.read() == b"data"


def test_multipart_takes_the_one_uploaded_file(parse):
    body = _form(("upload", "notes.txt", "text/plain", b"hello\r\nworld"), fields=[("k", "v")])
    received = parse(File(), body, MULTIPART)
    assert received.name == "notes.txt"
    assert received.content_type == "text/plain"
    assert received.read() == b"hello\r\nworld"


def test_multipart_with_several_files_reads_the_first_of_the_declared_type(parse):
    body = _form(("notes", "a.txt", "text/plain", b"x"), ("doc", "r.pdf", "application/pdf", b"1"),
                 ("doc2", "s.pdf", "application/pdf", b"2"))  # fmt: skip
    received = parse(File(mime_type="application/pdf"), body, MULTIPART)
    assert (received.name, received.read()) == ("r.pdf", b"1")
    assert parse(File(), body, MULTIPART).name == "a.txt"  # no declared type: the first file


def test_multipart_empty_file_is_fine(parse):
    received = parse(File(), _form(("f", "empty.bin", None, b"")), MULTIPART)
    assert received.read() == b"" and received.name == "empty.bin"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        (_form(fields=[("k", "v")]), MULTIPART, 400, "no file part"),
        (b"--x\r\n", "multipart/form-data", 400, "invalid multipart body"),
        (_form(("doc", "a.txt", "text/plain", b"x")), MULTIPART, 415, "part 'doc': unsupported"),
    ],
)  # fmt: skip
def test_bad_multipart(parse_error, body, content_type, status, needle):
    exc = parse_error(File(mime_type="application/pdf"), body, content_type, status=status)
    assert needle in exc.message


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/pdf", True),
        ("application/pdf; version=1.7", True),
        ("application/octet-stream", True),
        (None, True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("image/pdf", False),
    ],
)
def test_declared_mime_type_restricts_the_request(parse, parse_error, content_type, accepted):
    descriptor = File(mime_type="application/pdf")
    if accepted:
        assert parse(descriptor, b"%PDF", content_type).read() == b"%PDF"
    else:
        exc = parse_error(descriptor, b"%PDF", content_type, status=415)
        assert exc.detail == {
            "content_type": content_type,
            "expected": ["application/pdf", "application/octet-stream"],
        }


def test_wildcard_mime_type(parse, parse_error):
    descriptor = File(mime_type="image/*")
    assert parse(descriptor, b"x", "image/webp").content_type == "image/webp"
    parse_error(descriptor, b"x", "text/plain", status=415)


def test_from_part():
    received = _part(File(), b"abc", "text/csv", "C:\\data\\t.csv")
    assert received.read() == b"abc"
    assert received.name == "t.csv" and received.content_type == "text/csv"
    assert _part(File(), b"").read() == b""


def test_from_part_error_names_the_part():
    with pytest.raises(BentoMLException) as info:
        _part(File(mime_type="application/pdf"), b"x", "text/html", name="contract")
    exc = info.value
    assert exc.status_code == 415
    assert exc.message.startswith("part 'contract': unsupported Content-Type 'text/html'")
    assert exc.detail["part"] == "contract"
    json.dumps(exc.to_payload())


# -- output ----------------------------------------------------------------------------------------


def test_output_of_bytes_like_values(render):
    for value in (b"abc", bytearray(b"abc"), memoryview(b"abc")):
        response = render(File(), value)
        assert response.body == b"abc"
        assert response.headers["content-type"] == "application/octet-stream"


def test_output_of_a_file_object_is_sent_from_the_start_and_closed(render):
    buffer = io.BytesIO()
    buffer.write(b"written")
    response = render(File(mime_type="application/pdf"), buffer)
    assert response.body == b"written"
    assert response.headers["content-type"] == "application/pdf"
    assert buffer.closed


def test_output_of_a_path(render, tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"\x00" * 10)
    assert render(File(), path).body == b"\x00" * 10


@pytest.mark.parametrize("bad", ["a string", 42, io.StringIO("text")])
def test_output_refuses_text_and_other_values(render, bad):
    with pytest.raises(TypeError, match="File output"):
        render(File(), bad)


# -- declaration and documentation -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs", [{"kind": "textio"}, {"mime_type": "nonsense"}, {"mime_type": "multipart/mixed"}]
)
def test_unusable_arguments_are_refused_at_declaration(kwargs):
    with pytest.raises(InvalidArgument):
        File(**kwargs)


def test_openapi():
    descriptor = File(mime_type="application/pdf")
    schema = descriptor.openapi_schema()
    assert schema == {"type": "string", "format": "binary"}
    jsonschema.Draft202012Validator.check_schema(schema)
    content = descriptor.openapi_request_body()["content"]
    assert set(content) == {"application/pdf", "application/octet-stream", "multipart/form-data"}
    assert set(File().openapi_request_body()["content"]) == {
        "application/octet-stream",
        "multipart/form-data",
    }
    assert descriptor.openapi_responses() == {"content": {"application/pdf": {"schema": schema}}}


def test_from_sample(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF")
    assert File.from_sample(path).mime_type == "application/pdf"
    assert File.from_sample(str(path), mime_type="application/x-custom").mime_type == (
        "application/x-custom"
    )
    assert File.from_sample(b"raw").mime_type == "application/octet-stream"
    with pytest.raises(InvalidArgument):
        File.from_sample(tmp_path / "missing.bin")
    with pytest.raises(InvalidArgument):
        File.from_sample(42)
