"""TransposedConvView: watch a transposed convolution (转置卷积) write its output, patch by patch.

Each input cell scales the kernel by its value and adds it into the output,
``s`` cells further along per input step. The page steps through the input
cells in reading order: the current cell and its patch are highlighted, the
output grid shows the running sums, and the border that ``padding`` removes
is drawn dashed. Stride, padding and output padding are sliders; output
padding adds rows and columns at the bottom and right (drawn dotted).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import traitlets as t

from convlib.shapes import conv_transpose_output_size
from convlib.transposed import conv_transpose2d, trans_conv_naive
from convlib.widgets._base import StaticWidget, WholeNumber, esm_source, int_in_range
from convlib.widgets.kernel_slider import matrix_state

__all__ = ["TransposedConvView", "MAX_STRIDE", "MAX_PADDING"]

#: Slider ranges on the page.
MAX_STRIDE = 3
MAX_PADDING = 3


class TransposedConvView(StaticWidget):
    """Step through ``trans_conv_naive(X, K, stride=s)`` one input cell at a time.

    ``position`` counts input cells of ``X (H, W)`` in reading order; the
    output grid is the full ``((H-1)*s + k_h, (W-1)*s + k_w)`` result plus
    ``output_padding`` rows and columns of zeros at the bottom and right; its
    outer ``padding`` rows and columns are cut off at the end (as in
    :func:`convlib.conv_transpose2d`).

    >>> w = TransposedConvView([[0, 1], [2, 3]], [[0, 1], [2, 3]])
    >>> w.full_shape, w.out_shape, w.formula
    ((3, 3), (3, 3), '(2 − 1)·1 − 2·0 + 2 = 3')
    >>> w.position = 1              # cell (0, 1) = 1 writes 1 * K at (0, 1)
    >>> w.patch()
    [(0, 1), (0, 2), (1, 1), (1, 2)]
    >>> w.partial()
    [[0.0, 0.0, 1.0], [0.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
    >>> w.stride, w.padding = 2, 1  # full 4x4, the outer ring cut off
    >>> w.out_shape, w.output().tolist()
    ((2, 2), [[0.0, 2.0], [2.0, 0.0]])
    >>> # the bottom/right cut is one smaller: a row and column come back
    >>> w.output_padding = 1
    >>> w.out_shape, w.output().tolist()
    ((3, 3), [[0.0, 2.0, 3.0], [2.0, 0.0, 3.0], [6.0, 6.0, 9.0]])
    >>> w.formula
    '(2 − 1)·2 − 2·1 + 2 + 1 = 3'
    """

    _esm = esm_source("transposed")

    x = t.List(t.List(t.Float())).tag(sync=True)
    k = t.List(t.List(t.Float())).tag(sync=True)
    stride = WholeNumber(1).tag(sync=True)
    padding = WholeNumber(0).tag(sync=True)
    output_padding = WholeNumber(0).tag(sync=True)
    position = WholeNumber(0).tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(
        self, X: object, K: object, *, stride: int = 1, padding: int = 0, output_padding: int = 0,
        position: int = 0, title: str = "",
    ) -> None:
        super().__init__(x=matrix_state(X, "X"), k=matrix_state(K, "K"), title=title)
        self.stride = stride
        self.padding = padding
        self.output_padding = output_padding
        self.position = position

    # --- validation -------------------------------------------------------

    @t.validate("stride")
    def _valid_stride(self, proposal: t.Bunch) -> int:
        return int_in_range("stride", proposal["value"], 1, MAX_STRIDE, why="the page's slider range",
                            fix="pick a stride in that range; for others use convlib.conv_transpose2d.")

    @t.validate("padding")
    def _valid_padding(self, proposal: t.Bunch) -> int:
        (h, w), most = self.full_shape, self.max_padding
        return int_in_range(
            "padding", proposal["value"], 0, most,
            why=f"the full result is {h}x{w} and padding cuts p cells off each side, leaving at least one",
            fix="use less padding, or a larger stride or kernel.",
        )

    @t.validate("output_padding")
    def _valid_output_padding(self, proposal: t.Bunch) -> int:
        return int_in_range(
            "output_padding", proposal["value"], 0, self.stride - 1,
            why=f"output padding must be smaller than the stride ({self.stride})",
            fix="use a larger stride first; at stride 1 there is nothing to choose between.",
        )

    @t.validate("position")
    def _valid_position(self, proposal: t.Bunch) -> int:
        q, h, w = proposal["value"], len(self.x), len(self.x[0])
        if isinstance(q, bool) or not 0 <= q < h * w:
            raise t.TraitError(
                f"position: expected 0 <= position < {h * w} (the {h}x{w} input cells in reading order), "
                f"got {q}. Fix: position = row * {w} + column."
            )
        return q

    @t.observe("stride", "x", "k")
    def _keep_padding(self, change: t.Bunch) -> None:
        """A smaller full result may not leave room for the padding, a smaller stride for the
        output padding: shrink them, as the page does."""
        if self.padding > self.max_padding:
            self.padding = self.max_padding
        if self.output_padding >= self.stride:
            self.output_padding = self.stride - 1

    @t.observe("x")
    def _keep_position(self, change: t.Bunch) -> None:
        if self.position >= len(self.x) * len(self.x[0]):
            self.position = len(self.x) * len(self.x[0]) - 1

    # --- what the page shows ------------------------------------------------

    def _sizes(self, padding: int, output_padding: int) -> tuple[int, int]:
        """Output ``(height, width)`` at this stride, by :func:`convlib.conv_transpose_output_size`."""
        return tuple(  # type: ignore[return-value]
            conv_transpose_output_size(n, k, padding=padding, stride=self.stride, output_padding=output_padding)
            for n, k in ((len(self.x), len(self.k)), (len(self.x[0]), len(self.k[0])))
        )

    @property
    def full_shape(self) -> tuple[int, int]:
        """``((H - 1)*s + k_h, (W - 1)*s + k_w)``: every patch, before padding cuts the border."""
        return self._sizes(0, 0)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """The page's output grid: ``full_shape`` plus ``output_padding`` rows and columns."""
        return self._sizes(0, self.output_padding)

    @property
    def max_padding(self) -> int:
        """The most padding that leaves an output: ``(min(full) - 1) // 2``, at most :data:`MAX_PADDING`."""
        return min(MAX_PADDING, (min(self.full_shape) - 1) // 2)

    @property
    def out_shape(self) -> tuple[int, int]:
        """``grid_shape`` minus ``2 * padding`` per axis."""
        return self._sizes(self.padding, self.output_padding)

    @property
    def cell(self) -> tuple[int, int]:
        """The current input cell ``(row, col)``."""
        return divmod(self.position, len(self.x[0]))

    @property
    def formula(self) -> str:
        """The page's size line for the height (and the width when it differs)."""
        s, p, op = self.stride, self.padding, self.output_padding
        extra = f" + {op}" if op else ""
        parts = [f"({n} − 1)·{s} − 2·{p} + {k}{extra} = {o}"
                 for n, k, o in ((len(self.x), len(self.k), self.out_shape[0]),
                                 (len(self.x[0]), len(self.k[0]), self.out_shape[1]))]
        return parts[0] if parts[0] == parts[1] else f"height {parts[0]}; width {parts[1]}"

    def patch(self, position: int | None = None) -> list[tuple[int, int]]:
        """Full-grid cells ``(row, col)`` that input cell ``position`` writes, in kernel order."""
        q = self.position if position is None else position
        i, j = divmod(q, len(self.x[0]))
        s = self.stride
        return [(i * s + a, j * s + b) for a in range(len(self.k)) for b in range(len(self.k[0]))]

    def partial(self, position: int | None = None) -> list[list[float]]:
        """The page's grid (``grid_shape``) after input cells ``0 .. position`` have written their patches."""
        q = self.position if position is None else position
        X = torch.tensor(self.x, dtype=torch.float64)
        written = (torch.arange(X.numel()) <= q).reshape(X.shape)  # (H, W): cells done so far
        full = trans_conv_naive(X * written, torch.tensor(self.k, dtype=torch.float64), stride=self.stride)
        op = self.output_padding
        return F.pad(full, (0, op, 0, op)).tolist()  # output padding: zero rows/columns at the bottom/right

    def output(self) -> torch.Tensor:
        """The finished, cropped output ``(H_out, W_out)``, via :func:`convlib.conv_transpose2d`."""
        X = torch.tensor(self.x, dtype=torch.float64)[None, None]  # (1, 1, H, W)
        K = torch.tensor(self.k, dtype=torch.float64)[None, None]  # (C_in, C_out, k_h, k_w) = (1, 1, k_h, k_w)
        return conv_transpose2d(X, K, stride=self.stride, padding=self.padding,
                                output_padding=self.output_padding)[0, 0]
