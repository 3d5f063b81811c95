"""PaddingStrideExplorer: padding (填充), stride (步幅) and dilation on one square input.

The page draws the padded grid (padding cells dashed, each cell labelled with
how many windows read it), the current window's taps, the output grid, and
the output-size formula with the current numbers. A window larger than the
padded input gets a message instead of an output.
"""

from __future__ import annotations

import traitlets as t

from convlib.coverage import input_usage
from convlib.shapes import conv_output_size
from convlib.widgets._base import StaticWidget, WholeNumber, esm_source, int_in_range

__all__ = ["PaddingStrideExplorer", "LIMITS"]

#: Slider ranges on the page: trait -> (min, max).
LIMITS: dict[str, tuple[int, int]] = {
    "size": (1, 12), "kernel_size": (1, 7), "padding": (0, 4), "stride": (1, 4), "dilation": (1, 3),
}


class PaddingStrideExplorer(StaticWidget):
    """Explore ``conv_output_size(size, kernel_size, padding=, stride=, dilation=)`` visually.

    ``position`` counts output cells in reading order. Coordinates are in the
    *padded* grid: ``(0, 0)`` is its top-left cell, the input starts at
    ``(padding, padding)``.

    >>> w = PaddingStrideExplorer(7, 3, padding=1, stride=2)
    >>> w.out_size, w.formula
    (4, 'floor((7 + 2·1 − 1·(3−1) − 1) / 2) + 1 = 4')
    >>> w.position = 5     # output (1, 1)
    >>> w.window_taps()[:3]
    [(2, 2), (2, 3), (2, 4)]
    >>> w.dilation = 3     # taps span 7 cells: still fits 9
    >>> w.out_size, w.position
    (2, 3)
    >>> w.kernel_size = 5  # span 13 > 9: a message, no output
    >>> w.valid, w.out_size, w.message.startswith(
    ...     'No output: the window spans 13 cells')
    (False, None, True)
    """

    _esm = esm_source("padding_stride")

    size = WholeNumber(7).tag(sync=True)
    kernel_size = WholeNumber(3).tag(sync=True)
    padding = WholeNumber(0).tag(sync=True)
    stride = WholeNumber(1).tag(sync=True)
    dilation = WholeNumber(1).tag(sync=True)
    position = WholeNumber(0).tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(
        self,
        size: int = 7,
        kernel_size: int = 3,
        *,
        padding: int = 0,
        stride: int = 1,
        dilation: int = 1,
        position: int = 0,
        title: str = "",
    ) -> None:
        given = {"size": size, "kernel_size": kernel_size, "padding": padding, "stride": stride, "dilation": dilation}
        # the checked values are plain ints: traitlets' Int refuses a 0-d tensor with its own words
        values = {name: self._check(name, value) for name, value in given.items()}
        super().__init__(**values, title=title)
        self.position = position

    # --- validation -------------------------------------------------------

    @staticmethod
    def _check(name: str, value: object) -> int:
        low, high = LIMITS[name]
        return int_in_range(name, value, low, high, why="the page's slider range",
                            fix=f"pick {name} between {low} and {high}; for other sizes use convlib.conv_output_size.")

    @t.validate(*LIMITS)
    def _valid_setting(self, proposal: t.Bunch) -> int:
        return self._check(proposal["trait"].name, proposal["value"])

    @t.validate("position")
    def _valid_position(self, proposal: t.Bunch) -> int:
        p, n = proposal["value"], self.n_windows
        if isinstance(p, bool) or not (0 <= p < max(n, 1)):
            raise t.TraitError(
                f"position: expected 0 <= position < {max(n, 1)} (the output cells in reading order), "
                f"got {p}. Fix: position = row * {self.out_size or 1} + column."
            )
        return p

    @t.observe(*LIMITS)
    def _keep_position(self, change: t.Bunch) -> None:
        if self.position >= max(self.n_windows, 1):
            self.position = max(self.n_windows, 1) - 1

    # --- what the page shows ------------------------------------------------

    @property
    def span(self) -> int:
        """Cells one window covers along an axis: ``d * (k - 1) + 1``."""
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def padded_size(self) -> int:
        """``size + 2 * padding``."""
        return self.size + 2 * self.padding

    @property
    def valid(self) -> bool:
        """True when the window fits in the padded input."""
        return self.span <= self.padded_size

    @property
    def out_size(self) -> int | None:
        """Output side via :func:`convlib.conv_output_size`; ``None`` when the window does not fit."""
        if not self.valid:
            return None
        return conv_output_size(self.size, self.kernel_size, padding=self.padding,
                                stride=self.stride, dilation=self.dilation)

    @property
    def n_windows(self) -> int:
        """Output cells: ``out_size ** 2`` (0 when invalid)."""
        return (self.out_size or 0) ** 2

    @property
    def formula(self) -> str:
        """The page's formula line, current numbers filled in (the value may be < 1 when invalid)."""
        n, p, d, k, s = self.size, self.padding, self.dilation, self.kernel_size, self.stride
        value = (n + 2 * p - d * (k - 1) - 1) // s + 1
        return f"floor(({n} + 2·{p} − {d}·({k}−1) − 1) / {s}) + 1 = {value}"

    @property
    def message(self) -> str:
        """Empty when valid; otherwise what the page says instead of an output."""
        if self.valid:
            return ""
        return (f"No output: the window spans {self.span} cells but the padded input has only "
                f"{self.padded_size}. Use a smaller kernel or dilation, more padding, or a larger input.")

    def window_taps(self, position: int | None = None) -> list[tuple[int, int]]:
        """Padded coordinates ``(row, col)`` of the window's ``k * k`` taps, in tap order."""
        if not self.valid:
            raise ValueError(f"window_taps: expected a window that fits, got this: {self.message}")
        p = self.position if position is None else position
        if not 0 <= p < self.n_windows:
            raise ValueError(f"window_taps: expected 0 <= position < {self.n_windows}, got {p}. "
                             "Fix: position = row * out_size + column.")
        r, c = divmod(p, self.out_size)
        s, d, k = self.stride, self.dilation, self.kernel_size
        return [(r * s + a * d, c * s + b * d) for a in range(k) for b in range(k)]

    def usage(self) -> list[list[int]]:
        """How many windows read each cell of the padded grid, via :func:`convlib.input_usage`."""
        if not self.valid:
            return [[0] * self.padded_size for _ in range(self.padded_size)]
        return input_usage(self.size, self.kernel_size, padding=self.padding, stride=self.stride,
                           dilation=self.dilation, include_padding=True).tolist()
