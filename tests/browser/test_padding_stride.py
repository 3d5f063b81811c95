"""PaddingStrideExplorer in the built book: every control, compared with convlib."""

from __future__ import annotations

import pytest
import torch

import convlib as cl
from convlib.widgets import PaddingStrideExplorer
from tests.browser.conftest import set_range

pytestmark = pytest.mark.browser

PAGE = "notebooks/03_padding_stride.html"
SLIDERS = {"size": "size", "kernel_size": "kernel-size", "padding": "padding", "stride": "stride", "dilation": "dilation"}

READ = """el => {
  const q = (id) => el.querySelector(`[data-testid="${id}"]`);
  const cells = (id) => [...q(id).children].map((c) => ({
    ij: c.dataset.testid.slice(id.length + 1).split("-").map(Number), cls: c.className, text: c.textContent,
  }));
  const xp = cells("xp"), y = cells("y");
  const side = Math.round(Math.sqrt(xp.length));
  const use = Array.from({ length: side }, () => new Array(side).fill(0));
  for (const c of xp) use[c.ij[0]][c.ij[1]] = Number(c.text);
  const pick = (list, cls) => list.filter((c) => c.cls.split(" ").includes(cls)).map((c) => c.ij);
  const values = {};
  for (const id of ["size", "kernel-size", "padding", "stride", "dilation", "position"]) values[id] = Number(q(id).value);
  return {
    side, use, taps: pick(xp, "cl-win"), pad: pick(xp, "cl-pad"), starts: pick(xp, "cl-ps-start"),
    yCount: y.length, current: pick(y, "cl-current"), shape: q("out-shape").textContent,
    formula: q("formula").dataset.formula, formulaText: q("formula").textContent,
    message: q("message").textContent, values, positionDisabled: q("position").disabled,
  };
}"""


def state(widget) -> dict:
    return widget.evaluate(READ)


def configure(widget, **settings: int) -> None:
    for name, value in settings.items():
        set_range(widget, SLIDERS[name], value)


def assert_matches(s: dict, w: PaddingStrideExplorer) -> None:
    n, p = w.size, w.padding
    assert s["side"] == n + 2 * p
    assert s["formula"] == w.formula and w.formula in s["formulaText"]
    assert len(s["pad"]) == (n + 2 * p) ** 2 - n * n
    assert all(not (p <= i < n + p and p <= j < n + p) for i, j in s["pad"])  # padding cells are outside
    assert s["use"] == w.usage()
    if not w.valid:
        assert s["message"] == w.message and "No output" in s["message"]
        assert s["shape"] == "no output" and s["yCount"] == 0 and s["taps"] == [] and s["positionDisabled"]
        return
    out = cl.conv_output_size(n, w.kernel_size, padding=p, stride=w.stride, dilation=w.dilation)
    assert w.out_size == out
    assert s["message"] == "" and s["shape"] == f"output {out}×{out}" and s["yCount"] == out * out
    assert s["formula"].endswith(f"= {out}")
    assert s["use"] == cl.input_usage(n, w.kernel_size, padding=p, stride=w.stride, dilation=w.dilation,
                                      include_padding=True).tolist()
    assert sorted(tuple(t) for t in s["taps"]) == sorted(set(w.window_taps()))
    assert s["current"] == [list(divmod(w.position, out))]
    assert sorted(tuple(t) for t in s["starts"]) == sorted({w.window_taps(q)[0] for q in range(w.n_windows)})


def python_side(s: dict) -> PaddingStrideExplorer:
    v = s["values"]
    w = PaddingStrideExplorer(v["size"], v["kernel-size"], padding=v["padding"], stride=v["stride"],
                              dilation=v["dilation"])
    if w.valid:
        w.position = v["position"]
    return w


CASES = [  # (size, kernel_size, padding, stride, dilation): the chapter's cases and some more
    (7, 3, 0, 1, 1), (7, 3, 0, 2, 1), (7, 3, 1, 1, 1), (8, 3, 1, 2, 1), (5, 3, 1, 2, 1),
    (12, 7, 4, 4, 3), (1, 1, 0, 1, 1), (6, 4, 2, 3, 2), (10, 3, 0, 1, 2), (9, 5, 2, 2, 1),
]


def test_page_has_widget_and_colab_link(book_page):
    book_page.open(PAGE)
    assert book_page.widgets("PaddingStrideExplorer").count() >= 1
    assert book_page.colab_links("03_padding_stride.ipynb").count() >= 1
    book_page.assert_clean()


