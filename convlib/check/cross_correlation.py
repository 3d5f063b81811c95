"""Self-checks for the chapter "Cross-correlation"."""

from __future__ import annotations

from typing import Any

import torch

from convlib.check._core import CheckResult, same_values, verdict
from convlib.corr import corr2d

__all__ = ["output_shape", "horizontal_edge_kernel", "flipped_kernel", "stacked_receptive_field"]


def output_shape(answer: Any) -> CheckResult:
    """Exercise: the output shape of a 224x224 input and a 5x5 kernel.

    >>> output_shape((220, 220))
    ✅ Right: (224 - 5 + 1) x (224 - 5 + 1) = 220 x 220: the window fits 220 times along each axis.
    """
    return verdict(
        same_values(answer, (220, 220)),
        "(224 - 5 + 1) x (224 - 5 + 1) = 220 x 220: the window fits 220 times along each axis.",
        "the output loses k - 1 rows and k - 1 columns: (n_h - k_h + 1, n_w - k_w + 1).",
    )


def _band_image() -> torch.Tensor:
    X = torch.ones(6, 8)
    X[:, 2:6] = 0
    return X.t().contiguous()  # (8, 6): the band now runs horizontally


def horizontal_edge_kernel(K: Any) -> CheckResult:
    """Exercise: a kernel that finds the edges of the transposed band image.

    The right answers give +1 and -1 on the two edges and 0 elsewhere, like
    ``[[1, -1]]`` did for the vertical band: ``[[1], [-1]]`` or its negative.

    >>> bool(horizontal_edge_kernel([[1.0], [-1.0]]))
    True
    >>> bool(horizontal_edge_kernel([[1.0, -1.0]]))
    False
    """
    try:
        got = corr2d(_band_image(), K)
    except (ValueError, TypeError, RuntimeError) as error:
        return verdict(False, "", f"K must be a small 2-D kernel, e.g. [[a], [b]] ({error}).")
    target = corr2d(_band_image(), [[1.0], [-1.0]])
    ok = same_values(got, target) or same_values(got, -target)
    return verdict(
        ok,
        "a 2x1 kernel compares each pixel with the one below it, so it fires on horizontal edges.",
        "turn [[1, -1]] on its side: the kernel must compare vertical neighbours.",
    )


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
