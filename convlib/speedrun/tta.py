"""Test-time augmentation (测试时增强): average the logits of a few views of each image.

A net trained on mirrored images should give (almost) the same answer for an
image and its mirror image; averaging the two logits cancels part of its
mistakes for the price of a second forward pass. Level 2 also averages two
copies shifted by one pixel (up-left and down-right), each with its mirror.

=====  ==========================================  =============
level  views                                       forward passes
=====  ==========================================  =============
0      x                                           1
1      x, flip(x)                                  2
2      level 1 of x, of x shifted by (-1, -1) and  6
       of x shifted by (+1, +1); weights 1/2, 1/4,
       1/4
=====  ==========================================  =============
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from convlib.validate import check_int

__all__ = ["flip", "shifted", "tta_logits", "tta_accuracies"]

Model = Callable[[torch.Tensor], torch.Tensor]


def flip(x: torch.Tensor) -> torch.Tensor:
    """Mirror ``(N, C, H, W)`` images left-right.

    >>> flip(torch.tensor([[[[1, 2, 3]]]]))
    tensor([[[[3, 2, 1]]]])
    """
    return x.flip(-1)


def shifted(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift ``(N, C, H, W)`` images by ``(dy, dx)`` pixels with reflected borders (``|dy|, |dx| <= 1``).

    >>> # content moves right by one
    >>> shifted(torch.arange(9.).view(1, 1, 3, 3), 0, 1)[0, 0]
    tensor([[1., 0., 1.],
            [4., 3., 4.],
            [7., 6., 7.]])
    """
    h, w = x.shape[-2:]
    p = F.pad(x, (1, 1, 1, 1), mode="reflect")  # (N, C, H+2, W+2)
    return p[..., 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]


def _level1(model: Model, x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (model(x).float() + model(flip(x)).float())


def tta_logits(model: Model, x: torch.Tensor, level: int = 1) -> torch.Tensor:
    """Averaged logits ``(N, classes)`` of the views of ``x`` ``(N, C, H, W)`` at ``level`` 0, 1 or 2.

    >>> m = lambda x: x.mean(dim=(1, 2)) # a toy 'model': column means as logits
    >>> tta_logits(m, torch.tensor([[[[0., 1., 5.]]]]), level=1)
    tensor([[2.5000, 1.0000, 2.5000]])
    """
    level = check_int(level, "level", minimum=0, maximum=2, expected="0, 1 or 2", fix="0: no TTA, 1: flip, 2: flip and shifts")
    if level == 0:
        return model(x).float()
    if level == 1:
        return _level1(model, x)
    moved = 0.5 * (_level1(model, shifted(x, -1, -1)) + _level1(model, shifted(x, 1, 1)))  # level 2
    return 0.5 * _level1(model, x) + 0.5 * moved


@torch.no_grad()
def tta_accuracies(model: Model, images: torch.Tensor, labels: torch.Tensor, *, max_level: int, batch_size: int) -> dict[int, float]:
    """Test accuracy at every TTA level ``0..max_level``, sharing forward passes.

    ``images``: normalised ``(N, C, H, W)``; ``labels``: ``(N,)``. Returns
    ``{level: accuracy}`` with accuracies in [0, 1].
    """
    max_level = check_int(max_level, "max_level", minimum=0, maximum=2, expected="0, 1 or 2",
                          fix="0: no TTA, 1: flip, 2: flip and shifts")
    batch_size = check_int(batch_size, "batch_size", minimum=1, fix="e.g. batch_size=2000")
    correct = {level: 0 for level in range(max_level + 1)}
    for start in range(0, len(images), batch_size):
        x, y = images[start : start + batch_size], labels[start : start + batch_size]
        plain = model(x).float()  # (B, classes)
        views = {0: plain}
        if max_level >= 1:
            views[1] = 0.5 * (plain + model(flip(x)).float())
        if max_level >= 2:
            moved = 0.5 * (_level1(model, shifted(x, -1, -1)) + _level1(model, shifted(x, 1, 1)))
            views[2] = 0.5 * views[1] + 0.5 * moved
        for level, logits in views.items():
            correct[level] += (logits.argmax(1) == y).sum()
    return {level: int(c) / len(images) for level, c in correct.items()}
