"""Self-checks for the chapter "Multiple input and output channels"."""

from __future__ import annotations

from typing import Any

import torch

from convlib.check._core import (CheckResult, answer_check, host_float64, numbers, same_values, swapped_hint, verdict,
                                 wants_a_number)
from convlib.counts import conv_macs, conv_params
from convlib.pointwise import conv1x1
from convlib.shapes import conv_output_size, conv_transpose_output_size

__all__ = [
    "kernel_tensor_shape",
    "second_layer_costs",
    "channel_mean_weight",
    "params_for_sizes",
    "doubling_factors",
    "stacked_linear_kernel",
    "grouped_params",
    "separable_params",
]


@wants_a_number
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


@wants_a_number
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
    hint = swapped_hint(answer, (params, macs), "(params, macs), the parameters first") or hint
    return verdict(
        same_values(answer, (params, macs)),
        f"10 * 6 * 5 * 5 + 10 = {params} parameters; 24 * 24 * 10 outputs, 6 * 5 * 5 = 150 MACs each: {macs}.",
        hint,
    )


@answer_check
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
        w = host_float64(weight)
        if w is None:
            raise TypeError("no real numbers")
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


@wants_a_number
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


@wants_a_number
def doubling_factors(answer: Any) -> CheckResult:
    """Exercise: ``nn.Conv2d(64, 64, 3, padding=1)`` on a 32x32 input; by what factor do its MACs
    grow when both channel counts double, and when the padding doubles to 2? Answer ``(channels, padding)``.

    >>> doubling_factors((4, 34 * 34 / (32 * 32)))
    ✅ Right: doubling C_in and C_out multiplies the MACs by 2 * 2 = 4; padding 2 instead of 1 adds one row and one column on each side of the output (34 x 34 instead of 32 x 32): 1156 / 1024 ≈ 1.129.
    >>> doubling_factors((2, 34 * 34 / (32 * 32)))
    ❌ Not yet: Hint: both C_in and C_out appear in c_o * h_o * w_o * c_i * k_h * k_w.
    """
    side = {p: conv_output_size(32, 3, padding=p) for p in (1, 2)}  # {1: 32, 2: 34}
    base = conv_macs(64, 64, 3, side[1], side[1])
    channels = conv_macs(128, 128, 3, side[1], side[1]) / base
    padding = conv_macs(64, 64, 3, side[2], side[2]) / base
    hint = ("write the MACs c_o * h_o * w_o * c_i * k_h * k_w for each case and divide; "
            "cl.conv_output_size(32, 3, padding=p) gives h_o.")
    got = numbers(answer)
    def near(value: float, target: float) -> bool:
        return abs(value - target) < 1e-6

    if len(got) == 2 and abs(got[0] - padding) < 1.5e-3 and near(got[1], channels):
        hint = "right numbers, swapped: answer (channels, padding), the channel factor first."
    elif len(got) == 2 and near(got[0], 2):
        hint = "both C_in and C_out appear in c_o * h_o * w_o * c_i * k_h * k_w."
    elif len(got) == 2 and (near(got[1], 2) or near(got[1], 4)):
        hint = ("padding changes neither the channels nor the kernel, only how many outputs there are: "
                "compute h_o = w_o with padding 1 and with padding 2.")
    elif len(got) == 2 and near(got[1], side[2] / side[1]):
        hint = "the output grows in height and in width: square the ratio of the sides."
    elif len(got) == 2 and near(got[1], 1):
        hint = "padding 1 keeps 32 x 32; padding 2 gives a larger output: 32 + 2 * 2 - 3 + 1."
    return verdict(
        same_values(answer, (channels, padding), atol=1.5e-3),  # 1.129 or 1.13, not 1.127
        f"doubling C_in and C_out multiplies the MACs by 2 * 2 = {channels:g}; padding 2 instead of 1 adds one "
        f"row and one column on each side of the output ({side[2]} x {side[2]} instead of {side[1]} x {side[1]}): "
        f"{side[2] ** 2} / {side[1] ** 2} ≈ {padding:.3f}.",
        hint,
    )


@wants_a_number
def stacked_linear_kernel(answer: Any) -> CheckResult:
    """Exercise: a 3x3 then a 5x5 convolution (one channel, stride 1, no padding, nothing in
    between) equal one convolution; its kernel side and its number of weights: ``(side, weights)``.

    >>> stacked_linear_kernel((7, 49))
    ✅ Right: each output of the pair sees a 3 + 5 - 1 = 7 wide window of the input, so the one kernel is 7x7: 49 weights, against 9 + 25 = 34 in the pair.
    >>> stacked_linear_kernel((8, 64))
    ❌ Not yet: Hint: the windows overlap by one cell: k1 + k2 - 1, as for the receptive field of two stacked layers.
    """
    # the one kernel is the full convolution of the two: a transposed convolution of one kernel by the other
    side = conv_transpose_output_size(3, 5)  # (3 - 1) + 5 = 7
    weights = side * side
    hint = "follow one output of the second layer back: which input cells can it depend on?"
    if same_values(answer, (8, 64)):
        hint = "the windows overlap by one cell: k1 + k2 - 1, as for the receptive field of two stacked layers."
    elif same_values(answer, (15, 225)):
        hint = "the sizes add (minus one), they do not multiply."
    elif same_values(answer, (side, 34)):
        hint = "34 = 9 + 25 is what the pair stores; the single kernel has one weight per cell of its window."
    elif same_values(answer, (5, 25)):
        hint = "the first layer already widens the window: the 5x5 kernel reads 5x5 outputs of a 3x3 layer."
    return verdict(
        same_values(answer, (side, weights)),
        f"each output of the pair sees a 3 + 5 - 1 = {side} wide window of the input, so the one kernel is "
        f"{side}x{side}: {weights} weights, against 9 + 25 = 34 in the pair.",
        hint,
    )


