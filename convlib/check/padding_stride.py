"""Self-checks for the chapter "Padding and stride"."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from convlib.check._core import CheckResult, same_values, verdict, wants_a_number
from convlib.coverage import input_usage
from convlib.shapes import conv_output_size, conv_transpose_output_size
from convlib.transposed import trans_conv_naive

__all__ = [
    "padded_output_size",
    "same_padding",
    "corner_usage",
    "dilated_output_size",
    "transposed_output_size",
    "trans_conv_by_hand",
    "reflect_padding",
]


@wants_a_number
def padded_output_size(answer: Any) -> CheckResult:
    """Exercise: output side for a 32x32 input, 5x5 kernel, padding 2, stride 2.

    >>> padded_output_size(16)
    ✅ Right: floor((32 + 2*2 - 5) / 2) + 1 = floor(31 / 2) + 1 = 16.
    >>> padded_output_size(32)
    ❌ Not yet: Hint: padding 2 alone keeps 32, but stride 2 then keeps every second window.
    >>> padded_output_size(14)
    ❌ Not yet: Hint: that leaves the padding out: the window slides over n + 2p = 36 cells, not 32.
    >>> padded_output_size(15)
    ❌ Not yet: Hint: floor(31 / 2) = 15 counts the steps; add 1 for the first window, which needs no step.
    """
    expected = conv_output_size(32, 5, padding=2, stride=2)
    hint = "use floor((n + 2p - k) / s) + 1 with n=32, k=5, p=2, s=2."
    if same_values(answer, 32):
        hint = "padding 2 alone keeps 32, but stride 2 then keeps every second window."
    elif same_values(answer, 14):  # floor((32 - 5) / 2) + 1
        hint = "that leaves the padding out: the window slides over n + 2p = 36 cells, not 32."
    elif same_values(answer, 15):  # floor(31 / 2)
        hint = "floor(31 / 2) = 15 counts the steps; add 1 for the first window, which needs no step."
    elif same_values(answer, 15.5) or same_values(answer, 16.5):
        hint = "round down inside, then add 1: floor((n + 2p - k) / s) + 1."
    return verdict(
        same_values(answer, expected),
        f"floor((32 + 2*2 - 5) / 2) + 1 = floor(31 / 2) + 1 = {expected}.",
        hint,
    )


@wants_a_number
def same_padding(answer: Any) -> CheckResult:
    """Exercise: the padding per side that keeps the size for a 7x7 kernel at stride 1.

    >>> same_padding(3)
    ✅ Right: p = (k - 1) / 2 = 3 on each side: 6 added cells make up for the 6 the window loses.
    >>> same_padding(6)
    ❌ Not yet: Hint: 6 is the total over both sides; how much goes on each side?
    """
    ok = same_values(answer, 3) and conv_output_size(20, 7, padding=3) == 20
    hint = "the window loses k - 1 cells along each axis; split them between the two sides."
    if same_values(answer, 6):
        hint = "6 is the total over both sides; how much goes on each side?"
    return verdict(
        ok,
        "p = (k - 1) / 2 = 3 on each side: 6 added cells make up for the 6 the window loses.",
        hint,
    )


@wants_a_number
def corner_usage(answer: Any) -> CheckResult:
    """Exercise: how many windows read the corner pixel of a 5x5 input (3x3 kernel, stride 1),
    without and with padding 1? Answer as a pair ``(without, with)``.

    >>> corner_usage((1, 4))
    ✅ Right: without padding only the first window covers the corner; with padding 1, the 2x2 windows around it all do.
    >>> bool(corner_usage((1, 9)))
    False
    """
    expected = (int(input_usage(5, 3)[0, 0]), int(input_usage(5, 3, padding=1)[0, 0]))
    return verdict(
        same_values(answer, expected),
        "without padding only the first window covers the corner; with padding 1, "
        "the 2x2 windows around it all do.",
        "list the windows that contain cell (0, 0): with padding, windows may start one cell "
        "above and to the left of the image.",
    )


@wants_a_number
def dilated_output_size(answer: Any) -> CheckResult:
    """Exercise: output side for a 10x10 input, 3x3 kernel, dilation 2, no padding, stride 1.

    >>> dilated_output_size(6)
    ✅ Right: the taps span 2*(3-1) + 1 = 5 cells, so floor((10 - 5) / 1) + 1 = 6.
    >>> dilated_output_size(8)
    ❌ Not yet: Hint: 8 is the undilated answer; with dilation 2 the 3 taps span 2*(3-1) + 1 = 5 cells.
    """
    expected = conv_output_size(10, 3, dilation=2)
    hint = "the taps are 2 apart, so the window spans d*(k-1) + 1 cells; then floor((n - span) / s) + 1."
    if same_values(answer, conv_output_size(10, 3)):
        hint = "8 is the undilated answer; with dilation 2 the 3 taps span 2*(3-1) + 1 = 5 cells."
    return verdict(
        same_values(answer, expected),
        f"the taps span 2*(3-1) + 1 = 5 cells, so floor((10 - 5) / 1) + 1 = {expected}.",
        hint,
    )


@wants_a_number
def transposed_output_size(answer: Any) -> CheckResult:
    """Exercise: output side of a transposed convolution on a 4x4 input, 3x3 kernel,
    stride 2, padding 1, output_padding 1.

    >>> transposed_output_size(8)
    ✅ Right: (4 - 1)*2 - 2*1 + 3 + 1 = 8: twice the input, the size a stride-2 convolution with padding 1 turns back into 4.
    >>> transposed_output_size(7)
    ❌ Not yet: Hint: 7 leaves out output_padding: it adds one more row and column at the bottom and right.
    """
    expected = conv_transpose_output_size(4, 3, padding=1, stride=2, output_padding=1)
    hint = "use (n - 1)*s - 2p + k + output_padding with n=4, k=3, s=2, p=1."
    if same_values(answer, expected - 1):
        hint = "7 leaves out output_padding: it adds one more row and column at the bottom and right."
    elif same_values(answer, expected + 2):
        hint = "padding removes p cells from each side of the result here: subtract 2p."
    elif same_values(answer, conv_output_size(4, 3, padding=1, stride=2)):
        hint = "that is the ordinary convolution's output; a transposed convolution grows the input."
    return verdict(
        same_values(answer, expected),
        f"(4 - 1)*2 - 2*1 + 3 + 1 = {expected}: twice the input, the size a stride-2 convolution "
        "with padding 1 turns back into 4.",
        hint,
    )


@wants_a_number
def trans_conv_by_hand(answer: Any) -> CheckResult:
    """Exercise: the transposed convolution of ``[[1, 2], [3, 4]]`` with the kernel
    ``[[1, 1], [1, 1]]``, stride 1, no padding (a 3x3 matrix).

    >>> trans_conv_by_hand([[1, 3, 2], [4, 10, 6], [3, 7, 4]])
    ✅ Right: each cell adds its value into a 2x2 patch; the centre is covered by all four patches: 1 + 2 + 3 + 4 = 10.
    >>> bool(trans_conv_by_hand([[10]]))
    False
    """
    X, K = [[1.0, 2.0], [3.0, 4.0]], [[1.0, 1.0], [1.0, 1.0]]
    expected = trans_conv_naive(X, K)
    hint = "start from a 3x3 grid of zeros; cell (i, j) of the input adds its value to the 2x2 patch at (i, j)."
    if same_values(answer, [[10.0]]):
        hint = "that is the ordinary convolution (one window); the transposed one spreads each cell out: 3x3."
    elif same_values(answer, trans_conv_naive(X, K, stride=2)):
        hint = "that is stride 2, where the patches do not overlap; at stride 1 they overlap and add."
    return verdict(
        same_values(answer, expected),
        "each cell adds its value into a 2x2 patch; the centre is covered by all four patches: "
        "1 + 2 + 3 + 4 = 10.",
        hint,
    )


@wants_a_number
def reflect_padding(answer: Any) -> CheckResult:
    """Exercise: the row ``[1, 2, 3, 4]`` padded by reflection, 2 cells on each side.

    >>> reflect_padding([3, 2, 1, 2, 3, 4, 3, 2])
    ✅ Right: the row is mirrored at its edge pixels 1 and 4, which are not repeated: [3, 2, 1, 2, 3, 4, 3, 2].
    >>> reflect_padding([1, 1, 1, 2, 3, 4, 4, 4])
    ❌ Not yet: Hint: that is replicate padding (the edge pixel repeated); reflection mirrors the row at its edge pixel.
    >>> reflect_padding([2, 1, 1, 2, 3, 4, 4, 3])
    ❌ Not yet: Hint: close: that mirror repeats the edge pixel (NumPy's "symmetric"); PyTorch's "reflect" mirrors around it, so 1 and 4 appear once.
    """
    row = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])  # (N, C, W) = (1, 1, 4)
    expected = F.pad(row, (2, 2), mode="reflect")[0, 0]  # (8,)
    hint = "padded position j reads index |j| on the left and 2(n - 1) - j on the right (n = 4, j from -2 to 5)."
    if same_values(answer, F.pad(row, (2, 2), mode="replicate")[0, 0]):
        hint = "that is replicate padding (the edge pixel repeated); reflection mirrors the row at its edge pixel."
    elif same_values(answer, np.pad([1.0, 2.0, 3.0, 4.0], 2, mode="symmetric")):
        hint = ('close: that mirror repeats the edge pixel (NumPy\'s "symmetric"); PyTorch\'s "reflect" mirrors '
                "around it, so 1 and 4 appear once.")
    elif same_values(answer, F.pad(row, (2, 2), mode="circular")[0, 0]):
        hint = "that wraps around (circular padding); reflection mirrors each end of the row back on itself."
    elif same_values(answer, F.pad(row, (2, 2))[0, 0]):
        hint = "that is zero padding; reflection fills the border with the row's own values."
    return verdict(
        same_values(answer, expected),
        "the row is mirrored at its edge pixels 1 and 4, which are not repeated: "
        f"{[int(v) for v in expected.tolist()]}.",
        hint,
    )
