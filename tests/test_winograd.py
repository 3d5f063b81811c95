"""convlib.winograd: F(m, 3) against direct sums and F.conv2d (values and gradients)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

import convlib as cl
from convlib import winograd
from convlib.winograd import TILES, conv2d_winograd, filter_1d, matrices, multiplications_per_output, stage_times
from convlib.validate import ConvlibInputError
from tests.autograd_checks import value_and_grads


@st.composite
def layer_case(draw: st.DrawFn) -> dict:
    """A 3x3 stride-1 layer whose padded input holds at least one window."""
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    hw = (draw(st.integers(1, 11)), draw(st.integers(1, 11)))
    assume(hw[0] + 2 * p[0] >= 3 and hw[1] + 2 * p[1] >= 3)
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return dict(x=(n, c_in, *hw), w=(c_out, c_in, 3, 3), bias=draw(st.booleans()), padding=p,
                tile=draw(st.sampled_from(TILES)), seed=draw(st.integers(0, 2**31 - 1)))


@settings(max_examples=150)
@given(layer_case())
def test_matches_torch_values_and_gradients(case: dict) -> None:
    g = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(case["x"], generator=g, dtype=torch.float64)  # (N, C_in, H, W)
    w = torch.randn(case["w"], generator=g, dtype=torch.float64)  # (C_out, C_in, 3, 3)
    b = torch.randn(case["w"][0], generator=g, dtype=torch.float64) if case["bias"] else None  # (C_out,)
    ours = value_and_grads(lambda x, w, b: conv2d_winograd(x, w, b, padding=case["padding"], tile=case["tile"]), x, w, b)
    ref = value_and_grads(lambda x, w, b: F.conv2d(x, w, b, padding=case["padding"]), x, w, b)
    assert ours[0].shape == ref[0].shape
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@settings(max_examples=100)
@given(tile=st.sampled_from(TILES), seed=st.integers(0, 2**31 - 1))
def test_filter_1d_is_the_direct_correlation(tile: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    d = torch.randn(tile + 2, generator=g, dtype=torch.float64)
    k = torch.randn(3, generator=g, dtype=torch.float64)
    direct = torch.stack([d[i] * k[0] + d[i + 1] * k[1] + d[i + 2] * k[2] for i in range(tile)])
    torch.testing.assert_close(filter_1d(d, k, tile), direct, rtol=1e-12, atol=1e-12)


def test_tile_2_uses_only_halves_and_units() -> None:
    bt, g, at = matrices(2)
    for m in (bt, g, at):
        assert set(m.abs().unique().tolist()) <= {0.0, 0.5, 1.0}


def test_matrices_are_copies() -> None:
    matrices(2)[0].zero_()
    assert matrices(2)[0].abs().sum() > 0


@pytest.mark.parametrize("tile", TILES)
def test_multiplications_per_output_counts_the_elementwise_products(tile: int) -> None:
    a = tile + 2
    assert multiplications_per_output(tile) * tile * tile == a * a
    assert 9 / multiplications_per_output(tile) == {2: 2.25, 4: 4.0}[tile]


def test_float32_rounding_grows_with_the_tile() -> None:
    """The larger tile's transforms have larger coefficients: its float32 error is larger, still small."""
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(4, 16, 12, 12, generator=g), torch.randn(8, 16, 3, 3, generator=g)
    exact = F.conv2d(x.double(), w.double(), padding=1)
    errors = {t: (conv2d_winograd(x, w, padding=1, tile=t).double() - exact).abs().max().item() for t in TILES}
    torch_error = (F.conv2d(x, w, padding=1).double() - exact).abs().max().item()
    assert errors[2] < errors[4] < 1e-3
    assert errors[2] < 10 * torch_error


def test_one_image_and_same_padding() -> None:
    x, w = torch.randn(3, 5, 6), torch.randn(2, 3, 3, 3)
    y = conv2d_winograd(x, w, padding="same", tile=4)
    assert y.shape == (2, 5, 6)
    torch.testing.assert_close(y, F.conv2d(x, w, padding="same"), rtol=1e-4, atol=1e-4)


def test_transforms_compose_to_the_layer() -> None:
    x, w = torch.randn(2, 3, 7, 5, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64)
    v = winograd.transform_input(x, (1, 1), (7, 5), 4)  # (36, 2 * 2 * 2, 3)
    u = winograd.transform_kernels(w, 4)  # (36, 3, 4)
    y = winograd.transform_output(torch.bmm(v, u), 2, (7, 5), 4)
    torch.testing.assert_close(y, F.conv2d(x, w, padding=1))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: conv2d_winograd(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 5, 5)), "3x3 kernel"),
        (lambda: conv2d_winograd(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 3, 3), tile=3), r"tile: expected one of \(2, 4\)"),
        (lambda: conv2d_winograd(torch.ones(1, 1, 6, 6), torch.ones(1, 1, 3, 3), tile=True), "tile"),
        (lambda: conv2d_winograd(torch.ones(1, 6, 6, 3), torch.ones(2, 3, 3, 3)), "permute"),
        (lambda: filter_1d(torch.ones(3), torch.ones(3)), r"d of shape \(4,\)"),
        (lambda: stage_times(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3), repeats=0), "repeats"),
    ],
)
def test_bad_input_says_what_to_do(call, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=match):
        call()


def test_stage_times_add_up() -> None:
    t = stage_times(torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3), 1, tile=4, repeats=2)
    steps = ("input transform", "kernel transform", "products", "output transform")
    assert all(t[k] > 0 for k in (*steps, "F.conv2d"))
    assert t["total"] == pytest.approx(sum(t[k] for k in steps))


def test_bench_times_it_on_request_only() -> None:
    assert "winograd" in cl.bench.IMPLEMENTATIONS and "winograd" not in cl.bench.DEFAULT_IMPLS
    report = cl.bench.run([cl.bench.BenchCase("tiny", 2, 3, 6, 4, 3, padding=1)], repeats=1, impls=("winograd", "torch"))
    assert report.timing("tiny", "winograd").forward_backward_ms > 0
