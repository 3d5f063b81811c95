"""LocalityView in the built book: every control, compared with convlib's dense-matrix view."""

from __future__ import annotations

import pytest

import convlib as cl
from convlib.widgets import LocalityView
from tests.browser.conftest import set_range

pytestmark = pytest.mark.browser

PAGE = "notebooks/01_from_fc_to_conv.html"

READ = """el => {
  const q = (id) => el.querySelector(`[data-testid="${id}"]`);
  const grid = (id) => {
    const rows = [];
    for (const cell of q(id).children) {
      const [i, j] = cell.dataset.testid.slice(id.length + 1).split("-").map(Number);
      (rows[i] ||= [])[j] = cell;
    }
    return rows;
  };
  const ids = (id) => grid(id).map((row) => row.map((c) => Number(c.dataset.w)));
  const current = (id) => grid(id).flatMap((row, r) => row.map((c, j) => c.classList.contains("cl-current") ? [r, j] : null)).filter(Boolean);
  const lit = (id) => grid(id).flatMap((row, r) => row.map((c, j) => c.classList.contains("cl-win") ? [r, j] : null)).filter(Boolean);
  const outlined = (id) => grid(id).map((row, r) => row.some((c) => c.classList.contains("cl-lv-row")) ? r : -1).filter((r) => r >= 0);
  const num = (id) => Number(q(id).textContent);
  return {
    fc: ids("fc-x"), conv: ids("conv-x"), convText: grid("conv-x").map((row) => row.map((c) => c.textContent)),
    fcM: ids("fc-m"), convM: ids("conv-m"), fcLit: lit("fc-x"), convLit: lit("conv-x"),
    fcCurrent: current("fc-y"), convCurrent: current("conv-y"), fcRow: outlined("fc-m"), convRow: outlined("conv-m"),
    counts: { fc_this: num("fc-this"), fc_total: num("fc-total"), conv_this: num("conv-this"), conv_total: num("conv-total") },
    position: Number(q("position").value), kernel: Number(q("kernel-size").value), where: q("where").textContent,
  };
}"""


def state(widget) -> dict:
    return widget.evaluate(READ)


def python_view(widget) -> LocalityView:
    s = state(widget)
    return LocalityView(len(s["fc"]), len(s["fc"][0]), s["kernel"], position=s["position"])


def assert_matches(s: dict, view: LocalityView) -> None:
    p = view.position
    h_out, w_out = view.out_shape
    assert s["fc"] == view.fc_weight_ids(p)
    assert s["conv"] == view.conv_weight_ids(p)
    assert s["convText"] == [[str(v) if v >= 0 else "" for v in row] for row in view.conv_weight_ids(p)]
    assert [tuple(c) for c in s["convLit"]] == sorted(view.window(p))
    assert len(s["fcLit"]) == view.height * view.width  # the FC output reads every input
    assert s["counts"] == view.counts
    r, c = divmod(p, w_out)
    assert s["fcCurrent"] == s["convCurrent"] == [[r, c]]
    assert s["where"] == f"output ({r}, {c})"
    # The matrices: conv ids are the dense matrix's pattern, FC ids all distinct.
    dense = cl.conv_weight_ids(view.kernel_size, (view.height, view.width))  # (H_out*W_out, H*W)
    assert s["convM"] == dense.tolist()
    flat = [v for row in s["fcM"] for v in row]
    assert len(flat) == len(set(flat)) == view.counts["fc_total"]
    assert s["fcRow"] == s["convRow"] == [p]
    assert len(s["convM"]) == h_out * w_out


def test_page_has_widget_and_colab_link(book_page):
    book_page.open(PAGE)
    assert book_page.widgets("LocalityView").count() >= 1
    assert book_page.colab_links("01_from_fc_to_conv.ipynb").count() >= 1
    book_page.assert_clean()


def test_kernel_and_position_sliders_match_convlib(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("LocalityView").first
    h = len(state(widget)["fc"])
    w = len(state(widget)["fc"][0])
    for k in [2, 1, 3, min(h, w), 2]:
        set_range(widget, "kernel-size", k)
        n = (h - k + 1) * (w - k + 1)
        for p in sorted({0, n // 2, n - 1, min(4, n - 1)}):
            set_range(widget, "position", p)
            s = state(widget)
            assert (s["kernel"], s["position"]) == (k, p)
            assert_matches(s, LocalityView(h, w, k, position=p))
    widget.scroll_into_view_if_needed()
    book_page.screenshot("locality_view.png")
    book_page.assert_clean()


def test_kernel_change_keeps_position_on_the_grid(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("LocalityView").first
    set_range(widget, "kernel-size", 1)
    s = state(widget)
    set_range(widget, "position", len(s["fc"]) * len(s["fc"][0]) - 1)  # the last of H*W outputs
    set_range(widget, "kernel-size", 3)
    s = state(widget)
    view = python_view(widget)
    assert s["position"] == view.out_shape[0] * view.out_shape[1] - 1
    assert_matches(s, view)
    book_page.assert_clean()


def test_arrow_keys_and_clicks(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("LocalityView").first
    set_range(widget, "kernel-size", 2)
    set_range(widget, "position", 0)
    stage = widget.locator(".cl-stage")
    stage.focus()
    view = python_view(widget)
    h_out, w_out = view.out_shape
    expected = 0
    for key, step in [("ArrowRight", 1), ("ArrowRight", 1), ("ArrowDown", w_out), ("ArrowLeft", -1), ("ArrowUp", -w_out)]:
        stage.press(key)
        expected = min(h_out * w_out - 1, max(0, expected + step))
        s = state(widget)
        assert s["position"] == expected
        assert_matches(s, LocalityView(view.height, view.width, 2, position=expected))
    stage.press("End")
    assert state(widget)["position"] == h_out * w_out - 1
    stage.press("Home")
    assert state(widget)["position"] == 0
    widget.locator(f'[data-testid="conv-y-{h_out - 1}-0"]').click()
    s = state(widget)
    assert s["position"] == (h_out - 1) * w_out
    assert_matches(s, LocalityView(view.height, view.width, 2, position=(h_out - 1) * w_out))
    widget.locator('[data-testid="fc-y-0-1"]').click()
    assert state(widget)["position"] == 1
    book_page.assert_clean()


def test_every_control_has_a_label(book_page):
    book_page.open(PAGE)
    unlabeled = book_page.page.evaluate(
        """() => [...document.querySelectorAll('.convlib-widget input, .convlib-widget select, .convlib-widget button')]
              .filter(e => !e.getAttribute('aria-label')).length"""
    )
    assert unlabeled == 0
