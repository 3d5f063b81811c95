"""KernelSlider: slide a kernel over an input and watch cross-correlation work."""

from __future__ import annotations

import torch
import traitlets as t

from convlib.corr import corr2d
from convlib.validate import as_tensor_2d, check_fits, ConvlibInputError
from convlib.widgets._base import WindowWidget, check_values, esm_source

__all__ = ["KernelSlider"]


def matrix_state(value: object, name: str) -> list[list[float]]:
    """A 2-D array-like as nested lists of floats (the JSON the ESM reads), read as float64
    so that Python floats come back exactly."""
    return check_values(as_tensor_2d(value, name, dtype=torch.float64), name, "(H, W)").tolist()


class KernelSlider(WindowWidget):
    """Slide kernel ``K (k_h, k_w)`` over input ``X (H, W)``, one output at a time.

    ``position`` counts output cells in reading order, from 0 to
    ``H_out * W_out - 1``. The page draws the window, the element-wise
    products and their sum; the same numbers are available here:

    >>> w = KernelSlider([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    >>> w.out_shape, w.window
    ((2, 2), (0, 0))
    >>> w.position = 3
    >>> w.products, w.value
    ([0.0, 5.0, 14.0, 24.0], 43.0)
    """

    _esm = esm_source("kernel_slider")

    x = t.List(t.List(t.Float())).tag(sync=True)
    k = t.List(t.List(t.Float())).tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(self, X: object, K: object, *, position: int = 0, title: str = "") -> None:
        x, k = matrix_state(X, "X"), matrix_state(K, "K")
        check_fits((len(x), len(x[0])), (len(k), len(k[0])), (0, 0), name="K")
        super().__init__(x=x, k=k, position=position, title=title)

    @t.validate("x", "k")
    def _valid_matrix(self, proposal: t.Bunch) -> list[list[float]]:
        name = proposal["trait"].name
        try:
            m = matrix_state(proposal["value"], name.upper())
            x, k = (m, self.k) if name == "x" else (self.x, m)
            if x and k:  # both set: K must still fit inside X
                check_fits((len(x), len(x[0])), (len(k), len(k[0])), (0, 0), name="K")
        except ConvlibInputError as error:  # a TraitError lets traitlets roll back a batch of changes
            raise t.TraitError(str(error)) from error
        return m

    @t.observe("x", "k")
    def _keep_position(self, change: t.Bunch) -> None:
        """A new X or K may have fewer output cells: keep the window on the grid."""
        self._clamp_position()


    @property
    def out_shape(self) -> tuple[int, int]:
        """``(H - k_h + 1, W - k_w + 1)``."""
        return len(self.x) - len(self.k) + 1, len(self.x[0]) - len(self.k[0]) + 1

    @property
    def window(self) -> tuple[int, int]:
        """Top-left input cell ``(row, col)`` of the current window."""
        return divmod(self.position, self.out_shape[1])

    @property
    def products(self) -> list[float]:
        """Element-wise products ``X[i + a, j + b] * K[a, b]`` in reading order."""
        i, j = self.window
        return [self.x[i + a][j + b] * kv for a, row in enumerate(self.k) for b, kv in enumerate(row)]

    @property
    def value(self) -> float:
        """The current output ``Y[i, j]``, the sum of :attr:`products`."""
        return float(sum(self.products))

    def output(self) -> torch.Tensor:
        """The whole output ``(H_out, W_out)`` in float64 (the traits' precision), via :func:`convlib.corr2d`."""
        return corr2d(torch.tensor(self.x, dtype=torch.float64), torch.tensor(self.k, dtype=torch.float64))
