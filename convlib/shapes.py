"""Shape arithmetic for sliding windows."""

from __future__ import annotations

__all__ = ["conv_output_size"]


def conv_output_size(
    n: int, k: int, *, padding: int = 0, stride: int = 1, dilation: int = 1
) -> int:
    """Length of a sliding-window output along one axis.

    A window of ``k`` taps spaced ``dilation`` apart spans
    ``d * (k - 1) + 1`` cells; it fits ``floor((n + 2p - span) / s) + 1``
    times into an input of length ``n`` padded by ``p`` on each side.
    With ``dilation=1`` this is the lesson's ``floor((n - k + 2p + s) / s)``.

    >>> conv_output_size(7, 3)                      # 7x7 input, 3x3 kernel
    5
    >>> conv_output_size(7, 3, stride=2)
    3
    >>> conv_output_size(7, 3, padding=1)           # "same" padding
    7
    >>> conv_output_size(8, 3, padding=1, stride=2)
    4
    """
    for name, value, low in (("n", n, 1), ("k", k, 1), ("stride", stride, 1),
                             ("dilation", dilation, 1), ("padding", padding, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(
                f"conv_output_size: expected {name} to be an int >= {low}, got {value!r}. "
                f"Fix: pass {name}={low} or larger."
            )
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ValueError(
            f"conv_output_size: expected the window (span {span}) to fit the padded input "
            f"({n} + 2*{padding} = {n + 2 * padding}), got a larger window. "
            "Fix: use a smaller kernel or dilation, or more padding."
        )
    return (n + 2 * padding - span) // stride + 1
