"""LocalityView, PaddingStrideExplorer and TransposedConvView: Python-side numbers, validation, static HTML,
and the page's own geometry code (run in Node) against convlib."""

from __future__ import annotations

import itertools
import json

import pytest
import torch
import torch.nn.functional as F
import traitlets

import convlib as cl
from convlib.widgets import LocalityView, PaddingStrideExplorer, TransposedConvView
from convlib.widgets.padding_stride import LIMITS
from tests.node_pages import needs_node, run_esm



# --- LocalityView -------------------------------------------------------------

@pytest.mark.parametrize("h, w, k", [(4, 4, 2), (5, 6, 3), (3, 3, 1), (8, 8, 3), (2, 7, 2)])
def test_locality_conv_ids_are_the_dense_matrix_rows(h, w, k):
    view = LocalityView(h, w, k)
    weight = torch.arange(1.0, k * k + 1).reshape(k, k)  # distinct, nonzero weights
    M = cl.conv_as_matrix(weight, (h, w))  # (H_out*W_out, H*W)
    h_out, w_out = view.out_shape
    assert M.shape == (h_out * w_out, h * w)
    for p in range(h_out * w_out):
        ids = torch.tensor(view.conv_weight_ids(p))  # (H, W)
        row = M[p].reshape(h, w)
        assert torch.equal(ids >= 0, row != 0)  # the receptive field is the row's nonzero pattern
        assert torch.equal(row[ids >= 0], weight.flatten()[ids[ids >= 0]])
        r, c = divmod(p, w_out)
        assert view.window(p) == [(r + a, c + b) for a in range(k) for b in range(k)]
        fc = torch.tensor(view.fc_weight_ids(p))
        assert fc.unique().numel() == h * w and int(fc.min()) == p * h * w


def test_locality_fc_ids_never_repeat_and_conv_ids_always_do():
    view = LocalityView(4, 5, 2)
    n = view.out_shape[0] * view.out_shape[1]
    fc = [i for p in range(n) for row in view.fc_weight_ids(p) for i in row]
    conv = {i for p in range(n) for row in view.conv_weight_ids(p) for i in row if i >= 0}
    assert len(fc) == len(set(fc)) == view.counts["fc_total"] == 4 * 5 * n
    assert conv == set(range(4)) and view.counts["conv_total"] == 4
    layer = torch.nn.Linear(20, n, bias=False)
    assert layer.weight.numel() == view.counts["fc_total"]
    assert torch.nn.Conv2d(1, 1, 2, bias=False).weight.numel() == view.counts["conv_total"]


def test_locality_validation_and_position_clamp():
    view = LocalityView(5, 5, 2, position=15)
    view.kernel_size = 4  # 2x2 outputs now: position follows
    assert view.position == 3
    with pytest.raises(traitlets.TraitError, match="expected .*got .*Fix"):
        view.position = 4
    with pytest.raises(traitlets.TraitError, match="fit"):
        view.kernel_size = 6
    with pytest.raises(traitlets.TraitError, match="kernel_size"):
        view.height = 3
    with pytest.raises(traitlets.TraitError, match="1 to 8"):
        LocalityView(9, 4, 2)
    with pytest.raises(traitlets.TraitError):
        LocalityView(4, 4, 0)


def test_locality_static_html_carries_state():
    html = LocalityView(4, 4, 2, position=3, title="t").static_html()
    assert 'data-widget="LocalityView"' in html
    assert '\\"kernel_size\\": 2' in html or '"kernel_size": 2' in html
    assert "http://" not in html and "https://" not in html


@needs_node
def test_locality_page_ids_match_python(tmp_path):
    cases = [(4, 4, 2), (5, 6, 3), (3, 3, 1), (6, 5, 4)]
    harness = "const out = [];\n"
    for h, w, k in cases:
        n = (h - k + 1) * (w - k + 1)
        harness += f"for (let p = 0; p < {n}; p++) out.push(lvIds({h}, {w}, {k}, p));\n"
    harness += "console.log(JSON.stringify(out));\n"
    shown = iter(run_esm("locality", harness, tmp_path))
    for h, w, k in cases:
        view = LocalityView(h, w, k)
        for p in range(view.out_shape[0] * view.out_shape[1]):
            page = next(shown)
            assert page["fc"] == view.fc_weight_ids(p)
            assert page["conv"] == view.conv_weight_ids(p)
            assert (page["r"], page["c"]) == divmod(p, view.out_shape[1])


# --- PaddingStrideExplorer ----------------------------------------------------

def test_padding_stride_numbers_match_f_conv2d():
    for n, k, p, s, d in [(7, 3, 0, 1, 1), (7, 3, 0, 2, 1), (7, 3, 1, 1, 1), (8, 3, 1, 2, 1),
                          (5, 3, 1, 2, 1), (12, 7, 4, 4, 3), (1, 1, 0, 1, 1), (4, 3, 2, 3, 2)]:
        w = PaddingStrideExplorer(n, k, padding=p, stride=s, dilation=d)
        y = F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), padding=p, stride=s, dilation=d)
        assert (w.out_size, w.out_size) == tuple(y.shape[-2:])
        assert w.formula.endswith(f"= {w.out_size}")
        usage = torch.tensor(w.usage())
        assert usage.shape == (n + 2 * p, n + 2 * p) and int(usage.sum()) == w.n_windows * k * k
        for q in range(w.n_windows):
            taps = w.window_taps(q)
            assert len(taps) == k * k and all(usage[i, j] > 0 for i, j in taps)


