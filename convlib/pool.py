"""Pooling (汇聚/池化): one window code for max, average and custom reductions."""

from __future__ import annotations

from typing import Callable, Literal, Union

import torch
import torch.nn.functional as F

from convlib import validate
from convlib._torchlike import channels_last, grad_stored
from convlib.validate import as_pair, check_bool, check_fits, check_float, check_int, ConvlibInputError

__all__ = ["INTEGER_DTYPES", "adaptive_window", "pool2d", "pool_geometry", "windows2d"]

Reduce = Callable[[torch.Tensor], torch.Tensor]
Mode = Union[Literal["max", "avg"], Reduce]
IntPair = tuple[int, int]

#: The integer dtypes :func:`convlib.pool2d` takes besides floating point (``F.max_pool2d`` takes them all on the CPU),
#: the same that :func:`convlib.conv2d` convolves exactly.
INTEGER_DTYPES = validate.INTEGER_DTYPES


def pool_geometry(
    size: tuple[int, ...], k: IntPair, s: IntPair, p: IntPair, d: IntPair, ceil_mode: bool
) -> tuple[IntPair, IntPair]:
    """``(H_out, W_out)`` of a pooling layer, and the cells its last ``ceil_mode`` window hangs past the padding.

    ``size`` is the input's ``(H, W)``; ``k, s, p, d`` the window, stride, padding
    and dilation, as pairs. Floor mode: ``(n + 2p - d(k-1) - 1) // s + 1``. Ceil mode
    rounds up, and keeps the last window only when it starts inside the input or
    its left padding (PyTorch's rule); the second pair says how many cells that
    window reaches beyond the bottom/right padding (0 in floor mode).

    >>> # 5 cells, windows of 2: the last one holds 1 cell
    >>> pool_geometry((5, 5), (2, 2), (2, 2), (0, 0), (1, 1), True)
    ((3, 3), (1, 1))
    """
    out, extra = [], []
    for n, kk, ss, pp, dd in zip(size, k, s, p, d):
        room = n + 2 * pp - (dd * (kk - 1) + 1)  # how far the window can travel
        o = (-(-room // ss) if ceil_mode else room // ss) + 1
        if ceil_mode and (o - 1) * ss >= n + pp:  # the last window would start in the right padding
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (n + 2 * pp)))
    return (out[0], out[1]), (extra[0], extra[1])


def adaptive_window(in_size: int, out_size: int, i: int) -> tuple[int, int]:
    """The cells ``start:end`` of an input side of ``in_size`` that adaptive pooling to ``out_size`` reads for output ``i``.

    PyTorch's rule (``nn.AdaptiveAvgPool2d``, ``nn.AdaptiveMaxPool2d``, per axis):
    ``start = floor(i * in_size / out_size)``, ``end = ceil((i + 1) * in_size / out_size)``.
    The windows cover the input; they differ in size by at most one cell and may
    overlap when ``out_size`` does not divide ``in_size``. ``out_size = 1`` is global
    pooling: one window, the whole side. Raises :class:`~convlib.ConvlibInputError`
    unless ``in_size, out_size >= 1`` and ``0 <= i < out_size``.

    >>> # 13 cells into 6 windows: sizes 3 and 4, overlapping
    >>> [adaptive_window(13, 6, i) for i in range(6)]
    [(0, 3), (2, 5), (4, 7), (6, 9), (8, 11), (10, 13)]
    >>> adaptive_window(7, 1, 0)  # global pooling
    (0, 7)
    """
    in_size, out_size = (check_int(value, name, minimum=1, fix="pass a side length, e.g. 7")
                         for name, value in (("in_size", in_size), ("out_size", out_size)))
    i = check_int(i, "i", minimum=0, maximum=out_size - 1, expected=f"an output index from 0 to {out_size - 1}",
                  fix="i in range(out_size)")
    return i * in_size // out_size, -(-(i + 1) * in_size // out_size)


