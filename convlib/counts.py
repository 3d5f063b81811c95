"""What a convolution layer costs: learnable parameters and multiply-adds.

A layer with ``C_out`` kernels of shape ``(C_in, k_h, k_w)`` stores
``C_out * C_in * k_h * k_w`` weights plus ``C_out`` biases. Each output value
is one kernel's dot product with one window, ``C_in * k_h * k_w``
multiply-accumulates (MACs, 乘加运算), so the whole output
``(C_out, H_out, W_out)`` costs ``C_out * H_out * W_out * C_in * k_h * k_w`` MACs
per image. Bias additions are not counted, as is customary.
"""

from __future__ import annotations

from typing import Sequence

from convlib.validate import ConvlibInputError, as_pair, check_groups, check_int

__all__ = ["conv_params", "conv_macs", "linear_params"]


def _positive(name: str, value: int) -> int:
    return check_int(value, name, minimum=1, fix=f"pass {name}=1 or larger")


def _channels(c_in: int, c_out: int, groups: int) -> tuple[int, int, int]:
    """``c_in, c_out, groups`` checked as ``nn.Conv2d`` checks them: ``groups`` divides both channel counts."""
    c_in, c_out = _positive("c_in", c_in), _positive("c_out", c_out)
    groups = check_groups(groups)
    for name, value in (("c_in", c_in), ("c_out", c_out)):
        if value % groups:
            raise ConvlibInputError(
                f"{name}: expected a multiple of groups={groups} (as nn.Conv2d requires), got {value}. "
                f"Fix: every group gets {name}/groups channels; change {name} or groups."
            )
    return c_in, c_out, groups


def conv_params(
    c_in: int, c_out: int, kernel_size: int | Sequence[int], *, bias: bool = True, groups: int = 1
) -> int:
    """Learnable parameters of ``nn.Conv2d(c_in, c_out, kernel_size, bias=bias, groups=groups)``.

    With ``groups`` each of the ``c_out`` kernels is only ``c_in / groups`` channels deep.

    >>> conv_params(3, 6, 5)          # six 5x5x3 filters, one bias each
    456
    >>> conv_params(3, 10, 5)         # the parameter-sharing example: 750 + 10
    760
    >>> conv_params(64, 32, 1, bias=False)
    2048
    >>> conv_params(32, 32, 3, groups=32)  # depthwise: one 3x3 kernel per channel
    320
    """
    c_in, c_out, groups = _channels(c_in, c_out, groups)
    kh, kw = as_pair(kernel_size, "kernel_size", single=False)  # nn.Conv2d makes no 2-D layer of (3,)
    return c_out * (c_in // groups) * kh * kw + (c_out if bias else 0)


def conv_macs(
    c_in: int, c_out: int, kernel_size: int | Sequence[int], h_out: int, w_out: int, *, groups: int = 1
) -> int:
    """Multiply-accumulates of one image through a conv layer (biases not counted).

    ``h_out`` and ``w_out`` are the output's height and width (see
    :func:`convlib.conv_output_size`); padding and stride enter only through them.
    With ``groups`` each output value reads ``c_in / groups`` channels.

    >>> conv_macs(3, 6, 5, 28, 28)    # 32x32x3 -> 28x28x6
    352800
    >>> conv_macs(6, 10, 5, 24, 24)   # 28x28x6 -> 24x24x10
    864000
    """
    c_in, c_out, groups = _channels(c_in, c_out, groups)
    h_out, w_out = _positive("h_out", h_out), _positive("w_out", w_out)
    kh, kw = as_pair(kernel_size, "kernel_size", single=False)
    return c_out * h_out * w_out * (c_in // groups) * kh * kw


def linear_params(n_in: int, n_out: int, *, bias: bool = True) -> int:
    """Learnable parameters of ``nn.Linear(n_in, n_out, bias=bias)``.

    >>> # a 1x1 conv is a per-pixel Linear
    >>> linear_params(64, 32) == conv_params(64, 32, 1)
    True
    """
    n_in, n_out = _positive("n_in", n_in), _positive("n_out", n_out)
    return n_out * n_in + (n_out if bias else 0)
