"""Self-checks for the chapter "CIFAR-10 in seconds"."""

from __future__ import annotations

import math
from typing import Any

from convlib.check._core import CheckResult, real_number, same_values, verdict, wants_a_number

__all__ = ["distinct_views", "smoothed_targets", "speedrun_steps", "padded_dataset_mb", "tta_passes"]


@wants_a_number
def distinct_views(answer: Any) -> CheckResult:
    """Exercise: how many different training views of one image do shifts of up to 2 pixels and flips give?

    >>> distinct_views(50)
    ✅ Right: 5 vertical x 5 horizontal shifts (-2..+2 each) x 2 (flipped or not) = 50 views.
    """
    return verdict(
        same_values(answer, 50),
        "5 vertical x 5 horizontal shifts (-2..+2 each) x 2 (flipped or not) = 50 views.",
        "count the shifts on one axis (from -2 to +2), square it for two axes, and double it for the flip.",
    )


@wants_a_number
def smoothed_targets(answer: Any) -> CheckResult:
    """Exercise: the label-smoothed target for 10 classes, eps = 0.2: (true class, each other class).

    >>> bool(smoothed_targets((0.82, 0.02)))
    True
    >>> bool(smoothed_targets((0.8, 0.02)))
    False
    """
    ok = same_values(answer, (0.82, 0.02), atol=1e-6)
    return verdict(
        ok,
        "(1 - 0.2) x 1 + 0.2 / 10 = 0.82 for the true class and 0.2 / 10 = 0.02 for each of the 9 others; they sum to 1.",
        "the target is (1 - eps) x one-hot + eps / K: the eps / K share goes to every class, the true one included. "
        "Answer as a pair (true, other).",
    )


@wants_a_number
def speedrun_steps(answer: Any) -> CheckResult:
    """Exercise: optimizer steps of 12 epochs over 50,000 images at batch 1024, dropping the last partial batch.

    >>> bool(speedrun_steps(576))
    True
    """
    if same_values(answer, 588) or same_values(answer, 586):
        return verdict(False, "", "drop_last throws away the last, partial batch of each epoch: use 50,000 // 1024.")
    return verdict(
        same_values(answer, 576),
        "50,000 // 1024 = 48 full batches per epoch, x 12 epochs = 576 steps.",
        "count the full batches in one epoch (integer division), then multiply by the epochs.",
    )


@wants_a_number
def padded_dataset_mb(answer: Any) -> CheckResult:
    """Exercise: megabytes (10^6 bytes) of the padded training set, 50,000 x 3 x 36 x 36 in bf16.

    >>> bool(padded_dataset_mb(388.8))
    True
    >>> bool(padded_dataset_mb(777.6))
    False
    """
    value = real_number(answer)
    if value is None:
        value = math.nan
    if abs(value - 777.6) <= 7.8:
        return verdict(False, "", "bf16 takes 2 bytes per value, not 4 (that is float32).")
    if abs(value - 370.8) <= 3.7:
        return verdict(False, "", "that is MiB (2^20 bytes); the exercise asks for MB = 10^6 bytes.")
    return verdict(
        abs(value - 388.8) <= 3.9,
        "50,000 x 3 x 36 x 36 = 194.4 million values x 2 bytes = 388.8 MB: small next to a GPU's 80-141 GB.",
        "multiply the four sizes for the number of values, then by the bytes per bf16 value; divide by 10^6.",
    )


@wants_a_number
def tta_passes(answer: Any) -> CheckResult:
    """Exercise: forward passes per test image at TTA level 2.

    >>> bool(tta_passes(6))
    True
    """
    return verdict(
        same_values(answer, 6),
        "three positions (unshifted, up-left, down-right), each with and without the flip: 3 x 2 = 6.",
        "level 1 costs 2 passes (x and its mirror); level 2 applies level 1 at how many positions?",
    )
