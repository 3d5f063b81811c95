"""Self-checks for the chapter "Modern CNNs"."""

from __future__ import annotations

from typing import Any

from convlib.check._core import CheckResult, same_values, verdict

__all__ = ["two_3x3_params", "inception_channels", "nin_switch_dataset", "alexnet_receptive_field", "dropout_scale"]


def two_3x3_params(answer: Any) -> CheckResult:
    """Exercise: weights (no biases) of two stacked 3x3 convs, 64 -> 64 -> 64 channels, and of one 5x5 conv 64 -> 64.

    Answer ``(two_3x3, one_5x5)``.

    >>> bool(two_3x3_params((73_728, 102_400)))
    True
    >>> bool(two_3x3_params((102_400, 73_728)))
    False
    """
    return verdict(
        same_values(answer, (73_728, 102_400)),
        "2 x (3 x 3 x 64 x 64) = 73,728 against 5 x 5 x 64 x 64 = 102,400: the same 5x5 receptive field "
        "for 28% fewer weights, and one more ReLU in between. That is VGG's bet.",
        "a k x k conv from C_in to C_out channels has k * k * C_in * C_out weights; count both layers of the stack.",
    )


def inception_channels(answer: Any) -> CheckResult:
    """Exercise: output channels of ``Inception(256, 128, (128, 192), (32, 96), 64)``.

    >>> bool(inception_channels(480))
    True
    >>> bool(inception_channels(256))
    False
    """
    return verdict(
        same_values(answer, 480),
        "the four branches are concatenated: 128 + 192 + 96 + 64 = 480. The input's 256 and the "
        "reduction widths (128, 32) do not appear in the output.",
        "add the output channels of the four branches: c1, the second number of c2 and of c3, and c4.",
    )


def nin_switch_dataset(answer: Any) -> CheckResult:
    """Exercise: NiN from 10-class grayscale to 2-class RGB images of another size.

    Answer ``(in_channels of the first conv, out_channels of the last NiN block)``.

    >>> bool(nin_switch_dataset((3, 2)))
    True
    >>> bool(nin_switch_dataset((1, 10)))
    False
    """
    return verdict(
        same_values(answer, (3, 2)),
        "RGB needs 3 input channels and two classes need 2 class maps; the image size changes nothing, "
        "because kernels slide over any height and width and global average pooling ends at 1 x 1.",
        "which numbers in the network depend on the data: the colour channels, the classes, or the image size?",
    )


def alexnet_receptive_field(answer: Any) -> CheckResult:
    """Exercise: receptive field after AlexNet's 11x11 stride-4 conv and its 3x3 stride-2 max pooling.

    >>> bool(alexnet_receptive_field(19))
    True
    >>> bool(alexnet_receptive_field(13))
    False
    """
    return verdict(
        same_values(answer, 19),
        "r = 11 after the conv, jump 4; the pool adds (3 - 1) * 4 = 8: r = 19 pixels.",
        "r_out = r_in + (k - 1) * j_in, where the jump j_in is the product of the earlier strides.",
    )


def dropout_scale(answer: Any) -> CheckResult:
    """Exercise: the factor ``nn.Dropout(p=0.5)`` multiplies kept units by during training.

    >>> bool(dropout_scale(2))
    True
    >>> bool(dropout_scale(0.5))
    False
    """
    return verdict(
        same_values(answer, 2.0),
        "kept units are divided by 1 - p = 0.5, so each unit's expected value is unchanged and "
        "evaluation needs no rescaling.",
        "half the units are zeroed; what must the other half be multiplied by to keep the average?",
    )
