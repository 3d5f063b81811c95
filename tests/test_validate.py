"""convlib.validate: every bad input names what was expected, what came, and the fix."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convlib as cl
from convlib.validate import (
    ConvlibInputError,
    as_pair,
    as_tensor_2d,
    check_batch,
    check_fits,
    check_float,
    check_groups,
    check_int,
)

W3 = torch.randn(8, 3, 3, 3)  # (C_out, C_in, k_h, k_w) with C_in = 3


def test_error_class_is_a_value_error() -> None:
    assert issubclass(ConvlibInputError, ValueError)
    assert cl.ConvlibInputError is ConvlibInputError


# --- the message format: expected ..., got ... . Fix: ... -------------------------------------


def test_kernel_larger_than_input() -> None:
    with pytest.raises(ConvlibInputError, match=r"^weight: expected a window no larger than the padded input 2x2, got a 3x3 window\. Fix: use a smaller kernel, more padding, or a larger input"):
        cl.conv2d(torch.randn(2, 3, 2, 2), W3)
    cl.conv2d(torch.randn(2, 3, 2, 2), W3, padding=1)  # padding makes it fit


def test_dilated_kernel_larger_than_padded_input() -> None:
    with pytest.raises(ConvlibInputError, match=r"padded input 4x4, got a 5x5 window"):
        cl.conv2d(torch.randn(1, 3, 2, 2), W3, padding=1, dilation=2)  # span 2 * (3 - 1) + 1


def test_pool_window_larger_than_input() -> None:
    with pytest.raises(ConvlibInputError, match=r"^kernel_size: expected a window no larger than the padded input 4x4, got a 5x5 window\. Fix: "):
        cl.pool2d(torch.randn(2, 3, 4, 4), 5)


def test_channel_mismatch() -> None:
    with pytest.raises(ConvlibInputError, match=r"^x: expected 3 input channels \(the weight's C_in\), got 4 channels in shape \(2, 4, 32, 32\)\. Fix: make the layer's in_channels match the data"):
        cl.conv2d(torch.randn(2, 4, 32, 32), W3)
    with pytest.raises(ConvlibInputError, match=r"expected 3 input channels"):
        cl.Conv2D(3, 8, kernel_size=3)(torch.randn(2, 1, 28, 28))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_last_image(channels: int) -> None:
    x = torch.randn(2, 32, 32, channels)  # (N, H, W, C): how PIL / NumPy store images
    msg = (rf"^x: expected channels first \(N, C, H, W\) with C={channels}, got shape "
           rf"\(2, 32, 32, {channels}\), which looks channels-last \(N, H, W, C\)\. "
           r"Fix: x\.permute\(0, 3, 1, 2\)")
    with pytest.raises(ConvlibInputError, match=msg):
        cl.conv2d(x, torch.randn(8, channels, 3, 3))
    with pytest.raises(ConvlibInputError, match=r"x\.permute\(0, 3, 1, 2\)"):
        cl.Conv2D(channels, 8, kernel_size=3)(x)
    # ... and the suggested fix works.
    assert cl.conv2d(x.permute(0, 3, 1, 2), torch.randn(8, channels, 3, 3)).shape == (2, 8, 30, 30)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: cl.conv2d(torch.randn(1, 3, 8, 8), W3, stride=0),
         r"^stride: expected values >= 1, got 0\. Fix: use stride=1 or larger"),
        (lambda: cl.conv2d(torch.randn(1, 3, 8, 8), W3, stride=(1, 0)),
         r"^stride: expected values >= 1, got \(1, 0\)\. Fix: use stride=1"),
        (lambda: cl.conv2d(torch.randn(1, 3, 8, 8), W3, dilation=0),
         r"^dilation: expected values >= 1, got 0\. Fix: use dilation=1"),
        (lambda: cl.conv2d(torch.randn(1, 3, 8, 8), W3, padding=-1),
         r"^padding: expected values >= 0, got -1\. Fix: use padding=0 or larger \(0 means no padding\)"),
        (lambda: cl.conv2d(torch.randn(1, 3, 8, 8), torch.randn(8, 3, 0, 3)),
         r"^weight: expected every size >= 1 in \(C_out, C_in, k_h, k_w\), got shape \(8, 3, 0, 3\)\. Fix: "),
        (lambda: cl.Conv2D(3, 8, kernel_size=0),
         r"^kernel_size: expected values >= 1, got 0\. Fix: use kernel_size=1 or larger"),
        (lambda: cl.Conv2D(3, 8, kernel_size=(3, 0)),
         r"^kernel_size: expected values >= 1, got \(3, 0\)"),
        (lambda: cl.Conv2D(3, 8, kernel_size=3, stride=0),
         r"^stride: expected values >= 1, got 0\. Fix: use stride=1"),
        (lambda: cl.pool2d(torch.randn(4, 4), 0),
         r"^kernel_size: expected values >= 1, got 0\. Fix: use kernel_size=1"),
        (lambda: cl.pool2d(torch.randn(4, 4), 2, stride=0),
         r"^stride: expected values >= 1, got 0\. Fix: use stride=1"),
        (lambda: cl.pool2d(torch.randn(4, 4), 2, padding=-1),
         r"^padding: expected values >= 0, got -1\. Fix: use padding=0"),
    ],
)
def test_sizes_below_minimum(call, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=match):
        call()


@pytest.mark.parametrize(("value", "got"), [
    (1.5, r"1\.5 \(a float\)\. Fix: whole numbers only"),
    ("3", r"'3' \(a str\)\. Fix: "),
    (np.float64(3.0), r"np\.float64\(3\.0\) \(a float64\)\. Fix: "),
    ((1, 2, 3), r"3 values \(1, 2, 3\)\. Fix: one value per spatial axis"),
    ((2, 2.0), r"\(2, 2\.0\), which holds 2\.0 \(a float\)\. Fix: "),
    ((3,), r"the 1-tuple \(3,\)\. Fix: kernel_size=3 or kernel_size=\(3, 3\) \(torch\.nn\.Conv2d makes a 3-D weight"),
])
def test_not_an_int_pair(value: object, got: str) -> None:
    """The message names the type that came (or the element that is not a whole number)."""
    with pytest.raises(TypeError, match=rf"^kernel_size: expected an int or a pair of ints such as \(3, 3\), got {got}"):
        cl.Conv2D(3, 8, kernel_size=value)  # type: ignore[arg-type]


def test_bool_is_not_a_size() -> None:
    with pytest.raises(TypeError, match=r"^stride: expected an int or a pair of ints such as \(3, 3\), got True \(a bool\)"):
        cl.conv2d(torch.randn(1, 3, 8, 8), W3, stride=True)
    with pytest.raises(TypeError, match=r"got \(1, False\), which holds False \(a bool\)"):
        cl.conv2d(torch.randn(1, 3, 8, 8), W3, stride=(1, False))
    with pytest.raises(TypeError, match=r"got tensor\(True\) \(a Tensor\)"):
        cl.conv2d(torch.randn(1, 3, 8, 8), W3, stride=torch.tensor(True))


@pytest.mark.parametrize("kwargs", [
    dict(stride=np.int64(2)), dict(padding=np.int32(1)), dict(dilation=np.int64(2)), dict(groups=np.int64(1)),
    dict(stride=(np.int64(2), np.int16(1))),
    dict(stride=(2,)), dict(padding=(1,)), dict(dilation=(2,)), dict(stride=[2], padding=[np.int64(1)]),
])
def test_numpy_ints_and_1_tuples_as_torch_takes_them(kwargs: dict) -> None:
    """F.conv2d takes NumPy integers and 1-tuples ((2,) means (2, 2)); so do conv2d and Conv2D."""
    x = torch.randn(2, 3, 9, 9, dtype=torch.float64)
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(cl.conv2d(x, w, **kwargs), F.conv2d(x, w, **kwargs))
    layer_kwargs = {k: v for k, v in kwargs.items() if k != "groups"}
    layer = cl.Conv2D(np.int64(3), np.int64(4), np.int64(3), **layer_kwargs, dtype=torch.float64)
    ref = nn.Conv2d(3, 4, 3, **layer_kwargs, dtype=torch.float64)
    ref.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(x), ref(x))
    assert type(layer.in_channels) is int and type(layer.out_channels) is int and type(layer.groups) is int


def test_integer_tensor_as_stride() -> None:
    """F.conv2d takes a one-element integer tensor as a stride (it has __index__); so does conv2d."""
    x, w = torch.randn(1, 3, 9, 9, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(cl.conv2d(x, w, stride=torch.tensor(2)), F.conv2d(x, w, stride=torch.tensor(2)))


def test_numpy_ints_in_the_other_ops() -> None:
    i = np.int64
    assert cl.conv_output_size(i(8), i(3), padding=i(1), stride=i(2)) == 4
    assert type(cl.conv_output_size(i(8), i(3))) is int
    assert cl.conv_transpose_output_size(i(4), i(3), padding=i(1), stride=i(2), output_padding=i(1)) == 8
    assert cl.conv_params(i(3), i(6), i(5)) == cl.conv_params(3, 6, (5, 5)) == 456
    assert cl.conv_macs(i(3), i(6), (i(5), 5), i(28), i(28)) == 352800
    assert cl.linear_params(i(64), i(32)) == 64 * 32 + 32
    assert cl.locally_connected_params(i(3), i(10), (5,), i(32)) == 778240
    assert cl.human_bytes(i(3040)) == "3.04 kB"
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(cl.pool2d(x, (i(2),), stride=i(2), padding=(1,)), F.max_pool2d(x, (2,), 2, (1,)))
    torch.testing.assert_close(cl.pool2d(x, i(3), mode="avg"), F.avg_pool2d(x, i(3)))
    assert cl.pool.adaptive_window(i(13), i(6), i(1)) == (2, 5)


def test_conv_params_refuses_a_1_tuple_kernel_as_nn_conv2d_does() -> None:
    """nn.Conv2d(3, 6, (5,)) has a 3-D weight (6, 3, 5) and fails at its first call: no 2-D count to give."""
    with pytest.raises(TypeError, match=r"^kernel_size: .*got the 1-tuple \(5,\)"):
        cl.conv_params(3, 6, (5,))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: cl.conv_output_size(7.0, 3), r"^conv_output_size: expected n to be an int >= 1, got 7\.0 \(a float\)\. Fix: pass n=1"),
    (lambda: cl.conv_params(True, 6, 5), r"^c_in: expected an int >= 1, got True \(a bool\)\. Fix: pass c_in=1 or larger"),
    (lambda: cl.human_bytes(np.float32(3)), r"^n: expected an int >= 0, got np\.float32\(3\.0\) \(a float32\)\. Fix: pass a whole number"),
    (lambda: cl.locally_connected_params(np.int64(0), 2, 3, 4), r"^c_in: expected an int >= 1, got np\.int64\(0\)\. Fix: pass c_in=1"),
    (lambda: cl.pool.adaptive_window(7, 2, np.int64(2)), r"^i: expected an output index from 0 to 1, got np\.int64\(2\)\. Fix: i in range"),
    (lambda: cl.Conv2D(3, 8, 3, groups=1.0), r"^groups: expected an int >= 1, got 1\.0 \(a float\)\. Fix: groups=1 is an ordinary"),
    (lambda: cl.Conv2D("3", 8, 3), r"^in_channels: expected an int >= 1, got '3' \(a str\)\. Fix: the channels"),
    (lambda: cl.conv2d(torch.randn(1, 3, 8, 8), W3, groups=True), r"^groups: expected an int >= 1, got True \(a bool\)"),
])
def test_int_messages_name_the_type_that_came(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_check_int() -> None:
    assert check_int(3, "k", minimum=1) == 3
    assert type(check_int(np.int64(3), "k")) is int
    assert check_int(torch.tensor(4), "k", maximum=4) == 4
    assert check_int(-5, "seed") == -5
    for bad, got in ((True, r"True \(a bool\)"), (np.bool_(True), r"np\.True_ \(a bool\)"),
                     (2.0, r"2\.0 \(a float\)"), (None, r"None \(a NoneType\)"), ("1", r"'1' \(a str\)")):
        with pytest.raises(ConvlibInputError, match=rf"^k: expected an int >= 1, got {got}\. Fix: pass a whole number, e.g\. k=1$"):
            check_int(bad, "k", minimum=1)
    with pytest.raises(ConvlibInputError, match=r"^k: expected an int >= 1, got 0\. Fix: use k=1 or larger$"):
        check_int(0, "k", minimum=1)
    with pytest.raises(ConvlibInputError, match=r"^k: expected an int from 0 to 3, got 4\. Fix: pick k from 0 to 3$"):
        check_int(4, "k", minimum=0, maximum=3)
    with pytest.raises(ConvlibInputError, match=r"^k: expected an int <= 3, got 4\. Fix: use k=3 or smaller$"):
        check_int(4, "k", maximum=3)
    with pytest.raises(LookupError, match=r"k: expected a small one, got 9\. Fix: less$"):
        check_int(9, "k", maximum=3, expected="a small one", fix="less", error=LookupError)
    assert check_groups(np.int64(2), 4) == 2 and type(check_groups(np.int64(2), 4)) is int


def test_check_int_is_exported() -> None:
    import convlib.validate as validate

    assert "check_int" in validate.__all__


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_non_float_input(dtype: torch.dtype) -> None:
    x = torch.zeros(2, 3, 8, 8, dtype=dtype)
    msg = rf"^x: expected a floating-point tensor, got dtype {dtype}\. Fix: x\.float\(\)"
    with pytest.raises(TypeError, match=msg):
        cl.conv2d(x, W3)
    with pytest.raises(TypeError, match=msg):
        cl.Conv2D(3, 8, kernel_size=3)(x)


def test_uint8_hint_mentions_255() -> None:
    with pytest.raises(TypeError, match=r"uint8 also want / 255"):
        cl.conv2d(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), W3)


def test_non_float_weight() -> None:
    with pytest.raises(TypeError, match=r"^weight: expected a floating-point tensor, got dtype torch\.int64\. Fix: weight\.float\(\)"):
        cl.conv2d(torch.randn(1, 3, 8, 8), W3.long())


def test_not_a_tensor() -> None:
    with pytest.raises(TypeError, match=r"^x: expected a torch\.Tensor, got list\. Fix: torch\.as_tensor\(x, dtype=torch\.float32\)"):
        cl.conv2d([[1.0]], W3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^x: expected a torch\.Tensor, got ndarray"):
        cl.pool2d(np.zeros((4, 4)), 2)  # type: ignore[arg-type]


def test_mixed_dtypes() -> None:
    x = torch.randn(1, 3, 8, 8)  # float32
    with pytest.raises(ConvlibInputError, match=r"^weight: expected the dtype of x \(torch\.float32\), got torch\.float64\. Fix: x = x\.to\(weight\.dtype\)"):
        cl.conv2d(x, W3.double())
    with pytest.raises(ConvlibInputError, match=r"^bias: expected the dtype of x \(torch\.float32\), got torch\.float64\. Fix: "):
        cl.conv2d(x, W3, torch.zeros(8, dtype=torch.float64))
    with pytest.raises(ConvlibInputError, match=r"layer\.to\(x\.dtype\)"):
        cl.Conv2D(3, 8, kernel_size=3)(x.double())


@pytest.mark.parametrize(
    ("shape", "fix"),
    [
        ((8, 8), r"x\[None\] makes a one-channel image \(1, H, W\)"),
        ((1, 1, 3, 8, 8), r"merge the extra axis into the batch, e.g\. x\.flatten\(0, 1\)"),
        ((8,), r"reshape to \(N, C, H, W\)"),
    ],
)
def test_wrong_number_of_dims(shape: tuple[int, ...], fix: str) -> None:
    """A batch (N, C, H, W) or one image (C, H, W), as F.conv2d takes; other ranks are refused."""
    weight = torch.randn(2, shape[-3] if len(shape) >= 3 else 1, 3, 3)
    msg = (rf"^x: expected a 4-D batch \(N, C, H, W\) or one 3-D image \(C, H, W\), got {len(shape)}-D shape "
           rf"{re.escape(str(shape))}\. Fix: {fix}")
    for op in (cl.conv2d, cl.conv_transpose2d, lambda x, w: cl.Conv2D(1, 2, 3)(x),
               lambda x, w: cl.Conv2D(1, 2, 3, padding=1, padding_mode="reflect")(x)):
        with pytest.raises(ConvlibInputError, match=msg):
            op(torch.randn(shape), weight)


def test_batch_check_without_images_keeps_its_hint() -> None:
    """check_batch alone (image=False) still asks for a batch and says how to add its axis."""
    with pytest.raises(ConvlibInputError, match=r"^x: expected a 4-D batch \(N, C, H, W\), got 3-D shape \(3, 8, 8\)\. "
                                                r"Fix: x\.unsqueeze\(0\) adds the batch dimension"):
        check_batch(torch.randn(3, 8, 8))
    check_batch(torch.randn(3, 8, 8), image=True, channels=3)


@pytest.mark.parametrize(("shape", "permute"), [((2, 8, 8, 3), r"x\.permute\(0, 3, 1, 2\)"),
                                                 ((8, 8, 3), r"x\.permute\(2, 0, 1\)")])
def test_channels_last_hint_for_batches_and_images(shape: tuple[int, ...], permute: str) -> None:
    """An NHWC batch, or an HWC image, is named as channels-last, with the permute that fixes it."""
    layout = r"\(N, H, W, C\)" if len(shape) == 4 else r"\(H, W, C\)"
    for op in (lambda x: cl.conv2d(x, W3), lambda x: cl.Conv2D(3, 8, 3)(x),
               lambda x: cl.conv_transpose2d(x, torch.randn(3, 2, 3, 3))):
        with pytest.raises(ConvlibInputError, match=rf"^x: expected channels first .* with C=3, got shape "
                                                     rf"{re.escape(str(shape))}, which looks channels-last {layout}\. Fix: {permute}"):
            op(torch.randn(shape))


def test_wrong_weight_dims() -> None:
    with pytest.raises(ConvlibInputError, match=r"^weight: expected 4-D \(C_out, C_in, k_h, k_w\), got 2-D shape \(3, 3\)\. Fix: a single 2-D kernel K becomes K\[None, None\]"):
        cl.conv2d(torch.randn(1, 1, 8, 8), torch.randn(3, 3))


@pytest.mark.parametrize("shape", [(), (3,), (8, 1), (1, 8)])
def test_bad_bias_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ConvlibInputError, match=rf"^bias: expected shape \(8,\) \(one per output channel\), got {re.escape(str(shape))}\. Fix: bias = torch\.zeros\(8\)"):
        cl.conv2d(torch.randn(1, 3, 8, 8), W3, torch.zeros(shape))


def test_pool_wrong_dims() -> None:
    with pytest.raises(ConvlibInputError, match=r"^x: expected \(H, W\), \(C, H, W\) or \(N, C, H, W\), got 5-D shape \(1, 2, 3, 4, 4\)\. Fix: reshape to \(N, C, H, W\)"):
        cl.pool2d(torch.randn(1, 2, 3, 4, 4), 2)
    with pytest.raises(ConvlibInputError, match=r"got 1-D shape \(4,\)"):
        cl.pool2d(torch.randn(4), 2)


# --- the helpers themselves --------------------------------------------------------------------


def test_as_pair() -> None:
    assert as_pair(3, "k") == (3, 3)
    assert as_pair((1, 2), "k") == (1, 2)
    assert as_pair([4, 5], "k") == (4, 5)
    assert as_pair(0, "padding", minimum=0) == (0, 0)


def test_as_tensor_2d() -> None:
    assert as_tensor_2d([[1, 2]], "X").dtype == torch.float32
    assert as_tensor_2d(np.ones((2, 2)), "X").dtype == torch.float64  # floats keep their dtype
    t = torch.ones(2, 2, dtype=torch.float64)
    assert as_tensor_2d(t, "X") is t


def test_as_tensor_2d_dtype() -> None:
    """Lists follow torch's default dtype unless a dtype is asked for; tensors keep theirs."""
    assert as_tensor_2d([[0.1]], "X").dtype == torch.float32  # as torch.tensor, so ops match torch
    assert as_tensor_2d([[0.1]], "X", dtype=torch.float64).item() == 0.1
    assert as_tensor_2d(np.array([[0.1]]), "X", dtype=torch.float64).item() == 0.1
    assert as_tensor_2d(torch.ones(2, 2, dtype=torch.float64), "X").dtype == torch.float64
    assert as_tensor_2d(torch.ones(2, 2, dtype=torch.int64), "X", dtype=torch.float64).dtype == torch.float64
    with pytest.raises(ConvlibInputError, match="2-D matrix"):
        as_tensor_2d([0.1], "X", dtype=torch.float64)
    with pytest.raises(ConvlibInputError, match=r"^K: expected a rectangular array .*got ragged nested lists .*Fix: "):
        as_tensor_2d([[1.0, 2.0], [3.0]], "K")  # torch's own ValueError names no argument


