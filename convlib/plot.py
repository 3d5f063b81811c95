"""Figures for the chapters. Each function returns a closed matplotlib Figure:
as the last expression of a notebook cell it is shown once; in a script it
can be saved with ``fig.savefig(...)``."""

from __future__ import annotations

import math
from typing import Sequence


import matplotlib.pyplot as plt
from matplotlib.figure import Figure
import torch

__all__ = ["images"]


def _as_image(img: object) -> object:
    t = torch.as_tensor(img).detach().cpu().float()
    if t.ndim == 3 and t.shape[0] in (1, 3):  # (C, H, W) -> (H, W, C)
        t = t.permute(1, 2, 0)
        if t.shape[-1] == 1:
            t = t[..., 0]
    return t.numpy()


def images(
    imgs: Sequence[object],
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    cmap: str = "gray",
    scale: float = 2.2,
    colorbar: bool = False,
    suptitle: str | None = None,
) -> Figure:
    """A grid of images: 2-D maps ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)``.

    >>> fig = images([torch.zeros(4, 4), torch.ones(3, 4, 4)], ["zeros", "ones"])
    >>> len(fig.axes)
    2
    """
    n = len(imgs)
    ncols = ncols or min(n, 6)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            fig.delaxes(ax)
            continue
        shown = ax.imshow(_as_image(imgs[k]), cmap=cmap)
        if colorbar:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    plt.close(fig)
    return fig
