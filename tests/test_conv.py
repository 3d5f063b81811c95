"""convlib.conv: conv2d and Conv2D against torch.nn.functional.conv2d / nn.Conv2d."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

import convlib as cl
from convlib.conv import Conv2D, conv2d, conv2d_loop, conv2d_unfold
from convlib.validate import INTEGER_DTYPES, ConvlibInputError
from tests.integer_checks import assert_integer_op_as_torch, random_integers

FAST = settings(max_examples=100, deadline=None)


def pair_or_int(low: int, high: int) -> st.SearchStrategy:
    """An int, or a pair of ints, in ``[low, high]``."""
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


@st.composite
def conv_case(draw: st.DrawFn) -> dict:
    """Random shapes and hyper-parameters for which the (dilated) kernel fits."""
    n, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))  # non-square too
    stride, padding, dilation = draw(pair_or_int(1, 3)), draw(pair_or_int(0, 2)), draw(pair_or_int(1, 2))
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    h = draw(st.integers(max(1, span_h - 2 * ph), span_h - 2 * ph + 6))
    w = draw(st.integers(max(1, span_w - 2 * pw), span_w - 2 * pw + 6))
    return dict(shape_x=(n, c_in, h, w), shape_w=(c_out, c_in, kh, kw), bias=draw(st.booleans()),
                stride=stride, padding=padding, dilation=dilation, seed=draw(st.integers(0, 2**31 - 1)))


@FAST
@given(conv_case())
def test_conv2d_matches_torch_values_and_gradients(case: dict) -> None:
    g = torch.Generator().manual_seed(case["seed"])
    x0 = torch.randn(case["shape_x"], generator=g, dtype=torch.float64)  # (N, C_in, H, W)
    w0 = torch.randn(case["shape_w"], generator=g, dtype=torch.float64)  # (C_out, C_in, k_h, k_w)
    b0 = torch.randn(case["shape_w"][0], generator=g, dtype=torch.float64) if case["bias"] else None
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"])

    def run(fn):
        x, w = x0.clone().requires_grad_(), w0.clone().requires_grad_()
        b = None if b0 is None else b0.clone().requires_grad_()
        y = fn(x, w, b, **kw)  # (N, C_out, H_out, W_out)
        up = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        (y * up).sum().backward()
        return y, x.grad, w.grad, None if b is None else b.grad

    ours, theirs = run(conv2d), run(F.conv2d)
    assert ours[0].shape == theirs[0].shape
    for a, e in zip(ours, theirs):
        if e is None:
            assert a is None
        else:
            torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


@FAST
@given(conv_case(), st.sampled_from(INTEGER_DTYPES), st.integers(1, 2))
def test_integer_tensors_convolve_exactly_as_torch(case: dict, dtype: torch.dtype, groups: int) -> None:
    """Integer x and weight give F.conv2d's integer result in their dtype, sums past the dtype's range
    wrapped around as torch wraps them (torch has int8/uint8/int16/int32 kernels for some cases only)."""
    g = torch.Generator().manual_seed(case["seed"])
    n, c_in, h, w = case["shape_x"]
    c_out, _, kh, kw = case["shape_w"]
    x = random_integers((n, c_in * groups, h, w), dtype, g)  # (N, C_in, H, W)
    weight = random_integers((c_out * groups, c_in, kh, kw), dtype, g)  # (C_out, C_in/groups, k_h, k_w)
    b = random_integers((c_out * groups,), dtype, g) if case["bias"] else None
    kwargs = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=groups)
    for op in (conv2d, conv2d_unfold):
        assert_integer_op_as_torch(lambda x, w, b: op(x, w, b, **kwargs), lambda x, w, b: F.conv2d(x, w, b, **kwargs),
                                   x, weight, b)


@pytest.mark.parametrize("kwargs", [dict(padding="same"), dict(stride=2, padding=1, dilation=(1, 2), groups=2)])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64])
def test_integer_loop_one_image_and_channels_last_as_torch(kwargs: dict, dtype: torch.dtype) -> None:
    """The for-loop layer sums integers too; one image and a channels-last batch come back as F.conv2d's."""
    g = torch.Generator().manual_seed(2)
    depth = 4 // kwargs.get("groups", 1)  # C_in/groups
    x, w, b = random_integers((2, 4, 6, 7), dtype, g), random_integers((4, depth, 3, 3), dtype, g), random_integers((4,), dtype, g)

    def torchs(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, w, b, **kwargs)

    assert_integer_op_as_torch(lambda x, w, b: conv2d_loop(x, w, b, **kwargs), torchs, x, w, b)
    assert_integer_op_as_torch(lambda x, w, b: conv2d(x, w, b, **kwargs), torchs, x[0], w, b)
    last = x.contiguous(memory_format=torch.channels_last)
    y = conv2d(last, w, b, **kwargs)
    assert y.stride() == torchs(last.long(), w.long(), b.long()).stride() and torch.equal(y, conv2d(x, w, b, **kwargs))


