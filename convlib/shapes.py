"""Shape arithmetic for sliding windows."""

from __future__ import annotations

from convlib.validate import check_int

__all__ = ["conv_output_size", "conv_transpose_output_size"]


def _check_ints(fn: str, **values: tuple[int, int]) -> tuple[int, ...]:
    """Each ``name=(value, lowest allowed)`` must be a whole number at least that low; the values as ints."""
    return tuple(
        check_int(value, fn, minimum=low, expected=f"{name} to be an int >= {low}", fix=f"pass {name}={low} or larger")
        for name, (value, low) in values.items()
    )


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
    n, k, stride, dilation, padding = _check_ints(
        "conv_output_size", n=(n, 1), k=(k, 1), stride=(stride, 1), dilation=(dilation, 1), padding=(padding, 0))
    span = dilation * (k - 1) + 1
    if span > n + 2 * padding:
        raise ValueError(
            f"conv_output_size: expected the window (span {span}) to fit the padded input "
            f"({n} + 2*{padding} = {n + 2 * padding}), got a larger window. "
            "Fix: use a smaller kernel or dilation, or more padding."
        )
    return (n + 2 * padding - span) // stride + 1


def conv_transpose_output_size(
    n: int, k: int, *, padding: int = 0, stride: int = 1, dilation: int = 1, output_padding: int = 0
) -> int:
    """Length of a transposed convolution's output along one axis.

    Each of the ``n`` input cells writes a kernel span of ``d * (k - 1) + 1`` cells,
    ``s`` apart: ``(n - 1) * s + d * (k - 1) + 1`` cells in all. ``padding``
    removes ``p`` from each side, ``output_padding`` adds cells at the end:
    ``(n - 1) * s - 2p + d * (k - 1) + 1 + output_padding``. It undoes
    :func:`conv_output_size`: for ``output_padding < stride``, a convolution with
    the same ``k, p, s, d`` maps the result back to ``n``.

    >>> conv_transpose_output_size(2, 2)             # 2x2 input, 2x2 kernel
    3
    >>> conv_transpose_output_size(4, 3, padding=1, stride=2, output_padding=1)
    8
    >>> conv_output_size(8, 3, padding=1, stride=2)  # and back again
    4
    """
    n, k, stride, dilation, padding, output_padding = _check_ints(
        "conv_transpose_output_size", n=(n, 1), k=(k, 1), stride=(stride, 1), dilation=(dilation, 1),
        padding=(padding, 0), output_padding=(output_padding, 0))
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"conv_transpose_output_size: expected output_padding smaller than the stride "
            f"({stride}) or the dilation ({dilation}), got {output_padding}. Fix: output_padding "
            "only picks one of the sizes a strided convolution maps to the same output."
        )
    size = (n - 1) * stride - 2 * padding + dilation * (k - 1) + 1 + output_padding
    if size < 1:
        raise ValueError(
            f"conv_transpose_output_size: expected padding that leaves at least one cell, got "
            f"padding={padding}, which leaves {size}. Fix: use less padding."
        )
    return size