def test_check_float_and_batch_accept_good_input() -> None:
    check_float(torch.ones(1), "x")
    check_batch(torch.ones(2, 3, 4, 4), channels=3)
    check_batch(torch.ones(2, 5, 4, 3))  # no channel count given: nothing to compare
    check_fits((4, 4), (4, 4), (0, 0))
    check_fits((2, 2), (4, 4), (1, 1))


@pytest.mark.parametrize("padding, kernel, dilation, expected", [
    (2, (3, 3), (1, 1), ((2, 2), (2, 2))),
    ((0, 1), (3, 3), (1, 1), ((0, 1), (0, 1))),
    ("valid", (5, 2), (1, 1), ((0, 0), (0, 0))),
    ("same", (3, 5), (1, 1), ((1, 2), (1, 2))),
    ("same", (4, 2), (1, 1), ((1, 0), (2, 1))),   # even: the extra zero after
    ("same", (4, 3), (2, 1), ((3, 1), (3, 1))),   # dilation 2 spans 7 cells: even again
])
def test_resolve_padding_agrees_with_torch(padding, kernel, dilation, expected) -> None:
    from convlib.validate import resolve_padding

    assert resolve_padding(padding, kernel, dilation=dilation) == expected
    (top, left), (bottom, right) = expected
    x, w = torch.randn(1, 1, 9, 9), torch.randn(1, 1, *kernel)
    by_hand = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (left, right, top, bottom)), w, dilation=dilation)
    torch.testing.assert_close(by_hand, torch.nn.functional.conv2d(x, w, padding=padding, dilation=dilation))
