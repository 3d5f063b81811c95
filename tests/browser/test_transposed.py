"""TransposedConvView in the built book: stride, padding, output padding and every input cell, compared with convlib."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convlib.widgets import TransposedConvView
from tests.browser.conftest import read_grid, set_range

pytestmark = pytest.mark.browser

PAGE = "notebooks/03_padding_stride.html"
X3 = [[4.0, 0.0, 8.0], [0.0, 4.0, 0.0], [8.0, 0.0, 4.0]]
BILINEAR = [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]

READ = """el => {
  const q = (id) => el.querySelector(`[data-testid="${id}"]`);
  const cells = (id) => [...q(id).children].map((c) => ({
    ij: c.dataset.testid.slice(id.length + 1).split("-").map(Number), cls: c.className.split(" "),
  }));
  const pick = (list, cls) => list.filter((c) => c.cls.includes(cls)).map((c) => c.ij);
  const x = cells("x"), y = cells("y");
  const values = {};
  for (const id of ["stride", "padding", "output_padding", "position"]) values[id] = Number(q(id).value);
  return {
    values, paddingMax: Number(q("padding").max), outPadMax: Number(q("output_padding").max),
    current: pick(x, "cl-current"), done: pick(x, "cl-done"),
    patch: pick(y, "cl-win"), cut: pick(y, "cl-pad"), extra: pick(y, "cl-tc-extra"), shape: q("out-shape").textContent,
    formula: q("formula").dataset.formula, where: q("where").textContent,
  };
}"""


def state(widget) -> dict:
    s = widget.evaluate(READ)
    s["sums"] = read_grid(widget, "y")
    return s


def python_side(s: dict) -> TransposedConvView:
    v = s["values"]
    return TransposedConvView(X3, BILINEAR, stride=v["stride"], padding=v["padding"],
                              output_padding=v["output_padding"], position=v["position"])


def assert_matches(s: dict, w: TransposedConvView) -> None:
    (gh, gw), (fh, fw), p = w.grid_shape, w.full_shape, w.padding
    assert s["sums"] == w.partial()
    assert sorted(tuple(c) for c in s["patch"]) == sorted(w.patch())
    assert s["current"] == [list(w.cell)] and len(s["done"]) == w.position
    assert sorted(tuple(c) for c in s["cut"]) == sorted(
        (r, c) for r in range(gh) for c in range(gw) if not (p <= r < gh - p and p <= c < gw - p))
    assert sorted(tuple(c) for c in s["extra"]) == sorted(
        (r, c) for r in range(gh) for c in range(gw) if r >= fh or c >= fw)  # output padding, drawn dotted
    assert s["shape"] == f"output {w.out_shape[0]}×{w.out_shape[1]}" and s["formula"] == w.formula
    assert s["paddingMax"] == w.max_padding and s["outPadMax"] == w.stride - 1
    assert s["where"].startswith(f"cell ({w.cell[0]}, {w.cell[1]})")


def test_initial_state_is_the_python_state(book_page):
    book_page.open(PAGE)
    assert book_page.widgets("TransposedConvView").count() == 1
    widget = book_page.widgets("TransposedConvView").first
    s = state(widget)
    assert s["values"] == {"stride": 2, "padding": 1, "output_padding": 0, "position": 0}
    assert read_grid(widget, "x") == X3 and read_grid(widget, "k") == BILINEAR
    assert_matches(s, TransposedConvView(X3, BILINEAR, stride=2, padding=1))
    book_page.assert_clean()


def test_every_stride_padding_and_cell_matches_convlib(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("TransposedConvView").first
    x, k = torch.tensor(X3)[None, None], torch.tensor(BILINEAR)[None, None]
    for stride in (1, 2, 3):
        set_range(widget, "stride", stride)
        w = TransposedConvView(X3, BILINEAR, stride=stride)
        for padding in range(w.max_padding + 1):
            set_range(widget, "padding", padding)
            for op in range(stride):
                set_range(widget, "output_padding", op)
                for q in range(9) if op == 0 else (0, 8):  # every cell once per padding; ends for the rest
                    set_range(widget, "position", q)
                    s = state(widget)
                    assert s["values"] == {"stride": stride, "padding": padding, "output_padding": op, "position": q}
                    assert_matches(s, python_side(s))
                # After the last cell, the solid cells are F.conv_transpose2d's output.
                sums = torch.tensor(s["sums"])
                gh, gw = sums.shape
                inner = sums[padding : gh - padding, padding : gw - padding]
                want = F.conv_transpose2d(x, k, stride=stride, padding=padding, output_padding=op)[0, 0]
                torch.testing.assert_close(inner, want)
            set_range(widget, "output_padding", 0)
    widget.scroll_into_view_if_needed()
    book_page.screenshot("transposed.png")
    book_page.assert_clean()


def test_stride_change_clamps_padding_as_python_does(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("TransposedConvView").first
    set_range(widget, "stride", 3)
    set_range(widget, "padding", 3)  # full 9x9: room for 3
    set_range(widget, "stride", 1)  # full 5x5: at most 2
    s = state(widget)
    w = TransposedConvView(X3, BILINEAR, stride=3, padding=3)
    w.stride = 1
    assert s["values"]["padding"] == w.padding == 2
    assert_matches(s, python_side(s))
    book_page.assert_clean()


def test_stride_change_clamps_output_padding_as_python_does(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("TransposedConvView").first
    set_range(widget, "stride", 3)
    set_range(widget, "output_padding", 2)
    set_range(widget, "stride", 2)  # output padding must stay below the stride: 1
    s = state(widget)
    w = TransposedConvView(X3, BILINEAR, stride=3, output_padding=2, padding=1)
    w.stride = 2
    assert s["values"]["output_padding"] == w.output_padding == 1
    assert_matches(s, python_side(s))
    book_page.assert_clean()


def test_clicks_and_arrow_keys_pick_the_input_cell(book_page):
    book_page.open(PAGE)
    widget = book_page.widgets("TransposedConvView").first
    widget.locator('[data-testid="x-2-1"]').click()
    assert state(widget)["values"]["position"] == 7
    stage = widget.locator(".cl-stage")
    stage.focus()
    expected = 7
    for key, step in [("ArrowUp", -3), ("ArrowLeft", -1), ("ArrowRight", 1), ("ArrowRight", 1), ("ArrowDown", 3)]:
        stage.press(key)
        expected = min(8, max(0, expected + step))
        s = state(widget)
        assert s["values"]["position"] == expected
        assert_matches(s, python_side(s))
    stage.press("Home")
    assert state(widget)["values"]["position"] == 0
    stage.press("End")
    assert state(widget)["values"]["position"] == 8
    labels = widget.evaluate("el => [...el.querySelectorAll('input')].map((e) => e.getAttribute('aria-label'))")
    assert labels == ["Stride s", "Padding p", "Output padding", "Input cell"]
    book_page.assert_clean()
