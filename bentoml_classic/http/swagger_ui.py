"""The Swagger UI at "/": classic BentoML's page for reading a service's APIs and trying them.

- Offline. Swagger UI's own files come from a Python package, swagger-ui-bundle-v2 (Apache-2.0;
  Swagger UI 5, the first to read OpenAPI 3.1, which /docs.json is), and this server sends them
  itself: a server on a closed network shows the same page. The page, its start-up script and
  its style sheet are written here: no analytics tag (classic's page had one), no CDN, no link
  to another host, and a Content-Security-Policy that keeps the browser on this origin.
- Classic's paths: the page at "/", its files under "/static_content/", referred to relatively
  ("./static_content/...", "./docs.json"), so the page also works behind a proxy's path prefix.
  Only the files the page uses are served: the package also ships a demo page that loads the
  Petstore from swagger.io.
- Where routes meet: these routes come before the apps a service mounts (``http/app.py``), as
  in classic BentoML, so ``GET /`` stays this page and "/static_content/" stays ours even with an
  app mounted at "/"; that app still gets every other request to "/" (a ``POST /``, say). No
  API can be in the way: "/" is a reserved route, and an API only takes POSTs on its own path.
- Caching. Files are read on their first request and kept (about 1.7 MB, only in the workers
  where someone opened the page). The page names each file with ``?v=`` and a digest of its
  bytes, so a browser keeps a file for a year without asking again and a new version of the
  package (or of this module) is a new URL; the page itself, and a file asked for without that
  digest, must be revalidated each time (``no-cache`` with an ETag: a 304 costs no body).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from ..exceptions import NotFound, excerpt
from .errors import error_response

logger = logging.getLogger("bentoml_classic.server")

#: where the page's files are served, as in classic BentoML
STATIC_PREFIX = "/static_content"
#: what to install when the Swagger UI files are missing
INSTALL_HINT = "pip install 'swagger-ui-bundle-v2>=5'"
#: the module both swagger-ui-bundle (Swagger UI 4) and swagger-ui-bundle-v2 install
BUNDLE_PACKAGE = "swagger_ui_bundle"
_VENDOR_DIR = re.compile(r"swagger-ui-(\d+)\.(\d+)\.(\d+)")
#: Swagger UI 4 refuses an OpenAPI 3.1 document
_OLDEST_MAJOR = 5

_FOREVER = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"
_CSS = "text/css; charset=utf-8"
_JS = "text/javascript; charset=utf-8"

#: the page may load and call only what its own origin serves; Swagger UI sets inline styles
#: and draws icons from data: URLs
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)

#: Swagger UI's files the page uses, served under the same names, with their media types
_VENDOR_FILES = {
    "swagger-ui.css": _CSS,
    "swagger-ui-bundle.js": _JS,
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}

_INDEX_CSS = b"""\
/* The page around Swagger UI: the whole window, on a light background. */
html { box-sizing: border-box; overflow-y: scroll; }
*, *::before, *::after { box-sizing: inherit; }
body { margin: 0; background: #fafafa; }
"""

_INITIALIZER_JS = b"""\
// Starts Swagger UI on the service's OpenAPI document, which lies beside this page.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("docs.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    // the validator badge would send the document to another host
    validatorUrl: null,
    layout: "BaseLayout",
  });
});
"""

_PAGE = """\
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{title}</title>
    <link rel="stylesheet" href="./static_content/swagger-ui.css?v={swagger-ui.css}">
    <link rel="stylesheet" href="./static_content/index.css?v={index.css}">
    <link rel="icon" type="image/png" sizes="32x32" href="./static_content/favicon-32x32.png?v={favicon-32x32.png}">
    <link rel="icon" type="image/png" sizes="16x16" href="./static_content/favicon-16x16.png?v={favicon-16x16.png}">
  </head>
  <body>
    <noscript>This page needs JavaScript. The service's OpenAPI document is <a href="./docs.json">docs.json</a>.</noscript>
    <div id="swagger-ui"></div>
    <script src="./static_content/swagger-ui-bundle.js?v={swagger-ui-bundle.js}"></script>
    <script src="./static_content/swagger-initializer.js?v={swagger-initializer.js}"></script>
  </body>
