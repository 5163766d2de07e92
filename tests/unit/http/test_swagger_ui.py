"""The Swagger UI at "/" over real HTTP: the page, its files, their caching, and where it meets
an app mounted at "/". The browser test (tests/e2e/test_swagger_ui.py) runs the page itself."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

import bentoml_classic as bentoml
from bentoml_classic.http.app import build_app
from bentoml_classic.http.swagger_ui import (
    CONTENT_SECURITY_POLICY,
    INSTALL_HINT,
    SwaggerUI,
    find_swagger_ui,
    swagger_ui_routes,
)
from bentoml_classic.io import JSON
from tests.support.servers import live_server

#: what the page links to: ./static_content/NAME?v=DIGEST
PAGE_FILE = re.compile(r'(?:href|src)="\./static_content/([^"?]+)\?v=([0-9a-f]+)"')


def echo_service(name: str = "swagger_demo") -> bentoml.Service:
    svc = bentoml.Service(name)

    @svc.api(input=JSON(), output=JSON())
    def echo(payload: Any) -> Any:
        return payload

    return svc


def root_app() -> Starlette:
    """A user's app for mounting at "/": it names the method and path it was asked for."""

    async def anything(request: Request) -> Response:
        return PlainTextResponse(f"mounted {request.method} {request.url.path}")

    return Starlette(routes=[Route("/{rest:path}", anything, methods=["GET", "POST", "PUT"])])


