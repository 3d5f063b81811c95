"""What every convlib op does the way torch's own op does it, in one place.

One image ``(C, H, W)`` runs as a batch of one; inside ``torch.autocast`` an
op computes in autocast's dtype; and a result is stored channels-last when its
input (or weight) is. :func:`convlib.conv2d`,
:func:`convlib.conv_transpose2d`, :func:`convlib.conv1x1` and
:func:`convlib.pool2d` all follow these rules, so they live here rather than in
one of them; so does the layout of the input's gradient (:func:`grad_stored`).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["accumulation_dtype", "autocast", "channels_last", "grad_stored", "is_image", "output_layout"]


def is_image(x: object) -> bool:
    """Whether ``x`` is one image ``(C, H, W)`` rather than a batch: the ops then run it as a batch of
    one and return ``(C_out, H_out, W_out)``, as ``F.conv2d`` does."""
    return isinstance(x, torch.Tensor) and x.ndim == 3


def autocast(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """The three tensors in ``torch.autocast``'s dtype for ``x``'s device inside an autocast block
    (as ``F.conv2d`` computes there, e.g. in bfloat16 on the CPU), else unchanged; integer tensors
    stay as they are, as autocast leaves them."""
    kind = x.device.type
    if not x.is_floating_point():
        return x, weight, bias
    available = getattr(torch.amp, "is_autocast_available", lambda _: kind in ("cpu", "cuda"))
    if not available(kind) or not torch.is_autocast_enabled(kind):  # no autocast at all on "meta"
        return x, weight, bias
    dtype = torch.get_autocast_dtype(kind)
    return x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype)


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype | None:
    """``torch.float32`` for ``float16``/``bfloat16``, where torch's convolutions sum in float32 and round
    once (summed in the low precision, every addition would round); ``torch.int64`` for the narrower
    integer dtypes, whose sums torch wraps around (summed in int64 and cast back, they wrap the same
    way); ``None`` for other dtypes, summed as they are.

    >>> (accumulation_dtype(torch.bfloat16), accumulation_dtype(torch.uint8),
    ...  accumulation_dtype(torch.float64))
    (torch.float32, torch.int64, None)
    """
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return torch.int64 if dtype in (torch.uint8, torch.int8, torch.int16, torch.int32) else None


def channels_last(x: torch.Tensor) -> bool:
    """Whether ``x (N, C, H, W)`` counts as channels-last where PyTorch picks an op's memory format.

    PyTorch asks whether the strides *order* the axes as channels-last does (``C``
    fastest, then ``W``, ``H``, ``N``), not whether the tensor is densely stored so:
    a channels-last batch sliced (``x[:, :, ::2]``, ``x[::2]``) still counts, and
    ambiguous strides count as NCHW (a plainly contiguous 1x1 map; one image
    ``(C, H, W)`` stored channels-last, whose batch axis of 1 then has the smallest
    stride). This follows ATen's ``is_channels_last_strides_2d``. Inside
    ``torch.func.vmap``, which cannot answer the question, ``False``: the ops
    compute as for NCHW there.

    >>> x = torch.zeros(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    >>> channels_last(x), channels_last(x[:, :, ::2]), channels_last(x[0][None])
    (True, True, False)
    >>> channels_last(torch.zeros(2, 3, 1, 1))  # NCHW and channels-last alike
    False
    """
    try:
        sizes, strides = x.shape, x.stride()
    except RuntimeError:  # vmap: "NYI: querying strides inside of vmap ..." or similar
        return False
    if x.ndim != 4 or strides[1] == 0:  # a broadcast channel axis: NCHW, as ATen decides
        return False
    smallest = 0
    for axis in (1, 3, 2, 0):  # channels-last order, fastest first
        if sizes[axis] == 0 or strides[axis] < smallest:
            return False
        if axis == 0 and smallest == strides[1]:  # N x 1 x 1 x 1 with equal strides: ambiguous, so NCHW
            return False
        smallest = strides[axis] * sizes[axis]  # sizes are >= 1 here
    return True


def output_layout(x: torch.Tensor, weight: torch.Tensor) -> torch.memory_format:
    """The memory format of the output and of both gradients, as ``F.conv2d`` chooses it:
    channels-last when the input or the weight is stored so, else contiguous NCHW (an empty batch too)."""
    if x.shape[0] == 0:  # torch returns an empty batch plainly contiguous, whatever the weight's layout
        return torch.contiguous_format
    return torch.channels_last if channels_last(x) or channels_last(weight) else torch.contiguous_format


class _GradStored(torch.autograd.Function):
    """The identity, whose backward pass stores the gradient in a given memory format."""

    generate_vmap_rule = True  # works under torch.func too

    @staticmethod
    def forward(x: torch.Tensor, layout: torch.memory_format) -> torch.Tensor:  # type: ignore[override]
        return x.view_as(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        ctx.layout = inputs[1]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad.contiguous(memory_format=ctx.layout), None


def grad_stored(x: torch.Tensor, layout: torch.memory_format) -> torch.Tensor:
    """``x`` itself (a view), whose gradient comes back stored in ``layout``, as torch's convolutions and
    pools store an input's gradient (see :func:`output_layout`), where an op's own steps would hand it back
    in another (``chunk``, ``unfold`` and ``F.pad`` give NCHW, a broadcast matmul transposed strides)."""
    if not x.requires_grad or torch.jit.is_tracing():
        return x  # (a trace records no Python autograd.Function)
    return _GradStored.apply(x, layout)
