"""Figures for the speed-run chapter; each returns a closed matplotlib Figure.

As the last expression of a notebook cell a Figure is shown once; in a script
save it with ``fig.savefig(...)``.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from convlib.plot import images as image_grid
from convlib.speedrun.ablation import AblationRow
from convlib.speedrun.loader import DeviceLoader, crop_flip
from convlib.speedrun.recipe import Recipe
from convlib.speedrun.schedule import lookahead_decay, triangular
from convlib.validate import check_int, check_seed

__all__ = ["augmented_views", "filters", "schedule", "ablation"]


def _displayable(x: torch.Tensor, loader: DeviceLoader) -> torch.Tensor:
    """Normalised ``(N, C, H, W)`` back to [0, 1] for display."""
    mean, std = loader.mean.view(1, -1, 1, 1).cpu(), loader.std.view(1, -1, 1, 1).cpu()
    return (x.float().cpu() * std + mean).clamp(0, 1)


def augmented_views(loader: DeviceLoader, index: int = 0, n: int = 8, *, seed: int = 0) -> Figure:
    """Image ``index`` as training might show it: the original, then ``n - 1`` random shifts and flips.

    >>> data = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    >>> len(augmented_views(DeviceLoader(data, torch.arange(4), batch_size=2),
    ...                     n=4).axes)
    4
    """
    index = check_int(index, "index", minimum=0, maximum=loader.num_images - 1,
                      fix=f"pick an image from 0 to {loader.num_images - 1}")
    n = check_int(n, "n", minimum=1, fix="e.g. n=8 views")
    g = torch.Generator().manual_seed(check_seed(seed))
    t = loader.translate
    m = n - 1
    dy = torch.cat([torch.tensor([t]), torch.randint(0, 2 * t + 1, (m,), generator=g)])
    dx = torch.cat([torch.tensor([t]), torch.randint(0, 2 * t + 1, (m,), generator=g)])
    flips = torch.cat([torch.tensor([False]), torch.rand(m, generator=g) < 0.5])
    idx = torch.full((n,), index)
    dev = loader.device
    x = crop_flip(loader.padded, idx.to(dev), dy.to(dev), dx.to(dev), flips.to(dev), loader.size)  # (n, H, W, C)
    shown = _displayable(x.permute(0, 3, 1, 2), loader)  # (n, C, H, W)
    titles = ["original"] + [
        f"shift ({int(a) - t:+d}, {int(b) - t:+d})" + (", flip" if f else "")
        for a, b, f in zip(dy[1:], dx[1:], flips[1:])
    ]
    return image_grid(list(shown), titles, ncols=min(n, 8), scale=1.5)


def filters(weight: torch.Tensor, *, ncols: int = 6, title: str | None = None) -> Figure:
    """Conv filters ``(C_out, 3, k, k)`` as small colour images: mid-grey is 0.

    Each filter is scaled by its largest absolute weight, so a channel's
    weight of +max shows as full intensity, -max as none, 0 as half.

    >>> len(filters(torch.randn(12, 3, 2, 2)).axes)
    12
    """
    ncols = check_int(ncols, "ncols", minimum=1, fix="e.g. ncols=6")
    w = weight.detach().float().cpu()
    scale = w.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
    shown = 0.5 + 0.5 * w / scale  # (C_out, 3, k, k), in [0, 1]
    return image_grid(list(shown), [str(i) for i in range(len(w))], ncols=ncols, scale=1.1, suptitle=title)


def schedule(recipe: Recipe, total: int) -> Figure:
    """Learning rate (as a fraction of the peak) and lookahead decay over ``total`` steps.

    >>> fig = schedule(Recipe(), 576)
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['learning rate / peak', 'lookahead decay']
    """
    total = check_int(total, "total", minimum=1, fix="the number of optimizer steps, e.g. trainer.steps_total()")
    steps = list(range(total + 1))
    lr = [triangular(s, total, warmup=recipe.warmup, start=recipe.lr_start, end=recipe.lr_end) for s in steps]
    start = recipe.lookahead_start * total
    decay = [lookahead_decay(s, total, every=recipe.lookahead_every) if s >= start else float("nan") for s in steps]
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    ax.plot(steps, lr, label="learning rate / peak")
    ax.plot(steps, decay, label="lookahead decay", linestyle="--")
    ax.set_xlabel("optimizer step")
    ax.set_ylim(0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right")
    fig.tight_layout()
    plt.close(fig)
    return fig


def ablation(rows: Sequence[AblationRow], *, title: str | None = None) -> Figure:
    """Bars: each variant's accuracy minus the baseline's (first row), in percentage points.

    >>> from convlib.speedrun.train import RunResult
    >>> r = RunResult(0, 0.5, {0: 0.5}, 1.0, 0.1, 1, 1.0)
    >>> len(ablation([AblationRow("baseline", "", 0.5, 1.0, [r]),
    ...               AblationRow("x", "", 0.4, 1.0, [r])]).axes)
    1
    """
    base = rows[0]
    others = list(rows[1:])
    deltas = [100 * (row.accuracy - base.accuracy) for row in others]
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(others) + 1.2))
    colors = ["#c92a2a" if d < 0 else "#2b8a3e" for d in deltas]
    ax.barh([row.name for row in others], deltas, color=colors)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel(f"accuracy change vs. baseline ({100 * base.accuracy:.1f}%), percentage points")
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig
