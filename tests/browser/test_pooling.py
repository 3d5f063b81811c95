"""PoolingView in the built book: every control, slider, arrow keys and clicks, checked against convlib."""

from __future__ import annotations

import re

import pytest
import torch

import convlib as cl
from convlib.widgets import PoolingView
from tests.browser.conftest import read_grid, set_range

pytestmark = pytest.mark.browser

PAGE = "notebooks/05_pooling.html"
NAME = "PoolingView"
MINUS_INF = "−∞"


def read_input(widget) -> torch.Tensor:
    """The real (unpadded) input, from the cells' input coordinates."""
    cells = widget.locator('[data-testid="x"] .cl-cell:not(.cl-pad)').evaluate_all(
        "els => els.map(e => [Number(e.dataset.r), Number(e.dataset.c), Number(e.textContent)])"
    )
    h, w = max(r for r, _, _ in cells) + 1, max(c for _, c, _ in cells) + 1
    X = torch.zeros(h, w, dtype=torch.float64)
    for r, c, v in cells:
        X[r, c] = v
    return X


def state(widget) -> dict:
    """What the controls say now."""
    get = lambda testid: int(widget.locator(f'[data-testid="{testid}"]').input_value())
    checked = lambda testid: widget.locator(f'[data-testid="{testid}"]').is_checked()
    return {
        "mode": widget.locator('[data-testid="mode"]').input_value(),
        "ceil_mode": checked("ceil-mode"),
        "count_include_pad": checked("count-include-pad"),
        "kernel_size": (get("kernel-h"), get("kernel-w")),
        "stride": (get("stride-h"), get("stride-w")),
        "padding": (get("padding-h"), get("padding-w")),
        "position": get("position"),
    }


def options(s: dict) -> dict:
    """The controls as keyword arguments of convlib.pool2d and PoolingView."""
    return {key: s[key] for key in ("stride", "padding", "mode", "ceil_mode", "count_include_pad")}


def expected(X: torch.Tensor, s: dict) -> torch.Tensor:
    return cl.pool2d(X, s["kernel_size"], **options(s))


def assert_output(widget, X: torch.Tensor) -> dict:
    """The output grid, its shape and the padded input match convlib for the current controls."""
    s = state(widget)
    Y = expected(X, s)
    assert torch.allclose(torch.tensor(read_grid(widget, "y"), dtype=torch.float64), Y, atol=1e-3), s
    assert widget.locator('[data-testid="out-shape"]').inner_text().startswith(f"output shape {Y.shape[0]}×{Y.shape[1]}")
    (ph, pw), (h, w) = s["padding"], X.shape
    (eh, ew) = cl.pool.pool_geometry((h, w), s["kernel_size"], s["stride"], s["padding"], (1, 1), s["ceil_mode"])[1]
    pads = widget.locator('[data-testid="x"] .cl-pad')
    assert pads.count() == (h + 2 * ph + eh) * (w + 2 * pw + ew) - h * w  # padding and a ceil_mode overhang
    assert widget.locator('[data-testid="x"] .cl-over').count() == (h + 2 * ph + eh) * (w + 2 * pw + ew) - (h + 2 * ph) * (w + 2 * pw)
    if pads.count():
        assert set(pads.all_inner_texts()) == {MINUS_INF if s["mode"] == "max" else "0"}
    return s


def assert_window(widget, X: torch.Tensor) -> None:
    """Current value, window, argmax (max) or sum and count (avg) match the Python side."""
    s = state(widget)
    view = PoolingView(X, s["kernel_size"], **options(s))
    p = s["position"]
    Y = expected(X, s)
    r, c = divmod(p, Y.shape[1])
    assert float(widget.locator('[data-testid="value"]').inner_text()) == pytest.approx(Y[r, c].item(), abs=1e-3)
    assert float(widget.locator('[data-testid="value"]').inner_text()) == pytest.approx(view.value_at(p), abs=1e-3)
    assert widget.locator('[data-testid="where"]').inner_text() == f"Y[{r}, {c}]"
    assert "cl-current" in widget.locator(f'[data-testid="y-{r}-{c}"]').get_attribute("class").split()
    win = widget.locator('[data-testid="x"] .cl-win').evaluate_all(
        "els => els.map(e => [Number(e.dataset.r), Number(e.dataset.c)])"
    )
    assert sorted(tuple(v) for v in win) == sorted(view.window_cells(p))
    if s["mode"] == "max":
        pick = widget.locator('[data-testid="x"] .cl-pick')
        assert pick.count() == 1
        rc = (int(pick.get_attribute("data-r")), int(pick.get_attribute("data-c")))
        assert rc == view.argmax_at(p)
        assert X[rc].item() == pytest.approx(Y[r, c].item())
        assert widget.locator('[data-testid="argmax"]').inner_text() == f"X[{rc[0]}, {rc[1]}]"
    else:
        assert widget.locator('[data-testid="x"] .cl-pick').count() == 0
        values = view.window_values(p)
        assert float(widget.locator('[data-testid="sum"]').inner_text()) == pytest.approx(sum(values), abs=1e-3)
        assert int(widget.locator('[data-testid="count"]').inner_text()) == view.count_at(p)


