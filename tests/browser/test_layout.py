"""What a reader sees without scrolling sideways: every chapter's output in its column.

A code cell's lines are kept within 79 characters (tests/test_notebooks.py);
its output is not the course's to shorten when it is a traceback or one of
torch's reprs, so ``book/_static/convlib.css`` wraps text output at the edge
of the column, as JupyterLab and Colab do. These tests load each chapter at
a laptop's width and look for output that is still wider than its column.
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import HTML

pytestmark = pytest.mark.browser

CHAPTERS = sorted(path.relative_to(HTML).as_posix() for path in (HTML / "notebooks").glob("*.html"))

#: Output blocks wider than their column: [scroll width, column width, longest line (cut)].
WIDE_OUTPUT = """() => [...document.querySelectorAll('div.cell_output > *, div.cell_output pre')]
  .filter((e) => e.scrollWidth > e.clientWidth + 1)
  .map((e) => [e.scrollWidth, e.clientWidth,
               e.innerText.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), '').slice(0, 100)])"""


def test_every_chapter_is_found() -> None:
    assert len(CHAPTERS) == 9, CHAPTERS


@pytest.mark.parametrize("path", CHAPTERS)
def test_no_output_is_wider_than_its_column(book_page, path):
    book_page.open(path)
    assert book_page.page.locator("div.cell_output").count() > 0
    wide = book_page.page.evaluate(WIDE_OUTPUT)
    assert not wide, wide
    book_page.assert_clean()


def test_long_output_lines_wrap_instead_of_scrolling(book_page):
    """The check above can fail: with the book's stylesheet switched off, chapter 4's
    traceback (an error message longer than the page) scrolls again."""
    book_page.open("notebooks/04_channels.html")
    book_page.page.evaluate(
        "() => document.querySelectorAll('link[href*=\"convlib.css\"]').forEach((l) => l.remove())")
    wide = book_page.page.evaluate(WIDE_OUTPUT)
    assert any("ConvlibInputError" in line for *_, line in wide), wide
