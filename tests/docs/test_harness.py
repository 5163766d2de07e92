"""The guide's test machinery on small made-up pages: a page that lies must fail, naming where.

No ``bentoml serve`` is started here (``test_guide.py`` runs the real pages, servers
included); the curl emulation's answer to a cut stream is checked against a small ASGI app.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.types import Receive, Scope, Send

from tests.docs.console import GuideError, PortMap, split_transcript
from tests.docs.curl import PARTIAL_CHUNKED, CurlUsageError, parse_curl, run_curl
from tests.docs.guide_page import GuidePage
from tests.docs.markdown_blocks import parse_blocks
from tests.docs.output_match import matches, starts_like
from tests.support.servers import live_server


def _page(tmp_path: Path, text: str) -> GuidePage:
    path = tmp_path / "page.md"
    path.write_text(text, encoding="utf-8")
    workdir = tmp_path / "work"
    workdir.mkdir()
    return GuidePage(path, workdir)


def test_blocks_keep_their_language_attributes_and_line(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text(
        'intro\n\n```python title="a.py"\nx = 1\n```\n\n````markdown untested\n```\n````\n'
    )
    first, second = parse_blocks(path)
    assert (first.language, first.title, first.line, first.text) == ("python", "a.py", 4, "x = 1\n")
    assert second.untested and second.text == "```\n"


def test_an_unclosed_block_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("```python\nx = 1\n")
    with pytest.raises(ValueError, match=r"page\.md:1: code block is never closed"):
        parse_blocks(path)


def test_ellipsis_stands_for_any_text_and_nothing_else_is_loose() -> None:
    assert matches(
        "HTTP/1.1 200 OK\n...\nx-id: ...\n\n[2]", "HTTP/1.1 200 OK\na: b\nx-id: 7\n\n[2]\n"
    )
    assert not matches("[2]", "[2, 0]")
    assert not matches("[2]", "[2]\nmore")
    assert starts_like("Serving x", "Serving x on port 1\nlog line")
    assert not starts_like("Serving y", "Serving x")


def test_ports_of_a_page_become_one_free_port_each() -> None:
    ports = PortMap()
    text = ports.apply("curl http://127.0.0.1:3000/x --port 3001 port=3000 port: 3001 size: 3000")
    first, second = ports.port(3000), ports.port(3001)
    expected = f"curl http://127.0.0.1:{first}/x --port {second} port={first} port: {second}"
    assert text == expected + " size: 3000"


def test_a_transcript_splits_into_commands_continuations_and_output(tmp_path: Path) -> None:
    path = tmp_path / "page.md"
    path.write_text("```console\n$ curl -X POST \\\n    http://h/x\n[2]\n^C\n$ cat f\nhi\n```\n")
    steps = split_transcript(parse_blocks(path)[0])
    assert [(s.line, s.command, s.shown) for s in steps] == [
        (2, "curl -X POST  http://h/x", "[2]\n"),
        (5, "^C", ""),
        (6, "cat f", "hi\n"),
    ]


def test_curl_options_the_emulation_does_not_know_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CurlUsageError, match="--compressed"):
        parse_curl(["--compressed", "http://h/x"], tmp_path)
    request = parse_curl(["-d", "a", "-H", "X-A: 1", "http://h/x"], tmp_path)
    assert (request.body, request.headers, request.url) == (b"a", [("X-A", "1")], "http://h/x")


def test_a_page_that_shows_wrong_output_fails_naming_the_line(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        '```python title="hello.py"\nprint("hello")\n```\n\n'
        "```console\n$ python hello.py\nbye\n```\n",
    )
    with pytest.raises(GuideError, match=r"page\.md:6: `python hello\.py` printed something else"):
        page.run()


def test_a_failing_pycon_session_fails(tmp_path: Path) -> None:
    page = _page(tmp_path, "```python\nx = 2\n```\n\n```pycon\n>>> x + 1\n4\n```\n")
    with pytest.raises(GuideError, match=r"page\.md:6: the session does not go as shown"):
        page.run()


def test_a_block_that_is_neither_run_nor_written_fails(tmp_path: Path) -> None:
    page = _page(tmp_path, "```json\n{}\n```\n")
    with pytest.raises(GuideError, match="a json block is neither run nor written"):
        page.run()


def test_a_page_runs_in_its_own_directory_and_model_store(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "```pycon\n>>> import os\n>>> os.getcwd().endswith('work'), os.environ['BENTOML_HOME']"
        "\n(True, '...work/bentoml_home')\n```\n\n```console\n$ export GREETING=hi\n"
        "$ python -c 'import os; print(os.environ[\"GREETING\"])'\nhi\n```\n",
    )
    page.run()


async def _cut_stream_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers /livez; anything else gets one chunk of a body that then breaks off."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    if scope["path"] == "/livez":
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await send({"type": "http.response.body", "body": b"partial\n", "more_body": True})
    raise RuntimeError("the stream breaks off")


@pytest.fixture(scope="module")
def cut_stream_url() -> Iterator[str]:
    with live_server(_cut_stream_app) as url:
        yield url


def test_curl_prints_what_came_of_a_cut_stream_and_then_its_error(
    cut_stream_url: str, tmp_path: Path
) -> None:
    url = f"{cut_stream_url}/stream"
    assert run_curl([url], tmp_path) == f"partial\n{PARTIAL_CHUNKED}\n"
    assert run_curl(["-s", url], tmp_path) == "partial\n"
    assert run_curl(["-s", "-S", url], tmp_path) == "partial\n" + PARTIAL_CHUNKED + "\n"


def test_curl_checks_an_https_certificate_against_cacert(tmp_path: Path) -> None:
    request = parse_curl(["--cacert", "ca.pem", "https://h/x"], tmp_path)
    assert (request.ca_file, request.url) == (tmp_path / "ca.pem", "https://h/x")


#: a stand-in for a script that calls bentoml_classic.start: it prints a start-up line, then
#: serves /readyz (over HTTPS when given a certificate) until it is interrupted
_STARTED_SERVER = """
import http.server, ssl, sys

class Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Ready)
scheme = "http"
if len(sys.argv) > 3:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    scheme = "https"
print(f"Serving stand-in on {scheme}://127.0.0.1:{server.server_port}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    print("stopped")
"""


def test_a_python_script_shown_starting_a_server_keeps_running_until_ctrl_c(
    tmp_path: Path,
) -> None:
    """Shown under `python SCRIPT`, a server's start-up line makes the script a server: the
    page's curl runs once it is ready (over HTTPS, checked with --cacert), ^C stops it."""
    page = _page(
        tmp_path,
        '```python\nimport trustme\nca = trustme.CA()\nca.cert_pem.write_to_path("ca.pem")\n'
        'ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path("server.pem")'
        f'\n```\n\n```python title="stand_in.py"\n{_STARTED_SERVER}```\n\n'
        "```console\n$ python stand_in.py --port 3000\nServing stand-in on http://127.0.0.1:3000\n"
        "$ curl http://127.0.0.1:3000/readyz\nok\n^C\n...stopped\n"
        "$ python stand_in.py --port 3000 server.pem\nServing stand-in on https://127.0.0.1:3000\n"
        "$ curl --cacert ca.pem https://127.0.0.1:3000/readyz\nok\n^C\n...stopped\n```\n",
    )
    page.run()
