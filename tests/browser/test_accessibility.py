"""The widgets against axe-core's accessibility rules (WCAG 2.1 A and AA, plus best practices).

axe-core is the engine behind most accessibility checkers (Lighthouse, the
browsers' own audits); its script comes from the ``axe-playwright-python``
wheel and is injected into each page, so nothing is fetched from a network.
Only the widgets are checked (``.convlib-widget``): the book theme around them
is not this project's code. Pages are checked in the light and the dark colour
scheme (a widget is a light card on a dark page). Each widget is checked as the page opens and again
in the states that draw things the first state does not (padding cells, an
opened kernel panel, a chosen output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.browser.conftest import BookPage, book_context, set_range

pytestmark = pytest.mark.browser

#: Every chapter page with widgets, and how many it shows.
WIDGET_PAGES = {
    "notebooks/01_from_fc_to_conv.html": 1,
    "notebooks/02_cross_correlation.html": 2,
    "notebooks/03_padding_stride.html": 3,
    "notebooks/04_channels.html": 3,
    "notebooks/05_pooling.html": 3,
    "notebooks/06_lenet.html": 1,
    "notebooks/07_modern_cnns.html": 1,
    "notebooks/08_cifar10.html": 1,
}

RUN_AXE = """async (selector) => {
  const result = await axe.run({ include: [[selector]] }, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    preload: false,  // axe would re-fetch the theme's @import-ed stylesheets from wrong paths (404s)
  });
  return result.violations.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length} elements), e.g. `
    + v.nodes.slice(0, 2).map((n) => `${n.html.slice(0, 120)} -> ${n.failureSummary.replace(/\\s+/g, " ")}`).join(" | "));
}"""


def axe_script() -> Path:
    import axe_playwright_python

    return Path(axe_playwright_python.__file__).with_name("axe.min.js")


def violations(book_page, selector: str = ".convlib-widget") -> list[str]:
    """axe-core's findings inside ``selector``, one line each (an empty list: none)."""
    if not book_page.page.evaluate("() => typeof axe === 'object'"):
        book_page.page.add_script_tag(path=str(axe_script()))
    return book_page.page.evaluate(RUN_AXE, selector)


@pytest.fixture(params=["light", "dark"])
def themed_page(request, browser, book_url) -> Iterator[BookPage]:
    """A page in the reader's light or dark colour scheme (the book theme follows the system's)."""
    with book_context(browser, book_url, color_scheme=request.param) as page:
        yield page


@pytest.mark.parametrize("path", sorted(WIDGET_PAGES))
def test_every_widget_passes_axe_as_the_page_opens(themed_page, path):
    book_page = themed_page.open(path)
    assert book_page.page.locator(".convlib-widget").count() == WIDGET_PAGES[path]
    found = violations(book_page)
    assert not found, "\n".join(found)
    book_page.assert_clean()


def test_widgets_pass_axe_in_the_states_a_learner_reaches(book_page):
    book_page.open("notebooks/03_padding_stride.html")
    explorer = book_page.widgets("PaddingStrideExplorer").first
    for name, value in (("padding", 2), ("stride", 2)):  # dashed padding cells, start dots, skipped cells
        set_range(explorer, name, value)
    transposed = book_page.widgets("TransposedConvView").first
    set_range(transposed, "stride", 2)  # outputs that add up to zero
    set_range(transposed, "output_padding", 1)  # dotted cells
    assert explorer.locator(".cl-pad").count() > 0 and transposed.locator(".cl-tc-extra").count() > 0
    found = violations(book_page)
    assert not found, "\n".join(found)

    book_page.open("notebooks/05_pooling.html")
    pooling = book_page.widgets("PoolingView").nth(1)
    pooling.locator('[data-testid="mode"]').select_option("avg")
    for name, value in (("kernel-h", 3), ("stride-h", 2)):
        set_range(pooling, name, value)
    pooling.locator('[data-testid="ceil-mode"]').set_checked(True)  # dotted overhang cells
    pooling.locator('[data-testid="count-include-pad"]').set_checked(False)
    assert pooling.locator(".cl-over").count() > 0
    found = violations(book_page)
    assert not found, "\n".join(found)

    book_page.open("notebooks/06_lenet.html")
    network = book_page.widgets("NetworkView").first
    network.scroll_into_view_if_needed()
    network.locator('[data-testid="every-layer"]').click()  # one row per layer
    network.locator('[data-testid="map-0-2"]').click()  # the enlarged map and its kernels
    assert network.locator('[data-testid="detail-0"] canvas').count() > 0
    network.locator('[data-testid="big-0"]').click()  # one output's sum
    assert network.locator('[data-testid="neuron-0"]').count() == 1
    found = violations(book_page)
    assert not found, "\n".join(found)
    pool = network.evaluate(  # the first pooling row (rows are one per layer here)
        "el => [...el.querySelectorAll('[data-testid^=stage-label-]')].findIndex((l) => l.textContent.includes('pool'))")
    network.locator(f'[data-testid="map-{pool}-0"]').click()  # a pooling map: one output's window
    network.locator(f'[data-testid="big-{pool}"]').click()
    assert network.locator(f'[data-testid="neuron-{pool}"]').count() == 1
    found = violations(book_page)
    assert not found, "\n".join(found)

    book_page.open("notebooks/07_modern_cnns.html")  # NiN: the named class maps, one opened with its kernels
    network = book_page.widgets("NetworkView").first
    network.scroll_into_view_if_needed()
    stage = int(network.evaluate("el => el.querySelector('.cl-nv').dataset.classStage"))
    network.locator(f'[data-testid="map-{stage}-1"]').click()
    network.locator(f'[data-testid="big-{stage}"]').click()
    assert network.locator('[data-testid^="class-map-"]').count() == 10
    assert network.locator(f'[data-testid="neuron-{stage}"]').count() == 1
    found = violations(book_page)
    assert not found, "\n".join(found)
    book_page.assert_clean()


def test_speed_tables_pass_axe_and_fit_the_page(themed_page):
    """Chapter 8's benchmark reports are HTML tables (``BenchReport.html``): headed row groups
    that axe accepts, in either colour scheme, and no wider than the text column at 1280 px
    (the terminal's text table is 118 characters, which a page shows with a scroll bar)."""
    book_page = themed_page.open("notebooks/08_cifar10.html")
    reports = book_page.page.locator(".convlib-bench")
    assert reports.count() == 2
    assert reports.first.locator('tbody th[scope="rowgroup"]').count() == 3  # the network's three layers
    found = violations(book_page, ".convlib-bench")
    assert not found, "\n".join(found)
    widths = reports.evaluate_all("els => els.map((e) => [e.scrollWidth, e.clientWidth])")
    assert all(scroll <= client for scroll, client in widths), widths
    book_page.assert_clean()
