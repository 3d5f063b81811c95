"""Self-checks for the chapter "LeNet"."""

from __future__ import annotations

import math
import re
from typing import Any

import torch
import torch.nn.functional as F

from convlib.check._core import CheckResult, answer_check, same_values, verdict, wants_a_number

__all__ = [
    "lenet_flatten_size",
    "lenet_conv2_params",
    "lenet_first_conv_macs",
    "zero_grad_resets",
    "equal_scores_loss",
]


@wants_a_number
def lenet_flatten_size(answer: Any) -> CheckResult:
    """Exercise: features entering the first dense layer if the first conv had no padding (28x28 input).

    >>> bool(lenet_flatten_size(256))
    True
    >>> bool(lenet_flatten_size(400))
    False
    """
    return verdict(
        same_values(answer, 256),
        "28 -> 24 (5x5 conv) -> 12 (pool) -> 8 (5x5 conv) -> 4 (pool): 16 channels x 4 x 4 = 256.",
        "trace the side: a 5x5 conv without padding takes 4 off, a 2x2 pool with stride 2 halves it; "
        "then multiply by the 16 channels.",
    )


@wants_a_number
def lenet_conv2_params(answer: Any) -> CheckResult:
    """Exercise: learnable parameters of LeNet's second conv layer (6 -> 16 channels, 5x5).

    >>> bool(lenet_conv2_params(2416))
    True
    >>> bool(lenet_conv2_params(416))
    False
    """
    return verdict(
        same_values(answer, 2416),
        "16 kernels of shape 6 x 5 x 5 = 2,400 weights, plus 16 biases: 2,416.",
        "each of the 16 output channels has its own kernel covering all 6 input channels, plus one bias.",
    )


@wants_a_number
def lenet_first_conv_macs(answer: Any) -> CheckResult:
    """Exercise: multiply-adds of LeNet's first conv layer for one 28x28 image.

    >>> bool(lenet_first_conv_macs(117_600))
    True
    >>> bool(lenet_first_conv_macs(150))
    False
    """
    return verdict(
        same_values(answer, 117_600),
        "6 channels x 28 x 28 outputs, each a 1 x 5 x 5 dot product: 6 * 784 * 25 = 117,600.",
        "count the output values (C_out x H_out x W_out) and multiply by the work per value (C_in x k_h x k_w).",
    )


@answer_check
def zero_grad_resets(answer: Any) -> CheckResult:
    """Exercise: what does ``optimizer.zero_grad()`` set to zero: "weights", "gradients" or "both"?

    >>> bool(zero_grad_resets("gradients"))
    True
    >>> bool(zero_grad_resets("both"))
    False
    >>> [bool(zero_grad_resets(a)) for a in ("only the gradients", "gradients (not the weights)", ".grad",
    ...                                      "gradients, weights not")]
    [True, True, True, True]
    """
    # "the gradients.", ".grad", "Gradient buffers", "only the gradients, not the weights" all name
    # the gradients alone: lowercase, drop punctuation (the dot of .grad too), articles and fillers,
    # and whatever a "not" or "no" rules out, then look for what is left
    words, ruled_out = [], False
    for word in re.sub(r"[^a-z ]", " ", str(answer).lower()).split():
        if word in {"the", "a", "an", "all", "only", "just", "its", "their"}:
            continue
        if word in {"not", "no", "never"}:
            ruled_out = True
        elif ruled_out:
            ruled_out = False  # the word a "not" rules out
        else:
            words.append(word)
    if ruled_out and words:  # a last "not" rules out the word before it: "weights not"
        words.pop()
    gradients = any(w.startswith("grad") for w in words)
    weights = any(w.startswith(("weight", "param")) or w == "both" for w in words)
    hint = "if the weights were reset every step, could the accuracy curve go up?"
    if not gradients and not weights:
        hint = 'answer with one word: "weights", "gradients" or "both".'
    return verdict(
        gradients and not weights,
        "only the .grad buffers: backward() adds into them, so each step must start from zero. "
        "The weights keep what they learned, which is why accuracy keeps rising.",
        hint,
    )


@wants_a_number
def equal_scores_loss(answer: Any) -> CheckResult:
    """Exercise: the cross-entropy loss when a network gives all 10 classes the same score.

    >>> bool(equal_scores_loss(2.303)), bool(equal_scores_loss(2.30))
    (True, True)
    >>> bool(equal_scores_loss(0.1))
    False
    """
    # the same score for every class (any value: softmax only sees differences), true class 0
    expected = float(F.cross_entropy(torch.zeros(1, 10), torch.tensor([0])))  # = log(10)
    ok = answer is not None and same_values(answer, expected, atol=5e-3)
    hint = ("equal scores give every class the same probability. Which one, and what is minus its "
            "(natural) logarithm?")
    if answer is not None and not ok:
        if same_values(answer, 0.1, atol=1e-3):
            hint = "0.1 is the true class's probability p; the loss is -log p."
        elif same_values(answer, -expected, atol=5e-3):
            hint = "log of a probability below 1 is negative; the loss is MINUS the log, so it is positive."
        elif same_values(answer, math.log10(10), atol=1e-3) or same_values(answer, math.log2(10), atol=5e-3):
            hint = "cross-entropy uses the natural logarithm (base e): torch.log, math.log."
        elif same_values(answer, 0, atol=1e-3):
            hint = "a loss of 0 needs p_true = 1; with equal scores the probability is shared by all 10 classes."
    return verdict(
        ok,
        f"each class gets p = 1/10, so the loss is -log(1/10) = log 10 = {expected:.3f}, whatever the "
        "true class. An untrained network starts near this value: the loss of a uniform guess.",
        hint,
    )
