"""Figures for the chapters. Each function returns a closed matplotlib Figure:
as the last expression of a notebook cell it is shown once; in a script it
can be saved with ``fig.savefig(...)``."""

from __future__ import annotations

import math
from typing import Sequence


import matplotlib.pyplot as plt
from matplotlib.figure import Figure
import torch

from convlib.validate import _fail

__all__ = ["confusion_matrix", "conv_timings", "heatmaps", "history", "images", "predictions", "receptive_field_growth", "step_losses"]


def _finish(fig: Figure, *, suptitle: str | None = None, ax: object = None, title: str | None = None) -> Figure:
    """Titles, tight layout, then close: a closed Figure shows once as a cell's value."""
    if suptitle:
        fig.suptitle(suptitle)
    if title and ax is not None:
        ax.set_title(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def _as_image(img: object) -> object:
    """``img`` as a float array for ``imshow``: ``(H, W)`` or ``(H, W, C)``.

    uint8 pixels (0..255) are scaled to ``[0, 1]``, and so are other integer
    dtypes shown as colour (matplotlib's range for integer RGB is 0..255);
    an integer 2-D map keeps its values (a colormap spans whatever range it has).
    """
    t = torch.as_tensor(img).detach().cpu()
    if t.ndim == 3 and t.shape[0] in (1, 3):  # (C, H, W) -> (H, W, C)
        t = t.permute(1, 2, 0)
        if t.shape[-1] == 1:
            t = t[..., 0]
    integer = not t.is_floating_point() and t.dtype != torch.bool
    if t.dtype == torch.uint8 or (integer and t.ndim == 3):
        t = t.float() / 255
    return t.float().numpy()


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

    uint8 images (and integer colour images) are read as pixels 0..255; an
    empty ``imgs`` raises :class:`~convlib.validate.ConvlibInputError`.

    >>> fig = images([torch.zeros(4, 4), torch.ones(3, 4, 4)], ["zeros", "ones"])
    >>> len(fig.axes)
    2
    """
    n = len(imgs)
    if n == 0:
        raise _fail("images", "at least one image", "an empty sequence",
                    "pass a list of (H, W), (C, H, W) or (H, W, C) images")
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
    return _finish(fig, suptitle=suptitle)


def heatmaps(
    maps: Sequence[object],
    titles: Sequence[str] | None = None,
    *,
    annotate: bool = True,
    frames: Sequence[tuple[int, int, int, int] | None] | None = None,
    cmap: str = "YlOrRd",
    scale: float = 3.0,
    suptitle: str | None = None,
) -> Figure:
    """Maps ``(H, W)`` side by side on one shared colour scale, each cell labelled.

    ``frames`` draws, per map, a rectangle ``(top, left, height, width)`` in
    cell units (e.g. the real input inside a padded grid), or ``None``.

    >>> fig = heatmaps([torch.ones(3, 3), torch.arange(25).reshape(5, 5)],
    ...                ["a", "b"], frames=[None, (1, 1, 3, 3)])
    >>> len(fig.axes), fig.axes[1].get_title()
    (2, 'b')
    """
    from matplotlib.patches import Rectangle

    arrays = [torch.as_tensor(m).detach().cpu().double() for m in maps]
    if any(a.ndim != 2 for a in arrays):
        shapes = [tuple(a.shape) for a in arrays]
        raise ValueError(f"heatmaps: expected 2-D maps (H, W), got shapes {shapes}. Fix: pass m[0, 0] for a batch.")
    vmin = min(float(a.min()) for a in arrays)
    vmax = max(float(a.max()) for a in arrays)
    fig, axes = plt.subplots(1, len(arrays), figsize=(scale * len(arrays), scale), squeeze=False)
    for k, (ax, a) in enumerate(zip(axes.flat, arrays)):
        ax.imshow(a.numpy(), cmap=cmap, vmin=vmin, vmax=max(vmax, vmin + 1e-9))
        ax.set_xticks([]), ax.set_yticks([])
        if annotate and a.numel() <= 400:
            mid = (vmin + vmax) / 2
            for (i, j), v in zip(((i, j) for i in range(a.shape[0]) for j in range(a.shape[1])), a.flatten().tolist()):
                text = f"{v:g}" if float(v).is_integer() else f"{v:.2f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if v > mid else "black")
        if frames is not None and frames[k] is not None:
            top, left, h, w = frames[k]
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, lw=2, ls="--", ec="#1c7ed6"))
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9)
    return _finish(fig, suptitle=suptitle)


def history(h: object, *, title: str | None = None) -> Figure:
    """Loss and accuracy per epoch, train (solid) vs test (dashed), from :func:`convlib.fit`.

    ``h`` is a :class:`convlib.History` or a mapping ``{name: History}`` to
    compare runs (one colour each).

    >>> from convlib.train import History
    >>> fig = history(History([1.0, 0.5], [0.5, 0.8], [0.9, 0.6], [0.6, 0.7],
    ...                       [1.0, 1.0]))
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    """
    runs = dict(h) if isinstance(h, dict) else {"": h}
    for name, run in runs.items():
        if not all(hasattr(run, key) for key in ("train_loss", "train_acc", "test_loss", "test_acc")):
            where = f"h[{name!r}]" if name else "h"
            raise TypeError(
                f"{where}: expected a convlib.History (what cl.fit returns), got {type(run).__name__}. "
                "Fix: history(h) for one run, history({'sgd': h1, 'adam': h2}) to compare runs."
            )
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    for k, (name, run) in enumerate(runs.items()):
        color = f"C{k}"
        prefix = f"{name}: " if name else ""
        epochs = range(1, len(run.train_loss) + 1)
        for ax, train, test in ((ax_loss, run.train_loss, run.test_loss), (ax_acc, run.train_acc, run.test_acc)):
            ax.plot(epochs, train, "-o", color=color, ms=3, label=f"{prefix}train")
            if test:
                ax.plot(range(1, len(test) + 1), test, "--s", color=color, ms=3, label=f"{prefix}test")
    for ax, name in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax_acc.legend(fontsize=8)
    return _finish(fig, suptitle=title)


def predictions(
    images: object,
    labels: Sequence[int] | torch.Tensor,
    predicted: Sequence[int] | torch.Tensor,
    classes: Sequence[str],
    n: int = 12,
    *,
    ncols: int = 6,
    scale: float = 1.6,
) -> Figure:
    """The first ``n`` images with their labels; wrong predictions in red as "true/pred".

    ``images``: ``(N, C, H, W)`` or ``(N, H, W)``; ``labels``, ``predicted``: ``(N,)`` class indices.
    ``n`` must be >= 1 and ``N`` at least 1 (:class:`~convlib.validate.ConvlibInputError` otherwise).

    >>> fig = predictions(torch.zeros(3, 1, 4, 4), [0, 1, 1], [0, 1, 0],
    ...                   ["cat", "dog"], n=3)
    >>> [ax.get_title() for ax in fig.axes], fig.axes[2].title.get_color()
    (['cat', 'dog', 'dog/cat'], 'red')
    """
    imgs = torch.as_tensor(images).detach().cpu()
    y = torch.as_tensor(labels).cpu().tolist()
    p = torch.as_tensor(predicted).cpu().tolist()
    shown = min(n, len(imgs), len(y), len(p))
    if shown < 1:
        raise _fail("predictions", "n >= 1 and at least one image, label and prediction",
                    f"n={n} with {len(imgs)} images, {len(y)} labels and {len(p)} predictions",
                    "pass a non-empty batch and n >= 1 (the default shows the first 12)")
    n = shown
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.2), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            fig.delaxes(ax)
            continue
        ax.imshow(_as_image(imgs[k]), cmap="gray")
        right = y[k] == p[k]
        ax.set_title(classes[y[k]] if right else f"{classes[y[k]]}/{classes[p[k]]}",
                     fontsize=8, color="black" if right else "red")
    wrong = sum(a != b for a, b in zip(y[:n], p[:n]))
    fig.suptitle(f"{n - wrong} of {n} right; red: true/predicted", fontsize=9)
    return _finish(fig)


def receptive_field_growth(tables: dict[str, Sequence[object]], *, input_size: int | None = None) -> Figure:
    """Receptive field side vs depth (conv/pool layers), one line per network.

    ``tables`` maps names to :func:`convlib.receptive_field` results;
    ``input_size`` draws the image side as a dotted line.

    >>> from convlib.summary import receptive_field
    >>> fig = receptive_field_growth({"3x3 stack": receptive_field([(3, 1)] * 4)},
    ...                              input_size=28)
    >>> fig.axes[0].get_ylabel()
    'receptive field (pixels)'
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, rows in tables.items():
        sizes = [1] + [r.rf for r in rows]
        ax.plot(range(len(sizes)), sizes, "-o", ms=4, label=name)
    if input_size is not None:
        ax.axhline(input_size, ls=":", color="gray", label=f"image side ({input_size})")
    ax.set_xlabel("conv/pool layers passed")
    ax.set_ylabel("receptive field (pixels)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig)


def confusion_matrix(cm: object, classes: Sequence[str], *, normalize: bool = True, title: str | None = None) -> Figure:
    """A confusion matrix ``(n, n)`` (rows: true class, columns: predicted) as a labelled heat map.

    ``normalize`` shows each row as fractions of that class (so the diagonal is
    the per-class accuracy); otherwise raw counts.

    >>> fig = confusion_matrix(torch.tensor([[8, 2], [1, 9]]), ["cat", "dog"])
    >>> fig.axes[0].get_ylabel(), fig.axes[0].texts[1].get_text()
    ('true class', '0.20')
    """
    counts = torch.as_tensor(cm).double()
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(classes):
        raise _fail("cm", f"a square matrix (n, n) with one row and column per class ({len(classes)} classes)",
                    f"shape {tuple(counts.shape)}",
                    "pass one class name per row of cm, e.g. cl.data.CIFAR10_CLASSES for CIFAR-10")
    shown = counts / counts.sum(1, keepdim=True).clamp(min=1) if normalize else counts
    n = len(classes)
    fig, ax = plt.subplots(figsize=(0.55 * n + 2.2, 0.55 * n + 1.6))
    im = ax.imshow(shown.numpy(), cmap="Blues", vmin=0)
    mid = float(shown.max()) / 2
    for i in range(n):
        for j in range(n):
            v = float(shown[i, j])
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                    fontsize=7, color="white" if v > mid else "black")
    ax.set_xticks(range(n), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return _finish(fig, ax=ax, title=title)


def conv_timings(
    labels: Sequence[str],
    times: dict[str, Sequence[float]],
    *,
    unit: str = "ms",
    title: str | None = None,
    hatched: Sequence[str] = (),
) -> Figure:
    """Grouped bars on a log scale: one group per label, one bar per implementation.

    ``times`` maps an implementation name to one time per label; names in
    ``hatched`` are drawn hatched (e.g. extrapolated numbers).

    >>> fig = conv_timings(["conv 1"], {"loop": [9000.0], "torch": [3.0]},
    ...                    hatched=["loop"])
    >>> fig.axes[0].get_yscale(), len(fig.axes[0].patches)
    ('log', 2)
    """
    fig, ax = plt.subplots(figsize=(max(5.0, 1.9 * len(labels) + 2), 3.6))
    width = 0.8 / max(1, len(times))
    for k, (name, values) in enumerate(times.items()):
        xs = [i + (k - (len(times) - 1) / 2) * width for i in range(len(labels))]
        bars = ax.bar(xs, values, width, label=name + (" (extrapolated)" if name in hatched else ""),
                      color=f"C{k}", hatch="//" if name in hatched else None, edgecolor="white")
        ax.bar_label(bars, labels=[f"{v:,.3g}" for v in values], fontsize=7, padding=1)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel(f"time ({unit}, log scale)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig, ax=ax, title=title)


def step_losses(
    runs: dict[str, tuple[Sequence[float], int]],
    *,
    smooth: int = 0,
    ylim: tuple[float, float] | None = None,
    title: str | None = None,
) -> Figure:
    """The loss of every training step, one line per run, against epochs.

    ``runs`` maps a name to ``(losses, steps_per_epoch)``, so runs with
    different batch sizes share the x axis. ``smooth > 1`` adds a moving
    average of that many steps (thick line) over the raw curve (thin).
    ``ylim`` fixes the loss axis (a diverging run then leaves the plot
    instead of flattening the others).

    >>> fig = step_losses({"a": ([2.0, 1.5, 1.7, 1.2], 2)}, smooth=2)
    >>> fig.axes[0].get_xlabel(), len(fig.axes[0].lines)
    ('epoch', 2)
    """
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for k, (name, (losses, per_epoch)) in enumerate(runs.items()):
        y = torch.as_tensor(list(losses), dtype=torch.float64)
        x = (torch.arange(1, len(y) + 1, dtype=torch.float64) / per_epoch).numpy()
        ax.plot(x, y.numpy(), color=f"C{k}", lw=0.7, alpha=0.45 if smooth > 1 else 1.0,
                label=None if smooth > 1 else name)
        if smooth > 1 and len(y) >= smooth:
            avg = y.unfold(0, smooth, 1).mean(1)
            ax.plot(x[smooth - 1:], avg.numpy(), color=f"C{k}", lw=2, label=f"{name} (mean of {smooth} steps)")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss per step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _finish(fig, ax=ax, title=title)
