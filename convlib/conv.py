"""Batched 2-D convolution built from tensor ops: im2col (unfold) + matmul.

``conv2d`` computes what ``torch.nn.functional.conv2d`` computes (a
cross-correlation, as every deep-learning library does) but from parts a reader
can follow: gather every receptive field into a column, then one matrix product
applies all kernels to all columns.
"""

from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from convlib.validate import as_pair, check_batch, check_fits, check_float, ConvlibInputError

__all__ = ["conv2d", "Conv2D"]


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """2-D convolution (cross-correlation) of a batch.

    Shapes: ``x (N, C_in, H, W)``, ``weight (C_out, C_in, k_h, k_w)``,
    ``bias (C_out,)`` -> ``(N, C_out, H_out, W_out)`` with
    ``H_out = conv_output_size(H, k_h, padding=p, stride=s, dilation=d)``.
    Differentiable in ``x``, ``weight`` and ``bias`` through autograd.

    >>> x = torch.arange(9.).reshape(1, 1, 3, 3)
    >>> w = torch.tensor([[[[0., 1], [2, 3]]]])
    >>> conv2d(x, w)
    tensor([[[[19., 25.],
              [37., 43.]]]])
    >>> conv2d(x, w, padding=1, stride=2).shape
    torch.Size([1, 1, 2, 2])
    """
    check_float(weight, "weight")
    if weight.ndim != 4:
        raise ConvlibInputError(
            f"weight: expected 4-D (C_out, C_in, k_h, k_w), got {weight.ndim}-D shape "
            f"{tuple(weight.shape)}. Fix: a single 2-D kernel K becomes K[None, None]."
        )
    if weight.numel() == 0:
        raise ConvlibInputError(
            f"weight: expected every size >= 1 in (C_out, C_in, k_h, k_w), got shape "
            f"{tuple(weight.shape)}. Fix: kernel_size, in_channels and out_channels must be >= 1."
        )
    c_out, c_in, kh, kw = weight.shape
    check_batch(x, "x", channels=c_in)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise ConvlibInputError(
                f"{name}: expected the dtype of x ({x.dtype}), got {t.dtype}. "
                f"Fix: x = x.to({name}.dtype) (or layer.to(x.dtype) for a layer)."
            )
    s = as_pair(stride, "stride")
    p = as_pair(padding, "padding", minimum=0)
    d = as_pair(dilation, "dilation")
    span = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    check_fits(tuple(x.shape[2:]), span, p, name="weight")
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ConvlibInputError(
            f"bias: expected shape ({c_out},) (one per output channel), got "
            f"{tuple(bias.shape)}. Fix: bias = torch.zeros({c_out})."
        )
    n, _, h, w = x.shape
    h_out = (h + 2 * p[0] - span[0]) // s[0] + 1
    w_out = (w + 2 * p[1] - span[1]) // s[1] + 1
    cols = F.unfold(x, (kh, kw), dilation=d, padding=p, stride=s)  # (N, C_in*k_h*k_w, L)
    out = weight.reshape(c_out, -1) @ cols  # (N, C_out, L)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1)
    return out.reshape(n, c_out, h_out, w_out)  # (N, C_out, H_out, W_out)


class Conv2D(nn.Module):
    """A convolution layer: learnable kernels ``(C_out, C_in, k_h, k_w)`` and biases.

    Same constructor and initialisation as ``torch.nn.Conv2d`` for the
    arguments it shares, computed by :func:`conv2d`.

    >>> layer = Conv2D(3, 8, kernel_size=3, padding=1)
    >>> layer(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 8, 32, 32])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        kh, kw = as_pair(kernel_size, "kernel_size")
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}.")
        self.stride = as_pair(stride, "stride")
        self.padding = as_pair(padding, "padding", minimum=0)
        self.dilation = as_pair(dilation, "dilation")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights and uniform biases, as ``nn.Conv2d`` does."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``."""
        return conv2d(
            x, self.weight, self.bias,
            stride=self.stride, padding=self.padding, dilation=self.dilation,
        )

    def extra_repr(self) -> str:
        c_out, c_in, kh, kw = self.weight.shape
        return (f"{c_in}, {c_out}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}")
