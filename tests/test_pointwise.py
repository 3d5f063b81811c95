"""convlib.pointwise (1x1 convolution as a matmul) and convlib.counts, against torch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

import convlib as cl
from convlib.counts import conv_macs, conv_params, linear_params
from convlib.pointwise import conv1x1
from convlib.validate import INTEGER_DTYPES, ConvlibInputError
from tests.integer_checks import assert_integer_op_as_torch, random_integers

FAST = settings(max_examples=40, deadline=None)


@st.composite
def batch_and_weight(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """A float64 batch ``(N, C_in, H, W)``, a weight ``(C_out, C_in)`` and maybe a bias."""
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    x = torch.randn(n, c_in, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, generator=g, dtype=torch.float64)
    bias = torch.randn(c_out, generator=g, dtype=torch.float64) if draw(st.booleans()) else None
    return x, weight, bias


@FAST
@given(batch_and_weight())
def test_conv1x1_equals_f_conv2d(case) -> None:
    x, weight, bias = case
    c_out, c_in = weight.shape
    want = F.conv2d(x, weight.reshape(c_out, c_in, 1, 1), bias)  # (N, C_out, H, W)
    got = conv1x1(x, weight, bias)
    assert got.shape == want.shape == (x.shape[0], c_out, *x.shape[2:])
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    # The 4-D nn.Conv2d weight layout gives the same result.
    torch.testing.assert_close(conv1x1(x, weight.reshape(c_out, c_in, 1, 1), bias), want)


@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_integer_channels_mix_as_f_conv2d(dtype: torch.dtype) -> None:
    """Integer x and weight: F.conv2d's integer result in their dtype, for NCHW, channels-last and one image."""
    g = torch.Generator().manual_seed(4)
    x, w, b = random_integers((2, 5, 3, 4), dtype, g), random_integers((6, 5), dtype, g), random_integers((6,), dtype, g)

    def torchs(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w[:, :, None, None], b)

    for batch in (x, x.contiguous(memory_format=torch.channels_last), x[0]):
        assert_integer_op_as_torch(conv1x1, torchs, batch, w, b)