def test_padding_stride_window_taps_are_the_unfold_columns():
    # The taps of window q are where F.unfold reads: compare on an input of distinct values.
    n, k, p, s, d = 6, 3, 1, 2, 2
    w = PaddingStrideExplorer(n, k, padding=p, stride=s, dilation=d)
    padded = torch.arange(1.0, (n + 2 * p) ** 2 + 1).reshape(n + 2 * p, n + 2 * p)  # (H + 2p, W + 2p)
    cols = F.unfold(padded[None, None], k, dilation=d, stride=s)[0]  # (k*k, L)
    for q in range(w.n_windows):
        assert [padded[i, j].item() for i, j in w.window_taps(q)] == cols[:, q].tolist()


def test_padding_stride_invalid_is_a_message_not_a_crash():
    w = PaddingStrideExplorer(3, 5)
    assert not w.valid and w.out_size is None and w.n_windows == 0 and w.position == 0
    assert "spans 5 cells" in w.message and "padded input has only 3" in w.message
    assert w.formula == "floor((3 + 2·0 − 1·(5−1) − 1) / 1) + 1 = -1"
    assert torch.tensor(w.usage()).sum() == 0
    with pytest.raises(ValueError, match="fits"):
        w.window_taps()
    w.padding = 1  # now 5 fits 5
    assert w.valid and w.out_size == 1 and w.message == ""


def test_padding_stride_validation():
    for name, (low, high) in LIMITS.items():
        w = PaddingStrideExplorer()
        with pytest.raises(traitlets.TraitError, match=f"{name}: expected .*got .*Fix"):
            setattr(w, name, high + 1)
        with pytest.raises(traitlets.TraitError):
            setattr(w, name, low - 1)
    w = PaddingStrideExplorer(7, 3, position=24)
    with pytest.raises(traitlets.TraitError, match="position"):
        w.position = 25
    w.stride = 2
    assert w.position == 8  # clamped to the last of 3x3 windows


@needs_node
def test_padding_stride_page_geometry_matches_convlib(tmp_path):
    grid = list(itertools.product([1, 3, 7, 8, 12], [1, 2, 3, 5, 7], [0, 1, 3], [1, 2, 4], [1, 2, 3]))
    harness = ("const cases = " + json.dumps(grid) + ";\nconsole.log(JSON.stringify(cases.map(([n, k, p, s, d]) => {"
               "const g = psGeometry(n, k, p, s, d); const last = Math.max(0, g.out * g.out - 1);"
               "return { valid: g.valid, out: g.out, formula: g.formula, message: g.message, usage: g.usage,"
               " first: g.valid ? g.taps(0, 0) : null,"
               " last: g.valid ? g.taps(Math.floor(last / g.out), last % g.out) : null }; })));\n")
    shown = run_esm("padding_stride", harness, tmp_path)
    assert len(shown) == len(grid)
    for (n, k, p, s, d), page in zip(grid, shown):
        w = PaddingStrideExplorer(n, k, padding=p, stride=s, dilation=d)
        assert page["valid"] == w.valid
        assert page["formula"] == w.formula and page["message"] == w.message
        assert page["usage"] == w.usage()
        if w.valid:
            assert page["out"] == w.out_size == cl.conv_output_size(n, k, padding=p, stride=s, dilation=d)
            assert [tuple(t) for t in page["first"]] == w.window_taps(0)
            assert [tuple(t) for t in page["last"]] == w.window_taps(w.n_windows - 1)


# --- TransposedConvView -------------------------------------------------------

TC_CASES = [  # (X, K)
    ([[0, 1], [2, 3]], [[0, 1], [2, 3]]),
    ([[1, 2, 0], [0, 1, 3], [2, 1, 1]], [[1, 0, 1], [2, 1, 0], [0, 1, 1]]),
    ([[1, -2, 3]], [[1, 1], [1, -1]]),
    ([[5]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]),
]


