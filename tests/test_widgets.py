"""convlib.widgets: KernelSlider's state and numbers, and the kernel-free static HTML.

No browser here (tests/browser/ drives the built book); these tests check the
Python side and the HTML that the static book inlines.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
import traitlets

import convlib as cl
from convlib.validate import ConvlibInputError
from convlib.widgets import KernelSlider
from convlib.widgets._base import StaticWidget, _script_safe, esm_source

X3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
K2 = [[0, 1], [2, 3]]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def band_image() -> torch.Tensor:
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    return X  # (6, 8)


def test_static_state_keys_and_values() -> None:
    w = KernelSlider(X3, K2, position=2, title="demo")
    state = w.static_state()
    assert sorted(state) == ["k", "position", "title", "x"]
    assert state == {"x": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                     "k": [[0.0, 1.0], [2.0, 3.0]], "position": 2, "title": "demo"}
    json.dumps(state)  # JSON-ready
    assert isinstance(w, StaticWidget)


@pytest.mark.parametrize(
    ("X", "K"),
    [
        (X3, K2),
        (band_image(), [[1.0, -1.0]]),
        (torch.randn(5, 4, generator=torch.Generator().manual_seed(0)), torch.randn(3, 2)),
        (np.arange(20.0).reshape(4, 5), np.array([[1.0], [-2.0], [0.5]])),
    ],
)
def test_every_position_matches_corr2d(X: object, K: object) -> None:
    w = KernelSlider(X, K)
    Xt, Kt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(K, dtype=torch.float64)
    Y = cl.corr2d(Xt, Kt)  # (H_out, W_out)
    assert w.out_shape == tuple(Y.shape)
    torch.testing.assert_close(w.output(), Y)  # both float64
    kh, kw = Kt.shape
    for p in range(Y.numel()):
        w.position = p
        i, j = divmod(p, Y.shape[1])
        assert w.window == (i, j)
        want = (Xt[i : i + kh, j : j + kw] * Kt).flatten().tolist()  # reading order
        assert w.products == pytest.approx(want, abs=1e-12)
        assert w.value == pytest.approx(Y[i, j].item(), abs=1e-9)


def test_worked_example_positions() -> None:
    w = KernelSlider(X3, K2)
    values = []
    for p in range(4):
        w.position = p
        values.append(w.value)
    assert values == [19.0, 25.0, 37.0, 43.0]
    w.position = 3
    assert w.products == [0.0, 5.0, 14.0, 24.0]


@pytest.mark.parametrize("make", [lambda a: a, np.array, torch.tensor, lambda a: torch.tensor(a, dtype=torch.int64)])
def test_accepts_lists_numpy_and_tensors(make) -> None:
    w = KernelSlider(make(X3), make(K2))
    assert w.x == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
    assert w.k == [[0.0, 1.0], [2.0, 3.0]]
    assert all(isinstance(v, float) for row in w.x for v in row)


def test_python_floats_survive_exactly() -> None:
    """The traits are float64 (Python floats): no float32 rounding on the way in, nor in output()."""
    X, K = [[0.1, 0.2, 0.3], [1e-10, 1 / 3, 2.0 ** -30 + 1]], [[0.7, 0.1]]
    w = KernelSlider(X, K)
    assert w.x == X and w.k == K
    Y = cl.corr2d(torch.tensor(X, dtype=torch.float64), torch.tensor(K, dtype=torch.float64))
    assert w.output().dtype == torch.float64 and torch.equal(w.output(), Y)
    assert w.value == 0.1 * 0.7 + 0.2 * 0.1
    w.x = [[0.1, 0.3]]  # from the page, too
    assert w.x == [[0.1, 0.3]] and w.output().item() == 0.1 * 0.7 + 0.3 * 0.1


@pytest.mark.parametrize("position", [-1, 4, 100])
def test_position_out_of_range(position: int) -> None:
    msg = (rf"position: expected 0 <= position < 4 \(the 2x2 output cells in reading order\), "
           rf"got {position}\. Fix: position = row \* 2 \+ column\.")
    with pytest.raises(traitlets.TraitError, match=msg):
        KernelSlider(X3, K2, position=position)
    w = KernelSlider(X3, K2, position=1)
    with pytest.raises(traitlets.TraitError, match=msg):
        w.position = position
    assert w.position == 1  # unchanged


def test_kernel_larger_than_input() -> None:
    with pytest.raises(ConvlibInputError, match=r"^K: expected a window no larger than the padded input 3x3, got a 4x1 window\. Fix: "):
        KernelSlider(X3, [[1], [2], [3], [4]])
    # Assigning a trait raises a TraitError (so traitlets can roll back) with the same message.
    w = KernelSlider(X3, K2)
    with pytest.raises(traitlets.TraitError, match=r"^K: expected a window no larger than the padded input 3x3, got a 4x4 window\. Fix: "):
        w.k = [[1.0] * 4] * 4
    with pytest.raises(traitlets.TraitError, match=r"padded input 1x1, got a 2x2 window"):
        w.x = [[1.0]]
    assert (w.x, w.k) == ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]], [[0.0, 1.0], [2.0, 3.0]])


def test_front_end_batch_is_rolled_back() -> None:
    """set_state (how a front end syncs) applies several traits at once."""
    w = KernelSlider(X3, K2, position=3)
    with pytest.raises(traitlets.TraitError, match=r"got a 1x2 window"):
        w.set_state({"x": [[1.0]], "k": [[1.0, 2.0]]})
    assert w.out_shape == (2, 2) and w.position == 3 and w.value == 43.0


def test_new_data_keeps_position_on_the_grid() -> None:
    w = KernelSlider(band_image(), [[1.0, -1.0]], position=41)  # last of the 6x7 outputs
    w.x = X3  # 3x3 input: 3x2 outputs
    assert w.out_shape == (3, 2) and w.position == 5
    w.k = [[1.0, 1.0, 1.0]]
    assert w.out_shape == (3, 1) and w.position == 2
    assert w.value == 6.0 + 7.0 + 8.0


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([1.0, 2.0, 3.0], r"^X: expected a 2-D matrix \(H, W\), got 1-D shape \(3,\)\. Fix: wrap it as a matrix"),
        (torch.ones(1, 3, 3), r"^X: expected a 2-D matrix \(H, W\), got 3-D shape \(1, 3, 3\)\. Fix: "),
        (5.0, r"^X: expected a 2-D matrix \(H, W\), got 0-D shape \(\)"),
    ],
)
def test_non_2d_input(X: object, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=match):
        KernelSlider(X, K2)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([[1.0, 2.0], [3.0]], r"^X: expected a rectangular array \(every row as long as the others\), got ragged"),
        ([[]], r"^X: expected at least one value along every axis of \(H, W\), got shape \(1, 0\)"),
    ],
)
def test_ragged_or_empty_input(X: object, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=match):
        KernelSlider(X, [[]] if X == [[]] else K2)  # an empty kernel would fit an empty input
    w = KernelSlider(X3, [[1.0]], position=8)
    with pytest.raises(traitlets.TraitError, match=match):
        w.x = X
    assert w.out_shape == (3, 3) and w.position == 8


def test_non_2d_kernel() -> None:
    with pytest.raises(ConvlibInputError, match=r"^K: expected a 2-D matrix"):
        KernelSlider(X3, [1.0, -1.0])
    w = KernelSlider(X3, K2)
    with pytest.raises(traitlets.TraitError):
        w.k = [1.0, -1.0]  # type: ignore[assignment]


def test_mimebundle_has_html_and_widget_view() -> None:
    w = KernelSlider(X3, K2)
    data, metadata = w._repr_mimebundle_()
    assert "text/html" in data and WIDGET_VIEW in data
    assert data[WIDGET_VIEW]["model_id"] == w.model_id
    assert data["text/html"].startswith('<div id="convlib-kernelslider-')
    assert isinstance(metadata, dict)


def _script(html: str) -> str:
    m = re.fullmatch(r'<div id="([\w-]+)" class="convlib-widget" data-widget="KernelSlider"></div>\n'
                     r'<script type="module">(.*)</script>', html, flags=re.S)
    assert m, html[:300]
    assert f"document.getElementById({json.dumps(m.group(1))})" in m.group(2)
    return m.group(2)


@pytest.mark.parametrize("title", ["</script><b>x", "<!--<script>", "a </SCRIPT> b", "plain"])
def test_static_html_cannot_break_out(title: str) -> None:
    w = KernelSlider(X3, K2, title=title)
    html = w.static_html()
    body = _script(html)
    assert "</" not in body and "<!--" not in body
    assert html.lower().count("</script") == 1  # only the real closing tag
    # The escaped state is still the same data once the page reads it.
    state = re.search(r"^const state = (.*);$", body, flags=re.M).group(1)
    assert json.loads(state.replace("<\\!--", "<!--")) == w.static_state()
    assert json.loads(state.replace("<\\!--", "<!--"))["title"] == title


def test_static_html_inlines_esm_and_fetches_nothing() -> None:
    w = KernelSlider(X3, K2)
    html = w.static_html()
    esm = esm_source("kernel_slider")
    assert "export default" in esm and "function clGrid" in esm  # widget + shared helpers
    assert _script_safe(json.dumps(esm)) in html
    assert "http://" not in html and "https://" not in html
    assert " src=" not in html and "import(url)" in html  # the only import is the Blob URL


def test_distinct_dom_ids() -> None:
    w = KernelSlider(X3, K2)
    ids = {re.match(r'<div id="([\w-]+)"', w.static_html()).group(1) for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to parse the module script")
def test_static_script_is_valid_javascript(tmp_path) -> None:
    body = _script(KernelSlider(X3, K2, title="</script><!--").static_html())
    path = tmp_path / "host.mjs"
    path.write_text(body, encoding="utf-8")
    result = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def test_int_in_range_takes_numpy_ints_and_names_a_wrong_type() -> None:
    """The widgets' range check is validate.check_int raising a TraitError: NumPy ints pass, bools never."""
    from convlib.widgets._base import int_in_range

    assert int_in_range("stride", np.int64(2), 1, 3, fix="pick 1 to 3.") == 2
    assert type(int_in_range("stride", np.int64(2), 1, 3, fix="pick 1 to 3.")) is int
    with pytest.raises(traitlets.TraitError, match=r"^stride: expected an int from 1 to 3 \(the slider\), got True \(a bool\)\. Fix: pick 1 to 3\.$"):
        int_in_range("stride", True, 1, 3, why="the slider", fix="pick 1 to 3.")
    with pytest.raises(traitlets.TraitError, match=r"^stride: expected an int from 1 to 3, got 4\. Fix: pick 1 to 3\.$"):
        int_in_range("stride", 4, 1, 3, fix="pick 1 to 3.")


