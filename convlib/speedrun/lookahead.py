"""Lookahead averaging: every few steps, pull the weights towards a running average.

Plain SGD at a high learning rate jitters around a good solution. Every
``every`` steps :class:`Lookahead` blends the running average with the current
weights, ``avg <- decay * avg + (1 - decay) * w``, and then puts the average
back into the network (``w <- avg``). Early in training the decay is near 0
and nothing changes; towards the end it rises and the net settles on the
average of its last steps. BatchNorm's running statistics are averaged too.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Lookahead"]


class Lookahead:
    """The running average of a network's floating-point state.

    >>> net = nn.Linear(1, 1, bias=False)
    >>> with torch.no_grad(): _ = net.weight.fill_(0.0)
    >>> la = Lookahead(net)
    >>> with torch.no_grad(): _ = net.weight.fill_(1.0)
    >>> la.update(net, decay=0.75)
    >>> net.weight.item()     # 0.75 * 0 + 0.25 * 1
    0.25
    """

    def __init__(self, net: nn.Module) -> None:
        self._live = [t for t in net.state_dict().values() if t.is_floating_point()]
        self.average = [t.detach().clone() for t in self._live]

    @torch.no_grad()
    def update(self, net: nn.Module, decay: float) -> None:
        """``avg <- decay * avg + (1 - decay) * w``, then ``w <- avg``."""
        torch._foreach_lerp_(self.average, self._live, 1.0 - decay)
        torch._foreach_copy_(self._live, self.average)