def _parse(
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None,
    padding: int | tuple[int, int],
    dilation: int | tuple[int, int],
) -> tuple[IntPair, IntPair, IntPair, IntPair]:
    """``(kernel, stride, padding, dilation)`` as pairs; ``stride=None`` is the window, and so is an
    empty ``()`` or ``[]``, as ``F.max_pool2d`` and ``F.avg_pool2d`` read it.

    Padding is at most half the window, ``kernel_size // 2`` (PyTorch's rule, dilation or not).
    """
    k = as_pair(kernel_size, "kernel_size")
    empty = isinstance(stride, (tuple, list)) and len(stride) == 0
    s = as_pair(k if stride is None or empty else stride, "stride")
    p = as_pair(padding, "padding", minimum=0)
    d = as_pair(dilation, "dilation")
    half = (k[0] // 2, k[1] // 2)
    if p[0] > half[0] or p[1] > half[1]:
        raise ConvlibInputError(
            f"padding: expected at most half the window {half} so every window holds a real value, "
            f"got {p}. Fix: use padding <= kernel_size // 2."
        )
    return k, s, p, d


def _padding_only_window(size: tuple[int, ...], k: IntPair, s: IntPair, p: IntPair, d: IntPair,
                         ceil_mode: bool) -> str | None:
    """The first output row or column whose windows hold padding only (``"output row 0"``), else ``None``.

    With ``padding <= kernel_size // 2`` that happens only when dilation spreads
    the window's cells over a small input: cells -1 and 1 of a 1-wide input.

    >>> _padding_only_window((1, 1), (1, 2), (1, 1), (0, 1), (1, 2), False)
    'output column 0'
    """
    if d == (1, 1):  # padding <= kernel_size // 2 already leaves a real cell in every window
        return None
    out, _ = pool_geometry(size, k, s, p, d, ceil_mode)
    for axis, name in enumerate(("row", "column")):
        for o in range(out[axis]):
            cells = [o * s[axis] - p[axis] + j * d[axis] for j in range(k[axis])]
            if not any(0 <= c < size[axis] for c in cells):
                return f"output {name} {o}"
    return None


def windows2d(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    pad_value: float | int = 0.0,
) -> torch.Tensor:
    """Every pooling window of ``x (N, C, H, W)`` as ``(N, C, H_out, W_out, k_h*k_w)``.

    ``stride`` defaults to the window size, as in ``nn.MaxPool2d``. ``dilation``
    spaces the window's cells; ``ceil_mode`` keeps a last, partial window
    (``H_out`` rounded up, PyTorch's rule), whose missing cells hold ``pad_value``
    like the padding. A dilated window over a small input can hold padding only.

    >>> windows2d(torch.arange(9.).reshape(1, 1, 3, 3), 2, stride=1)[0, 0, 0, 0]
    tensor([0., 1., 3., 4.])
    """
    k, s, p, d = _parse(kernel_size, stride, padding, dilation)
    ceil_mode = check_bool(ceil_mode, "ceil_mode")
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)  # the dilated window
    out, extra = pool_geometry(tuple(x.shape[2:]), k, s, p, d, ceil_mode)
    if not ceil_mode or min(out) < 1:  # ceil_mode keeps a window that hangs past the padding, as torch does
        check_fits(tuple(x.shape[2:]), span, p, name="kernel_size")
    if p != (0, 0) or extra != (0, 0):
        x = F.pad(x, (p[1], p[1] + extra[1], p[0], p[0] + extra[0]), value=pad_value)
    win = x.unfold(2, span[0], s[0]).unfold(3, span[1], s[1])  # (N, C, H_out, W_out, span_h, span_w)
    win = win[..., :: d[0], :: d[1]]  # (N, C, H_out, W_out, k_h, k_w): every d-th cell of the span
    return win.flatten(-2)  # (N, C, H_out, W_out, k_h*k_w)


