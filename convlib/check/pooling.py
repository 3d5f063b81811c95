"""Self-checks for the chapter "Pooling"."""

from __future__ import annotations

from types import CodeType, FunctionType
from typing import Any, Callable

import torch
from torch import nn

from convlib.check._core import CheckResult, answer_check, numbers, same_values, verdict, wants_a_number
from convlib.counts import conv_params
from convlib.pool import pool2d
from convlib.shapes import conv_output_size
from convlib.summary import layer_summary

__all__ = [
    "max_pool_by_hand",
    "pooled_shape",
    "padded_avg_corner",
    "downsampling_params",
    "pool_reads",
    "min_pool_from_max",
    "relu_max_pool",
]

#: The matrix of the hand-pooling exercise.
HAND_X = [[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 1.0, 1.0], [0.0, 2.0, 6.0, 7.0], [1.0, 1.0, 8.0, 3.0]]


@wants_a_number
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


@wants_a_number
def pooled_shape(answer: Any) -> CheckResult:
    """Exercise: the shape of a ``(6, 28, 28)`` input after ``nn.MaxPool2d(3, stride=2)``.

    >>> pooled_shape((6, 13, 13))
    ✅ Right: the channels stay 6; each side is floor((28 - 3) / 2) + 1 = 13.
    >>> pooled_shape((1, 13, 13))
    ❌ Not yet: Hint: pooling works on each channel separately, so the channel count does not change.
    """
    side = conv_output_size(28, 3, stride=2)
    hint = "channels stay; each side follows the convolution formula floor((n + 2p - k) / s) + 1."
    got = numbers(answer)
    if len(got) == 3 and got == [side, side, 6]:
        hint = "PyTorch puts the channels first: answer in (C, H, W) order."
    elif len(got) == 3 and got[0] != 6:
        hint = "pooling works on each channel separately, so the channel count does not change."
    elif len(got) == 4 and got[1:] == [6, side, side]:  # torch's output .shape of a batch of one
        hint = "right channels and sides; drop the batch axis: the input (6, 28, 28) has none, answer (C, H, W)."
    elif same_values(answer, (6, 14, 14)):
        hint = "no padding here: floor((28 - 3) / 2) + 1, rounding down before adding 1."
    return verdict(
        same_values(answer, (6, side, side)),
        f"the channels stay 6; each side is floor((28 - 3) / 2) + 1 = {side}.",
        hint,
    )


@wants_a_number
def padded_avg_corner(answer: Any) -> CheckResult:
    """Exercise: the top-left output of ``nn.AvgPool2d(3, stride=1, padding=1)`` on ``torch.ones(1, 4, 4)``.

    >>> padded_avg_corner(4 / 9)
    ✅ Right: the corner window holds 4 ones and 5 padded zeros, and the zeros count: 4 / 9 ≈ 0.444.
    >>> padded_avg_corner(1.0)
    ❌ Not yet: Hint: 1 would ignore the padding; by default the padded zeros are averaged in too.
    """
    expected = float(pool2d(torch.ones(4, 4), 3, stride=1, padding=1, mode="avg")[0, 0])
    hint = "count the window's 9 cells: how many are real ones and how many are padded zeros?"
    if same_values(answer, 1.0):
        hint = "1 would ignore the padding; by default the padded zeros are averaged in too."
    elif same_values(answer, expected, atol=6e-3):  # 0.44
        hint = "close: 4 / 9 to three decimals."
    return verdict(
        same_values(answer, expected, atol=1.5e-3),  # 0.444, or 0.443 / 0.445
        "the corner window holds 4 ones and 5 padded zeros, and the zeros count: 4 / 9 ≈ 0.444.",
        hint,
    )


@wants_a_number
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


