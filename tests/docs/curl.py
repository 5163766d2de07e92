"""The ``curl`` of the guide's console examples, sent with httpx and printed as curl prints it.

Only the options the guide uses are understood; any other is an error naming it, so a page
cannot show a command whose meaning the test silently changed. Emulating curl rather than
running it keeps ``make test`` needing nothing but Python.
"""

from __future__ import annotations

import mimetypes
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: curl's Content-Type for ``-d`` / ``--data`` when no -H names one
FORM_URLENCODED = "application/x-www-form-urlencoded"
#: what curl prints (on stderr, exit status 18) when the server closes the connection before
#: the end of a chunked body (its final chunk never came)
PARTIAL_CHUNKED = "curl: (18) transfer closed with outstanding read data remaining"
#: the same, for a body whose Content-Length was not reached
PARTIAL_SIZED = "curl: (18) transfer closed with {missing} bytes remaining to read"


class CurlUsageError(ValueError):
    """The guide used a curl option (or form) the emulation does not implement."""


@dataclass
class CurlRequest:
    url: str = ""
    method: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    #: -F parts: (name, filename or None, content, content type or None)
    parts: list[tuple[str, str | None, bytes, str | None]] = field(default_factory=list)
    include_headers: bool = False
    output_file: str | None = None
    #: -s hides curl's error messages, unless -S shows them again
    silent: bool = False
    show_error: bool = False
    #: --cacert: the CA certificates (PEM) an https:// server's certificate is checked against,
    #: instead of the system's
    ca_file: Path | None = None

    def has_header(self, name: str) -> bool:
        return any(key.lower() == name.lower() for key, _ in self.headers)


def _data(value: str, cwd: Path, *, binary: bool) -> bytes:
    """``-d @file`` reads the file without its newlines (curl's rule); --data-binary keeps them."""
    if not value.startswith("@"):
        return value.encode()
    content = (cwd / value[1:]).read_bytes()
    return content if binary else content.replace(b"\r", b"").replace(b"\n", b"")


def _part(spec: str, cwd: Path) -> tuple[str, str | None, bytes, str | None]:
    """``name=value``, ``name=@file`` or ``name=@file;type=mime`` (``;type=`` after a value too)."""
    name, sep, value = spec.partition("=")
    if not sep:
        raise CurlUsageError(f"-F {spec!r}: expected NAME=VALUE or NAME=@FILE")
    value, _, options = value.partition(";")
    content_type = None
    if options:
        key, _, content_type = options.partition("=")
        if key != "type":
            raise CurlUsageError(f"-F {spec!r}: only ';type=' is understood")
    if value.startswith("@"):
        path = cwd / value[1:]
        guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return name, path.name, path.read_bytes(), content_type or guessed
    return name, None, value.encode(), content_type


_WITH_VALUE = {
    "-X", "--request", "-H", "--header", "-d", "--data", "--data-raw",
    "--data-binary", "-F", "--form", "-o", "--output", "--cacert",
}  # fmt: skip


def parse_curl(args: list[str], cwd: Path) -> CurlRequest:
    """``args`` are curl's arguments (without ``curl``)."""
    request = CurlRequest()
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        if arg in ("-s", "--silent"):
            request.silent = True
            continue
        if arg in ("-S", "--show-error"):
            request.show_error = True
            continue
        if arg in ("-i", "--include"):
            request.include_headers = True
            continue
        if arg in _WITH_VALUE:
            if not queue:
                raise CurlUsageError(f"curl {arg} needs a value")
            value = queue.pop(0)
            if arg in ("-X", "--request"):
                request.method = value
            elif arg in ("-H", "--header"):
                key, sep, header_value = value.partition(":")
                if not sep:
                    raise CurlUsageError(f"-H {value!r}: expected 'Name: value'")
                request.headers.append((key.strip(), header_value.strip()))
            elif arg in ("-F", "--form"):
                request.parts.append(_part(value, cwd))
            elif arg in ("-o", "--output"):
                request.output_file = value
            elif arg == "--cacert":
                request.ca_file = cwd / value
            else:
                binary = arg in ("--data-binary", "--data-raw")
                data = value.encode() if arg == "--data-raw" else _data(value, cwd, binary=binary)
                request.body = data if request.body is None else request.body + b"&" + data
            continue
        if arg.startswith("-"):
            raise CurlUsageError(f"the guide's curl does not understand {arg!r}")
        if request.url:
            raise CurlUsageError(f"curl got two URLs: {request.url!r} and {arg!r}")
        request.url = arg
    if not request.url:
        raise CurlUsageError("curl needs a URL")
    if request.body is not None and request.parts:
        raise CurlUsageError("curl cannot send -d and -F together")
    return request


@dataclass
class CurlResponse:
    response: httpx.Response
    body: bytes
    #: the connection closed before the body's end (a stream cut by an error, say)
    cut_short: bool


def _send(request: CurlRequest) -> CurlResponse:
    method = request.method or ("POST" if request.body is not None or request.parts else "GET")
    headers = list(request.headers)
    if request.body is not None and not request.has_header("content-type"):
        headers.append(("Content-Type", FORM_URLENCODED))
    files = [(name, (filename, data, ctype)) for name, filename, data, ctype in request.parts]
    content = None if request.parts else request.body
    # a server's certificate is checked against --cacert, else httpx's default CAs (curl: the
    # system's), so an https:// example without --cacert fails as it would for the reader
    verify = ssl.create_default_context(cafile=request.ca_file) if request.ca_file else True
    with httpx.stream(
        method,
        request.url,
        headers=headers,
        content=content,
        files=files or None,
        timeout=60,
        verify=verify,
    ) as response:
        body = bytearray()
        try:
            for piece in response.iter_bytes():
                body += piece
        except httpx.RemoteProtocolError:
            return CurlResponse(response, bytes(body), cut_short=True)
        return CurlResponse(response, bytes(body), cut_short=False)


def run_curl(args: list[str], cwd: Path) -> str:
    """Send the request and return what curl would print: the body (after the status line and
    headers with ``-i``), or nothing when ``-o`` writes the body to a file; then, for a body
    cut short, curl's error message (which ``-s`` hides and ``-S`` shows)."""
    request = parse_curl(args, cwd)
    sent = _send(request)
    response = sent.response
    printed = ""
    if request.include_headers:
        lines = [f"{response.http_version} {response.status_code} {response.reason_phrase}"]
        lines += [
            f"{key.decode('latin-1')}: {value.decode('latin-1')}"
            for key, value in response.headers.raw
        ]
        printed = "\n".join(lines) + "\n\n"
    if request.output_file is not None:
        (cwd / request.output_file).write_bytes(sent.body)
    else:
        printed += sent.body.decode("utf-8", errors="replace")
    if sent.cut_short and (request.show_error or not request.silent):
        printed += _cut_short_message(response, sent.body) + "\n"
    return printed


def _cut_short_message(response: httpx.Response, body: bytes) -> str:
    length = response.headers.get("content-length")
    if length is None:
        return PARTIAL_CHUNKED
    return PARTIAL_SIZED.format(missing=int(length) - len(body))