@FAST
@given(batch_and_weight())
def test_conv1x1_equals_corr2d_multi_in_out_on_one_image(case) -> None:
    x, weight, _ = case
    c_out, c_in = weight.shape
    got = conv1x1(x[0], weight)  # (C_out, H, W): a 3-D input stays 3-D
    want = cl.corr2d_multi_in_out(x[0], weight.reshape(c_out, c_in, 1, 1))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_conv1x1_is_a_linear_layer_at_every_pixel() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5)  # (N, C_in, H, W)
    fc = nn.Linear(3, 6)
    per_pixel = fc(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # (N, C_out, H, W)
    torch.testing.assert_close(conv1x1(x, fc.weight, fc.bias), per_pixel)


def test_conv1x1_gradients_match_f_conv2d() -> None:
    torch.manual_seed(1)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    conv1x1(x, w).square().sum().backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad, w.grad = None, None
    F.conv2d(x, w.reshape(5, 3, 1, 1)).square().sum().backward()
    torch.testing.assert_close(gx, x.grad)
    torch.testing.assert_close(gw, w.grad)


def test_conv1x1_rejects_bad_input() -> None:
    x = torch.zeros(1, 3, 4, 4)
    with pytest.raises(ConvlibInputError, match="expected 3 input channels.*Fix"):
        conv1x1(x, torch.zeros(2, 4))
    with pytest.raises(ConvlibInputError, match="1x1 kernel"):
        conv1x1(x, torch.zeros(2, 3, 3, 3))
    with pytest.raises(ConvlibInputError, match=r"expected \(N, C_in, H, W\)"):
        conv1x1(torch.zeros(4, 4), torch.zeros(2, 1))
    with pytest.raises(ConvlibInputError, match=r"bias: expected shape \(2,\)"):
        conv1x1(x, torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(TypeError, match="floating-point"):
        conv1x1(torch.zeros(1, 3, 4, 4, dtype=torch.int64), torch.zeros(2, 3))


# --- counts -----------------------------------------------------------------


@FAST
@given(st.integers(1, 8), st.integers(1, 8), st.integers(1, 5), st.integers(1, 5), st.booleans())
def test_conv_params_match_nn_conv2d(c_in: int, c_out: int, kh: int, kw: int, bias: bool) -> None:
    layer = nn.Conv2d(c_in, c_out, (kh, kw), bias=bias)
    assert conv_params(c_in, c_out, (kh, kw), bias=bias) == sum(p.numel() for p in layer.parameters())


@FAST
@given(st.integers(1, 64), st.integers(1, 64), st.booleans())
def test_linear_params_match_nn_linear(n_in: int, n_out: int, bias: bool) -> None:
    layer = nn.Linear(n_in, n_out, bias=bias)
    assert linear_params(n_in, n_out, bias=bias) == sum(p.numel() for p in layer.parameters())


def loop_macs(x: torch.Tensor, weight: torch.Tensor, stride: int, padding: int) -> tuple[int, torch.Tensor]:
    """Convolve with explicit loops, counting every multiply-accumulate done."""
    c_out, c_in, kh, kw = weight.shape
    xp = F.pad(x, (padding,) * 4)  # (C_in, H + 2p, W + 2p)
    h_out = (xp.shape[1] - kh) // stride + 1
    w_out = (xp.shape[2] - kw) // stride + 1
    out = torch.zeros(c_out, h_out, w_out, dtype=x.dtype)
    macs = 0
    for o in range(c_out):
        for i in range(h_out):
            for j in range(w_out):
                acc = 0.0
                for c in range(c_in):
                    for a in range(kh):
                        for b in range(kw):
                            acc += float(xp[c, i * stride + a, j * stride + b] * weight[o, c, a, b])
                            macs += 1
                out[o, i, j] = acc
    return macs, out


@pytest.mark.parametrize(
    "c_in, c_out, k, size, stride, padding",
    [(2, 3, 3, 5, 1, 0), (3, 2, 2, 6, 2, 1), (1, 4, (1, 3), 4, 1, 0), (3, 3, 1, 4, 1, 0)],
)
def test_conv_macs_match_a_counting_loop(c_in, c_out, k, size, stride, padding) -> None:
    kh, kw = (k, k) if isinstance(k, int) else k
    g = torch.Generator().manual_seed(0)
    x = torch.randn(c_in, size, size, generator=g, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, kh, kw, generator=g, dtype=torch.float64)
    macs, out = loop_macs(x, weight, stride, padding)
    # The loop really is the convolution whose multiply-adds it counted.
    want = F.conv2d(x[None], weight, stride=stride, padding=padding)[0]
    torch.testing.assert_close(out, want)
    h_out, w_out = want.shape[1:]
    assert conv_macs(c_in, c_out, k, h_out, w_out) == macs


def test_conv_macs_equal_the_im2col_matmul_size() -> None:
    # im2col turns the layer into (C_out x C_in*k*k) @ (C_in*k*k x L): C_out*C_in*k*k*L MACs.
    x = torch.zeros(1, 6, 28, 28)
    cols = F.unfold(x, 5)  # (1, C_in*k*k, L)
    _, inner, positions = cols.shape
    assert conv_macs(6, 10, 5, 24, 24) == 10 * inner * positions


def test_the_seed_stack() -> None:
    # 32x32x3 -> six 5x5x3 filters -> 28x28x6 -> ten 5x5x6 filters -> 24x24x10
    stack = nn.Sequential(nn.Conv2d(3, 6, 5), nn.Conv2d(6, 10, 5))
    out1 = stack[0](torch.zeros(1, 3, 32, 32))
    out2 = stack[1](out1)
    assert out1.shape == (1, 6, 28, 28) and out2.shape == (1, 10, 24, 24)
    assert [conv_params(3, 6, 5), conv_params(6, 10, 5)] == [
        sum(p.numel() for p in layer.parameters()) for layer in stack
    ] == [456, 1510]
    assert conv_macs(3, 6, 5, 28, 28) == 352_800
    assert conv_macs(6, 10, 5, 24, 24) == 864_000


def test_counts_reject_bad_input() -> None:
    with pytest.raises(ValueError, match="c_in: expected an int >= 1"):
        conv_params(0, 3, 3)
    with pytest.raises(ValueError, match="h_out"):
        conv_macs(1, 1, 3, 0, 4)
    with pytest.raises(TypeError, match="kernel_size"):
        conv_params(1, 1, 2.5)


@pytest.mark.parametrize(("x_dtype", "w_dtype", "b_dtype", "name"), [
    (torch.float64, torch.float32, None, "weight"),
    (torch.float32, torch.float64, None, "weight"),
    (torch.float32, torch.float32, torch.float64, "bias"),
])
def test_mixed_dtypes_raise_as_f_conv2d_does(x_dtype, w_dtype, b_dtype, name: str) -> None:
    """F.conv2d refuses a weight or bias of another dtype than x; conv1x1 no longer casts it silently."""
    x, w = torch.randn(2, 3, 4, 4, dtype=x_dtype), torch.randn(5, 3, dtype=w_dtype)
    b = None if b_dtype is None else torch.randn(5, dtype=b_dtype)
    with pytest.raises(RuntimeError):
        F.conv2d(x, w[:, :, None, None], b)
    wanted, got = x_dtype, (w_dtype if name == "weight" else b_dtype)
    with pytest.raises(ConvlibInputError, match=rf"^{name}: expected the dtype of x \({wanted}\), got {got}\. Fix: x = x\.to\({name}\.dtype\)"):
        conv1x1(x, w, b)
    with pytest.raises(ConvlibInputError, match=rf"^{name}: expected the dtype of x"):
        conv1x1(x[0], w[:, :, None, None], b)  # one image, nn.Conv2d's weight layout: the same check


def test_autocast_and_channels_last_as_torch() -> None:
    """Inside torch.autocast the result has autocast's dtype; a channels-last x gives a channels-last result."""
    g = torch.Generator().manual_seed(5)
    x, w, b = torch.randn(2, 3, 4, 5, generator=g), torch.randn(6, 3, 1, 1, generator=g), torch.randn(6, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, expected = conv1x1(x, w, b), F.conv2d(x, w, b)
    assert got.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(got, expected, rtol=2e-2, atol=2e-2)
    xc = x.contiguous(memory_format=torch.channels_last).requires_grad_()
    got, expected = conv1x1(xc, w, b), F.conv2d(xc, w, b)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert got.stride() == expected.stride()
    up = torch.randn(expected.shape, generator=g)
    torch.testing.assert_close(torch.autograd.grad(got, xc, up)[0], torch.autograd.grad(expected, xc, up)[0])
    torch.testing.assert_close(conv1x1(xc[0], w, b), F.conv2d(xc[0], w, b), rtol=1e-5, atol=1e-5)  # one image


@pytest.mark.parametrize("shape", [(1, 2, 0, 5), (1, 2, 3, 0), (2, 0, 5)])
def test_conv1x1_refuses_an_image_without_pixels_as_f_conv2d_does(shape: tuple) -> None:
    """It returned an empty (N, C_out, 0, W) where F.conv2d raises; an empty batch stays fine."""
    x, w = torch.zeros(shape), torch.ones(3, 2, 1, 1)
    with pytest.raises(RuntimeError):
        F.conv2d(x, w)
    with pytest.raises(ConvlibInputError, match=r"^x: expected at least one row and one column \(H, W >= 1\), got shape"):
        conv1x1(x, w)
    assert conv1x1(torch.zeros(0, 2, 3, 3), w).shape == F.conv2d(torch.zeros(0, 2, 3, 3), w).shape == (0, 3, 3, 3)


def test_bias_as_a_list_says_it_wants_a_tensor() -> None:
    """conv1x1(x, w, [0.] * 4) raised AttributeError: 'list' object has no attribute 'dtype'."""
    with pytest.raises(TypeError, match=r"^bias: expected a tensor of shape \(4,\) .*got a list\. Fix: bias = torch\.tensor\(bias"):
        conv1x1(torch.randn(2, 3, 5, 5), torch.randn(4, 3), [0.0] * 4)


@FAST
@given(batch_and_weight(), st.booleans())
def test_input_gradient_stored_as_torch(case, channels_last: bool) -> None:
    """x's gradient (torch.autograd.grad) is stored like F.conv2d's: it came back with transposed strides
    (channels-last-like) for a contiguous x when the weight wanted a gradient too, from the broadcast
    product ``w @ pixels``."""
    x, weight, bias = case
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    weight.requires_grad_()
    y, ref = conv1x1(x, weight, bias), F.conv2d(x, weight[:, :, None, None], bias)
    up = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=ref.dtype)
    (gx, _), (gx_ref, _) = torch.autograd.grad(y, (x, weight), up), torch.autograd.grad(ref, (x, weight), up)
    torch.testing.assert_close(gx, gx_ref, rtol=1e-10, atol=1e-10)
    assert gx.is_contiguous() == gx_ref.is_contiguous()
    assert gx.is_contiguous(memory_format=torch.channels_last) == gx_ref.is_contiguous(memory_format=torch.channels_last)


@FAST
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5), st.booleans(),
       st.integers(4, 9))
