"""The speed-run network: a small VGG-like stack with BatchNorm.

Shape of the net for 32x32 inputs (widths ``(w1, w2, w3)``, default 64/256/256)::

    stem   2x2 conv, 3 -> 24, no padding, + GELU        (N, 24, 31, 31)
    group1 conv3x3 -> maxpool2 -> BN -> GELU -> conv3x3
           -> BN -> GELU                                 (N, w1, 15, 15)
    group2 the same                                      (N, w2, 7, 7)
    group3 the same                                      (N, w3, 3, 3)
    head   maxpool3 -> flatten -> linear(w3, 10, no bias)
           -> x logit_scale                              (N, 10)

Choices taken from fast CIFAR-10 training (airbench / hlb-CIFAR10):

* the stem is a 2x2 convolution with 24 outputs, either initialised by
  whitening (:mod:`convlib.speedrun.whiten`, then frozen) or learned;
* BatchNorm (批量归一化) after every conv, with a fixed scale of 1 (only the
  bias learns) and a high momentum for the running statistics;
* each 3x3 conv starts as a partial identity (``dirac_``): the first
  ``C_in`` filters copy their input channel, so at initialisation the net
  passes its input through, a residual connection without the extra code;
* the logits are scaled by 1/9, which softens the first steps of training.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SpeedNet", "Conv3x3", "ConvGroup", "reset_parameters"]


class Conv3x3(nn.Conv2d):
    """3x3 convolution, 'same' padding, no bias, identity-initialised first filters.

    >>> conv = Conv3x3(2, 4)
    >>> x = torch.randn(1, 2, 5, 5)
    >>> torch.allclose(conv(x)[:, :2], x)  # the first C_in filters copy the input
    True
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, kernel_size=3, padding="same", bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            w = self.weight
            nn.init.dirac_(w[: min(w.shape[0], w.shape[1])])


def _batch_norm(c: int, momentum: float) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, eps=1e-12, momentum=1 - momentum)
    bn.weight.requires_grad_(False)  # scale fixed at 1: only the bias learns
    return bn


class ConvGroup(nn.Module):
    """conv -> maxpool 2 -> BN -> GELU -> conv -> BN -> GELU: ``(N, C_in, H, W)`` -> ``(N, C_out, H//2, W//2)``.

    >>> ConvGroup(3, 8)(torch.randn(2, 3, 16, 16)).shape
    torch.Size([2, 8, 8, 8])
    """

    def __init__(self, c_in: int, c_out: int, bn_momentum: float = 0.6) -> None:
        super().__init__()
        self.conv1 = Conv3x3(c_in, c_out)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = _batch_norm(c_out, bn_momentum)
        self.conv2 = Conv3x3(c_out, c_out)
        self.norm2 = _batch_norm(c_out, bn_momentum)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (N, C_in, H, W)`` -> ``(N, C_out, H//2, W//2)``."""
        x = self.act(self.norm1(self.pool(self.conv1(x))))  # (N, C_out, H//2, W//2)
        return self.act(self.norm2(self.conv2(x)))  # (N, C_out, H//2, W//2)


class SpeedNet(nn.Module):
    """The whole net: ``(N, 3, 32, 32)`` -> logits ``(N, 10)``.

    ``whiten=True`` freezes the stem's weight (it is set from data by
    :func:`~convlib.speedrun.init_whitening`); otherwise it learns.

    >>> net = SpeedNet(widths=(8, 16, 16))
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        widths: tuple[int, int, int] = (64, 256, 256),
        *,
        num_classes: int = 10,
        whiten: bool = True,
        bn_momentum: float = 0.6,
        logit_scale: float = 1 / 9,
    ) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.stem = nn.Conv2d(3, 24, kernel_size=2, padding=0, bias=True)
        self.stem.weight.requires_grad_(not whiten)
        self.act = nn.GELU()
        self.group1 = ConvGroup(24, w1, bn_momentum)
        self.group2 = ConvGroup(w1, w2, bn_momentum)
        self.group3 = ConvGroup(w2, w3, bn_momentum)
        self.pool = nn.MaxPool2d(3)
        self.head = nn.Linear(w3, num_classes, bias=False)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``x (N, 3, 32, 32)``, normalised, -> logits ``(N, num_classes)``."""
        x = self.act(self.stem(x))  # (N, 24, 31, 31)
        x = self.group3(self.group2(self.group1(x)))  # (N, w3, 3, 3)
        x = self.pool(x).flatten(1)  # (N, w3)
        return self.head(x) * self.logit_scale  # (N, num_classes)


@torch.no_grad()
def reset_parameters(net: nn.Module) -> None:
    """Re-initialise every layer in place (weights, biases, BatchNorm statistics).

    In place, so a ``torch.compile``-d wrapper of ``net`` keeps working without
    recompiling; ``requires_grad`` flags stay as they are.
    """
    for module in net.modules():
        if module is not net and hasattr(module, "reset_parameters"):
            module.reset_parameters()
