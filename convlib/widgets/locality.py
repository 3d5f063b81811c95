"""LocalityView: one output of a fully connected layer next to one of a convolution.

Both layers map an ``H x W`` input to the same ``H_out x W_out`` outputs
(``H_out = H - k + 1``). Pick an output: the fully connected (全连接) side
lights up every input, each through its own weight; the convolution side
lights up only the ``k x k`` window, through the same ``k * k`` shared
weights at every position. Weight ids on the convolution side come from the
nonzero pattern of the layer's dense matrix (:func:`convlib.conv_weight_ids`).
"""

from __future__ import annotations

import traitlets as t

from convlib.dense import conv_weight_ids
from convlib.shapes import conv_output_size
from convlib.widgets._base import WholeNumber, WindowWidget, esm_source, int_in_range

__all__ = ["LocalityView", "MAX_SIDE"]

#: Largest input side the view draws (the FC matrix has (H*W)**2-ish cells).
MAX_SIDE = 8


class LocalityView(WindowWidget):
    """Compare which inputs and weights produce one output, FC versus conv.

    ``position`` counts output cells in reading order, ``0 .. H_out*W_out - 1``.
    The page has a kernel-size slider, a position slider, arrow keys and
    clickable output cells; the numbers it shows are available here:

    >>> w = LocalityView(4, 4, 2)
    >>> w.out_shape, w.counts
    ((3, 3), {'fc_this': 16, 'fc_total': 144, 'conv_this': 4, 'conv_total': 4})
    >>> w.position = 4            # output (1, 1)
    >>> w.conv_weight_ids()[1]    # input row 1: taps 0, 1 at columns 1, 2
    [-1, 0, 1, -1]
    >>> w.fc_weight_ids()[0][:3]  # weight ids 4*16 + 0, 1, 2
    [64, 65, 66]
    """

    _esm = esm_source("locality")

    height = WholeNumber(4).tag(sync=True)
    width = WholeNumber(4).tag(sync=True)
    kernel_size = WholeNumber(2).tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(
        self, height: int = 4, width: int = 4, kernel_size: int = 2, *, position: int = 0, title: str = ""
    ) -> None:
        # the checked values are plain ints: traitlets' Int refuses np.int64 or a 0-d tensor with its own words
        height, width = self._check_side("height", height), self._check_side("width", width)
        kernel_size = self._check_kernel(kernel_size, height, width)
        super().__init__(height=height, width=width, kernel_size=kernel_size, position=position, title=title)

    # --- validation -------------------------------------------------------

    @staticmethod
    def _check_side(name: str, value: object) -> int:
        return int_in_range(name, value, 1, MAX_SIDE,
                            fix=f"keep the input small, e.g. {name}=4; the FC side draws every weight.")

    @staticmethod
    def _check_kernel(k: object, height: int, width: int) -> int:
        return int_in_range("kernel_size", k, 1, min(height, width), why=f"it must fit in the {height}x{width} input",
                            fix="kernel_size=2 or a larger input.")

    @t.validate("height", "width")
    def _valid_side(self, proposal: t.Bunch) -> int:
        name = proposal["trait"].name
        value = self._check_side(name, proposal["value"])
        other = self.width if name == "height" else self.height
        if self.kernel_size > min(value, other):
            raise t.TraitError(
                f"{name}: expected at least kernel_size={self.kernel_size}, got {value}. "
                "Fix: make kernel_size smaller first."
            )
        return value

    @t.validate("kernel_size")
    def _valid_kernel(self, proposal: t.Bunch) -> int:
        return self._check_kernel(proposal["value"], self.height, self.width)

    @t.observe("height", "width", "kernel_size")
    def _keep_position(self, change: t.Bunch) -> None:
        self._clamp_position()

    # --- what the page shows ------------------------------------------------

    @property
    def out_shape(self) -> tuple[int, int]:
        """``(H - k + 1, W - k + 1)``, via :func:`convlib.conv_output_size`."""
        return (conv_output_size(self.height, self.kernel_size), conv_output_size(self.width, self.kernel_size))

    def _position(self, position: int | None) -> int:
        p = self.position if position is None else position
        h, w = self.out_shape
        if not 0 <= p < h * w:
            raise ValueError(f"position: expected 0 <= position < {h * w}, got {p}. Fix: pick an output cell.")
        return p

    def fc_weight_ids(self, position: int | None = None) -> list[list[int]]:
        """``(H, W)`` ids of the FC weights output ``position`` uses: ``position * H*W + i*W + j``.

        Every (output, input) pair has its own weight, so no two outputs share an id.
        """
        p, n_in = self._position(position), self.height * self.width
        return [[p * n_in + i * self.width + j for j in range(self.width)] for i in range(self.height)]

    def conv_weight_ids(self, position: int | None = None) -> list[list[int]]:
        """``(H, W)`` kernel tap ids ``a * k + b`` output ``position`` uses, ``-1`` outside its window.

        Row ``position`` of :func:`convlib.conv_weight_ids`, i.e. of the dense matrix.
        """
        row = conv_weight_ids(self.kernel_size, (self.height, self.width))[self._position(position)]
        return row.reshape(self.height, self.width).tolist()

    def window(self, position: int | None = None) -> list[tuple[int, int]]:
        """Input cells ``(i, j)`` that output ``position`` reads in the conv layer, in tap order."""
        ids = self.conv_weight_ids(position)
        cells = sorted((v, (i, j)) for i, row in enumerate(ids) for j, v in enumerate(row) if v >= 0)
        return [cell for _, cell in cells]

    @property
    def counts(self) -> dict[str, int]:
        """Weights (biases aside) one output uses and the layer stores, FC and conv."""
        h, w = self.out_shape
        n_in, kk = self.height * self.width, self.kernel_size**2
        return {"fc_this": n_in, "fc_total": n_in * h * w, "conv_this": kk, "conv_total": kk}
