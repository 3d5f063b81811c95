"""PoolingView: slide a pooling window (max or average) with padding, stride, ceil_mode and count_include_pad."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import traitlets as t

from convlib.pool import _counts, pool2d, windows2d
from convlib.validate import as_pair, as_tensor_2d
from convlib.widgets._base import StrictBool, WholeNumber, WindowWidget, check_values, esm_source

__all__ = ["PoolingView"]

MODES = ("max", "avg")


class PoolingView(WindowWidget):
    """Max or average pooling of ``X (H, W)``, one window at a time.

    ``kernel_size``, ``stride`` (default: the window size, as ``nn.MaxPool2d``)
    and ``padding`` take an int or a pair; ``mode`` is ``"max"`` or ``"avg"``;
    ``ceil_mode`` and ``count_include_pad`` mean what they mean in
    :func:`convlib.pool2d` (and ``F.avg_pool2d``).
    ``position`` counts output cells in reading order. The page lets the
    reader change every one of these; the numbers it shows are available here,
    computed with :func:`convlib.pool2d` and :func:`convlib.pool.windows2d`:

    >>> w = PoolingView(torch.arange(9.).reshape(3, 3), 2, stride=1)
    >>> w.out_shape, w.window_values(), w.argmax, w.value
    ((2, 2), [0.0, 1.0, 3.0, 4.0], (1, 1), 4.0)
    >>> w.mode = "avg"; w.position = 3
    >>> w.window_values(), w.value
    ([4.0, 5.0, 7.0, 8.0], 6.0)
    >>> w = PoolingView(torch.arange(9.).reshape(3, 3), 2, mode="avg",
    ...                 ceil_mode=True)
    >>> w.position = 3  # 2x2 windows on 3x3: the last one holds one real cell
    >>> w.out_shape, w.window_values(), w.count, w.value
    ((2, 2), [8.0, 0.0, 0.0, 0.0], 1, 8.0)

    Max pooling pads with ``-inf`` (a padded cell never wins); average pooling
    pads with zeros and, with ``count_include_pad=True`` (``F.avg_pool2d``'s
    default), counts them. Cells a ``ceil_mode`` window hangs past the padding
    hold the same value and are never counted.
    """

    _esm = esm_source("pooling")

    x = t.List(t.List(t.Float())).tag(sync=True)
    kernel_size = t.List(WholeNumber(), minlen=2, maxlen=2).tag(sync=True)
    stride = t.List(WholeNumber(), minlen=2, maxlen=2).tag(sync=True)
    padding = t.List(WholeNumber(), minlen=2, maxlen=2).tag(sync=True)
    mode = t.Unicode("max").tag(sync=True)
    ceil_mode = StrictBool(False).tag(sync=True)
    count_include_pad = StrictBool(True).tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        X: object,
        kernel_size: int | tuple[int, int],
        *,
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        mode: str = "max",
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        position: int = 0,
        title: str = "",
    ) -> None:
        k = as_pair(kernel_size, "kernel_size")
        s = as_pair(stride if stride is not None else k, "stride")
        p = as_pair(padding, "padding", minimum=0)
        x = self._checked_input(X, k, s, p)
        super().__init__(
            x=x.tolist(), kernel_size=list(k), stride=list(s), padding=list(p), mode=mode,
            ceil_mode=ceil_mode, count_include_pad=count_include_pad, position=position, title=title,
        )

    # --- validation -------------------------------------------------------

    @staticmethod
    def _checked_input(X: object, kernel_size: Sequence[int], stride: Sequence[int], padding: Sequence[int]) -> torch.Tensor:
        """``X`` as a non-empty float64 matrix ``(H, W)`` that the window fits, or a clear error."""
        x = check_values(as_tensor_2d(X, "X", dtype=torch.float64), "X", "(H, W)")
        windows2d(x[None, None], tuple(kernel_size), stride=tuple(stride), padding=tuple(padding))  # raises if it does not fit
        return x

    @t.validate("x")
    def _valid_x(self, proposal: t.Bunch) -> list[list[float]]:
        """A new ``X`` (ragged, not 2-D, empty, smaller than the window) must not break the view."""
        try:
            return self._checked_input(proposal["value"], self.kernel_size, self.stride, self.padding).tolist()
        except ValueError as error:  # a TraitError lets traitlets roll back a batch of changes
            raise t.TraitError(str(error)) from error

    @t.validate("mode")
    def _valid_mode(self, proposal: t.Bunch) -> str:
        if proposal["value"] not in MODES:
            raise t.TraitError(
                f"mode: expected 'max' or 'avg', got {proposal['value']!r}. Fix: mode='max'. "
                "(Custom reductions work in convlib.pool2d(mode=callable), not in this view.)"
            )
        return proposal["value"]

    @t.validate("kernel_size", "stride", "padding")
    def _valid_geometry(self, proposal: t.Bunch) -> list[int]:
        name = proposal["trait"].name
        pair = list(as_pair(tuple(proposal["value"]), name, minimum=0 if name == "padding" else 1))
        geometry = {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding, name: pair}
        if self.x and all(len(v) == 2 for v in geometry.values()):
            try:
                windows2d(self._x4(), geometry["kernel_size"], stride=geometry["stride"], padding=geometry["padding"])
            except ValueError as error:
                raise t.TraitError(str(error)) from error
        return pair


    @t.observe("x", "kernel_size", "stride", "padding", "ceil_mode")
    def _keep_position_inside(self, change: t.Bunch) -> None:
        if not self.x or not all(len(v) == 2 for v in (self.kernel_size, self.stride, self.padding)):
            return
        self._clamp_position()

    # --- what the page shows, computed with convlib --------------------------

    def _x4(self) -> torch.Tensor:
        return torch.tensor(self.x, dtype=torch.float64)[None, None]  # (1, 1, H, W)

    def _windows(self) -> torch.Tensor:
        """``(H_out, W_out, k_h*k_w)``: padded with -inf for max, 0 for avg, as pool2d pads."""
        pad_value = float("-inf") if self.mode == "max" else 0.0
        win = windows2d(self._x4(), tuple(self.kernel_size), stride=tuple(self.stride),
                        padding=tuple(self.padding), ceil_mode=self.ceil_mode, pad_value=pad_value)
        return win[0, 0]

    def output(self) -> torch.Tensor:
        """The pooled output ``(H_out, W_out)``, via :func:`convlib.pool2d`."""
        return pool2d(torch.tensor(self.x, dtype=torch.float64), tuple(self.kernel_size),
                      stride=tuple(self.stride), padding=tuple(self.padding), mode=self.mode,
                      ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad)

    @property
    def out_shape(self) -> tuple[int, int]:
        """``(H_out, W_out)`` of the pooled output."""
        return tuple(self._windows().shape[:2])  # type: ignore[return-value]

    def window_values(self, position: int | None = None) -> list[float]:
        """The window's ``k_h * k_w`` values in reading order, padding included."""
        i, j = self.cell(position)
        return self._windows()[i, j].tolist()

    def window_cells(self, position: int | None = None) -> list[tuple[int, int]]:
        """Input coordinates ``(row, col)`` of the window's cells (negative or >= H, W in the padding)."""
        i, j = self.cell(position)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return [(i * sh - ph + a, j * sw - pw + b) for a in range(kh) for b in range(kw)]

    def count_at(self, position: int | None = None) -> int:
        """Average pooling's divisor at ``position``: the window's real cells, plus its padding
        cells when ``count_include_pad``; cells past the padding (``ceil_mode``) never count
        (the divisor :func:`convlib.pool2d` uses)."""
        i, j = self.cell(position)
        counts = _counts(self._x4(), tuple(self.kernel_size), self.count_include_pad, stride=tuple(self.stride),
                         padding=tuple(self.padding), dilation=1, ceil_mode=self.ceil_mode)  # (H_out, W_out)
        return int(counts[i, j])

    @property
    def count(self) -> int:
        """:meth:`count_at` the current position."""
        return self.count_at()

    def argmax_at(self, position: int | None = None) -> tuple[int, int]:
        """Input ``(row, col)`` of the cell max pooling takes, the one ``F.max_pool2d(return_indices=True)``
        points to: the window's largest value, the first one in reading order on ties; in a window that
        holds a NaN (then the output is NaN), the last NaN. Padding cells are never taken."""
        h, w = len(self.x), len(self.x[0])
        real = [(r, c) for r, c in self.window_cells(position) if 0 <= r < h and 0 <= c < w]
        best, best_value = real[0], float("-inf")  # every window holds a real cell (padding <= half the window)
        for r, c in real:  # torch's loop: a larger value or any NaN takes over
            value = self.x[r][c]
            if value > best_value or math.isnan(value):
                best, best_value = (r, c), value
        return best

    @property
    def argmax(self) -> tuple[int, int]:
        """:meth:`argmax_at` the current position."""
        return self.argmax_at()

    def value_at(self, position: int | None = None) -> float:
        """The output value at ``position``, from :func:`convlib.pool2d`."""
        i, j = self.cell(position)
        return float(self.output()[i, j])

    @property
    def value(self) -> float:
        """The current output value."""
        return self.value_at()
