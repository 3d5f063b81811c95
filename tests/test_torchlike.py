"""convlib._torchlike: the memory-layout rule every op shares, checked against PyTorch's own choices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

import convlib as cl
from convlib._torchlike import channels_last

LAST = torch.channels_last


def _view(kind: str) -> torch.Tensor:
    """A float64 tensor ``(2, 4, 5, 6)`` (one image ``(4, 5, 6)`` for ``"image"``) stored as ``kind`` says."""
    make = torch.Generator().manual_seed(3)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=make, dtype=torch.float64)

    return {
        "contiguous": lambda: rand(2, 4, 5, 6),
        "channels_last": lambda: rand(2, 4, 5, 6).contiguous(memory_format=LAST),
        "rows of channels_last": lambda: rand(2, 4, 10, 6).contiguous(memory_format=LAST)[:, :, ::2],
        "images of channels_last": lambda: rand(4, 4, 5, 6).contiguous(memory_format=LAST)[::2],
        "channels of channels_last": lambda: rand(2, 8, 5, 6).contiguous(memory_format=LAST)[:, ::2],
        "permuted NHWC": lambda: rand(2, 5, 6, 4).permute(0, 3, 1, 2),
        "columns of contiguous": lambda: rand(2, 4, 5, 12)[..., ::2],
        "transposed H and W": lambda: rand(2, 4, 6, 5).transpose(2, 3),
        "image": lambda: rand(1, 4, 5, 6).contiguous(memory_format=LAST)[0],  # (C, H, W) stored H, W, C
    }[kind]()


KINDS = ["contiguous", "channels_last", "rows of channels_last", "images of channels_last",
         "channels of channels_last", "permuted NHWC", "columns of contiguous", "transposed H and W", "image"]


def _strides(t: torch.Tensor) -> tuple[int | None, ...]:
    """``t``'s strides, ``None`` on axes of size 1 (where any stride describes the same layout)."""
    return tuple(s if n > 1 else None for s, n in zip(t.stride(), t.shape))


@pytest.mark.parametrize("kind", KINDS)
def test_channels_last_answers_as_torch_chooses(kind: str) -> None:
    """channels_last(x) is True exactly where F.conv2d gives a (2, 3, 5, 6) output stored channels-last."""
    x = _view(kind)
    batch = x if x.ndim == 4 else x.unsqueeze(0)  # as the ops run one image
    out = F.conv2d(batch, torch.ones(3, 4, 1, 1, dtype=torch.float64))
    torch_last = out.is_contiguous(memory_format=LAST) and not out.is_contiguous()
    assert channels_last(batch) == torch_last


def test_channels_last_ambiguous_and_broadcast_strides() -> None:
    assert not channels_last(torch.zeros(2, 3, 1, 1))  # contiguous and channels-last alike: NCHW
    assert channels_last(torch.zeros(2, 3, 1, 1).contiguous(memory_format=LAST)) is False
    assert not channels_last(torch.zeros(1, 3, 1, 1).expand(2, 3, 4, 4))  # broadcast channels
    assert not channels_last(torch.zeros(0, 3, 4, 4).contiguous(memory_format=LAST))  # empty: NCHW
    assert not channels_last(torch.zeros(3, 4, 4))  # not a batch


OPS: dict[str, tuple[Callable, Callable, tuple[int, ...] | None]] = {
    # name: (convlib op, torch op, weight shape or None)
    "conv2d": (lambda x, w: cl.conv2d(x, w, padding=1, stride=(1, 2)),
               lambda x, w: F.conv2d(x, w, padding=1, stride=(1, 2)), (3, 4, 3, 3)),
    "grouped conv2d": (lambda x, w: cl.conv2d(x, w, padding=1, groups=2),
                       lambda x, w: F.conv2d(x, w, padding=1, groups=2), (4, 2, 3, 3)),
    "conv_transpose2d": (lambda x, w: cl.conv_transpose2d(x, w, stride=2, padding=1),
                         lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1), (4, 3, 3, 3)),
    "conv1x1": (cl.conv1x1, F.conv2d, (3, 4, 1, 1)),
    "max pool": (lambda x: cl.pool2d(x, 2, mode="max"), lambda x: F.max_pool2d(x, 2), None),
    "avg pool": (lambda x: cl.pool2d(x, 3, 2, 1, mode="avg"), lambda x: F.avg_pool2d(x, 3, 2, 1), None),
}


@pytest.mark.parametrize(("op", "kind", "weight_last"), [
    (op, kind, weight_last) for op in OPS for kind in KINDS
    for weight_last in ((False, True) if OPS[op][2] else (False,))])  # pooling has no weight
def test_ops_store_results_as_torch_does(op: str, kind: str, weight_last: bool) -> None:
    """Output and gradients match torch's values and memory layout, for every way x can be stored."""
    ours, theirs, w_shape = OPS[op]
    x = _view(kind)
    args = [x]
    if w_shape is not None:
        w = torch.randn(*w_shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        args.append(w.contiguous(memory_format=LAST) if weight_last else w)
    mine = [a.detach().requires_grad_() for a in args]
    ref = [a.detach().requires_grad_() for a in args]
    # the values against torch on plain contiguous copies: torch 2.14's own weight gradient is wrong
    # for one channels-last image with a channels-last weight and groups (convlib's matches the copies)
    plain = [a.detach().contiguous().requires_grad_() for a in args]
    y, y_ref, y_plain = ours(*mine), theirs(*ref), theirs(*plain)
    up = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    grads, grads_ref = torch.autograd.grad(y, mine, up), torch.autograd.grad(y_ref, ref, up)
    torch.testing.assert_close(y, y_plain)
    for got, expected in zip(grads, torch.autograd.grad(y_plain, plain, up)):
        torch.testing.assert_close(got, expected)
    assert [_strides(t) for t in (y, *grads)] == [_strides(t) for t in (y_ref, *grads_ref)]