</html>
"""  # noqa: E501 (the page's lines, not Python's)


@dataclass(frozen=True)
class Asset:
    """A file as the server sends it: its bytes, their media type and a digest of them (its
    version in URLs and its ETag), computed once: the bundle is 1.5 MB."""

    body: bytes
    media_type: str
    digest: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        return cls(body, media_type, hashlib.sha256(body).hexdigest()[:20])


def find_swagger_ui(package: str = BUNDLE_PACKAGE) -> Traversable | None:
    """The folder of the newest Swagger UI (5 or later) the installed bundle ships, or None.

    The folders are looked at rather than the package's ``swagger_ui_path``: swagger-ui-bundle
    (Swagger UI 4, which some other tools require) installs the same module, and the
    ``__init__.py`` of whichever was installed last points at its own folder.
    """
    try:
        vendor = resources.files(package) / "vendor"
    except ModuleNotFoundError:
        return None
    if not vendor.is_dir():
        return None
    found: list[tuple[tuple[int, ...], Traversable]] = []
    for entry in vendor.iterdir():
        match = _VENDOR_DIR.fullmatch(entry.name)
        if match and entry.is_dir() and int(match.group(1)) >= _OLDEST_MAJOR:
            found.append((tuple(int(part) for part in match.groups()), entry))
    if not found:
        return None
    return max(found, key=lambda item: item[0])[1]


def load_assets(folder: Traversable) -> dict[str, Asset]:
    """The files the page uses: Swagger UI's from ``folder``, and the two written here."""
    assets = {
        name: Asset.of((folder / name).read_bytes(), kind) for name, kind in _VENDOR_FILES.items()
    }
    assets["index.css"] = Asset.of(_INDEX_CSS, _CSS)
    assets["swagger-initializer.js"] = Asset.of(_INITIALIZER_JS, _JS)
    return assets


def render_page(title: str, assets: dict[str, Asset]) -> bytes:
    """The page, naming each of its files with the digest of its bytes."""
    page = _PAGE
    for name, asset in assets.items():
        page = page.replace("{" + name + "}", asset.digest)
    # last, so that nothing in the title is taken for a placeholder
    return page.replace("{title}", html.escape(title)).encode()


def _matches(if_none_match: str | None, digest: str) -> bool:
    """Whether a conditional request's If-None-Match names this version (weakly, RFC 9110)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or f'"{digest}"' in tags


def _send(request: Request, asset: Asset, cache_control: str, **headers: str) -> Response:
    headers = {
        "ETag": f'"{asset.digest}"',
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        **headers,
    }
    if _matches(request.headers.get("if-none-match"), asset.digest):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


class SwaggerUI:
    """The page and its files for one service, read on their first request and kept."""

    def __init__(self, title: str, bundle_package: str = BUNDLE_PACKAGE) -> None:
        self.title = title
        self.bundle_package = bundle_package
        self._loaded: tuple[Asset, dict[str, Asset]] | None = None
        self._missing_logged = False

    def _load(self) -> tuple[Asset, dict[str, Asset]] | None:
        """The page and its files; None while no Swagger UI 5 is installed (looked for again
        on each request, so installing it needs no restart)."""
        if self._loaded is None:
            folder = find_swagger_ui(self.bundle_package)
            if folder is None:
                if not self._missing_logged:
                    logger.warning(
                        "no Swagger UI 5 is installed, so / has no page: %s", INSTALL_HINT
                    )
                    self._missing_logged = True
                return None
            assets = load_assets(folder)
            page = Asset.of(render_page(self.title, assets), "text/html; charset=utf-8")
            self._loaded = (page, assets)
        return self._loaded

    @staticmethod
    def _not_installed() -> Response:
        return error_response(
            NotFound(
                f"the Swagger UI is not installed on this server ({INSTALL_HINT}); "
                "the APIs are described at /docs.json"
            )
        )

    async def page(self, request: Request) -> Response:
        loaded = self._load()
        if loaded is None:
            return self._not_installed()
        page, _ = loaded
        return _send(
            request, page, _REVALIDATE, **{"Content-Security-Policy": CONTENT_SECURITY_POLICY}
        )

    async def asset(self, request: Request) -> Response:
        loaded = self._load()
        if loaded is None:
            return self._not_installed()
        _, assets = loaded
        name = request.path_params["name"]
        asset = assets.get(name)
        if asset is None:
            return error_response(
                NotFound(
                    f"no file {excerpt(name)!r} in {STATIC_PREFIX}/: it holds the Swagger UI "
                    "page's files",
                    detail={"files": sorted(assets)},
                )
            )
        versioned = request.query_params.get("v") == asset.digest
        return _send(request, asset, _FOREVER if versioned else _REVALIDATE)


def swagger_ui_routes(title: str) -> list[BaseRoute]:
    """The page at "/" and its files under "/static_content/", for a service called ``title``."""
    ui = SwaggerUI(title)
    return [
        Route("/", ui.page, methods=["GET"], name="swagger_ui"),
        Mount(
            STATIC_PREFIX,
            routes=[Route("/{name:path}", ui.asset, methods=["GET"])],
            name="static_content",
        ),
    ]
