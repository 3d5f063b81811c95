"""ChannelsView: a multi-channel cross-correlation, one input channel at a time."""

from __future__ import annotations

import torch
import traitlets as t

from convlib.corr import corr2d, corr2d_multi_in, corr2d_multi_in_out
from convlib.validate import ConvlibInputError, _nested_tensor, check_fits
from convlib.widgets._base import WholeNumber, WindowWidget, check_values, esm_source

__all__ = ["ChannelsView"]

#: Trait -> (rank, name in messages, layout).
_LAYOUT = {"x": (3, "X", "(C_in, H, W)"), "k": (4, "K", "(C_out, C_in, k_h, k_w)")}


def _tensor(value: object, ndim: int, name: str, layout: str) -> torch.Tensor:
    """An array-like as a non-empty float64 tensor with ``ndim`` axes (Python floats
    read exactly, with no float32 rounding), or a clear error."""
    t_ = _nested_tensor(value, name, torch.float64)
    if t_.ndim != ndim:
        raise ConvlibInputError(
            f"{name}: expected a {ndim}-D tensor {layout}, got {t_.ndim}-D shape "
            f"{tuple(t_.shape)}. Fix: "
            + ("add the channel axis with X[None]." if name == "X" else "stack one (C_in, k_h, k_w) kernel per output channel, e.g. K[None].")
        )
    return check_values(t_.detach().to(torch.float64), name, layout)


def _check_pair(x: torch.Tensor, k: torch.Tensor) -> None:
    """``K (C_out, C_in, k_h, k_w)`` must span all of ``X (C_in, H, W)``'s channels and fit inside it."""
    if k.shape[1] != x.shape[0]:
        raise ConvlibInputError(
            f"K: expected a kernel depth (C_in) equal to the input's {x.shape[0]} channels, "
            f"got K of shape {tuple(k.shape)}. Fix: give K shape "
            f"(C_out, {x.shape[0]}, k_h, k_w): every filter spans all input channels."
        )
    check_fits(tuple(x.shape[1:]), tuple(k.shape[2:]), (0, 0), name="K")


class ChannelsView(WindowWidget):
    """Cross-correlate ``X (C_in, H, W)`` with ``K (C_out, C_in, k_h, k_w)``, watching the channels.

    Pick an output channel ``out_channel`` and a ``position`` (output cells in
    reading order, ``0 .. H_out * W_out - 1``). The page highlights the window
    in every input channel, shows each channel's partial sum
    ``corr2d(X[c], K[o, c])[i, j]`` and their total, the output value
    ``Y[o, i, j]``. The same numbers, computed with convlib's ops:

    >>> X = [[[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]
    >>> K = [[[[0, 1], [2, 3]], [[1, 2], [3, 4]]]]
    >>> w = ChannelsView(X, K)
    >>> w.partial_sums(), w.total
    ([19.0, 37.0], 56.0)
    >>> w.partial_sums(0, 3), w.output().shape
    ([43.0, 77.0], torch.Size([1, 2, 2]))
    """

    _esm = esm_source("channels")

    x = t.List(t.List(t.List(t.Float()))).tag(sync=True)
    k = t.List(t.List(t.List(t.List(t.Float())))).tag(sync=True)
    out_channel = WholeNumber(0).tag(sync=True)
    title = t.Unicode("").tag(sync=True)

    def __init__(
        self, X: object, K: object, *, out_channel: int = 0, position: int = 0, title: str = ""
    ) -> None:
        x, k = _tensor(X, *_LAYOUT["x"]), _tensor(K, *_LAYOUT["k"])
        _check_pair(x, k)
        super().__init__(x=x.tolist(), k=k.tolist(), out_channel=out_channel, position=position, title=title)

    @t.validate("x", "k")
    def _valid_arrays(self, proposal: t.Bunch) -> list:
        """A new ``X`` or ``K`` (ragged, wrong rank, empty, other channel count, too large) must not
        break the view: it gets the constructor's checks, against the other one's current value."""
        name = proposal["trait"].name
        try:
            new = _tensor(proposal["value"], *_LAYOUT[name])
            if self.x and self.k:  # both set (always, after the constructor)
                _check_pair(*((new, self.K) if name == "x" else (self.X, new)))
        except ConvlibInputError as error:  # a TraitError lets traitlets roll back a batch of changes
            raise t.TraitError(str(error)) from error
        return new.tolist()

    @t.observe("x", "k")
    def _keep_inside(self, change: t.Bunch) -> None:
        """Fewer output channels or cells after a new ``X`` or ``K``: keep the choice on them."""
        if self.out_channel >= len(self.k):
            self.out_channel = len(self.k) - 1
        self._clamp_position()

    @t.validate("out_channel")
    def _valid_out_channel(self, proposal: t.Bunch) -> int:
        o = proposal["value"]
        if not 0 <= o < len(self.k):
            raise t.TraitError(
                f"out_channel: expected 0 <= out_channel < {len(self.k)} (C_out), got {o}. "
                "Fix: pick one of the kernel stacks K[0] ... K[C_out - 1]."
            )
        return o


    @property
    def X(self) -> torch.Tensor:
        """The input, ``(C_in, H, W)``."""
        return torch.tensor(self.x, dtype=torch.float64)

    @property
    def K(self) -> torch.Tensor:
        """The kernels, ``(C_out, C_in, k_h, k_w)``."""
        return torch.tensor(self.k, dtype=torch.float64)

    @property
    def out_shape(self) -> tuple[int, int]:
        """``(H - k_h + 1, W - k_w + 1)``, the size of every output channel."""
        return len(self.x[0]) - len(self.k[0][0]) + 1, len(self.x[0][0]) - len(self.k[0][0][0]) + 1

    def partial_sums(self, out_channel: int | None = None, position: int | None = None) -> list[float]:
        """One number per input channel: ``corr2d(X[c], K[o, c])`` at the chosen cell."""
        o = self.out_channel if out_channel is None else out_channel
        i, j = self.cell(position)
        X, K = self.X, self.K
        return [float(corr2d(X[c], K[o, c])[i, j]) for c in range(X.shape[0])]

    def total_at(self, out_channel: int | None = None, position: int | None = None) -> float:
        """``Y[o, i, j]`` via :func:`convlib.corr2d_multi_in`: the sum of the partial sums."""
        o = self.out_channel if out_channel is None else out_channel
        i, j = self.cell(position)
        return float(corr2d_multi_in(self.X, self.K[o])[i, j])

    @property
    def total(self) -> float:
        """The current output value ``Y[out_channel, row, col]``."""
        return self.total_at()

    def output(self) -> torch.Tensor:
        """Every output channel, ``(C_out, H_out, W_out)``, via :func:`convlib.corr2d_multi_in_out`."""
        return corr2d_multi_in_out(self.X, self.K)
