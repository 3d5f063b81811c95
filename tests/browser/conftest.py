"""Browser tests: the built book, served on 127.0.0.1, in Debian's headless Chromium.

Run after the book is built (``make test`` does both). Every page is loaded
offline-style: any request to a host other than 127.0.0.1 fails the test, and
so does any console error except the two the book theme always prints.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
# CONVLIB_BOOK_HTML points at another build (e.g. one built with --path-output).
HTML = Path(os.environ.get("CONVLIB_BOOK_HTML", ROOT / "_build" / "html"))
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    "--disable-background-networking", "--disable-component-update",
]
# sphinx-book-theme prints these on every page; nothing else is tolerated.
KNOWN_THEME_NOISE = ("THEBE_JS_URL", "Got invalid theme mode")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep test output readable
        pass


@pytest.fixture(scope="session")
def book_url() -> Iterator[str]:
    if not (HTML / "index.html").exists():
        pytest.fail("No built book in _build/html: run `make book-quick` (or `make test`) first.")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium` (make test does this).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class BookPage:
    """A page of the book plus what it did: console errors and foreign requests."""

    def __init__(self, page, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        self.foreign: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", self._on_request)

    def _on_request(self, request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != "127.0.0.1":
            self.foreign.append(request.url)

    def open(self, path: str) -> "BookPage":
        self.page.goto(f"{self.base}/{path}", wait_until="load")
        self.page.wait_for_function(
            "[...document.querySelectorAll('.convlib-widget')].every(e => e.dataset.convlibReady === 'true')"
        )
        return self

    def widgets(self, name: str):
        return self.page.locator(f'.convlib-widget[data-widget="{name}"]')

    def colab_links(self, notebook: str):
        """The page's links that open ``notebook`` (e.g. ``"01_from_fc_to_conv.ipynb"``) on Colab."""
        return self.page.locator(f'a[href*="colab.research.google.com/github/"][href$="{notebook}"]')

    def assert_clean(self) -> None:
        errors = [e for e in self.errors if not any(n in e for n in KNOWN_THEME_NOISE)]
        assert not errors, f"console errors: {errors}"
        assert not self.foreign, f"requests to hosts other than 127.0.0.1: {self.foreign}"

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=False)
        return path


@contextlib.contextmanager
def book_context(browser, book_url: str, **options: object) -> Iterator[BookPage]:
    """A fresh browser context at desktop size (``options`` go to ``new_context``, e.g. ``color_scheme``)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    try:
        yield BookPage(context.new_page(), book_url)
    finally:
        context.close()


@pytest.fixture
def book_page(browser, book_url) -> Iterator[BookPage]:
    with book_context(browser, book_url) as page:
        yield page


def read_grid(widget, testid: str) -> list[list[float]]:
    """The numbers shown in a widget's grid ``testid`` (cells ``testid-i-j``)."""
    rows = widget.evaluate(
        """(el, id) => {
            const grid = el.querySelector(`[data-testid="${id}"]`);
            const rows = [];
            for (const cell of grid.children) {
                const [, i, j] = cell.dataset.testid.slice(id.length).split("-").map(Number);
                (rows[i] ||= [])[j] = Number(cell.textContent);
            }
            return rows;
        }""",
        testid,
    )
    return [[float(v) for v in row] for row in rows]


def set_range(widget, testid: str, value: int) -> None:
    """Move a range input the way a drag does: set its value, fire `input`."""
    widget.locator(f'[data-testid="{testid}"]').evaluate(
        "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }",
        value,
    )