def n_out(widget) -> int:
    return int(widget.locator('[data-testid="position"]').get_attribute("max")) + 1


def test_page_has_widgets(book_page):
    book_page.open(PAGE)
    assert book_page.widgets(NAME).count() >= 3
    book_page.assert_clean()


def test_initial_outputs_match_convlib(book_page):
    book_page.open(PAGE)
    for w in range(book_page.widgets(NAME).count()):
        widget = book_page.widgets(NAME).nth(w)
        assert_output(widget, read_input(widget))
        assert_window(widget, read_input(widget))
    first = book_page.widgets(NAME).first
    assert read_grid(first, "y") == [[4.0, 5.0], [7.0, 8.0]]
    first.locator('[data-testid="mode"]').select_option("avg")
    assert read_grid(first, "y") == [[2.0, 3.0], [5.0, 6.0]]
    second = book_page.widgets(NAME).nth(1)  # the (2, 3) window, padding (0, 1), stride (2, 3)
    assert read_grid(second, "y") == [[5.0, 7.0], [13.0, 15.0]]


def test_every_control_through_several_values(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(1)  # 4x4 input
    X = read_input(widget)
    assert X.tolist() == torch.arange(16.0).reshape(4, 4).tolist()
    for mode in ("max", "avg", "max"):
        widget.locator('[data-testid="mode"]').select_option(mode)
        assert assert_output(widget, X)["mode"] == mode
        note = widget.locator('[data-testid="pad-note"]').inner_text()
        assert ("−∞" in note) if mode == "max" else ("count_include_pad=True" in note)
        for testid, key, d, values in [
            ("kernel-h", "kernel_size", 0, [1, 2, 3, 4]),
            ("kernel-w", "kernel_size", 1, [1, 2, 3, 4]),
            ("stride-h", "stride", 0, [1, 2, 3, 4]),
            ("stride-w", "stride", 1, [1, 2, 3, 4]),
            ("padding-h", "padding", 0, [0, 1, 2]),
            ("padding-w", "padding", 1, [0, 1, 2]),
        ]:
            for v in values:
                set_range(widget, testid, v)
                s = assert_output(widget, X)
                k = s["kernel_size"][d]
                if key == "padding":  # clamped to at most half the window
                    assert s["padding"][d] == min(v, k // 2)
                else:
                    assert s[key][d] == v
                assert all(p <= kk // 2 for p, kk in zip(s["padding"], s["kernel_size"]))
                assert_window(widget, X)
        # A larger window with the padding at its maximum, then a smaller one: padding follows.
        set_range(widget, "kernel-h", 4)
        set_range(widget, "padding-h", 2)
        set_range(widget, "kernel-h", 2)
        assert assert_output(widget, X)["padding"][0] == 1
    book_page.assert_clean()


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_slider_visits_every_position(book_page, mode):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(1)
    X = read_input(widget)
    widget.locator('[data-testid="mode"]').select_option(mode)
    for testid, v in [("kernel-h", 3), ("kernel-w", 2), ("stride-h", 1), ("stride-w", 1), ("padding-h", 1), ("padding-w", 1)]:
        set_range(widget, testid, v)
    s = assert_output(widget, X)
    assert s["kernel_size"] == (3, 2) and s["padding"] == (1, 1)
    Y = expected(X, s)
    assert n_out(widget) == Y.numel() == 4 * 5
    for p in range(Y.numel()):
        set_range(widget, "position", p)
        assert state(widget)["position"] == p
        assert_window(widget, X)
    widget.scroll_into_view_if_needed()
    book_page.screenshot(f"pooling_view_{mode}.png")
    book_page.assert_clean()


def test_arrow_keys_visit_every_position(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(2)  # the 6x7 edge map, 2x2 window, stride 1
    X = read_input(widget)
    Y = expected(X, state(widget))
    assert Y.shape == (5, 6)
    stage = widget.locator(".cl-stage")
    stage.focus()
    stage.press("Home")
    for mode in ("max", "avg"):
        widget.locator('[data-testid="mode"]').select_option(mode)
        stage.focus()
        stage.press("Home")
        assert_window(widget, X)
        for p in range(1, Y.numel()):
            stage.press("ArrowRight")
            assert state(widget)["position"] == p
            assert_window(widget, X)
        stage.press("ArrowUp")
        assert state(widget)["position"] == Y.numel() - 1 - Y.shape[1]
        stage.press("ArrowDown")
        stage.press("ArrowLeft")
        assert state(widget)["position"] == Y.numel() - 2
        assert_window(widget, X)
    book_page.assert_clean()


def test_clicking_an_output_cell_moves_the_window(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(2)
    X = read_input(widget)
    widget.locator('[data-testid="y-3-4"]').click()
    assert state(widget)["position"] == 3 * 6 + 4
    assert_window(widget, X)


def test_ceil_mode_and_count_include_pad_through_several_geometries(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets(NAME).nth(1)  # 4x4 input
    X = read_input(widget)
    count_pad = widget.locator('[data-testid="count-include-pad"]')
    assert count_pad.is_disabled()  # max mode: nothing to count
    for geometry in ([("kernel-h", 3), ("kernel-w", 3), ("stride-h", 2), ("stride-w", 2), ("padding-h", 0), ("padding-w", 0)],
                     [("kernel-h", 3), ("kernel-w", 2), ("stride-h", 2), ("stride-w", 3), ("padding-h", 1), ("padding-w", 1)]):
        for testid, v in geometry:
            set_range(widget, testid, v)
        for mode in ("max", "avg"):
            widget.locator('[data-testid="mode"]').select_option(mode)
            for ceil in (True, False):
                widget.locator('[data-testid="ceil-mode"]').set_checked(ceil)
                for counted in ((True, False) if mode == "avg" else (None,)):  # disabled in max mode
                    if counted is not None:
                        count_pad.set_checked(counted)
                    s = assert_output(widget, X)
                    assert s["ceil_mode"] == ceil and counted in (None, s["count_include_pad"])
                    for p in range(n_out(widget)):
                        set_range(widget, "position", p)
                        assert_window(widget, X)
    widget.locator('[data-testid="ceil-mode"]').set_checked(True)
    assert "⌈" in widget.locator('[data-testid="out-shape"]').inner_text()
    book_page.assert_clean()


def test_every_control_has_a_label(book_page):
    book_page.open(PAGE)
    unlabeled = book_page.page.evaluate(
        """() => [...document.querySelectorAll('.convlib-widget input, .convlib-widget select, .convlib-widget button')]
              .filter(e => !e.getAttribute('aria-label')).length"""
    )
    assert unlabeled == 0


def add_widget(book_page, view, *, as_live_kernel: bool = False) -> object:
    """Put ``view``'s static HTML (what the book embeds) on the open page and wait until it has drawn.

    ``as_live_kernel`` writes the state's NaNs as the string "nan", as a live Jupyter kernel sends them.
    """
    div, script = view.static_html().split("\n", 1)
    code = script.removeprefix('<script type="module">').removesuffix("</script>")
    if as_live_kernel:  # only the data's NaNs: list items, between "[" or ", " and "," or "]"
        code, swapped = re.subn(r"(?:(?<=\[)|(?<=, ))NaN(?=,|\])", '"nan"', code)
        assert swapped, "the state holds no NaN to send as a string"
    dom_id = div.split('id="', 1)[1].split('"', 1)[0]
    book_page.page.evaluate(
        """([div, code]) => {
            const box = document.createElement("div");
            box.innerHTML = div;
            document.body.prepend(box.firstElementChild);
            const s = document.createElement("script");
            s.type = "module";
            s.textContent = code;
            document.body.append(s);
        }""",
        [div, code],
    )
    book_page.page.wait_for_function(f"document.getElementById('{dom_id}')?.dataset.convlibReady === 'true'")
    return book_page.page.locator(f"#{dom_id}")


@pytest.mark.parametrize("as_live_kernel", [False, True], ids=["book", "live-kernel"])
def test_nan_in_a_window_is_the_cell_max_pooling_takes(book_page, as_live_kernel: bool):
    """The book's page gets NaN itself (json.dumps writes the JavaScript literal NaN), a live kernel the
    string "nan"; either way the page outlines what F.max_pool2d(return_indices=True) points to: the last
    NaN of a window, otherwise the first largest value. The page used to outline the window's largest
    number and skip the NaN."""
    nan = float("nan")
    X = torch.tensor([[1.0, nan, 3.0, nan], [3.0, 2.0, nan, 0.0], [4.0, 4.0, 1.0, 2.0]], dtype=torch.float64)
    view = PoolingView(X, (2, 2), stride=(1, 1))
    book_page.open(PAGE)
    widget = add_widget(book_page, view, as_live_kernel=as_live_kernel)
    _, flat = torch.nn.functional.max_pool2d(X[None, None], 2, stride=1, return_indices=True)
    for p in range(n_out(widget)):
        set_range(widget, "position", p)
        pick = widget.locator('[data-testid="x"] .cl-pick')
        assert pick.count() == 1
        rc = (int(pick.get_attribute("data-r")), int(pick.get_attribute("data-c")))
        want = divmod(int(flat.flatten()[p]), X.shape[1])
        assert rc == view.argmax_at(p) == want, p
        assert widget.locator('[data-testid="argmax"]').inner_text() == f"X[{rc[0]}, {rc[1]}]"
        note = widget.locator('[data-testid="argmax"]').locator("xpath=..").inner_text()
        assert ("the last NaN" in note) == bool(torch.isnan(X[want]))
    book_page.assert_clean()