def test_integer_convolution_ignores_autocast_and_refuses_a_mix() -> None:
    """Autocast leaves integer tensors alone, as it leaves them for F.conv2d; an integer x with a float
    weight is the uint8-image slip, refused with its fix; two integer dtypes are refused as torch refuses them."""
    x, w = torch.arange(16).reshape(1, 1, 4, 4), torch.tensor([[[[1, -1]]]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = conv2d(x, w)
    assert y.dtype == torch.int64 and torch.equal(y, F.conv2d(x, w))
    with pytest.raises(TypeError, match=r"^x: expected a floating-point tensor, got dtype torch\.uint8\. Fix: x\.float\(\) .*/ 255"):
        conv2d(x.to(torch.uint8), w.float())
    with pytest.raises(TypeError, match=r"^weight: expected a floating-point tensor, got dtype torch\.int64\. Fix: weight\.float\(\)"):
        conv2d(x.float(), w)
    with pytest.raises(ConvlibInputError, match=r"^weight: expected the dtype of x \(torch\.int64\), got torch\.int32"):
        conv2d(x, w.int())
    with pytest.raises(TypeError, match=r"^weight: expected a floating-point tensor, got dtype torch\.bool"):
        conv2d(x.bool(), w.bool())


def test_conv2d_gradcheck() -> None:
    x = torch.randn(2, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 2, 2, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2)), (x, w, b)
    )


def test_conv2d_float32() -> None:
    x, w, b = torch.randn(2, 3, 9, 9), torch.randn(4, 3, 3, 3), torch.randn(4)
    y = conv2d(x, w, b, padding=1)
    assert y.dtype == torch.float32 and y.shape == (2, 4, 9, 9)
    torch.testing.assert_close(y, F.conv2d(x, w, b, padding=1), rtol=1e-5, atol=1e-5)


def test_conv2d_worked_example() -> None:
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    w = torch.tensor([[[[0.0, 1], [2, 3]]]])
    assert torch.equal(conv2d(x, w), torch.tensor([[[[19.0, 25.0], [37.0, 43.0]]]]))
    assert torch.equal(conv2d(x, w)[0, 0], cl.corr2d(x[0, 0], w[0, 0]))


def test_conv2d_module_parameter_shapes() -> None:
    layer = Conv2D(3, 8, kernel_size=(3, 5), padding=(1, 2))
    assert layer.weight.shape == (8, 3, 3, 5)
    assert layer.bias is not None and layer.bias.shape == (8,)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    no_bias = Conv2D(3, 8, kernel_size=3, bias=False)
    assert no_bias.bias is None
    assert [name for name, _ in no_bias.named_parameters()] == ["weight"]
    assert layer(torch.zeros(2, 3, 16, 16)).shape == (2, 8, 16, 16)


def test_conv2d_module_attributes_like_nn_conv2d() -> None:
    """Code written for nn.Conv2d (summaries, exporters) reads the same attributes here."""
    kw = dict(kernel_size=(3, 5), stride=2, padding=1, dilation=(1, 2), groups=2)
    ours, ref = Conv2D(4, 6, **kw), nn.Conv2d(4, 6, **kw)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "padding_mode"):
        assert getattr(ours, name) == getattr(ref, name), name