def test_grouped_counts_match_nn_conv2d(groups: int, in_per_group: int, out_per_group: int, kh: int, kw: int,
                                        bias: bool, size: int) -> None:
    """nn.Conv2d's groups (depthwise too) was no keyword of conv_params / conv_macs: each kernel is
    C_in/groups deep, so both counts shrink by the factor groups."""
    c_in, c_out = groups * in_per_group, groups * out_per_group
    layer = nn.Conv2d(c_in, c_out, (kh, kw), bias=bias, groups=groups)
    assert conv_params(c_in, c_out, (kh, kw), bias=bias, groups=groups) == sum(p.numel() for p in layer.parameters())
    out = layer(torch.zeros(1, c_in, size + kh, size + kw))  # (1, C_out, H_out, W_out)
    summary_macs = cl.layer_summary(layer, (c_in, size + kh, size + kw)).total_macs
    assert conv_macs(c_in, c_out, (kh, kw), *out.shape[2:], groups=groups) == out.numel() * layer.weight[0].numel() \
        == summary_macs


@pytest.mark.parametrize("count", [lambda g: conv_params(4, 6, 3, groups=g), lambda g: conv_macs(4, 6, 3, 5, 5, groups=g)])
def test_groups_that_split_no_channels_evenly_say_why(count) -> None:
    with pytest.raises(ConvlibInputError, match=r"^c_in: expected a multiple of groups=3 .*got 4\. Fix:"):
        count(3)
    with pytest.raises(ConvlibInputError, match=r"^groups: expected an int >= 1, got 0\. Fix:"):
        count(0)
