"""The controls a learner drags and types, on the widgets whose grids change size with a setting.

Setting a range input's value from script (as the other browser tests do) cannot
catch a widget that rebuilds its sliders on every change: a real drag then ends
after one step, and a focused slider loses the focus after one key press. These
tests drag with the mouse and type on the keyboard.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# (page, widget, slider): settings sliders whose change rebuilds the widget's grids.
SETTING_SLIDERS = [
    ("notebooks/03_padding_stride.html", "PaddingStrideExplorer", "size"),
    ("notebooks/03_padding_stride.html", "PaddingStrideExplorer", "kernel-size"),
    ("notebooks/03_padding_stride.html", "PaddingStrideExplorer", "padding"),
    ("notebooks/03_padding_stride.html", "TransposedConvView", "stride"),
    ("notebooks/01_from_fc_to_conv.html", "LocalityView", "kernel-size"),
]


@pytest.mark.parametrize(("page", "name", "slider"), SETTING_SLIDERS)
def test_a_mouse_drag_carries_a_setting_slider_to_its_end(book_page, page, name, slider):
    book_page.open(page)
    widget = book_page.widgets(name).first
    widget.scroll_into_view_if_needed()
    handle = widget.locator(f'[data-testid="{slider}"]').element_handle()
    top = int(handle.get_attribute("max"))
    box = handle.bounding_box()
    y = box["y"] + box["height"] / 2
    mouse = book_page.page.mouse
    mouse.move(box["x"] + 2, y)
    mouse.down()  # on the track's left end: the value jumps to the minimum, and the grids are rebuilt
    mouse.move(box["x"] + box["width"] - 2, y, steps=12)
    mouse.up()
    assert handle.evaluate("el => el.isConnected"), "the slider was replaced during the drag"
    assert int(handle.input_value()) == top
    book_page.assert_clean()


@pytest.mark.parametrize(("page", "name", "slider"), SETTING_SLIDERS[:1] + SETTING_SLIDERS[3:])
def test_arrow_keys_keep_stepping_a_focused_setting_slider(book_page, page, name, slider):
    book_page.open(page)
    widget = book_page.widgets(name).first
    field = widget.locator(f'[data-testid="{slider}"]')
    field.focus()
    start = int(field.input_value())
    there, back = ("ArrowRight", "ArrowLeft") if start < int(field.get_attribute("max")) else ("ArrowLeft", "ArrowRight")
    book_page.page.keyboard.press(there)
    assert int(field.input_value()) == start + (1 if there == "ArrowRight" else -1)
    book_page.page.keyboard.press(back)  # the second press still reaches the slider
    assert int(field.input_value()) == start
    assert field.evaluate("el => document.activeElement === el"), "the slider lost the keyboard focus"
    book_page.assert_clean()


def test_arrow_up_on_the_top_row_and_down_on_the_bottom_row_stay_put(book_page):
    book_page.open("notebooks/02_cross_correlation.html")
    widget = book_page.widgets("KernelSlider").nth(1)  # the 6x7 edge map: several rows and columns
    stage = widget.locator(".cl-stage")
    position = widget.locator('[data-testid="position"]')
    stage.focus()
    stage.press("Home")
    stage.press("ArrowRight")
    stage.press("ArrowUp")
    assert position.input_value() == "1"  # not back to the first cell of the row
    stage.press("End")
    stage.press("ArrowLeft")
    last = int(position.get_attribute("max"))
    stage.press("ArrowDown")
    assert int(position.input_value()) == last - 1  # not on to the last cell
    stage.press("ArrowRight")
    assert int(position.input_value()) == last  # left and right still run in reading order
    book_page.assert_clean()
