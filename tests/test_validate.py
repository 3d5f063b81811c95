"""convlib.validate: every bad input names what was expected, what came, and the fix."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import convlib as cl
from convlib.validate import (
    ConvlibInputError,
    as_pair,
    as_tensor_2d,
    check_batch,
    check_fits,
    check_float,
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


@pytest.mark.parametrize("value", [1.5, (3,), (1, 2, 3), "3", (2, 2.0)])
def test_not_an_int_pair(value: object) -> None:
    with pytest.raises(TypeError, match=rf"^kernel_size: expected an int or a pair of ints such as \(3, 3\), got {re.escape(repr(value))}\."):
        cl.Conv2D(3, 8, kernel_size=value)  # type: ignore[arg-type]


def test_bool_is_not_a_size() -> None:
    with pytest.raises(TypeError, match=r"^stride: expected an int or a pair of ints, got a bool \(True\)"):
        cl.conv2d(torch.randn(1, 3, 8, 8), W3, stride=True)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_non_float_input(dtype: torch.dtype) -> None:
    x = torch.zeros(2, 3, 8, 8, dtype=dtype)
    msg = rf"^x: expected a floating-point tensor, got dtype {dtype}\. Fix: x\.float\(\)"
    with pytest.raises(TypeError, match=msg):
        cl.conv2d(x, W3)
    with pytest.raises(TypeError, match=msg):
        cl.pool2d(x, 2)
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
        ((3, 8, 8), r"x\.unsqueeze\(0\) adds the batch dimension: \(1, C, H, W\)"),
        ((8, 8), r"x\[None, None\] makes a \(1, 1, H, W\) batch"),
        ((1, 1, 3, 8, 8), r"reshape to \(N, C, H, W\)"),
    ],
)
def test_wrong_number_of_dims(shape: tuple[int, ...], fix: str) -> None:
    weight = torch.randn(2, shape[-3] if len(shape) >= 3 else 1, 3, 3)
    msg = rf"^x: expected a 4-D batch \(N, C, H, W\), got {len(shape)}-D shape {re.escape(str(shape))}\. Fix: {fix}"
    with pytest.raises(ConvlibInputError, match=msg):
        cl.conv2d(torch.randn(shape), weight)


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