def with_livez(routes: list[BaseRoute]) -> Starlette:
    """``routes`` in a bare Starlette app, with the /livez that ``live_server`` waits for."""

    async def alive(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/livez", alive), *routes])


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with live_server(build_app(echo_service())) as url:
        yield url


def page_files(page: str) -> dict[str, str]:
    return dict(PAGE_FILE.findall(page))


def test_the_page_is_swagger_ui_on_the_service_s_own_document(base_url: str) -> None:
    response = httpx.get(f"{base_url}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>swagger_demo</title>" in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-request-id"]
    initializer = httpx.get(f"{base_url}/static_content/swagger-initializer.js").text
    assert 'new URL("docs.json", window.location.href)' in initializer
    assert "validatorUrl: null" in initializer


def test_the_page_and_its_own_files_name_no_other_host(base_url: str) -> None:
    page = httpx.get(f"{base_url}/").text
    files = page_files(page)
    assert set(files) == {
        "swagger-ui.css",
        "index.css",
        "favicon-32x32.png",
        "favicon-16x16.png",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    }
    # every link of the page is relative: no scheme, no host, no CDN, no analytics tag
    links = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert links and all(link.startswith("./") for link in links)
    for text in (
        page,
        httpx.get(f"{base_url}/static_content/index.css").text,
        httpx.get(f"{base_url}/static_content/swagger-initializer.js").text,
    ):
        assert "//" not in text.replace("// ", "")  # comments start with "// "
        assert "http" not in text
    # Swagger UI's style sheet draws only from data: URLs (its SVG namespaces are not fetched)
    css = httpx.get(f"{base_url}/static_content/swagger-ui.css").text
    urls = re.findall(r"url\(\s*['\"]?([^'\")]*)", css)
    assert urls and all(url.startswith("data:") for url in urls)


def test_every_file_of_the_page_is_served_with_its_type(base_url: str) -> None:
    files = page_files(httpx.get(f"{base_url}/").text)
    types = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
    for name, digest in files.items():
        response = httpx.get(f"{base_url}/static_content/{name}", params={"v": digest})
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(types[Path(name).suffix]), name
        assert response.headers["etag"] == f'"{digest}"'
        assert response.headers["x-content-type-options"] == "nosniff"
    bundle = httpx.get(f"{base_url}/static_content/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text
    assert len(bundle.content) > 500_000  # the real Swagger UI, not a stand-in


def test_a_file_named_by_its_digest_is_kept_for_good_and_others_are_revalidated(
    base_url: str,
) -> None:
    files = page_files(httpx.get(f"{base_url}/").text)
    url = f"{base_url}/static_content/swagger-ui.css"
    versioned = httpx.get(url, params={"v": files["swagger-ui.css"]})
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    for unversioned in (httpx.get(url), httpx.get(url, params={"v": "an-older-one"})):
        assert unversioned.headers["cache-control"] == "no-cache"
    etag = versioned.headers["etag"]
    for if_none_match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = httpx.get(url, headers={"if-none-match": if_none_match})
        assert again.status_code == 304, if_none_match
        assert again.content == b""
        assert again.headers["etag"] == etag
    assert httpx.get(url, headers={"if-none-match": '"other"'}).status_code == 200
    page = httpx.get(f"{base_url}/")
    unchanged = httpx.get(f"{base_url}/", headers={"if-none-match": page.headers["etag"]})
    assert unchanged.status_code == 304


def test_an_unknown_file_is_a_404_envelope_that_lists_the_files(base_url: str) -> None:
    # the package's other files (a demo page that loads the Petstore from swagger.io) are not
    # served, and a name is looked up, never joined to a folder
    names = ["index.html", "index.j2", "swagger-ui-bundle.js.map", "a/b", "%2e%2e/__init__.py"]
    for name in names:
        response = httpx.get(f"{base_url}/static_content/{name}")
        assert response.status_code == 404, name
        error = response.json()["error"]
        assert error["type"] == "NotFound"
        assert "swagger-ui-bundle.js" in error["detail"]["files"]


def test_head_works_and_other_methods_are_405_envelopes(base_url: str) -> None:
    head = httpx.head(f"{base_url}/")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["etag"]
    refused = httpx.post(f"{base_url}/static_content/index.css")
    assert refused.status_code == 405
    assert refused.json()["error"]["type"] == "MethodNotAllowed"
    assert httpx.post(f"{base_url}/").status_code == 405
    # the API is untouched
    assert httpx.post(f"{base_url}/echo", json={"a": 1}).json() == {"a": 1}


def test_with_an_app_mounted_at_the_root_the_page_keeps_get_slash() -> None:
    """As in classic BentoML: the page and its files win at their paths; the mounted app gets
    everything else, other methods on "/" included."""
    svc = echo_service()
    svc.mount_asgi_app(root_app(), path="/")
    with live_server(build_app(svc)) as url:
        assert "<title>swagger_demo</title>" in httpx.get(f"{url}/").text
        assert httpx.head(f"{url}/").headers["content-type"].startswith("text/html")
        assert httpx.get(f"{url}/static_content/index.css").status_code == 200
        assert httpx.get(f"{url}/static_content/mine.css").status_code == 404
        assert httpx.post(f"{url}/").text == "mounted POST /"
        assert httpx.put(f"{url}/").text == "mounted PUT /"
        assert httpx.get(f"{url}/index.html").text == "mounted GET /index.html"
        assert httpx.get(f"{url}/echo").text == "mounted GET /echo"
        assert httpx.post(f"{url}/echo", json=[1]).json() == [1]


def test_the_title_is_escaped() -> None:
    with live_server(with_livez(swagger_ui_routes("<b>&{title}</b>"))) as url:
        page = httpx.get(f"{url}/").text
    assert "<title>&lt;b&gt;&amp;{title}&lt;/b&gt;</title>" in page


def make_bundle(root: Path, name: str, versions: list[str]) -> None:
    """A package laid out like swagger_ui_bundle, with a vendor folder per version."""
    for version in versions:
        folder = root / name / "vendor" / f"swagger-ui-{version}"
        folder.mkdir(parents=True)
        for file in ("swagger-ui.css", "swagger-ui-bundle.js"):
            (folder / file).write_text(f"/* {version} {file} */")
        for file in ("favicon-32x32.png", "favicon-16x16.png"):
            (folder / file).write_bytes(b"\x89PNG")
    (root / name / "__init__.py").write_text("")


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("fake_bundle")]:
            del sys.modules[name]


def test_the_newest_swagger_ui_5_is_taken_and_4_never(on_path: Path) -> None:
    make_bundle(on_path, "fake_bundle_mixed", ["4.15.5", "5.9.0", "5.31.0", "5.10.2"])
    found = find_swagger_ui("fake_bundle_mixed")
    assert found is not None and found.name == "swagger-ui-5.31.0"
    make_bundle(on_path, "fake_bundle_old", ["4.15.5"])
    assert find_swagger_ui("fake_bundle_old") is None
    assert find_swagger_ui("fake_bundle_that_is_not_installed") is None


def test_without_swagger_ui_the_page_is_a_404_that_says_what_to_install(
    on_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    make_bundle(on_path, "fake_bundle_old_only", ["4.15.5"])
    ui = SwaggerUI("demo", bundle_package="fake_bundle_old_only")
    routes: list[BaseRoute] = [Route("/", ui.page), Route("/static_content/{name}", ui.asset)]
    with live_server(with_livez(routes)) as url:
        for path in ("/", "/static_content/swagger-ui.css", "/"):
            response = httpx.get(f"{url}{path}")
            assert response.status_code == 404
            error = response.json()["error"]
            assert INSTALL_HINT in error["message"]
            assert "/docs.json" in error["message"]
    # said once in the log, not on every request
    assert [r.message for r in caplog.records].count(
        f"no Swagger UI 5 is installed, so / has no page: {INSTALL_HINT}"
    ) == 1
