"""A first layer that whitens 2x2 patches, computed from data instead of learned.

Neighbouring pixels of natural images are strongly correlated, and so are the
three colour channels: a 2x2x3 patch has 12 numbers, but most of their
variance lies along a few directions. **Whitening** (白化) rotates the patches
onto the eigenvectors of their covariance matrix and divides each direction by
its standard deviation, so the 12 outputs are uncorrelated with unit variance.
The network then starts on decorrelated inputs, which makes the first epochs
count for more.

:func:`whitening_weights` computes those filters from training images;
:func:`init_whitening` writes them (and their negatives, so a following ReLU or
GELU keeps both signs) into a 2x2 convolution with ``2 * 12 = 24`` outputs.
The weights are then frozen; only the layer's bias learns.
"""

from __future__ import annotations

import torch
from torch import nn

from convlib.validate import check_int

__all__ = ["patches", "whitening_weights", "init_whitening"]


def patches(images: torch.Tensor, k: int) -> torch.Tensor:
    """Every ``k x k`` patch of ``images`` ``(N, C, H, W)``: ``(N * (H-k+1) * (W-k+1), C, k, k)`` float32.

    >>> patches(torch.arange(9.).view(1, 1, 3, 3), 2)[0]
    tensor([[[0., 1.],
             [3., 4.]]])
    """
    k = check_int(k, "k", minimum=1, fix="k=2 as in the recipe")
    n, c = images.shape[:2]
    p = images.float().unfold(2, k, 1).unfold(3, k, 1)  # (N, C, H', W', k, k)
    return p.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, k, k)  # (N * H' * W', C, k, k)


def whitening_weights(images: torch.Tensor, k: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """Filters ``(C*k*k, C, k, k)`` that map ``k x k`` patches to uncorrelated unit-variance outputs.

    Row ``i`` is the ``i``-th eigenvector of the patches' second-moment matrix
    (largest eigenvalue first) divided by ``sqrt(eigenvalue + eps)``. The images
    should already be standardised (mean about 0), as :class:`DeviceLoader` makes them.
    """
    p = patches(images, k)  # (P, C, k, k)
    flat = p.reshape(len(p), -1)  # (P, C*k*k)
    cov = (flat.T @ flat / len(flat)).double()  # (C*k*k, C*k*k)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    w = eigenvectors.T / torch.sqrt(eigenvalues.clamp_min(0) + eps)[:, None]  # (C*k*k, C*k*k)
    return w.reshape(-1, *p.shape[1:]).to(images.dtype if images.is_floating_point() else torch.float32)


@torch.no_grad()
def init_whitening(conv: nn.Conv2d, images: torch.Tensor, eps: float = 5e-4) -> None:
    """Set ``conv``'s weight to the whitening filters and their negatives; zero its bias.

    ``conv`` must map ``C`` channels to ``2 * C * k * k`` with a ``k x k`` kernel;
    ``images``: standardised ``(N, C, H, W)``.
    """
    c_out, c_in, k, _ = conv.weight.shape
    if c_out != 2 * c_in * k * k:
        raise ValueError(
            f"conv: expected {2 * c_in * k * k} output channels (2 x C x k x k) for whitening, got {c_out}."
        )
    w = whitening_weights(images.to(conv.weight.device).float(), k, eps)  # (C*k*k, C, k, k)
    conv.weight.copy_(torch.cat([w, -w]))
    if conv.bias is not None:
        conv.bias.zero_()