def test_int_traits_take_whole_numbers_of_any_type_and_refuse_others_with_a_fix() -> None:
    """position=torch.tensor(1) (e.g. from argmax) or stride=np.int64(2) passed convlib's checks but
    traitlets' Int refused them raw ("expected an int, not the Tensor"); a float got the same raw words."""
    from convlib.widgets import (ChannelsView, KernelSlider, LocalityView, NetworkView, PaddingStrideExplorer,
                                 PoolingView, TransposedConvView)

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    views = {
        "position": [KernelSlider(torch.ones(4, 4), torch.ones(2, 2)), LocalityView(), PaddingStrideExplorer(),
                     PoolingView(torch.ones(4, 4), 2), TransposedConvView(torch.ones(2, 2), torch.ones(2, 2))],
        "out_channel": [ChannelsView(torch.ones(2, 4, 4), torch.ones(3, 2, 3, 3))],
        "stride": [TransposedConvView(torch.ones(2, 2), torch.ones(2, 2))],
        "image": [NetworkView(net, torch.rand(2, 1, 4, 4), None, ["a", "b", "c"])],
    }
    for name, widgets in views.items():
        for widget in widgets:
            setattr(widget, name, torch.tensor(1))
            assert getattr(widget, name) == 1 and type(getattr(widget, name)) is int, (widget, name)
            setattr(widget, name, np.int64(1))
            assert type(getattr(widget, name)) is int
            with pytest.raises(traitlets.TraitError, match=rf"{name}: expected an int, got 1\.5 \(a float\)\. Fix: "):
                setattr(widget, name, 1.5)
    assert KernelSlider(torch.ones(4, 4), torch.ones(2, 2), position=torch.tensor(3)).position == 3
    assert NetworkView(net, torch.rand(2, 1, 4, 4), torch.tensor([2, 0]), ["a", "b", "c"]).labels == [2, 0]
