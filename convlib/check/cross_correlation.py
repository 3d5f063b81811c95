"""Self-checks for the chapter "Cross-correlation"."""

from __future__ import annotations

from typing import Any

import torch

from convlib.check._core import CheckResult, answer_check, drop_leading_ones, host_float64, numbers, same_values, verdict, wants_a_number
from convlib.corr import corr2d

__all__ = [
    "output_shape",
    "horizontal_edge_kernel",
    "flipped_kernel",
    "stacked_receptive_field",
    "diagonal_edges",
    "third_derivative_kernel",
]


@wants_a_number
def output_shape(answer: Any) -> CheckResult:
    """Exercise: the output shape of a 224x224 input and a 5x5 kernel.

    >>> output_shape((220, 220))
    ✅ Right: (224 - 5 + 1) x (224 - 5 + 1) = 220 x 220: the window fits 220 times along each axis.
    """
    hint = "the output loses k - 1 rows and k - 1 columns: (n_h - k_h + 1, n_w - k_w + 1)."
    got = numbers(answer)
    if len(got) > 2 and got[-2:] == [220, 220]:  # torch's output .shape, batch and channel axes included
        hint = "right height and width; the exercise asks for the matrix's shape alone, (H_out, W_out), without batch or channel axes."
    return verdict(
        same_values(answer, (220, 220)),
        "(224 - 5 + 1) x (224 - 5 + 1) = 220 x 220: the window fits 220 times along each axis.",
        hint,
    )


def _band_image() -> torch.Tensor:
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    return X.t().contiguous()  # (8, 6): the band now runs horizontally


@answer_check
def horizontal_edge_kernel(K: Any) -> CheckResult:
    """Exercise: a kernel that finds the edges of the transposed band image.

    The right answers give +1 and -1 on the two edges and 0 elsewhere, like
    ``[[1, -1]]`` did for the vertical band: ``[[1], [-1]]`` or its negative.

    >>> bool(horizontal_edge_kernel([[1.0], [-1.0]]))
    True
    >>> bool(horizontal_edge_kernel([[1.0, -1.0]]))
    False
    """
    X = _band_image()  # (8, 6), float32
    k = host_float64(K)
    if k is None:
        return verdict(False, "", "K must be a small 2-D kernel of numbers, e.g. [[a], [b]].")
    try:
        # the learner's kernel may be int or float64: compare it in the image's dtype, not flag a dtype mismatch
        got = corr2d(X, drop_leading_ones(k, 2).to(X.dtype))  # an nn.Conv2d weight (1, 1, k_h, k_w) too
    except (ValueError, TypeError, RuntimeError) as error:
        return verdict(False, "", f"K must be a small 2-D kernel, e.g. [[a], [b]] ({error}).")
    target = corr2d(X, [[1.0], [-1.0]])
    ok = same_values(got, target) or same_values(got, -target)
    return verdict(
        ok,
        "a 2x1 kernel compares each pixel with the one below it, so it fires on horizontal edges.",
        "turn [[1, -1]] on its side: the kernel must compare vertical neighbours.",
    )


@answer_check
def flipped_kernel(K: Any) -> CheckResult:
    """Exercise: which kernel makes a true convolution equal ``corr2d(X, [[0, 1], [2, 3]])``?

    >>> bool(flipped_kernel([[3, 2], [1, 0]]))
    True
    """
    return verdict(
        same_values(K, [[3.0, 2.0], [1.0, 0.0]]),
        "convolution flips the kernel on both axes, so flipping it first cancels that out.",
        "flip [[0, 1], [2, 3]] left-right and upside down (torch.flip(K, (0, 1))).",
    )


@wants_a_number
def stacked_receptive_field(answer: Any) -> CheckResult:
    """Exercise: the receptive field side of one output after two 3x3 layers.

    >>> bool(stacked_receptive_field(5))
    True
    """
    return verdict(
        same_values(answer, 5),
        "each 3x3 layer adds 2 to the field: 1 + 2 + 2 = 5, the same as one 5x5 layer.",
        "a second-layer cell sees a 3x3 block of first-layer cells; how far does that reach in the input?",
    )


def _diagonal_outputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    X = torch.tril(torch.ones(6, 8))  # (6, 8): ones on and below the diagonal, a staircase edge
    K = torch.tensor([[1.0, -1.0]])  # (1, 2)
    return corr2d(X, K), corr2d(X.t(), K), corr2d(X, K.t())  # (6, 7), (8, 5), (5, 8)


