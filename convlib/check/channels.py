"""Self-checks for the chapter "Multiple input and output channels"."""

from __future__ import annotations

from typing import Any

import torch

from convlib.check._core import CheckResult, same_values, verdict
from convlib.counts import conv_macs, conv_params
from convlib.pointwise import conv1x1

__all__ = ["kernel_tensor_shape", "second_layer_costs", "channel_mean_weight", "params_for_sizes"]


def kernel_tensor_shape(answer: Any) -> CheckResult:
    """Exercise: the kernel tensor of a layer taking 28x28x6 to 24x24x10, as ``(C_out, C_in, k_h, k_w)``.

    >>> kernel_tensor_shape((10, 6, 5, 5))
    ✅ Right: ten filters (one per output channel), each 6 deep (one slice per input channel) and 5x5 (28 - 5 + 1 = 24).
    >>> kernel_tensor_shape((6, 10, 5, 5))
    ❌ Not yet: Hint: output channels come first in PyTorch's layout: (C_out, C_in, k_h, k_w).
    """
    expected = tuple(torch.nn.Conv2d(6, 10, 5).weight.shape)  # (10, 6, 5, 5)
    hint = "one filter per output channel, each as deep as the input; 28 - k + 1 = 24 gives k."
    if same_values(answer, (6, 10, 5, 5)):
        hint = "output channels come first in PyTorch's layout: (C_out, C_in, k_h, k_w)."
    elif same_values(answer, (10, 5, 5)) or same_values(answer, (10, 6, 5)):
        hint = "four numbers: (C_out, C_in, k_h, k_w); every filter spans all 6 input channels."
    elif same_values(answer, (10, 6, 4, 4)):
        hint = "the output loses k - 1 cells: 28 - (k - 1) = 24."
    return verdict(
        same_values(answer, expected),
        "ten filters (one per output channel), each 6 deep (one slice per input channel) "
        "and 5x5 (28 - 5 + 1 = 24).",
        hint,
    )


def second_layer_costs(answer: Any) -> CheckResult:
    """Exercise: parameters and multiply-adds of ten 5x5x6 filters on a 28x28x6 input, as ``(params, macs)``.

    >>> second_layer_costs((1510, 864000))
    ✅ Right: 10 * 6 * 5 * 5 + 10 = 1510 parameters; 24 * 24 * 10 outputs, 6 * 5 * 5 = 150 MACs each: 864000.
    """
    params, macs = conv_params(6, 10, 5), conv_macs(6, 10, 5, 24, 24)
    hint = "parameters: C_out * C_in * k * k + C_out biases; MACs: (outputs) * (C_in * k * k) per output."
    if same_values(answer, (params - 10, macs)):
        hint = "add the biases: one per filter."
    elif same_values(answer, (params, 28 * 28 * 10 * 150)):
        hint = "count outputs on the 24x24 output, not the 28x28 input."
    elif same_values(answer, (params, 24 * 24 * 10 * 25)):
        hint = "each output also sums over the 6 input channels."
    return verdict(
        same_values(answer, (params, macs)),
        f"10 * 6 * 5 * 5 + 10 = {params} parameters; 24 * 24 * 10 outputs, 6 * 5 * 5 = 150 MACs each: {macs}.",
        hint,
    )


def channel_mean_weight(weight: Any) -> CheckResult:
    """Exercise: a 1x1 convolution weight ``(1, 3)`` that outputs the mean of the three colour channels.

    >>> bool(channel_mean_weight([[1/3, 1/3, 1/3]]))
    True
    >>> channel_mean_weight([[1, 1, 1]])
    ❌ Not yet: Hint: [[1, 1, 1]] adds the channels; the mean divides by their number.
    >>> bool(channel_mean_weight([[0.333, 0.333, 0.333]])), bool(channel_mean_weight([[0.33, 0.33, 0.33]]))
    (True, False)
    """
    try:
        w = torch.as_tensor(weight, dtype=torch.float64)
        x = torch.randn(3, 4, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # (C_in, H, W)
        got = conv1x1(x, w)  # (1, H, W)
    except (TypeError, ValueError, RuntimeError):
        return verdict(False, "", "give a (1, 3) weight: one output channel, one number per input channel.")
    # 0.333 is right to the precision anyone types a third; 0.33 (1% off) is not.
    ok = got.shape == (1, 4, 5) and bool(torch.allclose(w, torch.full_like(w, 1 / 3), atol=1e-3))
    hint = "each output pixel is w0 * R + w1 * G + w2 * B at that pixel; choose the w's so that is the mean."
    if got.shape == (1, 4, 5) and torch.allclose(got[0], x.sum(dim=0), atol=1e-4):
        hint = "[[1, 1, 1]] adds the channels; the mean divides by their number."
    elif got.shape == (1, 4, 5) and torch.allclose(w, torch.full_like(w, 1 / 3), atol=0.02):
        hint = "close, but rounded too far: write 1/3 and let Python compute it (or at least 0.333)."
    return verdict(
        ok,
        "[[1/3, 1/3, 1/3]]: a 1x1 convolution mixes the channels at every pixel with the same weights.",
        hint,
    )


def params_for_sizes(answer: Any) -> CheckResult:
    """Exercise: parameters of ``nn.Conv2d(3, 16, 3)`` on 32x32 images, and on 224x224 images: ``(p32, p224)``.

    >>> params_for_sizes((448, 448))
    ✅ Right: 16 * 3 * 3 * 3 + 16 = 448 both times: the kernels slide over any height and width, only the channels fix the shapes.
    """
    p = conv_params(3, 16, 3)
    hint = "count the weights of 16 filters of shape 3x3x3 plus biases; does the image size appear anywhere?"
    if same_values(answer, (p - 16, p - 16)):
        hint = "add one bias per output channel."
    return verdict(
        same_values(answer, (p, p)),
        f"16 * 3 * 3 * 3 + 16 = {p} both times: the kernels slide over any height and width, "
        "only the channels fix the shapes.",
        hint,
    )
