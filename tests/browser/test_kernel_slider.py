"""KernelSlider in the built book: slider, arrow keys and clicks, checked against convlib."""

from __future__ import annotations

import statistics

import pytest
import torch

import convlib as cl
from tests.browser.conftest import read_grid, set_range

pytestmark = pytest.mark.browser

PAGE = "notebooks/02_cross_correlation.html"


def shown_sum(widget) -> float:
    return float(widget.locator('[data-testid="sum"]').inner_text())


def expected_output(widget) -> torch.Tensor:
    return cl.corr2d(torch.tensor(read_grid(widget, "x")), torch.tensor(read_grid(widget, "k")))


def test_page_has_widgets_and_colab_link(book_page):
    book_page.open(PAGE)
    assert book_page.widgets("KernelSlider").count() >= 2
    assert book_page.colab_links("02_cross_correlation.ipynb").count() >= 1
    book_page.assert_clean()


def test_slider_visits_every_position(book_page):
    book_page.open(PAGE)
    for w in range(book_page.widgets("KernelSlider").count()):
        widget = book_page.widgets("KernelSlider").nth(w)
        Y = expected_output(widget)
        h_out, w_out = Y.shape
        assert torch.allclose(torch.tensor(read_grid(widget, "y")), Y, atol=1e-3)
        for p in range(h_out * w_out):
            set_range(widget, "position", p)
            r, c = divmod(p, w_out)
            assert shown_sum(widget) == pytest.approx(Y[r, c].item(), abs=1e-3)
            assert widget.locator(f'[data-testid="y-{r}-{c}"]').get_attribute("class").count("cl-current") == 1
            products = widget.locator('[data-testid="products"]').inner_text()
            assert products.count("×") == torch.tensor(read_grid(widget, "k")).numel()
    book_page.screenshot("kernel_slider.png")
    book_page.assert_clean()


def test_arrow_keys_move_the_window_and_redraw_fast(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("KernelSlider").first
    Y = expected_output(widget)
    h_out, w_out = Y.shape
    set_range(widget, "position", 0)
    stage = widget.locator(".cl-stage")
    stage.focus()
    latencies = []
    for p in range(1, h_out * w_out):
        # Time from the key event to the redrawn output, measured in the page.
        ms = stage.evaluate(
            """el => { const t0 = performance.now();
                 el.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
                 el.closest('.convlib-widget').querySelector('[data-testid="sum"]').getBoundingClientRect();
                 return performance.now() - t0; }"""
        )
        latencies.append(ms)
        r, c = divmod(p, w_out)
        assert shown_sum(widget) == pytest.approx(Y[r, c].item(), abs=1e-3)
    stage.press("Home")
    assert shown_sum(widget) == pytest.approx(Y[0, 0].item(), abs=1e-3)
    stage.press("ArrowDown")
    assert shown_sum(widget) == pytest.approx(Y[1, 0].item(), abs=1e-3)
    stage.press("End")
    assert shown_sum(widget) == pytest.approx(Y[-1, -1].item(), abs=1e-3)
    print(f"\nKernelSlider key press -> redrawn output: median {statistics.median(latencies):.2f} ms, "
          f"max {max(latencies):.2f} ms over {len(latencies)} presses")
    book_page.assert_clean()


def test_clicking_an_output_cell_moves_the_window(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("KernelSlider").nth(1)
    Y = expected_output(widget)
    widget.locator('[data-testid="y-3-5"]').click()
    assert shown_sum(widget) == pytest.approx(Y[3, 5].item(), abs=1e-3)
    assert widget.locator('[data-testid="position"]').input_value() == str(3 * Y.shape[1] + 5)


def test_every_control_has_a_label(book_page):
    book_page.open(PAGE)
    unlabeled = book_page.page.evaluate(
        """() => [...document.querySelectorAll('.convlib-widget input, .convlib-widget select, .convlib-widget button')]
              .filter(e => !e.getAttribute('aria-label')).length"""
    )
    assert unlabeled == 0


def test_chapter3_slides_the_turned_kernel_over_the_spread_input(book_page):
    """Chapter 3 reuses the slider for a transposed convolution computed as a stride-1 convolution."""
    book_page.open("notebooks/03_padding_stride.html")
    widget = book_page.widgets("KernelSlider").first
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # (N, C, H, W): the chapter's input
    K3 = torch.arange(1.0, 10.0).reshape(3, 3)
    spread = torch.tensor(read_grid(widget, "x"))  # (7, 7): zeros between and around the input
    assert spread.shape == (7, 7) and torch.equal(spread[1:-1:2, 1:-1:2], x[0, 0])
    assert torch.equal(torch.tensor(read_grid(widget, "k")), K3.flip(0, 1))
    transposed = cl.conv_transpose2d(x, K3[None, None], stride=2, padding=1)[0, 0]  # (5, 5)
    assert torch.allclose(torch.tensor(read_grid(widget, "y")), transposed)
    book_page.assert_clean()
