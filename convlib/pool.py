"""Pooling (汇聚/池化): one window code for max, average and custom reductions."""

from __future__ import annotations

from typing import Callable, Literal, Union

import torch
import torch.nn.functional as F

from convlib.validate import as_pair, check_fits, check_float, ConvlibInputError

__all__ = ["pool2d", "windows2d"]

Reduce = Callable[[torch.Tensor], torch.Tensor]
Mode = Union[Literal["max", "avg"], Reduce]


def windows2d(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    pad_value: float = 0.0,
) -> torch.Tensor:
    """Every pooling window of ``x (N, C, H, W)`` as ``(N, C, H_out, W_out, k_h*k_w)``.

    ``stride`` defaults to the window size, as in ``nn.MaxPool2d``.

    >>> windows2d(torch.arange(9.).reshape(1, 1, 3, 3), 2, stride=1)[0, 0, 0, 0]
    tensor([0., 1., 3., 4.])
    """
    k = as_pair(kernel_size, "kernel_size")
    s = as_pair(stride if stride is not None else k, "stride")
    p = as_pair(padding, "padding", minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ConvlibInputError(
            f"padding: expected at most half the window ({k[0] // 2}, {k[1] // 2}) so every "
            f"window holds a real value, got {p}. Fix: use padding <= kernel_size // 2."
        )
    check_fits(tuple(x.shape[2:]), k, p, name="kernel_size")
    if p != (0, 0):
        x = F.pad(x, (p[1], p[1], p[0], p[0]), value=pad_value)
    win = x.unfold(2, k[0], s[0]).unfold(3, k[1], s[1])  # (N, C, H_out, W_out, k_h, k_w)
    return win.flatten(-2)  # (N, C, H_out, W_out, k_h*k_w)


def pool2d(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    mode: Mode = "max",
) -> torch.Tensor:
    """Max, average or custom pooling of each channel separately.

    ``x`` is ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``; the result has the
    same rank, the same ``N`` and ``C``, and ``H_out x W_out`` spatial size.
    ``mode`` is ``"max"``, ``"avg"`` (padding counts as zeros, like
    ``F.avg_pool2d``'s default) or any function reducing the last axis of a
    ``(..., k_h*k_w)`` tensor, e.g. ``lambda w: w.norm(dim=-1)``.

    >>> X = torch.arange(9.).reshape(3, 3)
    >>> pool2d(X, 2, stride=1)
    tensor([[4., 5.],
            [7., 8.]])
    >>> pool2d(X, 2, stride=1, mode="avg")
    tensor([[2., 3.],
            [5., 6.]])
    """
    check_float(x, "x")
    if x.ndim not in (2, 3, 4):
        raise ConvlibInputError(
            f"x: expected (H, W), (C, H, W) or (N, C, H, W), got {x.ndim}-D shape "
            f"{tuple(x.shape)}. Fix: reshape to (N, C, H, W)."
        )
    rank = x.ndim
    x4 = x.reshape((1,) * (4 - rank) + tuple(x.shape))  # (N, C, H, W)
    if mode == "max":
        win = windows2d(x4, kernel_size, stride=stride, padding=padding, pad_value=float("-inf"))
        out = win.max(dim=-1).values
    elif mode == "avg":
        out = windows2d(x4, kernel_size, stride=stride, padding=padding).mean(dim=-1)
    elif callable(mode):
        out = mode(windows2d(x4, kernel_size, stride=stride, padding=padding))
    else:
        raise ConvlibInputError(
            f"mode: expected 'max', 'avg' or a function of the windows, got {mode!r}. "
            "Fix: mode='max' or mode=lambda w: w.median(dim=-1).values."
        )
    return out.reshape(tuple(x.shape[:-2]) + tuple(out.shape[-2:]))  # same rank as x