@wants_a_number
def pool_reads(answer: Any) -> CheckResult:
    """Exercise: ``nn.MaxPool2d(3, stride=2, padding=1)`` on a ``(64, 112, 112)`` map (ResNet's stem):
    window cells read per image (padding included), and the MACs the course counts: ``(reads, macs)``.

    >>> pool_reads((1806336, 0))
    ✅ Right: the output is 64 x 56 x 56 and every output reads a 3 x 3 window: 64 * 56 * 56 * 9 = 1806336 reads (about 8 comparisons per window); there is no multiplication, so 0 MACs, as in cl.layer_summary.
    >>> pool_reads((64 * 112 * 112 * 9, 0))
    ❌ Not yet: Hint: count windows, one per output value: the output is 56 x 56, not 112 x 112.
    """
    summary = layer_summary(nn.MaxPool2d(3, stride=2, padding=1), (64, 112, 112))
    _, c, side, w_out = summary.output_shape  # (1, 64, 56, 56)
    reads = c * side * w_out * 3 * 3  # C * h_o * w_o * p_h * p_w
    macs = summary.total_macs  # pooling counts 0 MACs (chapter 6)
    hint = "one window per output value, p_h * p_w cells per window, every channel on its own: C * h_o * w_o * p_h * p_w."
    got = numbers(answer)
    if len(got) == 2 and got[1] != macs:
        hint = ("a max multiplies nothing: the course counts only multiply-adds (cl.layer_summary "
                "gives pooling 0 MACs).")
    elif len(got) == 2 and got[0] == 64 * 112 * 112 * 9:
        hint = "count windows, one per output value: the output is 56 x 56, not 112 x 112."
    elif len(got) == 2 and got[0] == side * side * 9:
        hint = "each of the 64 channels is pooled on its own: multiply by 64."
    elif len(got) == 2 and got[0] == 64 * side * side * 8:
        hint = "that counts comparisons (8 per window); the question counts the 9 cells each window reads."
    elif len(got) == 2 and got[0] == 64 * 28 * 28 * 9:
        hint = "stride 2 with padding 1 halves 112 to 56: floor((112 + 2 - 3) / 2) + 1."
    return verdict(
        same_values(answer, (reads, macs)),
        f"the output is 64 x {side} x {side} and every output reads a 3 x 3 window: 64 * {side} * {side} * 9 = "
        f"{reads} reads (about 8 comparisons per window); there is no multiplication, so {macs} MACs, "
        "as in cl.layer_summary.",
        hint,
    )


def _names_used(fn: Callable[..., Any]) -> set[str]:
    """Global and attribute names a function's code uses, nested lambdas and functions included."""
    names: set[str] = set()
    stack = [getattr(fn, "__code__", None)]
    while stack:
        code = stack.pop()
        if isinstance(code, CodeType):
            names.update(code.co_names)
            stack.extend(c for c in code.co_consts if isinstance(c, CodeType))
    return names


def _not_plain_function(fn: Any, built_from: str) -> str:
    """A hint when ``fn`` is callable but not a plain function (an ``nn.Module``, a ``functools.partial``,
    a builtin): the no-max rule reads a function's own code, which those hide. ``""`` otherwise."""
    if fn is None or not callable(fn) or isinstance(fn, FunctionType):
        return ""
    return (f"pass a plain function (a lambda or a def) built from {built_from}, not a {type(fn).__name__}: "
            "the exercise is to write the computation yourself.")


def _test_inputs() -> list[torch.Tensor]:
    """Random maps with negative values, and small integers with ties, both ``(N, C, H, W)``."""
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, 6, 8, generator=g),
            torch.randint(-3, 4, (1, 2, 4, 4), generator=g).float()]


