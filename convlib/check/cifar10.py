"""Self-checks for the chapter "CIFAR-10 with your own convolution layer"."""

from __future__ import annotations

import re
from typing import Any

from convlib.check._core import CheckResult, answer_check, real_number, same_values, verdict, wants_a_number

__all__ = [
    "CAT_ROW",
    "TEST_LOSSES",
    "cat_accuracy",
    "cifar_flatten_size",
    "loop_epoch_hours",
    "overfit_epoch",
    "smoother_curve",
]

#: Exercise data: one row of a confusion matrix, the 1,000 test cats, by predicted class
#: (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck).
CAT_ROW = (12, 6, 48, 571, 52, 208, 55, 26, 14, 8)
#: Exercise data: test loss after each epoch of a run that trains too long.
TEST_LOSSES = (1.52, 1.21, 1.03, 0.94, 0.91, 0.93, 0.98, 1.04, 1.11)


@wants_a_number
def cifar_flatten_size(answer: Any) -> CheckResult:
    """Exercise: inputs of the linear head of ``cifar_net(widths=(32, 64, 128))`` on 32x32 images.

    >>> bool(cifar_flatten_size(2048))
    True
    >>> bool(cifar_flatten_size(128))
    False
    """
    return verdict(
        same_values(answer, 2048),
        "three blocks, each ending in a 2x2 max pool: 32 -> 16 -> 8 -> 4, so 128 channels x 4 x 4 = 2,048.",
        "padding 1 keeps the side through each 3x3 conv; each pool halves it. Multiply the last "
        "block's channels by the final height and width.",
    )


@wants_a_number
def loop_epoch_hours(answer: Any) -> CheckResult:
    """Exercise: hours per epoch if the loop layer needs 48 s per batch (50,000 images, batches of 128).

    >>> bool(loop_epoch_hours(5.2))
    True
    >>> bool(loop_epoch_hours(0.087))
    False
    """
    hours = 48 * 391 / 3600  # 5.213...
    ok = answer is not None and same_values(answer, hours, atol=0.05)
    return verdict(
        ok,
        f"50,000 / 128 rounds up to 391 batches; 391 x 48 s = 18,768 s, about {hours:.1f} hours, "
        "for one pass over the data, before a single test.",
        "count the batches first (the last one is partial: round up), multiply by 48 s, "
        "then divide by 3,600 s per hour.",
    )


@wants_a_number
def cat_accuracy(answer: Any) -> CheckResult:
    """Exercise: the accuracy on cats, from the row ``CAT_ROW`` of a confusion matrix.

    >>> bool(cat_accuracy(0.571)), bool(cat_accuracy(0.57)), bool(cat_accuracy(57.1))
    (True, True, True)
    >>> bool(cat_accuracy(0.208))
    False
    """
    right = CAT_ROW[3] / sum(CAT_ROW)
    value = real_number(answer)  # also a 0-d tensor or a NumPy scalar
    if value is not None and 1 < value <= 100:  # 57.1 (%) is the same answer as 0.571
        answer = value / 100
    return verdict(
        same_values(answer, right, atol=2e-3),  # 0.57, rounded to two places, is right too
        f"the diagonal entry over the row sum: {CAT_ROW[3]} / {sum(CAT_ROW)} = {right:.3f}. "
        f"The largest error, {CAT_ROW[5]} cats called dogs, is the classic CIFAR-10 confusion.",
        "rows are true classes, columns predictions: the cats predicted as cat sit at column 3 "
        "(airplane is column 0); divide by all cats in the row.",
    )


@wants_a_number
def overfit_epoch(answer: Any) -> CheckResult:
    """Exercise: after which epoch (counting from 1) should training have stopped, given ``TEST_LOSSES``?

    >>> bool(overfit_epoch(5))
    True
    >>> bool(overfit_epoch(9))
    False
    """
    best = min(range(len(TEST_LOSSES)), key=TEST_LOSSES.__getitem__) + 1
    return verdict(
        same_values(answer, best),
        f"the test loss is lowest after epoch {best} ({min(TEST_LOSSES)}); after that it rises while "
        "the training loss keeps falling: the network memorises the training set (overfitting).",
        "find the epoch with the smallest test loss: after it, the test curve turns upward.",
    )


@answer_check
def smoother_curve(answer: Any) -> CheckResult:
    """Exercise: which change smooths a jittery training-loss curve? ``"a"``, ``"b"`` or ``"c"``.

    (a) a larger learning rate, (b) a smaller batch, (c) a larger batch.

    >>> bool(smoother_curve("c"))
    True
    >>> bool(smoother_curve("a"))
    False
    >>> [bool(smoother_curve(a)) for a in ("C.", "(c) a larger batch", "a larger batch")]
    [True, True, True]
    """
    text = answer.strip().lower() if isinstance(answer, str) else ""
    if re.search(r"\b(larger|bigger|increas\w*)\s+(the\s+)?batch", text):
        choice = "c"  # the option in words ("a larger batch" is not option a)
    else:
        letter = re.match(r"\(?([abc])\)?(?:[\s.,:;)]|$)", text)
        choice = letter.group(1) if letter else ""
    ok = choice == "c"
    return verdict(
        ok,
        "a larger batch averages the gradient over more examples, so each step's noise shrinks "
        "(like 1 / sqrt(batch size)). Jitter itself is harmless; a curve that jitters without "
        "going down is the problem.",
        "each step's gradient is an average over the batch; which change makes that average less noisy? "
        "Answer with one letter, e.g. \"b\".",
    )