def test_conv2d_module_init_bounds_like_nn_conv2d() -> None:
    torch.manual_seed(0)
    layer = Conv2D(16, 32, kernel_size=3)
    fan_in = 16 * 3 * 3
    # kaiming_uniform_(a=sqrt(5)) draws from U(-b, b) with b = 1/sqrt(fan_in), like nn.Conv2d.
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):  # 4608 weights, 32 biases
        assert p.abs().max() <= bound
        assert p.abs().max() > 0.8 * bound  # actually spread over the interval
    ref = nn.Conv2d(16, 32, kernel_size=3)
    torch.testing.assert_close(layer.weight.std(), ref.weight.std(), rtol=0.1, atol=0)


def test_conv2d_module_same_output_as_nn_conv2d() -> None:
    torch.manual_seed(0)
    kw = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))
    ours = Conv2D(3, 5, kernel_size=(3, 2), **kw).double()
    ref = nn.Conv2d(3, 5, kernel_size=(3, 2), **kw).double()
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x = torch.randn(2, 3, 11, 10, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    ours(x).sum().backward()
    ref(x).sum().backward()
    torch.testing.assert_close(ours.weight.grad, ref.weight.grad)
    torch.testing.assert_close(ours.bias.grad, ref.bias.grad)


def test_conv2d_module_extra_repr() -> None:
    layer = Conv2D(3, 8, kernel_size=3, stride=2, padding=1)
    assert layer.extra_repr() == (
        "3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), bias=True"
    )
    assert repr(Conv2D(1, 1, kernel_size=(1, 2), bias=False)) == (
        "Conv2D(1, 1, kernel_size=(1, 2), stride=(1, 1), padding=(0, 0), dilation=(1, 1), bias=False)"
    )


def test_conv2d_module_bad_channels() -> None:
    with pytest.raises(ValueError, match=r"in_channels: expected an int >= 1, got 0"):
        Conv2D(0, 8, kernel_size=3)
    with pytest.raises(ValueError, match=r"out_channels: expected an int >= 1, got 2\.5"):
        Conv2D(3, 2.5, kernel_size=3)  # type: ignore[arg-type]


def test_conv2d_module_padding_strings_like_nn_conv2d() -> None:
    torch.manual_seed(0)
    for padding, k in (("same", 4), ("same", 3), ("valid", 3)):
        ours = Conv2D(2, 3, kernel_size=k, padding=padding, dilation=2).double()
        ref = nn.Conv2d(2, 3, kernel_size=k, padding=padding, dilation=2).double()
        with torch.no_grad():
            ref.weight.copy_(ours.weight)
            ref.bias.copy_(ours.bias)
        x = torch.randn(2, 2, 9, 10, dtype=torch.float64)
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
        assert ours.padding == padding and f"padding={padding}," in ours.extra_repr()  # as nn.Conv2d prints it
    with pytest.raises(ValueError, match=r"^padding='same': expected stride 1"):
        Conv2D(2, 3, kernel_size=3, padding="same", stride=2)  # refused when built, as nn.Conv2d does


def test_layer_padding_resolves_strings() -> None:
    assert cl.conv.layer_padding(nn.Conv2d(1, 1, 5, padding="same", dilation=2)) == (4, 4)
    assert cl.conv.layer_padding(Conv2D(1, 1, (3, 1), padding="same")) == (1, 0)
    assert cl.conv.layer_padding(nn.Conv2d(1, 1, 3, padding="valid")) == (0, 0)
    with pytest.raises(ValueError, match=r"^Conv2d\.padding: expected the same padding on both sides, got "
                                         r"padding='same' with a 2x2 kernel: \(0, 0\) before, \(1, 1\) after"):
        cl.conv.layer_padding(nn.Conv2d(1, 1, 2, padding="same"))


def test_conv2d_module_groups_like_nn_conv2d() -> None:
    torch.manual_seed(0)
    ours = Conv2D(4, 6, kernel_size=3, padding=1, groups=2).double()
    ref = nn.Conv2d(4, 6, kernel_size=3, padding=1, groups=2).double()
    assert ours.weight.shape == ref.weight.shape == (6, 2, 3, 3)  # (C_out, C_in/groups, k_h, k_w)
    bound = 1 / math.sqrt(2 * 3 * 3)  # fan_in is one kernel's size, as in nn.Conv2d
    assert ours.bias.abs().max() <= bound
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x = torch.randn(2, 4, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    assert "groups=2" in repr(ours) and "groups" not in repr(Conv2D(4, 6, 3))  # printed when set, as nn.Conv2d
    with pytest.raises(ValueError, match=r"^in_channels: expected a multiple of groups=2, got 3"):
        Conv2D(3, 6, kernel_size=3, groups=2)
    with pytest.raises(ValueError, match=r"^out_channels: expected a multiple of groups=4, got 6"):
        Conv2D(4, 6, kernel_size=3, groups=4)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_conv2d_module_padding_modes_like_nn_conv2d(mode: str, padding) -> None:
    torch.manual_seed(0)
    ours = Conv2D(2, 3, 4 if padding == "same" else 3, 1, padding, padding_mode=mode).double()  # positional, as torch
    ref = nn.Conv2d(2, 3, 4 if padding == "same" else 3, 1, padding, padding_mode=mode).double()
    with torch.no_grad():
        ref.weight.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
    x0 = torch.randn(2, 2, 6, 7, dtype=torch.float64)
    grads = []
    for layer in (ours, ref):
        x = x0.clone().requires_grad_()
        y = layer(x)
        y.sum().backward()
        grads.append((y, x.grad, layer.weight.grad))
    for a, e in zip(*grads):
        torch.testing.assert_close(a, e, rtol=1e-12, atol=1e-12)
    assert repr(ours).endswith(f"padding_mode={mode})")


def test_conv2d_module_factory_kwargs_and_bad_mode() -> None:
    layer = Conv2D(3, 4, 3, dtype=torch.float64, device="cpu")
    assert layer.weight.dtype == layer.bias.dtype == torch.float64 and layer.weight.device.type == "cpu"
    with pytest.raises(ValueError, match=r"^padding_mode: expected one of \['zeros', 'reflect', 'replicate', "
                                         r"'circular'\], got 'mirror'"):
        Conv2D(3, 4, 3, padding_mode="mirror")


# --- one image (C, H, W), as F.conv2d and nn.Conv2d take it ------------------------------------


@pytest.mark.parametrize("op", [conv2d, cl.conv.conv2d_unfold, cl.conv.conv2d_loop])
@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1), dict(padding="same"), dict(groups=2)])
def test_one_image_matches_torch_with_gradients(op, kwargs: dict) -> None:
    """(C_in, H, W) -> (C_out, H_out, W_out): outputs and the three gradients as F.conv2d's."""
    if op is cl.conv.conv2d_loop and kwargs.get("padding") == "same":
        kwargs = dict(padding=1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)  # (C_in, H, W)
    w = torch.randn(6, 4 // kwargs.get("groups", 1), 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(6, generator=g, dtype=torch.float64, requires_grad=True)
    out, ref = op(x, w, b, **kwargs), F.conv2d(x, w, b, **kwargs)
    assert out.shape == ref.shape and out.ndim == 3
    torch.testing.assert_close(out, ref)
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    grads = torch.autograd.grad(out, (x, w, b), up)
    for got, want in zip(grads, torch.autograd.grad(ref, (x, w, b), up)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect", "replicate", "circular"])
def test_layer_takes_one_image(padding_mode: str) -> None:
    """Conv2D on (C_in, H, W), every padding_mode, against nn.Conv2d with the same weights."""
    torch.manual_seed(0)
    layer = Conv2D(3, 5, 3, padding=1, padding_mode=padding_mode, dtype=torch.float64)
    ref = nn.Conv2d(3, 5, 3, padding=1, padding_mode=padding_mode, dtype=torch.float64)
    ref.load_state_dict(layer.state_dict())
    x = torch.randn(3, 8, 9, dtype=torch.float64, requires_grad=True)
    out, want = layer(x), ref(x)
    assert out.shape == (5, 8, 9)
    torch.testing.assert_close(out, want)
    out.sum().backward()
    gx = x.grad.clone()
    x.grad = None
    want.sum().backward()
    torch.testing.assert_close(gx, x.grad)
    torch.testing.assert_close(layer.weight.grad, ref.weight.grad)
    torch.testing.assert_close(layer.bias.grad, ref.bias.grad)


def test_arguments_in_torchs_order() -> None:
    """conv2d(x, w, b, stride, padding, dilation, groups), positional as F.conv2d takes them."""
    g = torch.Generator().manual_seed(3)
    x, b = torch.randn(2, 4, 9, 8, generator=g), torch.randn(6, generator=g)
    whole, grouped = torch.randn(6, 4, 3, 3, generator=g), torch.randn(6, 2, 3, 3, generator=g)
    for w, args in [(whole, (2,)), (whole, (2, 1)), (whole, ((1, 2), 1, 2)), (grouped, (1, "same", 1, 2))]:
        torch.testing.assert_close(conv2d(x, w, b, *args), F.conv2d(x, w, b, *args), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(conv2d_unfold(x, w, b, *args), F.conv2d(x, w, b, *args), rtol=1e-5, atol=1e-5)


def test_bias_as_a_list_says_it_wants_a_tensor() -> None:
    """conv2d(x, w, [0.] * 4) raised AttributeError: 'list' object has no attribute 'dtype'."""
    x, w = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    with pytest.raises(TypeError):
        F.conv2d(x, w, [0.0] * 4)
    with pytest.raises(TypeError, match=r"^bias: expected a tensor of shape \(4,\) \(one number per output channel\) or "
                                        r"None, got a list\. Fix: bias = torch\.tensor\(bias, dtype=x\.dtype\)"):
        conv2d(x, w, [0.0] * 4)
    with pytest.raises(TypeError, match=r"^weight: expected a torch\.Tensor, got list\. Fix: torch\.as_tensor\(weight"):
        conv2d(x, w.tolist())


@pytest.mark.parametrize("padding", [0, 1, "same"])
def test_an_image_without_rows_is_an_error_about_x_as_in_f_conv2d(padding) -> None:
    """torch.zeros(1, 1, 0, 5) with padding=1 failed in conv_output_size, whose message named the helper, not x."""
    x, w = torch.zeros(1, 1, 0, 5), torch.ones(1, 1, 1, 1)
    with pytest.raises(RuntimeError):
        F.conv2d(x, w, padding=padding)
    with pytest.raises(ConvlibInputError, match=r"^x: expected at least one row and one column \(H, W >= 1\), got shape "
                                                r"\(1, 1, 0, 5\)\. Fix: pass an image with pixels"):
        conv2d(x, w, padding=padding)
    assert conv2d(torch.zeros(0, 1, 3, 5), w, padding=padding).shape == F.conv2d(torch.zeros(0, 1, 3, 5), w, padding=padding).shape


@pytest.mark.parametrize(("mode", "shape", "padding", "got"), [
    ("reflect", (3, 3, 1), 2, r"^x: expected W >= 3 for padding_mode='reflect' with 2 padded cells on a side "
                              r"\(a reflection mirrors at most W - 1 cells\), got shape \(3, 3, 1\)\. Fix:"),
    ("reflect", (1, 3, 2, 7), (2, 1), r"^x: expected H >= 3 for padding_mode='reflect'"),
    ("circular", (2, 3, 8, 1), (0, 2), r"^x: expected W >= 2 for padding_mode='circular' with 2 padded cells .*"
                                      r"a wrap copies at most W cells"),
])
def test_padding_mode_border_larger_than_the_input_says_why(mode: str, shape: tuple, padding, got: str) -> None:
    """nn.Conv2d refuses these too, with F.pad's RuntimeError ("Padding size should be less than the
    corresponding input dimension"), which convlib passed on without expected / got / fix."""
    x = torch.randn(shape)
    with pytest.raises(RuntimeError):
        nn.Conv2d(3, 3, 3, padding=padding, padding_mode=mode)(x)
    with pytest.raises(ConvlibInputError, match=got):
        Conv2D(3, 3, 3, padding=padding, padding_mode=mode)(x)
    fits = torch.randn(*shape[:-2], 9, 9)  # large enough: both layers run, with the same numbers
    ours, ref = Conv2D(3, 3, 3, padding=padding, padding_mode=mode), nn.Conv2d(3, 3, 3, padding=padding, padding_mode=mode)
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(fits), ref(fits))


def test_layer_has_nn_conv2d_s_other_attributes() -> None:
    """transposed and output_padding, which code written for nn.Conv2d's base class reads."""
    ours, ref = Conv2D(3, 4, 3), nn.Conv2d(3, 4, 3)
    assert (ours.transposed, ours.output_padding) == (ref.transposed, ref.output_padding) == (False, (0, 0))