def _run(fn: Any, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """``fn(x)`` as a float tensor, or ``None`` and what went wrong ("" when nothing was tried yet)."""
    if fn is None:
        return None, ""  # the stored answer: the exercise's own hint says where to start
    if not callable(fn):
        return None, "pass a function (its name, without parentheses) that takes x (N, C, H, W)."
    try:
        out = fn(x.clone())
    except Exception as err:  # the learner's code: any error becomes a hint
        return None, f"your function raised {type(err).__name__}: {err}"
    if out is None:
        return None, ""  # the stub as stored, or a function without a return: the exercise's hint
    if not isinstance(out, torch.Tensor):
        return None, f"your function returned {type(out).__name__}; return a tensor (N, C, H/2, W/2)."
    return out.detach().to(x.dtype), ""


#: Functions that pick a window's largest or smallest value without saying max or min: an element-wise
#: max or min (clamp against another tensor), a sort, an order statistic.
_ORDER_STATISTICS = frozenset({"clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_max", "hardtanh", "sort",
                               "msort", "argsort", "topk", "kthvalue", "median", "nanmedian", "quantile",
                               "nanquantile"})


@answer_check
def min_pool_from_max(fn: Any) -> CheckResult:
    """Exercise: a function ``min_pool(x)``, 2x2 min pooling (stride 2) of ``x (N, C, H, W)``,
    built from max pooling only.

    >>> min_pool_from_max(lambda x: -pool2d(-x, 2))
    ✅ Right: min(a, b, ...) = -max(-a, -b, ...): negate, max pool, negate back. No min pooling layer is needed.
    >>> min_pool_from_max(lambda x: -pool2d(x, 2))
    ❌ Not yet: Hint: that is minus the maximum; negate the input first, so the smallest value becomes the largest.
    """
    if problem := _not_plain_function(fn, "max pooling and negation"):
        return verdict(False, "", problem)
    if callable(fn) and _names_used(fn) & ({"min", "amin", "minimum", "fmin", "cummin", "argmin"} | _ORDER_STATISTICS):
        return verdict(False, "", "use max pooling only (cl.pool2d or F.max_pool2d), with no min of any kind "
                                  "(nor clamp, sort, median or kthvalue, which pick a smallest value too).")
    hint = "max pool a changed copy of x: what turns the smallest value of a window into the largest?"
    ok = True
    for x in _test_inputs():
        out, problem = _run(fn, x)
        want = pool2d(x, 2, mode=lambda w: w.min(dim=-1).values)  # (N, C, H/2, W/2)
        if out is None:
            return verdict(False, "", problem or hint)
        if out.shape != want.shape:
            return verdict(False, "", f"expected shape {tuple(want.shape)} (2x2 windows, stride 2) for an input "
                                      f"{tuple(x.shape)}, got {tuple(out.shape)}.")
        if not torch.allclose(out, want, atol=1e-5):
            ok = False
            if torch.allclose(out, -pool2d(x, 2), atol=1e-5):
                hint = "that is minus the maximum; negate the input first, so the smallest value becomes the largest."
            elif torch.allclose(out, pool2d(-x, 2), atol=1e-5):
                hint = "that is the maximum of -x, which is minus the minimum: negate the result back."
            break
    return verdict(
        ok,
        "min(a, b, ...) = -max(-a, -b, ...): negate, max pool, negate back. No min pooling layer is needed.",
        hint,
    )


@answer_check
def relu_max_pool(fn: Any) -> CheckResult:
    """Exercise: a function ``max_pool_2x2(x)``, 2x2 max pooling (stride 2) of ``x (N, C, H, W)``
    built from linear maps (convolutions, slicing, sums) and ReLUs, with no max of any kind.

    >>> import torch.nn.functional as F
    >>> def pairs(x):  # max of the two columns of each pair, then of the two rows
    ...     m = x[..., 0::2] + F.relu(x[..., 1::2] - x[..., 0::2])
    ...     return m[..., 0::2, :] + F.relu(m[..., 1::2, :] - m[..., 0::2, :])
    >>> relu_max_pool(pairs)
    ✅ Right: max(a, b) = a + relu(b - a), first for neighbouring columns, then for neighbouring rows: two ReLU layers compute a 2x2 max pooling.
    >>> relu_max_pool(lambda x: F.max_pool2d(x, 2))
    ❌ Not yet: Hint: build it without any max (no max pooling, max, amax or where, nor clamp, sort, median or kthvalue): only linear maps and F.relu.
    """
    forbidden = {"max_pool2d", "MaxPool2d", "pool2d", "max", "amax", "maximum", "fmax", "adaptive_max_pool2d",
                 "max_pool1d", "where", "cummax", "argmax"} | _ORDER_STATISTICS
    if problem := _not_plain_function(fn, "slicing, sums and F.relu"):
        return verdict(False, "", problem)
    if callable(fn) and _names_used(fn) & forbidden:
        return verdict(False, "", "build it without any max (no max pooling, max, amax or where, nor clamp, "
                                  "sort, median or kthvalue): only linear maps and F.relu.")
    hint = "start from max(a, b) = a + relu(b - a), for the two columns of each pair, then for the two rows."
    ok = True
    for x in _test_inputs():
        out, problem = _run(fn, x)
        want = pool2d(x, 2)  # (N, C, H/2, W/2)
        if out is None:
            return verdict(False, "", problem or hint)
        n, c, h, w = x.shape
        if out.shape == (n, c, h, w // 2) and torch.allclose(out, pool2d(x, (1, 2)), atol=1e-5):
            return verdict(False, "", "that is the first stage (pairs along each row); now take the max of "
                                      "neighbouring rows the same way.")
        if out.shape != want.shape:
            return verdict(False, "", f"expected shape {tuple(want.shape)} (2x2 windows, stride 2) for an input "
                                      f"{tuple(x.shape)}, got {tuple(out.shape)}.")
        if not torch.allclose(out, want, atol=1e-5):
            ok = False
            if torch.allclose(out, pool2d(x, 2, mode="avg"), atol=1e-5):
                hint = "that is average pooling, which is linear; the max needs the ReLU: a + relu(b - a)."
            elif torch.allclose(out, -pool2d(-x, 2), atol=1e-5):
                hint = "that is the minimum: a - relu(a - b) = min(a, b). Use a + relu(b - a)."
            break
    return verdict(
        ok,
        "max(a, b) = a + relu(b - a), first for neighbouring columns, then for neighbouring rows: "
        "two ReLU layers compute a 2x2 max pooling.",
        hint,
    )