def pool2d(
    x: torch.Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    *,
    mode: Mode = "max",
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    return_indices: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Max, average or custom pooling of each channel separately.

    ``x`` is ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``; the result has the
    same rank, the same ``N`` and ``C``, and ``H_out x W_out`` spatial size.
    ``x`` is floating point or an integer tensor (:data:`~convlib.pool.INTEGER_DTYPES`); on
    integers the result keeps the dtype, and an average is rounded toward zero,
    as ``F.avg_pool2d`` rounds an int64 one.
    ``mode`` is ``"max"``, ``"avg"`` or any function reducing the last axis of a
    ``(..., k_h*k_w)`` tensor, e.g. ``lambda w: w.norm(dim=-1)`` (it sees padding as zeros).
    The other arguments mean what they mean in ``F.max_pool2d`` / ``F.avg_pool2d``:
    ``dilation`` spaces the window's cells; ``ceil_mode`` rounds ``H_out`` up,
    keeping a last, partial window; ``count_include_pad`` (average only) says
    whether padded zeros count in the mean (cells of a partial ``ceil_mode``
    window past the padding never do); ``divisor_override`` (average only) divides
    every window's sum by that number instead; ``return_indices`` (max only) also
    returns where each maximum came from, as the index ``row * W + column`` of its
    cell in the unpadded input (``F.max_unpool2d``'s input). A dilated max window that
    holds padding only gives ``-inf``, as in ``F.max_pool2d``, and passes no gradient;
    ``return_indices`` refuses such a window, whose maximum has no input cell (PyTorch
    returns an index outside the input there). A channels-last batch gives a
    channels-last result and gradient, as in torch. ``stride`` and ``padding`` may
    come positionally, in ``F.max_pool2d``'s order; the rest are keywords.

    >>> X = torch.arange(9.).reshape(3, 3)
    >>> pool2d(X, 2, stride=1)
    tensor([[4., 5.],
            [7., 8.]])
    >>> pool2d(X, 2, stride=1, mode="avg")
    tensor([[2., 3.],
            [5., 6.]])
    >>> # each maximum's cell, row * W + column
    >>> pool2d(X, 2, stride=1, return_indices=True)[1]
    tensor([[4, 5],
            [7, 8]])
    >>> # -3 / 4, rounded toward zero
    >>> pool2d(torch.tensor([[-7, 2], [1, 1]]), 2, mode="avg")
    tensor([[0]])
    """
    check_float(x, "x", integers=INTEGER_DTYPES)
    if isinstance(stride, str) or callable(stride):  # d2l's pool2d(X, pool_size, mode) order
        raise ConvlibInputError(
            f"stride: expected None, an int or a pair of ints, got the mode {stride!r}: the third positional "
            "argument is the stride, as in F.max_pool2d. Fix: pass the mode by name, "
            f"pool2d(x, {kernel_size!r}, mode={stride!r}) (add stride=1 for windows one cell apart)."
        )
    if x.ndim not in (2, 3, 4):
        raise ConvlibInputError(
            f"x: expected (H, W), (C, H, W) or (N, C, H, W), got {x.ndim}-D shape "
            f"{tuple(x.shape)}. Fix: reshape to (N, C, H, W)."
        )
    if x.ndim >= 3 and x.shape[-3] == 0:  # F.max_pool2d / F.avg_pool2d refuse it; an empty batch (N = 0) is fine
        raise ConvlibInputError(
            f"x: expected at least one channel, got shape {tuple(x.shape)} (C = 0: no maps to pool). "
            "Fix: pass (N, C, H, W) or (C, H, W) with C >= 1; an empty batch (N = 0) is fine."
        )
    check_bool(count_include_pad, "count_include_pad")  # ceil_mode: windows2d checks it on every path
    divisor = _divisor(divisor_override, mode)
    if check_bool(return_indices, "return_indices") and mode != "max":
        raise ConvlibInputError(f"return_indices: expected False for mode={mode!r}, got True. Fix: the indices say "
                                "which cell each maximum came from; use mode='max' or drop return_indices.")
    rank = x.ndim
    stored = torch.channels_last if rank == 4 and channels_last(x) else torch.contiguous_format
    x4 = grad_stored(x, stored).reshape((1,) * (4 - rank) + tuple(x.shape))  # (N, C, H, W)
    geometry = dict(stride=stride, padding=padding, dilation=dilation,
                    ceil_mode=ceil_mode)
    indices = None
    if mode == "max":
        # taps: (N, C, H_out, W_out), which cell of each window won
        out, taps = _window_max(x4, kernel_size, **geometry)
        if return_indices:
            geo = _parse(kernel_size, stride, padding, dilation)
            _check_indices_inside(tuple(x4.shape[-2:]), geo, ceil_mode)
            indices = _input_cells(taps, tuple(x4.shape[-2:]), geo)
    elif mode == "avg":
        # (N, C, H_out, W_out); int64 for integers
        total = windows2d(x4, kernel_size, **geometry).sum(dim=-1)
        cells = (divisor if divisor is not None
                 else _counts(x4, kernel_size, count_include_pad, **geometry))
        if x.is_floating_point():
            out = total / cells
        else:  # as F.avg_pool2d on int64: the sum divided, rounded toward 0
            out = torch.div(total, cells, rounding_mode="trunc").to(x.dtype)
    elif callable(mode):
        # (N, C, H_out, W_out, k_h*k_w)
        windows = windows2d(x4, kernel_size, **geometry)
        out = mode(windows)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(windows.shape[:-1]):
            got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
            raise ConvlibInputError(
                f"mode: expected a function that reduces the windows' last axis, returning shape "
                f"{tuple(windows.shape[:-1])} from windows of shape {tuple(windows.shape)} (N, C, H_out, W_out, k_h*k_w), "
                f"got {got}. Fix: reduce dim=-1, e.g. mode=lambda w: w.median(dim=-1).values."
            )
    else:
        raise ConvlibInputError(
            f"mode: expected 'max', 'avg' or a function of the windows, got {mode!r}. "
            "Fix: mode='max' or mode=lambda w: w.median(dim=-1).values."
        )
    def as_given(t: torch.Tensor) -> torch.Tensor:  # (N, C, H_out, W_out) -> x's rank, stored as torch's pools store it
        if stored == torch.channels_last:
            return t.contiguous(memory_format=torch.channels_last)
        return t.reshape(tuple(x.shape[:-2]) + tuple(t.shape[-2:]))

    return as_given(out) if indices is None else (as_given(out), as_given(indices))


def _check_indices_inside(size: tuple[int, ...], geometry: tuple[IntPair, ...], ceil_mode: bool) -> None:
    """Refuse ``return_indices`` where a window holds padding only: its maximum, ``-inf``, has no input cell.

    PyTorch does not refuse it: on a 2x2 input,
    ``F.max_pool2d(x, 2, stride=1, padding=1, dilation=3, return_indices=True)`` returns
    ``-inf`` with index 6, outside the input's 4 cells, and its backward pass then writes
    outside the gradient (torch 2.14.1 aborted with "double free or corruption" in two of
    three runs).
    """
    k, s, p, d = geometry
    where = _padding_only_window(size, k, s, p, d, ceil_mode)
    if where is not None:
        raise ConvlibInputError(
            f"return_indices: expected every window to hold at least one input cell, got {where} reading only "
            f"padding (input {size[0]}x{size[1]}, window {k}, stride {s}, padding {p}, dilation {d}): its maximum "
            "is -inf and no input cell holds it. Fix: drop return_indices (the maximum is then -inf, as in "
            "F.max_pool2d), or use less padding or dilation, or a larger input."
        )


def _input_cells(taps: torch.Tensor, size: tuple[int, ...], geometry: tuple[IntPair, ...]) -> torch.Tensor:
    """``taps (N, C, H_out, W_out)``, each a cell ``a * k_w + b`` of its window, as the flat index
    ``row * W + column`` of that cell in the unpadded input ``size = (H, W)`` (``F.max_pool2d``'s indices)."""
    k, s, p, d = geometry
    rows = torch.arange(taps.shape[-2], device=taps.device)[:, None] * s[0] - p[0] + taps // k[1] * d[0]
    cols = torch.arange(taps.shape[-1], device=taps.device) * s[1] - p[1] + taps % k[1] * d[1]
    return rows * size[1] + cols  # (N, C, H_out, W_out), int64


def _divisor(divisor_override: object, mode: object) -> int | None:
    """``divisor_override`` as an int (``F.avg_pool2d`` takes any int but 0), or None; average pooling only."""
    if divisor_override is None:
        return None
    if isinstance(mode, str) and mode != "avg":
        raise ConvlibInputError(
            f"divisor_override: expected None for mode={mode!r}, got {divisor_override!r}. "
            "Fix: divisor_override only changes what average pooling divides by; drop it or use mode='avg'."
        )
    divisor = check_int(divisor_override, "divisor_override", expected="None or a nonzero int",
                        fix="e.g. divisor_override=4, or None to divide by the cells counted")
    if divisor == 0:
        raise ConvlibInputError("divisor_override: expected None or a nonzero int, got 0. "
                                "Fix: e.g. divisor_override=4, or None to divide by the cells counted.")
    return divisor


def _window_max(
    x: torch.Tensor, kernel_size: int | tuple[int, int], *,
    stride: int | tuple[int, int] | None, padding: int | tuple[int, int], dilation: int | tuple[int, int], ceil_mode: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each window's maximum of ``x (N, C, H, W)``, ``(N, C, H_out, W_out)``, taken from the cell PyTorch takes it from,
    and that cell's place in its window, ``a * k_w + b`` (an int64 tensor of the same shape).

    The value is the plain maximum; the cell matters for the gradient, which flows
    to it alone. As in ``F.max_pool2d``: the first real cell holding the maximum (a
    window of ``-inf`` values passes its gradient to its first real cell, never to
    the padding), or the last ``NaN`` of a window that holds any.
    """
    geometry = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    lowest = float("-inf") if x.is_floating_point() else torch.iinfo(x.dtype).min  # padding never wins
    win = windows2d(x, kernel_size, pad_value=lowest, **geometry)  # (N, C, H_out, W_out, K)
    real = windows2d(torch.ones_like(x[:1, :1]), kernel_size, **geometry) > 0  # (1, 1, H_out, W_out, K): not padding
    nan = win.isnan()
    any_nan = nan.any(dim=-1, keepdim=True)
    top = win.detach().amax(dim=-1, keepdim=True)  # NaN where the window has one
    hit = torch.where(any_nan, nan, (win == top) & real)  # the candidate cells
    order = torch.arange(win.shape[-1], device=x.device)
    rank = torch.where(any_nan, order, -order)  # last NaN, else first hit
    index = torch.where(hit, rank, torch.iinfo(torch.int64).min).argmax(dim=-1, keepdim=True)
    return win.gather(-1, index).squeeze(-1), index.squeeze(-1)


def _counts(
    x: torch.Tensor, kernel_size: int | tuple[int, int], count_include_pad: bool, *,
    stride: int | tuple[int, int] | None, padding: int | tuple[int, int], dilation: int | tuple[int, int], ceil_mode: bool,
) -> torch.Tensor:
    """How many cells each average-pooling window divides by, ``(H_out, W_out)``.

    Real cells always count, padded zeros when ``count_include_pad``, the cells a
    ``ceil_mode`` window hangs past the padding never (PyTorch's divisor).
    """
    k, s, p, d = _parse(kernel_size, stride, padding, dilation)
    h, w = x.shape[-2:]
    _, extra = pool_geometry((h, w), k, s, p, d, ceil_mode)
    dtype = x.dtype if x.is_floating_point() else torch.int64  # integers: divide exactly, as ints
    counted = torch.ones(1, 1, h, w, dtype=dtype, device=x.device)  # (1, 1, H, W): real cells
    counted = F.pad(counted, (p[1], p[1], p[0], p[0]), value=float(count_include_pad))  # the padding
    counted = F.pad(counted, (0, extra[1], 0, extra[0]))  # a partial window's overhang: never counted
    return windows2d(counted, k, stride=s, dilation=d).sum(dim=-1)[0, 0]  # (H_out, W_out)
