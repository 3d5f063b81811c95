"""Shared by the op tests: an op's value and gradients, to compare against PyTorch's."""

from __future__ import annotations

from collections.abc import Callable

import torch


def value_and_grads(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    """``fn(*inputs)`` and the gradients of ``(fn(*inputs) * up).sum()`` for the inputs that are not None.

    ``up`` is a fixed random upstream gradient (seed 3), so two implementations of
    one op get the same one.
    """
    leaves = [t.clone().requires_grad_() if t is not None else None for t in inputs]
    y = fn(*leaves)
    up = torch.randn(y.shape, generator=torch.Generator().manual_seed(3), dtype=y.dtype)
    grads = torch.autograd.grad((y * up).sum(), [t for t in leaves if t is not None])
    return (y, *grads)
