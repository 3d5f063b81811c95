"""ChannelsView and PoolingView, Python side: state, validation, and the numbers the page shows."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
import traitlets
from hypothesis import given, settings, strategies as st

import convlib as cl
from convlib.validate import ConvlibInputError
from convlib.widgets import ChannelsView, PoolingView
from tests.node_pages import needs_node, run_esm

FAST = settings(max_examples=25, deadline=None)

D2L_X = torch.tensor([[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]])
D2L_K = torch.tensor([[[0.0, 1], [2, 3]], [[1.0, 2], [3, 4]]])


# --- ChannelsView ------------------------------------------------------------


def test_channels_view_d2l_example():
    K = torch.stack((D2L_K, D2L_K + 1, D2L_K + 2))  # (3, 2, 2, 2)
    w = ChannelsView(D2L_X, K)
    assert w.out_shape == (2, 2)
    assert w.partial_sums() == [19.0, 37.0] and w.total == 56.0
    want = cl.corr2d_multi_in_out(D2L_X, K)  # (3, 2, 2)
    torch.testing.assert_close(w.output(), want.double())
    assert want[0].tolist() == [[56.0, 72.0], [104.0, 120.0]]
    for o in range(3):
        for p in range(4):
            r, c = divmod(p, 2)
            assert sum(w.partial_sums(o, p)) == pytest.approx(want[o, r, c].item())
            assert w.total_at(o, p) == pytest.approx(want[o, r, c].item())
    w.out_channel, w.position = 2, 3
    assert w.total == pytest.approx(want[2, 1, 1].item())


@FAST
@given(st.integers(1, 3), st.integers(1, 3), st.integers(2, 5), st.integers(1, 2), st.integers(0, 2**31 - 1))
def test_channels_view_matches_f_conv2d(c_in, c_out, size, k, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(c_in, size, size, generator=g, dtype=torch.float64)
    K = torch.randn(c_out, c_in, k, k, generator=g, dtype=torch.float64)
    w = ChannelsView(X, K)
    want = F.conv2d(X[None], K)[0]  # (C_out, H_out, W_out)
    torch.testing.assert_close(w.output(), want)
    o, p = c_out - 1, w.out_shape[0] * w.out_shape[1] - 1
    partial = [F.conv2d(X[None, c : c + 1], K[o : o + 1, c : c + 1])[0, 0, -1, -1].item() for c in range(c_in)]
    assert w.partial_sums(o, p) == pytest.approx(partial)


def test_channels_view_state_is_plain_json():
    w = ChannelsView(D2L_X, D2L_K[None], title="t")
    state = json.loads(json.dumps(w.static_state()))
    assert state["x"] == D2L_X.tolist() and state["k"] == [D2L_K.tolist()]
    assert state["out_channel"] == 0 and state["position"] == 0 and state["title"] == "t"
    html = w.static_html()
    assert 'data-widget="ChannelsView"' in html and "export default" in html


def test_channels_view_rejects_bad_input():
    with pytest.raises(ConvlibInputError, match="kernel depth.*Fix"):
        ChannelsView(D2L_X, torch.zeros(1, 3, 2, 2))  # the filter must be as deep as the input
    with pytest.raises(ConvlibInputError, match=r"\(C_in, H, W\)"):
        ChannelsView(D2L_X[0], D2L_K[None])
    with pytest.raises(ConvlibInputError, match=r"\(C_out, C_in, k_h, k_w\)"):
        ChannelsView(D2L_X, D2L_K)
    with pytest.raises(ConvlibInputError, match="no larger"):
        ChannelsView(D2L_X, torch.zeros(1, 2, 4, 4))
    w = ChannelsView(D2L_X, D2L_K[None])
    with pytest.raises(traitlets.TraitError, match="out_channel"):
        w.out_channel = 1
    with pytest.raises(traitlets.TraitError, match="position"):
        w.position = 4


@pytest.mark.parametrize(
    "trait, value, match",
    [
        ("x", [[[0.0, 1.0], [2.0]]], r"^X: expected a rectangular array.*got ragged nested lists.*Fix: "),
        ("x", [[[0.0, 1.0, 2.0]] * 3], r"^K: expected a kernel depth \(C_in\) equal to the input's 1 channels"),
        ("x", [], r"^X: expected a 3-D tensor \(C_in, H, W\), got 1-D shape \(0,\)"),
        ("x", [[[]], [[]]], r"^X: expected at least one value along every axis of \(C_in, H, W\), got shape \(2, 1, 0\)"),
        ("x", [[[1.0]], [[2.0]]], r"^K: expected a window no larger than the padded input 1x1, got a 2x2 window"),
        ("k", [[[[1.0]]]], r"^K: expected a kernel depth \(C_in\) equal to the input's 2 channels, got K of shape \(1, 1, 1, 1\)"),
        ("k", [], r"^K: expected a 4-D tensor \(C_out, C_in, k_h, k_w\), got 1-D shape \(0,\)"),
        ("k", [[[[1.0, 2.0], [3.0]], [[1.0]]]], r"^K: expected a rectangular array"),
        ("k", [[[[1.0] * 4] * 4] * 2], r"^K: expected a window no larger than the padded input 3x3, got a 4x4 window"),
    ],
)
def test_channels_view_rejects_a_bad_new_x_or_k(trait, value, match):
    """Setting X or K (as the page or a notebook may) gets the constructor's checks; the view stays as it was."""
    K = torch.stack((D2L_K, D2L_K + 1))  # (2, 2, 2, 2)
    w = ChannelsView(D2L_X, K, out_channel=1, position=3)
    with pytest.raises(traitlets.TraitError, match=match):
        setattr(w, trait, value)
    assert (w.x, w.k, w.out_channel, w.position, w.out_shape) == (D2L_X.tolist(), K.tolist(), 1, 3, (2, 2))
    assert w.total == F.conv2d(D2L_X[None], K)[0, 1, 1, 1].item() == 172.0


