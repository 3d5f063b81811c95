"""ChannelsView in the built book: output channel, slider, arrow keys and clicks, checked against convlib."""

from __future__ import annotations

import pytest
import torch

import convlib as cl
from convlib.widgets import ChannelsView
from tests.browser.conftest import read_grid, set_range

pytestmark = pytest.mark.browser

PAGE = "notebooks/04_channels.html"
NAME = "ChannelsView"


def n_in(widget) -> int:
    return widget.locator('[data-testid^="channel-row-"]').count()


def n_out(widget) -> int:
    return widget.locator('[data-testid="out-channel"] option').count()


def pick_channel(widget, o: int) -> None:
    widget.locator('[data-testid="out-channel"]').select_option(str(o))


def read_input(widget) -> torch.Tensor:
    return torch.tensor([read_grid(widget, f"x{c}") for c in range(n_in(widget))], dtype=torch.float64)


def read_kernels(widget) -> torch.Tensor:
    """Every kernel stack, read from the page one output channel at a time: (C_out, C_in, k_h, k_w)."""
    stacks = []
    for o in range(n_out(widget)):
        pick_channel(widget, o)
        stacks.append([read_grid(widget, f"k{c}") for c in range(n_in(widget))])
    pick_channel(widget, 0)
    return torch.tensor(stacks, dtype=torch.float64)


def shown(widget, testid: str) -> float:
    return float(widget.locator(f'[data-testid="{testid}"]').inner_text())


def window_cells(widget, c: int) -> set[tuple[int, int]]:
    ids = widget.locator(f'[data-testid="x{c}"] .cl-win').evaluate_all("els => els.map(e => e.dataset.testid)")
    return {tuple(int(v) for v in i.split("-")[1:]) for i in ids}


def assert_shows(widget, X: torch.Tensor, K: torch.Tensor, o: int, p: int) -> None:
    """The page shows, for output channel o at position p, what convlib computes."""
    w_out = X.shape[2] - K.shape[3] + 1
    r, c = divmod(p, w_out)
    for ch in range(X.shape[0]):
        want = cl.corr2d(X[ch], K[o, ch])[r, c].item()
        assert shown(widget, f"partial-{ch}") == pytest.approx(want, abs=1e-3)
        assert widget.locator(f'[data-testid="terms-{ch}"]').inner_text().count("×") == K.shape[2] * K.shape[3]
        kh, kw = K.shape[2:]
        assert window_cells(widget, ch) == {(r + a, c + b) for a in range(kh) for b in range(kw)}
    total = cl.corr2d_multi_in(X, K[o])[r, c].item()
    assert shown(widget, "total") == pytest.approx(total, abs=1e-3)
    assert widget.locator('[data-testid="where"]').inner_text() == f"Y[{o}, {r}, {c}]"
    assert "cl-current" in widget.locator(f'[data-testid="y{o}-{r}-{c}"]').get_attribute("class").split()
    assert widget.locator(".cl-current").count() == 1


def test_page_has_widgets(book_page):
    book_page.open(PAGE)
    assert book_page.widgets(NAME).count() >= 3
    book_page.assert_clean()


def test_outputs_and_every_channel_and_position_with_the_slider(book_page):
    book_page.open(PAGE)
    for w in range(book_page.widgets(NAME).count()):
        widget = book_page.widgets(NAME).nth(w)
        X, K = read_input(widget), read_kernels(widget)
        Y = cl.corr2d_multi_in_out(X, K)  # (C_out, H_out, W_out)
        model = ChannelsView(X, K)  # the Python side of the same widget
        for o in range(K.shape[0]):
            assert torch.allclose(torch.tensor(read_grid(widget, f"y{o}"), dtype=torch.float64), Y[o], atol=1e-3)
            pick_channel(widget, o)
            for p in range(Y.shape[1] * Y.shape[2]):
                set_range(widget, "position", p)
                assert_shows(widget, X, K, o, p)
                shown_partials = [shown(widget, f"partial-{c}") for c in range(X.shape[0])]
                assert shown_partials == pytest.approx(model.partial_sums(o, p), abs=1e-3)
                assert shown(widget, "total") == pytest.approx(model.total_at(o, p), abs=1e-3)
    book_page.widgets(NAME).nth(1).scroll_into_view_if_needed()
    book_page.screenshot("channels_view.png")
    book_page.assert_clean()


def test_the_worked_example_is_on_the_page(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).first
    assert read_grid(widget, "y0") == [[56.0, 72.0], [104.0, 120.0]]
    assert [shown(widget, "partial-0"), shown(widget, "partial-1"), shown(widget, "total")] == [19.0, 37.0, 56.0]


def test_arrow_keys_and_page_keys(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(1)  # two input channels, three output channels
    X, K = read_input(widget), read_kernels(widget)
    h_out, w_out = X.shape[1] - K.shape[2] + 1, X.shape[2] - K.shape[3] + 1
    stage = widget.locator(".cl-stage")
    stage.focus()
    for o in range(K.shape[0]):
        stage.press("Home")
        assert_shows(widget, X, K, o, 0)
        for p in range(1, h_out * w_out):
            stage.press("ArrowRight")
            assert_shows(widget, X, K, o, p)
        stage.press("ArrowUp")
        assert_shows(widget, X, K, o, h_out * w_out - 1 - w_out)
        stage.press("PageDown")  # next output channel, same window
    assert widget.locator('[data-testid="out-channel"]').input_value() == str(K.shape[0] - 1)
    stage.press("PageUp")
    stage.press("End")
    assert_shows(widget, X, K, K.shape[0] - 2, h_out * w_out - 1)
    book_page.assert_clean()


def test_clicking_an_output_cell_picks_channel_and_position(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(1)
    X, K = read_input(widget), read_kernels(widget)
    widget.locator('[data-testid="y2-1-1"]').click()
    assert widget.locator('[data-testid="out-channel"]').input_value() == "2"
    assert widget.locator('[data-testid="position"]').input_value() == "3"
    assert_shows(widget, X, K, 2, 3)
    widget.locator('[data-testid="y0-0-1"]').click()
    assert_shows(widget, X, K, 0, 1)


def test_every_control_has_a_label(book_page):
    book_page.open(PAGE)
    unlabeled = book_page.page.evaluate(
        """() => [...document.querySelectorAll('.convlib-widget input, .convlib-widget select, .convlib-widget button')]
              .filter(e => !e.getAttribute('aria-label')).length"""
    )
    assert unlabeled == 0
