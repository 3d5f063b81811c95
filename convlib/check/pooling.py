"""Self-checks for the chapter "Pooling"."""

from __future__ import annotations

from typing import Any

import torch

from convlib.check._core import CheckResult, same_values, verdict
from convlib.counts import conv_params
from convlib.pool import pool2d
from convlib.shapes import conv_output_size

__all__ = ["max_pool_by_hand", "pooled_shape", "padded_avg_corner", "downsampling_params"]

#: The matrix of the hand-pooling exercise.
HAND_X = [[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 1.0, 1.0], [0.0, 2.0, 6.0, 7.0], [1.0, 1.0, 8.0, 3.0]]


def max_pool_by_hand(answer: Any) -> CheckResult:
    """Exercise: 2x2 max pooling (stride 2) of :data:`HAND_X`.

    >>> max_pool_by_hand([[5, 2], [2, 8]])
    ✅ Right: each 2x2 block gives its largest value: 5, 2 (top) and 2, 8 (bottom).
    >>> max_pool_by_hand([[3.25, 1], [1, 6]])
    ❌ Not yet: Hint: that is the average of each block; max pooling keeps the largest value.
    """
    X = torch.tensor(HAND_X)
    expected = pool2d(X, 2)  # (2, 2): stride defaults to the window
    hint = "split the 4x4 matrix into four 2x2 blocks (stride 2: no overlap) and keep each block's largest value."
    if same_values(answer, pool2d(X, 2, mode="avg")):
        hint = "that is the average of each block; max pooling keeps the largest value."
    elif same_values(answer, pool2d(X, 2, stride=1)):
        hint = "that is stride 1 (overlapping windows); with stride 2 the blocks do not overlap."
    return verdict(
        same_values(answer, expected),
        "each 2x2 block gives its largest value: 5, 2 (top) and 2, 8 (bottom).",
        hint,
    )


def pooled_shape(answer: Any) -> CheckResult:
    """Exercise: the shape of a ``(6, 28, 28)`` input after ``nn.MaxPool2d(3, stride=2)``.

    >>> pooled_shape((6, 13, 13))
    ✅ Right: the channels stay 6; each side is floor((28 - 3) / 2) + 1 = 13.
    >>> pooled_shape((1, 13, 13))
    ❌ Not yet: Hint: pooling works on each channel separately, so the channel count does not change.
    """
    side = conv_output_size(28, 3, stride=2)
    hint = "channels stay; each side follows the convolution formula floor((n + 2p - k) / s) + 1."
    try:
        got = torch.as_tensor(answer).flatten().tolist()
    except (TypeError, ValueError, RuntimeError):
        got = []
    if len(got) == 3 and got[0] != 6:
        hint = "pooling works on each channel separately, so the channel count does not change."
    elif same_values(answer, (6, 14, 14)):
        hint = "no padding here: floor((28 - 3) / 2) + 1, rounding down before adding 1."
    return verdict(
        same_values(answer, (6, side, side)),
        f"the channels stay 6; each side is floor((28 - 3) / 2) + 1 = {side}.",
        hint,
    )


def padded_avg_corner(answer: Any) -> CheckResult:
    """Exercise: the top-left output of ``nn.AvgPool2d(3, stride=1, padding=1)`` on ``torch.ones(4, 4)``.

    >>> padded_avg_corner(4 / 9)
    ✅ Right: the corner window holds 4 ones and 5 padded zeros, and the zeros count: 4 / 9 ≈ 0.444.
    >>> padded_avg_corner(1.0)
    ❌ Not yet: Hint: 1 would ignore the padding; by default the padded zeros are averaged in too.
    """
    expected = float(pool2d(torch.ones(4, 4), 3, stride=1, padding=1, mode="avg")[0, 0])
    hint = "count the window's 9 cells: how many are real ones and how many are padded zeros?"
    if same_values(answer, 1.0):
        hint = "1 would ignore the padding; by default the padded zeros are averaged in too."
    return verdict(
        same_values(answer, expected, atol=1e-3),
        "the corner window holds 4 ones and 5 padded zeros, and the zeros count: 4 / 9 ≈ 0.444.",
        hint,
    )


def downsampling_params(answer: Any) -> CheckResult:
    """Exercise: learnable parameters of ``nn.MaxPool2d(2)`` and of ``nn.Conv2d(16, 16, 3, stride=2, padding=1)``.

    >>> downsampling_params((0, 2320))
    ✅ Right: pooling has nothing to learn (0); the strided convolution has 16 * 16 * 3 * 3 + 16 = 2320 parameters.
    """
    conv = conv_params(16, 16, 3)
    hint = "does a max have weights? For the convolution: C_out * C_in * k * k + C_out."
    if same_values(answer, (0, conv - 16)):
        hint = "the convolution also has one bias per output channel."
    elif same_values(answer, (4, conv)):
        hint = "a 2x2 window is a size, not a set of weights: max pooling learns nothing."
    return verdict(
        same_values(answer, (0, conv)),
        f"pooling has nothing to learn (0); the strided convolution has 16 * 16 * 3 * 3 + 16 = {conv} parameters.",
        hint,
    )