def test_initial_state_is_the_python_state(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("PaddingStrideExplorer").first
    s = state(widget)
    assert s["values"] == {"size": 7, "kernel-size": 3, "padding": 1, "stride": 2, "dilation": 1, "position": 0}
    assert s["formula"] == "floor((7 + 2·1 − 1·(3−1) − 1) / 2) + 1 = 4"
    assert_matches(s, PaddingStrideExplorer(7, 3, padding=1, stride=2))
    book_page.assert_clean()


def test_every_setting_and_position_matches_convlib(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("PaddingStrideExplorer").first
    for size, k, p, s_, d in CASES:
        configure(widget, size=12, padding=4)  # roomy first, so no step in between is invalid for long
        configure(widget, kernel_size=k, stride=s_, dilation=d, padding=p, size=size)
        s = state(widget)
        assert s["values"]["size"] == size and s["values"]["kernel-size"] == k
        w = python_side(s)
        assert (w.size, w.kernel_size, w.padding, w.stride, w.dilation) == (size, k, p, s_, d)
        assert w.valid
        for q in sorted({0, 1, w.n_windows // 2, w.n_windows - 1} & set(range(w.n_windows))):
            set_range(widget, "position", q)
            s = state(widget)
            w.position = q
            assert s["values"]["position"] == q
            assert_matches(s, w)
    widget.scroll_into_view_if_needed()
    book_page.screenshot("padding_stride.png")
    book_page.assert_clean()


def test_invalid_settings_show_a_message_and_recover(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("PaddingStrideExplorer").first
    configure(widget, padding=0, stride=1, dilation=1, kernel_size=3, size=7)
    set_range(widget, "position", 24)
    configure(widget, size=3, kernel_size=5)  # 5 > 3: no window fits
    s = state(widget)
    assert_matches(s, python_side(s))
    assert "spans 5 cells" in s["message"] and s["values"]["position"] == 0
    stage = widget.locator(".cl-stage")
    stage.focus()
    stage.press("ArrowRight")  # keys do nothing, and nothing crashes
    assert state(widget)["values"]["position"] == 0
    configure(widget, dilation=3, kernel_size=3, size=4)  # span 7 > 4
    s = state(widget)
    assert not python_side(s).valid and s["message"]
    configure(widget, padding=2)  # 7 <= 8: valid again
    s = state(widget)
    w = python_side(s)
    assert w.valid and w.out_size == 2
    assert_matches(s, w)
    widget.scroll_into_view_if_needed()
    book_page.screenshot("padding_stride_dilated.png")
    book_page.assert_clean()


def test_arrow_keys_clicks_and_position_clamping(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("PaddingStrideExplorer").first
    configure(widget, size=7, kernel_size=3, padding=1, stride=2, dilation=1)
    set_range(widget, "position", 0)
    stage = widget.locator(".cl-stage")
    stage.focus()
    out = cl.conv_output_size(7, 3, padding=1, stride=2)
    w = PaddingStrideExplorer(7, 3, padding=1, stride=2)
    expected = 0
    for key, step in [("ArrowRight", 1), ("ArrowDown", out), ("ArrowRight", 1), ("ArrowLeft", -1), ("ArrowUp", -out)]:
        stage.press(key)
        expected = min(out * out - 1, max(0, expected + step))
        w.position = expected
        assert_matches(state(widget), w)
    stage.press("End")
    assert state(widget)["values"]["position"] == out * out - 1
    widget.locator('[data-testid="y-1-2"]').click()
    s = state(widget)
    w.position = 1 * out + 2
    assert_matches(s, w)
    # A larger stride leaves fewer windows: the position is clamped, as in Python.
    set_range(widget, "position", out * out - 1)
    configure(widget, stride=4)
    s = state(widget)
    w.position = out * out - 1
    w.stride = 4
    assert s["values"]["position"] == w.position
    assert_matches(s, w)
    book_page.assert_clean()


def test_taps_are_where_f_unfold_reads(book_page):
    # An independent check of the highlighted cells: number the padded grid and unfold it.
    book_page.open(PAGE)
    widget = book_page.widgets("PaddingStrideExplorer").first
    configure(widget, size=9, kernel_size=3, padding=2, stride=3, dilation=2)
    side = 9 + 2 * 2
    grid = torch.arange(side * side, dtype=torch.float32).reshape(1, 1, side, side)
    cols = torch.nn.functional.unfold(grid, 3, dilation=2, stride=3)[0]  # (k*k, L)
    for q in range(cols.shape[1]):
        set_range(widget, "position", q)
        taps = sorted(int(i) * side + int(j) for i, j in state(widget)["taps"])
        assert taps == sorted(int(v) for v in cols[:, q])
    book_page.assert_clean()


def test_every_control_has_a_label(book_page):
    book_page.open(PAGE)
    labels = book_page.page.evaluate(
        """() => [...document.querySelectorAll('.convlib-widget[data-widget="PaddingStrideExplorer"] input')]
              .map(e => e.getAttribute('aria-label'))"""
    )
    assert len(labels) == 6 and all(labels)
