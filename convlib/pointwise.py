"""The 1x1 convolution (1×1卷积) as what it is: a matrix product over channels.

A ``1 x 1`` kernel sees one pixel at a time, so each output pixel is a linear
mix of the ``C_in`` values at the same pixel: a fully connected layer applied
at every position with shared weights. Flatten the pixels into columns and
one matrix product does all of them at once.
"""

from __future__ import annotations

import torch

from convlib._torchlike import autocast, channels_last, is_image
from convlib.validate import ConvlibInputError, check_float, check_pixels, check_weight_and_bias, integer_kernels

__all__ = ["conv1x1"]


def _weight_matrix(weight: torch.Tensor, integers: tuple[torch.dtype, ...] = ()) -> torch.Tensor:
    """``(C_out, C_in)`` or ``(C_out, C_in, 1, 1)`` -> ``(C_out, C_in)`` (of a floating dtype, or one of ``integers``)."""
    check_float(weight, "weight", integers=integers)
    if weight.ndim == 4 and tuple(weight.shape[2:]) == (1, 1):
        return weight.reshape(weight.shape[0], weight.shape[1])  # (C_out, C_in)
    if weight.ndim == 2:
        return weight
    raise ConvlibInputError(
        f"weight: expected (C_out, C_in) or (C_out, C_in, 1, 1), got shape "
        f"{tuple(weight.shape)}. Fix: a 1x1 convolution has a 1x1 kernel; for larger "
        "kernels use convlib.conv2d."
    )


def conv1x1(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """A 1x1 convolution computed as ``weight @ pixels``.

    Shapes: ``x (N, C_in, H, W)`` or ``(C_in, H, W)``; ``weight (C_out, C_in)``
    or ``(C_out, C_in, 1, 1)`` (the ``nn.Conv2d`` layout); ``bias (C_out,)``.
    Returns ``(N, C_out, H, W)`` or ``(C_out, H, W)``, the same rank as ``x``:
    height and width never change. Equals
    ``F.conv2d(x, weight.reshape(C_out, C_in, 1, 1), bias)``; like it, it wants
    ``weight`` and ``bias`` in ``x``'s dtype (a mismatch raises, nothing is cast),
    computes in ``torch.autocast``'s dtype inside an autocast block, returns
    a channels-last result for a channels-last ``x`` or 4-D ``weight``, and mixes integer channels
    with integer weights exactly, in their dtype (wrapping around as torch's integers do).

    >>> x = torch.arange(8.).reshape(2, 2, 2)        # (C_in=2, H=2, W=2)
    >>> # sum and difference of the channels
    >>> w = torch.tensor([[1., 1.], [1., -1.]])
    >>> conv1x1(x, w)
    tensor([[[ 4.,  6.],
             [ 8., 10.]],
    <BLANKLINE>
            [[-4., -4.],
             [-4., -4.]]])
    """
    ints = integer_kernels(x, weight)  # integer x and weight: integer sums, as F.conv2d's
    check_float(x, "x", integers=ints)
    w = _weight_matrix(weight, ints)  # (C_out, C_in)
    if x.ndim not in (3, 4):
        raise ConvlibInputError(
            f"x: expected (N, C_in, H, W) or (C_in, H, W), got {x.ndim}-D shape "
            f"{tuple(x.shape)}. Fix: a single-channel matrix M becomes M[None]."
        )
    single = is_image(x)  # one image (C_in, H, W): run as a batch of one
    x4 = x[None] if single else x  # (N, C_in, H, W)
    n, c_in, h, wd = x4.shape
    c_out = w.shape[0]
    check_pixels(x)  # F.conv2d refuses an image without pixels too
    if w.shape[1] != c_in:
        raise ConvlibInputError(
            f"weight: expected {c_in} input channels (x has {c_in}), got weight shape "
            f"{tuple(weight.shape)} with C_in={w.shape[1]}. Fix: weight of shape "
            f"({c_out}, {c_in})."
        )
    check_weight_and_bias(x4, w, bias, c_out)  # one dtype for all three, as F.conv2d requires
    x4, w, bias = autocast(x4, w, bias)  # inside torch.autocast: its dtype, as F.conv2d
    # channels-last x (pixels already lie channel after channel) or a channels-last (C_out, C_in, 1, 1)
    # weight: one row per pixel, and the output channels-last, as F.conv2d stores it
    if channels_last(x4) or channels_last(weight):  # a 2-D weight never counts
        rows = x4.permute(0, 2, 3, 1).reshape(n, h * wd, c_in)  # (N, H*W, C_in), no copy for a channels-last x
        out = rows @ w.t()  # (N, H*W, C_out)
        if bias is not None:
            out = out + bias
        return out.view(n, h, wd, c_out).permute(0, 3, 1, 2)[0 if single else slice(None)]  # (N, C_out, H, W), channels-last
    pixels = x4.reshape(n, c_in, h * wd)  # (N, C_in, H*W): a column per pixel
    # one (C_out, C_in) @ (C_in, H*W) product per image; a broadcast
    # w @ pixels would hand pixels a gradient with transposed strides,
    # where F.conv2d's is contiguous like x
    out = torch.bmm(w.expand(n, c_out, c_in), pixels)  # (N, C_out, H*W)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1)
    out = out.reshape(n, c_out, h, wd)  # (N, C_out, H, W)
    return out[0] if single else out
