"""How often a sliding window uses each input cell.

With no padding the corners sit in one window and the centre in up to
``k * k``; zero padding (填充) and stride (步幅) change those counts. The
counts come from ``F.fold``: put a 1 in every tap of every window and add
the windows back onto the input grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from convlib.validate import as_pair, check_fits

__all__ = ["input_usage"]


def input_usage(
    size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    *,
    padding: int | tuple[int, int] = 0,
    stride: int | tuple[int, int] = 1,
    dilation: int | tuple[int, int] = 1,
    include_padding: bool = False,
) -> torch.Tensor:
    """Count, for each input cell, the windows (output positions) that read it.

    ``size`` is the input's ``(H, W)``. Returns an int64 tensor ``(H, W)``, or
    ``(H + 2 p_h, W + 2 p_w)`` with ``include_padding=True`` (the padded grid,
    padding cells included). The counts add up to
    ``H_out * W_out * k_h * k_w`` over the padded grid: every tap of every
    window lands on exactly one cell.

    >>> input_usage(4, 3)                # 4x4 input, 3x3 kernel, no padding
    tensor([[1, 2, 2, 1],
            [2, 4, 4, 2],
            [2, 4, 4, 2],
            [1, 2, 2, 1]])
    >>> input_usage(4, 3, padding=1)[0]  # with padding, the edge is used more
    tensor([4, 6, 6, 4])
    >>> input_usage(7, 3, stride=2)[0]   # 7x7, 3x3, stride 2: 1, 1, 2, 1, 2, 1, 1
    tensor([1, 1, 2, 1, 2, 1, 1])
    """
    h, w = as_pair(size, "size")
    k = as_pair(kernel_size, "kernel_size")
    p = as_pair(padding, "padding", minimum=0)
    s = as_pair(stride, "stride")
    d = as_pair(dilation, "dilation")
    check_fits((h, w), (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1), p, name="kernel_size")
    ph, pw = h + 2 * p[0], w + 2 * p[1]
    n_windows = ((ph - d[0] * (k[0] - 1) - 1) // s[0] + 1) * ((pw - d[1] * (k[1] - 1) - 1) // s[1] + 1)
    taps = torch.ones(1, k[0] * k[1], n_windows, dtype=torch.float64)  # (1, k_h*k_w, L)
    counts = F.fold(taps, (ph, pw), k, dilation=d, stride=s)[0, 0]  # (H + 2p_h, W + 2p_w)
    counts = counts.round().long()
    if include_padding:
        return counts
    return counts[p[0] : p[0] + h, p[1] : p[1] + w].contiguous()  # (H, W)