@pytest.mark.parametrize(("X", "K"), TC_CASES)
def test_transposed_view_matches_f_conv_transpose2d(X, K):
    x, k = torch.tensor(X, dtype=torch.float64), torch.tensor(K, dtype=torch.float64)
    for s in range(1, 4):
        w = TransposedConvView(X, K, stride=s)
        full = F.conv_transpose2d(x[None, None], k[None, None], stride=s)[0, 0]
        assert w.full_shape == tuple(full.shape)
        for p in range(w.max_padding + 1):
            for op in range(s):  # output padding: below the stride
                w.padding, w.output_padding = p, op
                want = F.conv_transpose2d(x[None, None], k[None, None], stride=s, padding=p, output_padding=op)[0, 0]
                assert w.out_shape == tuple(want.shape)
                assert w.out_shape[0] == cl.conv_transpose_output_size(x.shape[0], k.shape[0], padding=p, stride=s,
                                                                       output_padding=op)
                torch.testing.assert_close(w.output(), want)
                assert w.formula.endswith(f"= {w.out_shape[1]}") and (f" + {op} = " in w.formula) == (op > 0)
                grid = torch.tensor(w.partial(x.numel() - 1), dtype=torch.float64)  # the page's grid: the cut leaves the output
                assert grid.shape == w.grid_shape
                torch.testing.assert_close(grid[p : grid.shape[0] - p, p : grid.shape[1] - p], want)
        w.output_padding = 0
        # The running sums end at the full result, and each step adds exactly one patch.
        before = torch.zeros_like(full)
        for q in range(x.numel()):
            now = torch.tensor(w.partial(q), dtype=torch.float64)
            i, j = divmod(q, x.shape[1])
            added = torch.zeros_like(full)
            for (r, c), kv in zip(w.patch(q), k.flatten().tolist()):
                added[r, c] += x[i, j] * kv
            torch.testing.assert_close(now - before, added)
            before = now
        torch.testing.assert_close(before, full)


def test_transposed_view_validation_and_clamping():
    w = TransposedConvView([[1, 2, 3]] * 3, [[1, 1, 1]] * 3, stride=3, padding=3)  # full 9x9: room for 3
    assert w.max_padding == 3 and w.out_shape == (3, 3)
    w.stride = 1  # full 5x5: at most 2
    assert w.padding == 2 and w.out_shape == (1, 1)
    with pytest.raises(traitlets.TraitError, match="padding: expected an int from 0 to 2.*Fix"):
        w.padding = 3
    with pytest.raises(traitlets.TraitError, match="stride: expected an int from 1 to 3"):
        w.stride = 4
    with pytest.raises(traitlets.TraitError, match=r"output_padding: expected an int from 0 to 0 .*smaller than the stride \(1\).*Fix"):
        w.output_padding = 1
    w.stride, w.output_padding = 3, 2
    w.stride = 2  # the output padding follows the stride down, as on the page
    assert w.output_padding == 1
    w.stride = 1
    with pytest.raises(traitlets.TraitError, match="position: expected 0 <= position < 9.*Fix"):
        w.position = 9
    w.position = 8
    w.x = [[1.0, 2.0]]  # fewer cells: the position stays on the grid
    assert w.position == 1 and w.cell == (0, 1)
    with pytest.raises(Exception, match="2-D"):
        TransposedConvView([1, 2, 3], [[1]])
    assert TransposedConvView([[1, 2]], [[1, 1]]).formula == "height (1 − 1)·1 − 2·0 + 1 = 1; width (2 − 1)·1 − 2·0 + 2 = 3"


@needs_node
def test_transposed_page_geometry_matches_convlib(tmp_path):
    grid = [(X, K, s, p, op, q) for X, K in TC_CASES for s in (1, 2, 3) for p in (0, 1) for op in range(s)
            for q in (0, len(X) * len(X[0]) - 1)]
    harness = ("const cases = " + json.dumps(grid) + ";\nconsole.log(JSON.stringify(cases.map(([X, K, s, p, op, q]) => {"
               "const g = tcGeometry(X, K, s, p, op, q);"
               "return { full: g.full, grid: g.grid, out: g.out, maxPad: g.maxPad, patch: g.patch, sums: g.sums,"
               " formula: g.formula }; })));\n")
    shown = run_esm("transposed", harness, tmp_path)
    for (X, K, s, p, op, q), page in zip(grid, shown):
        w = TransposedConvView(X, K, stride=s, output_padding=op)
        assert page["maxPad"] == w.max_padding and tuple(page["full"]) == w.full_shape
        assert tuple(page["grid"]) == w.grid_shape
        if p > w.max_padding:
            continue
        w.padding, w.position = p, q
        assert tuple(page["out"]) == w.out_shape and page["formula"] == w.formula
        assert [tuple(c) for c in page["patch"]] == w.patch()
        assert page["sums"] == w.partial()


def test_whole_numbers_of_other_types_are_taken_as_the_checks_promise():
    """check_int takes anything with __index__ (np.int64, a 0-d int tensor), as PyTorch does, but the
    constructors handed the original object to traitlets' Int, which refused a tensor with its own words."""
    import numpy as np

    view = LocalityView(torch.tensor(4), np.int64(5), torch.tensor(2))
    assert (view.height, view.width, view.kernel_size) == (4, 5, 2) and type(view.height) is int
    explorer = PaddingStrideExplorer(torch.tensor(7), np.int64(3), padding=torch.tensor(1), stride=np.int32(2))
    assert (explorer.size, explorer.kernel_size, explorer.padding, explorer.stride) == (7, 3, 1, 2)
    json.dumps(explorer.static_state(), allow_nan=False)