def test_channels_view_new_x_or_k_keeps_channel_and_position_inside():
    w = ChannelsView(D2L_X, torch.stack((D2L_K, D2L_K + 1)), out_channel=1, position=3)
    w.k = [[[[1.0, 1.0, 1.0]]] * 2]  # (1, 2, 1, 3): C_out 1, 3x1 outputs
    assert (w.out_channel, w.out_shape, w.position) == (0, (3, 1), 2)
    assert w.total == float(F.conv2d(D2L_X[None].double(), w.K)[0, 0, 2, 0]) == 6.0 + 7 + 8 + 7 + 8 + 9  # the last row
    w.x = D2L_X[:, :1].tolist()  # one row: 1x1 output
    assert (w.out_shape, w.position, w.total) == ((1, 1), 0, 3.0 + 6.0)
    with w.hold_trait_notifications():  # a batch, as the page sends it: 3 channels in both
        w.x, w.k = [[[0.5] * 4] * 4] * 3, [[[[1.0] * 2] * 2] * 3] * 2
    assert (w.out_shape, w.out_channel, w.position, w.total) == ((3, 3), 0, 0, 6.0)
    with pytest.raises(traitlets.TraitError, match="kernel depth"):
        w.set_state({"x": [[[1.0] * 4] * 4] * 2, "k": [[[[1.0]] * 3]]})  # C_in 2 against 3: all rolled back
    assert len(w.x) == 3 and len(w.k) == 2 and w.total == 6.0


def test_channels_view_reads_python_floats_exactly():
    X, K = [[[0.1, 0.2], [0.3, 1 / 3]]], [[[[0.7]]]]
    w = ChannelsView(X, K)
    assert w.x == X and w.k == K
    assert w.total == 0.1 * 0.7


# --- PoolingView ---------------------------------------------------------------


def test_pooling_view_worked_example():
    X = torch.arange(9.0).reshape(3, 3)
    w = PoolingView(X, 2, stride=1)
    assert w.output().tolist() == [[4, 5], [7, 8]]
    w.mode = "avg"
    assert w.output().tolist() == [[2, 3], [5, 6]]
    assert w.stride == [1, 1] and w.padding == [0, 0]