@wants_a_number
def diagonal_edges(answer: Any) -> CheckResult:
    """Exercise: the nonzero counts of ``corr2d(X, K)``, ``corr2d(X.t(), K)`` and
    ``corr2d(X, K.t())`` for ``X = torch.tril(torch.ones(6, 8))`` and ``K = [[1, -1]]``.

    >>> diagonal_edges((6, 5, 5))
    ✅ Right: 6, 5 and 5 nonzero outputs: a diagonal edge is a staircase with a vertical and a horizontal step, so both [1, -1] and its transpose find it.
    >>> diagonal_edges((6, 0, 0))
    ❌ Not yet: Hint: unlike the band, the diagonal edge does not vanish: a staircase has a vertical step in its rows and a horizontal step in its columns.
    >>> diagonal_edges((6, 6, 6))
    ❌ Not yet: Hint: look at X.t(): its first row is all ones and its last two rows all zeros. How many rows still have a step?
    """
    expected = tuple(int((Y != 0).sum()) for Y in _diagonal_outputs())
    hint = "count each output's nonzero entries, e.g. int((Y != 0).sum()), and answer with three numbers."
    counts = numbers(answer)
    if len(counts) == 3 and 0 in counts[1:]:
        hint = ("unlike the band, the diagonal edge does not vanish: a staircase has a vertical step in its "
                "rows and a horizontal step in its columns.")
    elif len(counts) == 3 and counts != list(expected):  # a hint about the first wrong count, not another
        first_wrong = next(i for i in range(3) if counts[i] != expected[i])
        hint = (
            "corr2d(X, K) compares each pixel with its right neighbour: how many rows of X have a step from 1 to 0?",
            "look at X.t(): its first row is all ones and its last two rows all zeros. How many rows still have a step?",
            "K.t() compares each pixel with the one below it: how many columns of X change as you go down?",
        )[first_wrong]
    return verdict(
        same_values(answer, expected),
        f"{expected[0]}, {expected[1]} and {expected[2]} nonzero outputs: a diagonal edge is a staircase with "
        "a vertical and a horizontal step, so both [1, -1] and its transpose find it.",
        hint,
    )


@answer_check
def third_derivative_kernel(K: Any) -> CheckResult:
    """Exercise: the smallest 1-D kernel that gives 0 on every quadratic and a nonzero
    constant on ``t**3`` (a third derivative). Either sign, any nonzero scale.

    >>> third_derivative_kernel([1, -3, 3, -1])
    ✅ Right: 0 on 1, t and t², the constant -6 on t³: [1, -1] applied three times, 3 + 1 = 4 taps.
    >>> bool(third_derivative_kernel([-1, 3, -3, 1]))
    True
    >>> third_derivative_kernel([1, -2, 1])
    ❌ Not yet: Hint: [1, -2, 1] is the second difference: 0 on lines, but not constant on t³. Apply [1, -1] once more.
    >>> third_derivative_kernel([1, -4, 6, -4, 1])
    ❌ Not yet: Hint: that kernel also gives 0 on t³ (a higher difference); the d-th derivative needs d + 1 taps.
    """
    k = host_float64(K)  # (taps,)
    if k is None:
        k = torch.empty(0, dtype=torch.float64)
    k = drop_leading_ones(k, 1)  # a 1 x taps row, as corr2d takes it, or an nn.Conv1d weight (1, 1, taps): the same kernel
    if k.ndim != 1 and k.numel() > 0:
        return verdict(False, "", f"a 1-D kernel is one row of weights, [w0, w1, ...]; got shape {tuple(k.shape)}.")
    if k.numel() == 0 or not bool(torch.isfinite(k).all()):
        return verdict(False, "", "write the kernel as a list of weights, [w0, w1, ...]; the d-th derivative "
                       "needs d + 1 of them, and [1, -1] applied d times gives one.")
    if not bool(k.any()):
        return verdict(False, "", "all zeros gives 0 on everything, t³ included; the kernel must respond to t³.")
    t = torch.arange(12, dtype=torch.float64)  # (12,): enough room for any short kernel
    if k.numel() > t.numel():
        return verdict(False, "", "a derivative kernel is short: the d-th derivative needs only d + 1 taps.")

    def response(f: torch.Tensor) -> torch.Tensor:
        return corr2d(f[None], k[None])[0]  # the kernel slid along a 1 x 12 image

    tol = 1e-6 * float(k.norm())  # relative to the kernel, so [1e-7, -3e-7, 3e-7, -1e-7] counts too
    kills_quadratics = all(bool(response(t**m).abs().max() < tol) for m in range(3))
    on_cubic = response(t**3)  # (12 - taps + 1,)
    cubic_constant = bool((on_cubic - on_cubic[0]).abs().max() < tol) and abs(float(on_cubic[0])) > tol
    ok = k.numel() == 4 and kills_quadratics and cubic_constant
    hint = ("the d-th derivative needs d + 1 taps, and [1, -1] applied d times gives one: binomial coefficients "
            "with alternating signs.")
    if same_values(k, [1.0, -2.0, 1.0]) or same_values(k, [-1.0, 2.0, -1.0]):
        hint = "[1, -2, 1] is the second difference: 0 on lines, but not constant on t³. Apply [1, -1] once more."
    elif k.numel() < 4:
        hint = "fewer than 4 taps cannot give 0 on 1, t and t² without giving 0 on t³ too: you need d + 1 = 4."
    elif kills_quadratics and not cubic_constant:
        hint = "that kernel also gives 0 on t³ (a higher difference); the d-th derivative needs d + 1 taps."
    elif k.numel() > 4 and kills_quadratics:
        hint = "it works, but it is not the smallest: the d-th derivative needs only d + 1 = 4 taps."
    elif k.numel() == 4 and not kills_quadratics:
        hint = "check it on t**2 (and t, and 1): it must give 0 there. Try [1, -1] applied three times."
    value = float(on_cubic[0]) if on_cubic.numel() else 0.0
    return verdict(
        ok,
        f"0 on 1, t and t², the constant {value:g} on t³: [1, -1] applied three times, 3 + 1 = 4 taps.",
        hint,
    )
