"""Self-checks for the chapter "From fully connected layers to convolution"."""

from __future__ import annotations

from typing import Any

import torch

from convlib.check._core import CheckResult, numbers, same_values, verdict, wants_a_number
from convlib.counts import conv_params, linear_params
from convlib.dense import conv_as_matrix

__all__ = [
    "mlp_photo_weights",
    "conv_layer_params",
    "dense_matrix_shape",
    "dense_matrix_nonzeros",
    "text_conv_params",
]


@wants_a_number
def mlp_photo_weights(answer: Any) -> CheckResult:
    """Exercise: weights (no biases) from a 1000x1000 grayscale photo into 1000 hidden units.

    >>> mlp_photo_weights(10**9)
    ✅ Right: 1,000,000 inputs x 1000 units = 1,000,000,000 weights, 4 GB in float32.
    >>> bool(mlp_photo_weights(10**6))
    False
    """
    expected = linear_params(1000 * 1000, 1000, bias=False)
    hint = "each hidden unit has one weight for every input pixel: how many pixels, and how many units?"
    if same_values(answer, 1000 * 1000) or same_values(answer, 1000):
        hint = "that counts one side only; every one of the 1000 units has its own weight for every pixel."
    return verdict(
        same_values(answer, expected, atol=0.5),
        f"1,000,000 inputs x 1000 units = {expected:,} weights, {4 * expected // 10**9} GB in float32.",
        hint,
    )


@wants_a_number
def conv_layer_params(answer: Any) -> CheckResult:
    """Exercise: parameters of a conv layer, 3 input channels, 64 output channels, 3x3 kernels, biases.

    >>> conv_layer_params(1792)
    ✅ Right: 64 kernels of 3x3x3 = 1728 weights, plus 64 biases = 1792, for any image size.
    >>> conv_layer_params(1728)
    ❌ Not yet: Hint: close: each of the 64 output channels also has a bias.
    """
    expected = conv_params(3, 64, 3)
    if same_values(answer, conv_params(3, 64, 3, bias=False)):
        hint = "close: each of the 64 output channels also has a bias."
    else:
        hint = "each output channel has one 3x3x3 kernel and one bias; the image size does not enter."
    return verdict(
        same_values(answer, expected, atol=0.5),
        f"64 kernels of 3x3x3 = 1728 weights, plus 64 biases = {expected}, for any image size.",
        hint,
    )


def _dense_6x6() -> torch.Tensor:
    weight = torch.arange(1.0, 10.0).reshape(3, 3)  # no zero weight
    return conv_as_matrix(weight, 6)  # (16, 36)


@wants_a_number
def dense_matrix_shape(answer: Any) -> CheckResult:
    """Exercise: the shape of the dense matrix of a 3x3 conv on a 6x6 input (one channel).

    >>> dense_matrix_shape((16, 36))
    ✅ Right: 4x4 = 16 outputs (rows) by 6x6 = 36 inputs (columns).
    >>> dense_matrix_shape((36, 16))
    ❌ Not yet: Hint: rows are outputs and columns are inputs (y = M @ x): swap them.
    """
    expected = tuple(_dense_6x6().shape)
    hint = "one row per output value (how many 3x3 windows fit in 6x6?), one column per input value."
    if same_values(answer, expected[::-1]):
        hint = "rows are outputs and columns are inputs (y = M @ x): swap them."
    return verdict(
        same_values(answer, expected),
        f"4x4 = {expected[0]} outputs (rows) by 6x6 = {expected[1]} inputs (columns).",
        hint,
    )


@wants_a_number
def dense_matrix_nonzeros(answer: Any) -> CheckResult:
    """Exercise: how many entries of that (16, 36) matrix are nonzero (no kernel weight is 0)?

    >>> dense_matrix_nonzeros(144)
    ✅ Right: each of the 16 rows holds the 9 kernel weights: 144 of 576 entries, 9 distinct values.
    >>> bool(dense_matrix_nonzeros(576))
    False
    >>> dense_matrix_nonzeros((144, 9))  # both parts of the question
    ❌ Not yet: Hint: 144 is the count this cell checks: answer 144 alone (your count of distinct values is right too).
    """
    M = _dense_6x6()
    expected = int((M != 0).sum())
    distinct = int(M[M != 0].unique().numel())
    hint = "a row is one output; it reads only the 3x3 window, so it has 9 nonzero entries."
    got = numbers(answer)
    if len(got) == 2 and got[0] == expected:  # both parts of the question in one answer
        second = ("your count of distinct values is right too" if got[1] == distinct
                  else f"there are {distinct} distinct values, one per kernel weight")
        hint = f"{expected} is the count this cell checks: answer {expected} alone ({second})."
    return verdict(
        same_values(answer, expected),
        f"each of the 16 rows holds the 9 kernel weights: {expected} of {M.numel()} entries, "
        f"{distinct} distinct values.",
        hint,
    )


@wants_a_number
def text_conv_params(answer: Any) -> CheckResult:
    """Exercise: parameters of a 1-D convolution over a sentence of 300-dimensional word
    vectors, with 100 filters 3 words wide and biases.

    >>> text_conv_params(90_100)
    ✅ Right: each filter spans 3 words x 300 embedding channels = 900 weights, plus a bias: 100 x 901 = 90,100, for any sentence length.
    >>> text_conv_params(90_000)
    ❌ Not yet: Hint: close: each of the 100 filters also has a bias.
    >>> text_conv_params(400)
    ❌ Not yet: Hint: a filter reads the whole 300-number word vector at each of its 3 positions: the embedding size is C_in.
    """
    layer = torch.nn.Conv1d(300, 100, 3, device="meta")  # weight (C_out, C_in, k) = (100, 300, 3)
    expected = sum(p.numel() for p in layer.parameters())
    hint = "each of the 100 filters has C_in x k weights (C_in = 300, the embedding size; k = 3 words) and a bias."
    if same_values(answer, layer.weight.numel()):
        hint = "close: each of the 100 filters also has a bias."
    elif any(same_values(answer, n) for n in (100 * 3, 100 * 3 + 100, 100 * 3 * 3 + 100)):
        hint = "a filter reads the whole 300-number word vector at each of its 3 positions: the embedding size is C_in."
    elif same_values(answer, conv_params(300, 100, 3)):
        hint = "that counts a 3x3 kernel; along a sentence the kernel is 3 words long and has no second spatial axis."
    return verdict(
        same_values(answer, expected, atol=0.5),
        f"each filter spans 3 words x 300 embedding channels = 900 weights, plus a bias: "
        f"100 x 901 = {expected:,}, for any sentence length.",
        hint,
    )