def test_pooling_view_stride_defaults_to_window():
    w = PoolingView(torch.arange(16.0).reshape(4, 4), 2)
    assert w.stride == [2, 2] and w.out_shape == (2, 2)


@pytest.mark.parametrize(
    "kernel, stride, padding",
    [(3, None, 0), (3, 2, 1), ((2, 3), (2, 3), (0, 1)), (2, 1, 1), (1, 1, 0)],
)
@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_view_matches_torch(kernel, stride, padding, mode):
    X = torch.arange(16.0, dtype=torch.float64).reshape(4, 4)
    w = PoolingView(X, kernel, stride=stride, padding=padding, mode=mode)
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    want = fn(X[None, None], kernel, stride=stride, padding=padding)[0, 0]
    torch.testing.assert_close(w.output(), want)
    assert w.out_shape == tuple(want.shape)
    for p in range(want.numel()):
        r, c = divmod(p, want.shape[1])
        assert w.value_at(p) == pytest.approx(want[r, c].item())
        values = torch.tensor(w.window_values(p))
        cells = w.window_cells(p)
        assert len(values) == len(cells) == w.kernel_size[0] * w.kernel_size[1]
        inside = [0 <= i < 4 and 0 <= j < 4 for i, j in cells]
        for v, (i, j), real in zip(values.tolist(), cells, inside):
            assert v == (X[i, j].item() if real else (float("-inf") if mode == "max" else 0.0))
        if mode == "max":
            i, j = w.argmax_at(p)
            assert X[i, j].item() == want[r, c].item()
        else:
            assert values.sum().item() / len(values) == pytest.approx(want[r, c].item())


@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), ((2, 3), (3, 2), (1, 0)), (3, 3, 1)])
def test_pooling_view_ceil_mode_and_count_include_pad_match_torch(kernel, stride, padding, ceil_mode, count_include_pad):
    X = torch.arange(25.0, dtype=torch.float64).reshape(5, 5)
    for mode in ("max", "avg"):
        w = PoolingView(X, kernel, stride=stride, padding=padding, mode=mode, ceil_mode=ceil_mode,
                        count_include_pad=count_include_pad)
        kw = dict(stride=stride, padding=padding, ceil_mode=ceil_mode)
        want = (F.max_pool2d(X[None, None], kernel, **kw) if mode == "max" else
                F.avg_pool2d(X[None, None], kernel, count_include_pad=count_include_pad, **kw))[0, 0]
        torch.testing.assert_close(w.output(), want)
        assert w.out_shape == tuple(want.shape)
        for p in range(want.numel()):
            r, c = divmod(p, want.shape[1])
            assert w.value_at(p) == pytest.approx(want[r, c].item())
            if mode == "avg":  # the page's sum / count
                assert sum(w.window_values(p)) / w.count_at(p) == pytest.approx(want[r, c].item())


def test_pooling_view_ceil_mode_changes_the_output_and_keeps_the_position():
    w = PoolingView(torch.arange(25.0).reshape(5, 5), 2, ceil_mode=True, position=8)
    assert w.out_shape == (3, 3) and w.window_cells() == [(4, 4), (4, 5), (5, 4), (5, 5)]  # past the input
    w.ceil_mode = False
    assert w.out_shape == (2, 2) and w.position == 3


