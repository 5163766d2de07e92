"""The Swagger UI at "/" in a real browser: Debian's headless Chromium, driven by playwright,
on the iris example served by ``bentoml serve`` (the production topology).

The page must work with no network but the server's: every request the browser makes is
watched, and one to any other host is refused and fails the test. Playwright's own browser
download is never used; ``.ci/run`` installs Debian's chromium. Without it the test skips,
except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect, sync_playwright

from tests.support.servers import IRIS, free_port, serve_subprocess

#: the flags the project runs Chromium with: no sandbox (root in CI), no GPU, and none of the
#: browser's own background traffic (updates, safe browsing, metrics)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
#: each browser step's bound; the whole test stays well under a minute
STEP_TIMEOUT_MS = 20_000


def debian_chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: CI must run the browser test")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = debian_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def iris_url(iris_env: dict[str, str]) -> Iterator[str]:
    with serve_subprocess(["service:svc", "--api-workers", "1"], cwd=IRIS, env=iris_env) as (
        url,
        _,
    ):
        yield url


class Traffic:
    """Every request the page makes; those to another host than the server are refused."""

    def __init__(self, server: str) -> None:
        self.server = urlsplit(server).netloc
        self.seen: list[str] = []
        self.elsewhere: list[str] = []

    def watch(self, request: Request) -> None:
        self.seen.append(request.url)

    def guard(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.server:
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort("blockedbyclient")


def try_classify(page: Page, body: str, status: str) -> str:
    """Put ``body`` in classify's "Try it out" box, execute it, wait for ``status``; the
    response body as the page shows it."""
    operation = page.locator("#operations-Service_APIs-classify")
    box = operation.locator("textarea.body-param__text")
    box.fill(body)
    operation.locator("button.execute").click()
    answer = operation.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text(status)
    # its body is a highlighted <pre>; spaces and line breaks are the page's, not the server's
    shown = answer.locator(".response-col_description pre").first.inner_text()
    operation.locator("button.btn-clear").click()
    expect(answer).to_have_count(0)
    return "".join(shown.split())


def test_swagger_ui_tries_classify_with_no_request_leaving_the_server(
    browser: Browser, iris_url: str
) -> None:
    traffic = Traffic(iris_url)
    context = browser.new_context()
    context.route("**/*", traffic.guard)
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    page.on("request", traffic.watch)
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    try:
        page.goto(f"{iris_url}/")
        expect(page.locator(".info .title")).to_contain_text("iris_classifier")

        page.locator("#operations-Service_APIs-classify .opblock-summary").click()
        page.get_by_role("button", name="Try it out").click()
        assert try_classify(page, "[[5.9,3,5.1,1.8]]", "200") == "[2]"

        for bad in ("[[1,2]]", '"x"'):
            error = try_classify(page, bad, "400")
            assert error.startswith('{"error":{"type":"BadInput","message":"arrayshape'), error
            assert '"detail":{"expected_shape":[-1,4]' in error
        # the server kept serving, and answers as before
        assert try_classify(page, "[[5.9,3,5.1,1.8]]", "200") == "[2]"
    finally:
        context.close()

    assert traffic.elsewhere == []
    assert {urlsplit(url).netloc for url in traffic.seen} == {traffic.server}
    paths = {urlsplit(url).path for url in traffic.seen}
    assert {"/", "/docs.json", "/classify", "/static_content/swagger-ui-bundle.js"} <= paths
    # nothing refused by the page's Content-Security-Policy, no script error, no missing file:
    # the browser's only complaints are the two 400s
    failed_400 = "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    assert console_errors == [failed_400, failed_400]


def test_a_request_to_another_host_is_seen_and_the_page_s_policy_stops_it(
    browser: Browser, iris_url: str
) -> None:
    """The watch above would catch a request elsewhere (here another port of this machine), and
    the page's Content-Security-Policy stops one before it is even sent."""
    traffic = Traffic(iris_url)
    elsewhere = f"http://127.0.0.1:{free_port()}/elsewhere"
    send = "url => fetch(url).then(() => 'sent', () => 'not sent')"
    context = browser.new_context()
    context.route("**/*", traffic.guard)
    try:
        blank = context.new_page()
        assert blank.evaluate(send, elsewhere) == "not sent"
        assert traffic.elsewhere == [elsewhere]  # seen, and refused by the watch

        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{iris_url}/")
        expect(page.locator(".info .title")).to_contain_text("iris_classifier")
        assert page.evaluate(send, elsewhere) == "not sent"
        assert traffic.elsewhere == [elsewhere]  # the browser never tried
        assert any("Content Security Policy" in line for line in console), console
    finally:
        context.close()