@wants_a_number
def grouped_params(answer: Any) -> CheckResult:
    """Exercise: parameters of ``nn.Conv2d(64, 128, 3)`` and of ``nn.Conv2d(64, 128, 3, groups=4)``: ``(dense, grouped)``.

    >>> grouped_params((73856, 18560))
    ✅ Right: 128 * 64 * 3 * 3 + 128 = 73856; with 4 groups each of the 128 filters reads 64 / 4 = 16 channels: 128 * 16 * 3 * 3 + 128 = 18560.
    >>> grouped_params((73856, 18464))
    ❌ Not yet: Hint: the weights shrink by the factor 4, the biases do not: there is still one per output channel.
    """
    dense = sum(p.numel() for p in torch.nn.Conv2d(64, 128, 3).parameters())
    grouped = sum(p.numel() for p in torch.nn.Conv2d(64, 128, 3, groups=4).parameters())
    hint = "each filter reads only its group's C_in / groups channels; the number of filters stays C_out."
    if same_values(answer, (dense, dense / 4)):
        hint = "the weights shrink by the factor 4, the biases do not: there is still one per output channel."
    elif same_values(answer, (dense, conv_params(16, 32, 3))):
        hint = "that is one group (32 filters and their biases); there are 4 of them."
    elif same_values(answer, (dense, conv_params(16, 32, 3, bias=False) + 128)):
        hint = "all 128 filters remain (32 per group); only their depth shrinks, to 64 / 4 = 16 channels."
    elif same_values(answer, (dense - 128, grouped - 128)):
        hint = "add the biases: one per output channel."
    elif same_values(answer, (dense, dense)):
        hint = "groups=4 splits the channels into 4 groups; each filter reads 16 channels, not 64."
    hint = swapped_hint(answer, (dense, grouped), "(dense, grouped), the dense layer first") or hint
    return verdict(
        same_values(answer, (dense, grouped)),
        f"128 * 64 * 3 * 3 + 128 = {dense}; with 4 groups each of the 128 filters reads 64 / 4 = 16 channels: "
        f"128 * 16 * 3 * 3 + 128 = {grouped}.",
        hint,
    )


@wants_a_number
def separable_params(answer: Any) -> CheckResult:
    """Exercise: weights (no biases) of a depthwise separable block, a depthwise 3x3 convolution on 64
    channels followed by a 1x1 convolution 64 -> 128, and of one dense 3x3 convolution 64 -> 128:
    ``(separable, dense)``.

    >>> separable_params((8768, 73728))
    ✅ Right: depthwise: 64 filters of 1 x 3 x 3 = 576; pointwise: 128 x 64 = 8192; together 8768, against 128 x 64 x 3 x 3 = 73728 for the dense layer (8.4 times more).
    >>> separable_params((576, 73728))
    ❌ Not yet: Hint: the block has two layers: add the 1x1 convolution's 128 x 64 weights.
    """
    depthwise = torch.nn.Conv2d(64, 64, 3, groups=64, bias=False).weight.numel()  # (64, 1, 3, 3)
    pointwise = torch.nn.Conv2d(64, 128, 1, bias=False).weight.numel()  # (128, 64, 1, 1)
    dense = torch.nn.Conv2d(64, 128, 3, bias=False).weight.numel()  # (128, 64, 3, 3)
    separable = depthwise + pointwise
    hint = "depthwise: groups = 64, so each of the 64 filters is 1 channel deep; then the 1x1 layer mixes the channels."
    if same_values(answer, (depthwise, dense)):
        hint = "the block has two layers: add the 1x1 convolution's 128 x 64 weights."
    elif same_values(answer, (64 * 64 * 9 + pointwise, dense)):
        hint = "a depthwise filter reads one channel, not 64: its weight is (64, 1, 3, 3)."
    elif same_values(answer, (depthwise + 128 * 64 * 9, dense)):
        hint = "the second layer is 1x1: 128 x 64 weights, no 3 x 3."
    elif same_values(answer, (separable + 64 + 128, dense + 128)):
        hint = "count weights only (bias=False in every layer)."
    hint = swapped_hint(answer, (separable, dense), "(separable, dense), the separable block first") or hint
    return verdict(
        same_values(answer, (separable, dense)),
        f"depthwise: 64 filters of 1 x 3 x 3 = {depthwise}; pointwise: 128 x 64 = {pointwise}; together {separable}, "
        f"against 128 x 64 x 3 x 3 = {dense} for the dense layer ({dense / separable:.1f} times more).",
        hint,
    )
