"""Parameter memory, and the layer between fully connected and convolution.

Parameter counts of the usual layers live in :mod:`convlib.counts`
(``conv_params``, ``linear_params``); this module adds the *locally
connected* layer (locality without weight sharing) and turns counts into
bytes and readable sizes.

>>> from convlib.counts import linear_params
>>> human_bytes(bytes_float32(linear_params(12_000_000 * 3, 100, bias=False)))
'14.4 GB'
"""

from __future__ import annotations

from convlib.validate import as_pair, check_int

__all__ = ["bytes_float32", "human_bytes", "locally_connected_params"]


def _count(value: object, name: str) -> int:
    return check_int(value, name, minimum=0, fix="pass a whole number of parameters, e.g. from convlib.conv_params(...)")


def bytes_float32(count: int) -> int:
    """Bytes needed to store ``count`` float32 numbers (4 bytes each).

    >>> bytes_float32(3_600_000_000)
    14400000000
    """
    return 4 * _count(count, "count")


def human_bytes(n: int) -> str:
    """A byte count in decimal units (1 GB = 10**9 bytes), 3 significant digits.

    >>> human_bytes(14_400_000_000)
    '14.4 GB'
    >>> human_bytes(3040)
    '3.04 kB'
    >>> human_bytes(12)
    '12 B'
    >>> human_bytes(999_999)  # rounds up into the next unit
    '1 MB'
    """
    n = _count(n, "n")
    if n < 1000:
        return f"{n} B"
    for unit, size in (("kB", 10**3), ("MB", 10**6), ("GB", 10**9)):
        shown = float(f"{n / size:.3g}")  # rounded to 3 digits first: 999_999 B is 1 MB, not "1e+03 kB"
        if shown < 1000:
            return f"{shown:g} {unit}"
    tera = float(f"{n / 10**12:.3g}")
    return f"{tera:g} TB" if tera < 1000 else f"{round(n / 10**12):,} TB"


def locally_connected_params(
    c_in: int,
    c_out: int,
    kernel_size: int | tuple[int, int],
    out_size: int | tuple[int, int],
    *,
    bias: bool = True,
) -> int:
    """Parameters of a convolution-shaped layer whose outputs do **not** share weights.

    Each of the ``c_out * H_out * W_out`` outputs reads a ``(c_in, k_h, k_w)``
    window (locality, 局部性) through weights of its own, plus its own bias.
    Sharing those weights across positions (translation invariance) turns it
    into a convolution layer with :func:`convlib.conv_params` parameters.

    >>> # ten 5x5x3 filters, 32x32 outputs
    >>> locally_connected_params(3, 10, 5, 32)
    778240
    >>> locally_connected_params(3, 10, 5, 32, bias=False)
    768000
    """
    c_in, c_out = _positive(c_in, "c_in"), _positive(c_out, "c_out")
    kh, kw = as_pair(kernel_size, "kernel_size")
    h_out, w_out = as_pair(out_size, "out_size")
    outputs = c_out * h_out * w_out
    return outputs * c_in * kh * kw + (outputs if bias else 0)


def _positive(value: object, name: str) -> int:
    return check_int(value, name, minimum=1, fix=f"pass {name}=1 or larger")