def test_pooling_view_argmax_takes_the_first_of_ties():
    w = PoolingView(torch.ones(4, 4), 2)
    assert w.argmax == (0, 0)
    w.position = 3
    assert w.argmax == (2, 2)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    "X",
    [
        [[1.0, NAN, 3.0], [2.0, 0.0, 5.0], [NAN, 4.0, NAN]],  # NaN windows: torch points to the last NaN
        [[NAN, 5.0, NAN], [NAN, 2.0, 1.0], [7.0, NAN, 7.0]],
        [[2.0, 2.0, 1.0], [2.0, 1.0, 2.0], [0.0, 2.0, 2.0]],  # ties: the first in reading order
        [[-INF] * 3] * 3,  # all -inf: a real cell, never a padding cell
        [[INF, NAN, INF], [-INF, INF, 0.0], [INF, INF, NAN]],
    ],
)
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [(2, 1, 0, False), (3, 1, 1, False), (2, 2, 1, True), (3, 2, 1, True)])
def test_pooling_view_argmax_is_torchs_index(X, kernel, stride, padding, ceil_mode):
    """argmax_at is the cell F.max_pool2d(return_indices=True) points to, NaNs and ties included."""
    x = torch.tensor(X, dtype=torch.float64)[None, None]  # (1, 1, 3, 3)
    want, index = F.max_pool2d(x, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode, return_indices=True)
    w = PoolingView(X, kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
    assert w.out_shape == tuple(want.shape[-2:])
    for p in range(want.numel()):
        r, c = divmod(p, want.shape[-1])
        assert w.argmax_at(p) == divmod(int(index[0, 0, r, c]), 3), (p, X)
        torch.testing.assert_close(torch.tensor(w.value_at(p), dtype=torch.float64), want[0, 0, r, c], equal_nan=True)


def test_pooling_view_padding_never_wins_a_max():
    X = -torch.arange(1.0, 10.0).reshape(3, 3)  # all negative: zero padding would win
    w = PoolingView(X, 3, stride=1, padding=1)
    assert w.window_values(0)[:4] == [float("-inf")] * 4
    assert w.argmax == (0, 0) and w.value == -1.0
    w.mode = "avg"
    assert w.window_values(0)[:4] == [0.0] * 4
    assert w.value == pytest.approx((-1 - 2 - 4 - 5) / 9)


def test_pooling_view_keeps_position_inside_when_the_geometry_changes():
    w = PoolingView(torch.arange(16.0).reshape(4, 4), 1, position=15)
    w.kernel_size = [2, 2]  # stride stays 1: 3x3 outputs
    assert w.out_shape == (3, 3) and w.position == 8
    with w.hold_trait_notifications():  # a batch, as the page sends it
        w.kernel_size, w.stride, w.padding = [3, 3], [2, 2], [1, 1]
    assert w.out_shape == (2, 2) and w.position == 3


def test_pooling_view_rejects_bad_input():
    X = torch.zeros(4, 4)
    with pytest.raises(ConvlibInputError, match="padding.*half the window"):
        PoolingView(X, 2, padding=2)
    with pytest.raises(TypeError, match="kernel_size"):
        PoolingView(X, 2.5)
    w = PoolingView(X, 2)
    with pytest.raises(traitlets.TraitError, match="mode"):
        w.mode = "median"
    with pytest.raises(traitlets.TraitError, match="half the window"):
        w.padding = [2, 2]
    with pytest.raises(traitlets.TraitError, match="position"):
        w.position = 4


@pytest.mark.parametrize(
    "value, match",
    [
        ([[0.0, 1.0, 2.0], [3.0]], r"^X: expected a rectangular array.*got ragged nested lists"),
        ([], r"^X: expected a 2-D matrix \(H, W\), got 1-D shape \(0,\)"),
        ([[]], r"^X: expected at least one value along every axis of \(H, W\), got shape \(1, 0\)"),
        ([[1.0]], r"^kernel_size: expected a window no larger than the padded input 1x1, got a 2x2 window"),
    ],
)
def test_pooling_view_rejects_a_bad_new_x(value, match):
    """Setting X gets the constructor's checks; the view stays as it was."""
    X = torch.arange(16.0).reshape(4, 4)
    with pytest.raises(ConvlibInputError, match=match):
        PoolingView(value, 2)
    w = PoolingView(X, 2, position=3)
    with pytest.raises(traitlets.TraitError, match=match):
        w.x = value
    assert (w.x, w.position, w.out_shape, w.value) == (X.tolist(), 3, (2, 2), 15.0)


def test_pooling_view_new_x_keeps_position_inside_and_reads_floats_exactly():
    w = PoolingView(torch.arange(16.0).reshape(4, 4), 2, position=3)
    w.x = [[0.1, 0.2], [0.3, 1 / 3]]
    assert (w.out_shape, w.position, w.value, w.argmax) == ((1, 1), 0, 1 / 3, (1, 1))
    assert PoolingView([[0.1, 0.7]], (1, 2)).value == 0.7


def test_pooling_view_state_is_plain_json():
    w = PoolingView(torch.arange(16.0).reshape(4, 4), (2, 3), stride=(2, 3), padding=(0, 1), mode="avg")
    state = json.loads(json.dumps(w.static_state()))
    assert state["kernel_size"] == [2, 3] and state["stride"] == [2, 3] and state["padding"] == [0, 1]
    assert state["mode"] == "avg" and len(state["x"]) == 4
    assert 'data-widget="PoolingView"' in w.static_html()


@needs_node
def test_pooling_page_sizes_follow_pytorchs_ceil_rule(tmp_path):
    """The page's per-axis output size and overhang equal convlib.pool's (and so torch's)."""
    from convlib.pool import pool_geometry

    cases = [(n, k, s, p, ceil) for n in range(1, 8) for k in range(1, 5) for s in range(1, 4)
             for p in range(0, k // 2 + 1) for ceil in (False, True) if n + 2 * p >= k]
    harness = ("const cases = " + json.dumps(cases) + ";\nconsole.log(JSON.stringify(cases.map("
               "([n, k, s, p, ceil]) => pvAxis(n, k, s, p, ceil))));\n")
    for (n, k, s, p, ceil), page in zip(cases, run_esm("pooling", harness, tmp_path)):
        (out, _), (extra, _) = pool_geometry((n, n), (k, k), (s, s), (p, p), (1, 1), ceil)
        assert (page["out"], page["extra"]) == (out, extra), (n, k, s, p, ceil)
        assert out == F.max_pool2d(torch.zeros(1, 1, n, n), k, stride=s, padding=p, ceil_mode=ceil).shape[-1]


@pytest.mark.parametrize("setting", ["ceil_mode", "count_include_pad"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_pooling_view_flags_must_be_bools_as_in_torch(setting: str, value: object) -> None:
    """torch's pools raise TypeError for ceil_mode=1; traitlets' Bool read 1 as True without a word."""
    X = torch.arange(16.0).reshape(4, 4)
    with pytest.raises(TypeError):
        F.avg_pool2d(X[None, None], 2, **{setting: value})
    with pytest.raises(traitlets.TraitError, match=rf"{setting}: expected True or False, got .*Fix: {setting}=True"):
        PoolingView(X, 2, mode="avg", **{setting: value})
    w = PoolingView(X, 2, mode="avg")
    with pytest.raises(traitlets.TraitError, match="expected True or False"):
        setattr(w, setting, value)
    assert getattr(w, setting) is (setting == "count_include_pad")


@pytest.mark.parametrize(
    "make",
    [
        lambda m: PoolingView(m, 2),
        lambda m: ChannelsView(m[None], torch.ones(1, 1, 2, 2)),
        lambda m: ChannelsView(torch.ones(1, 3, 3), m[None, None, :2, :2]),
        lambda m: cl.widgets.KernelSlider(m, torch.ones(2, 2)),
        lambda m: cl.widgets.KernelSlider(torch.ones(3, 3), m[:2, :2]),
        lambda m: cl.widgets.TransposedConvView(m, torch.ones(2, 2)),
    ],
)
def test_meta_tensors_say_to_pass_real_values(make) -> None:
    """A meta tensor (a shape, no values) raised torch's bare NotImplementedError 'Cannot copy out of meta tensor'."""
    with pytest.raises(ConvlibInputError, match=r"'meta' device .*Fix: pass a tensor that holds numbers"):
        make(torch.ones(3, 3, device="meta"))
