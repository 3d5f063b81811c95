"""Transposed convolution (转置卷积): a convolution's connections with the arrows reversed.

A convolution reads a window of input cells into one output cell. A transposed
convolution does the opposite: every input cell *writes* a copy of the kernel,
scaled by its value, into a patch of the output, ``s`` cells further along for
each step in the input, and where patches overlap they add up. With ``s > 1``
the output is larger than the input, which is why decoders, segmentation
networks and image generators use it as a learned upsampling layer.

The name comes from matrices. A convolution is ``y = M @ x`` with ``M`` from
:func:`convlib.conv_as_matrix`; the transposed convolution with the same kernel
is ``M.T @ y``: the same input-output pairs and weights, used in the other
direction. (So it is also what a convolution's backward pass does to the output
gradient.) It restores the input's *shape*, not its values: it is not an
inverse, and the old name "deconvolution" (反卷积) misleads.

Three views, same numbers:

* :func:`trans_conv_naive`: one matrix and one kernel, the double loop of the definition;
* :func:`conv_transpose2d`: batches and channels, as
  ``torch.nn.functional.conv_transpose2d`` computes, from one matrix product
  (every cell's scaled kernels) and ``F.fold`` (col2im: the patches added in place);
* :func:`insert_zeros` + an ordinary convolution: spread the input out with
  ``s - 1`` zeros between cells, pad, and slide the flipped kernel over it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from convlib._torchlike import accumulation_dtype, autocast, grad_stored, is_image, output_layout
from convlib.conv import _col2im, _col2im_plan
from convlib.corr import _pair_2d
from convlib.shapes import conv_transpose_output_size
from convlib.validate import (
    ConvlibInputError, as_pair, check_batch, check_float, check_groups, check_pixels, check_weight_and_bias, integer_kernels,
)

__all__ = ["trans_conv_naive", "conv_transpose2d", "insert_zeros"]

IntPair = tuple[int, int]


def trans_conv_naive(X: object, K: object, *, stride: int | tuple[int, int] = 1) -> torch.Tensor:
    """Transposed convolution of ``X (H, W)`` with ``K (k_h, k_w)``: each cell adds ``X[i, j] * K``.

    The patch of cell ``(i, j)`` starts at output ``(i*s_h, j*s_w)``; the output has
    shape ``((H - 1)*s_h + k_h, (W - 1)*s_w + k_w)``. No padding (see
    :func:`conv_transpose2d` for that). Differentiable in ``X`` and ``K``. Dtypes as in
    :func:`convlib.corr2d`: an integer tensor computes exactly in its dtype, lists become
    floats, two tensors of different dtypes raise; an empty ``X`` or ``K`` raises, as in torch.

    >>> trans_conv_naive([[0, 1], [2, 3]], [[0, 1], [2, 3]])
    tensor([[ 0.,  0.,  1.],
            [ 0.,  4.,  6.],
            [ 4., 12.,  9.]])
    >>> trans_conv_naive([[0, 1], [2, 3]], [[0, 1], [2, 3]], stride=2).shape
    torch.Size([4, 4])
    """
    X, K = _pair_2d(X, K, fits=False)  # one dtype, no empty axis (F.conv_transpose2d refuses one too)
    s = as_pair(stride, "stride")
    kh, kw = K.shape
    Y = X.new_zeros((X.shape[0] - 1) * s[0] + kh, (X.shape[1] - 1) * s[1] + kw)  # (H_out, W_out)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            Y[i * s[0] : i * s[0] + kh, j * s[1] : j * s[1] + kw] += X[i, j] * K
    return Y


def _checked(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int | tuple[int, int],
    padding: int | tuple[int, int],
    output_padding: int | tuple[int, int],
    dilation: int | tuple[int, int],
    groups: int = 1,
) -> tuple[IntPair, IntPair, IntPair, IntPair, IntPair]:
    """Validate; return ``stride, padding, output_padding, dilation, (H_out, W_out)``.

    ``x`` may be a batch ``(N, C_in, H, W)`` or one image ``(C_in, H, W)``.
    """
    ints = integer_kernels(x, weight)  # integer x and weight: an exact integer result, as torch's
    check_float(weight, "weight", integers=ints)
    if weight.ndim != 4 or weight.numel() == 0:
        raise ConvlibInputError(
            f"weight: expected a 4-D (C_in, C_out, k_h, k_w) tensor with every size >= 1, got shape "
            f"{tuple(weight.shape)}. Fix: a single 2-D kernel K becomes K[None, None]; note that a "
            "transposed convolution's weight lists C_in first, the reverse of conv2d's."
        )
    c_in, c_group = weight.shape[:2]  # c_group = C_out/groups: the channels each group makes
    check_groups(groups, c_in, of="C_in")
    check_batch(x, "x", channels=c_in, image=True, integers=ints)
    check_pixels(x)  # F.conv_transpose2d refuses an image without rows or columns
    check_weight_and_bias(x, weight, bias, c_group * groups)
    s = as_pair(stride, "stride")
    p = as_pair(padding, "padding", minimum=0)
    op = as_pair(output_padding, "output_padding", minimum=0)
    d = as_pair(dilation, "dilation")
    try:
        h_out, w_out = (
            conv_transpose_output_size(int(x.shape[a - 4]), int(weight.shape[a]), padding=p[a - 2],
                                       stride=s[a - 2], dilation=d[a - 2], output_padding=op[a - 2])
            for a in (2, 3)
        )
    except ValueError as err:  # the message names the rule and the fix
        raise ConvlibInputError(
            f"conv_transpose2d (x {tuple(x.shape)}, weight {tuple(weight.shape)}, stride {s}, "
            f"padding {p}, output_padding {op}, dilation {d}): {err}"
        ) from None
    return s, p, op, d, (h_out, w_out)


def conv_transpose2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """2-D transposed convolution of a batch, as ``torch.nn.functional.conv_transpose2d``.

    Shapes: ``x (N, C_in, H, W)``, ``weight (C_in, C_out/groups, k_h, k_w)`` (C_in first,
    as in torch), ``bias (C_out,)`` -> ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H - 1)*s - 2p + d*(k_h - 1) + 1 + output_padding``
    (:func:`convlib.conv_transpose_output_size`); one image ``x (C_in, H, W)``
    gives ``(C_out, H_out, W_out)``, as in torch. ``padding`` removes ``p`` cells
    from each side of the full result (so it undoes a convolution's padding
    ``p``); ``output_padding`` adds cells on the bottom and right, to pick among
    the input sizes a strided convolution maps to the same output. ``groups``
    splits the channels as in :func:`convlib.conv2d`: group ``i``'s input channels
    spread into group ``i``'s output channels only. Differentiable
    in ``x``, ``weight`` and ``bias`` (autograd through the matmul and ``F.fold``).
    The arguments come in ``F.conv_transpose2d``'s order (``groups`` before
    ``dilation``), positional or by name; the output is stored as torch stores
    it (channels-last when ``x`` or ``weight`` is), and so are both gradients.
    Integer ``x`` and ``weight`` (and ``bias``) of one dtype give the exact integer
    result in that dtype (summed in int64 and wrapped back), as :func:`convlib.conv2d` does.

    >>> x = torch.tensor([[[[0., 1], [2, 3]]]])
    >>> conv_transpose2d(x, torch.tensor([[[[0., 1], [2, 3]]]]))
    tensor([[[[ 0.,  0.,  1.],
              [ 0.,  4.,  6.],
              [ 4., 12.,  9.]]]])
    >>> conv_transpose2d(torch.zeros(1, 8, 4, 4), torch.zeros(8, 3, 3, 3),
    ...                  stride=2, padding=1, output_padding=1).shape
    torch.Size([1, 3, 8, 8])
    """
    s, p, op, d, (h_out, w_out) = _checked(x, weight, bias, stride, padding, output_padding, dilation, groups)
    image = is_image(x)  # one image (C_in, H, W): run as a batch of one
    x = x[None] if image else x  # (N, C_in, H, W)
    x, weight, bias = autocast(x, weight, bias)  # inside torch.autocast: its dtype, as F.conv_transpose2d
    layout = output_layout(x, weight)  # of the output and both gradients, as F.conv_transpose2d stores them
    x, weight = grad_stored(x, layout), grad_stored(weight, layout)
    dtype = x.dtype
    wide = accumulation_dtype(dtype)
    if wide is not None:  # float16/bfloat16: summed in float32 and rounded once, as torch does; integers in int64
        x, weight, bias = x.to(wide), weight.to(wide), None if bias is None else bias.to(wide)
    n, c_in, h, w = x.shape
    kh, kw = weight.shape[2:]
    # Every input cell times every kernel of its group: (g, C_out/g*k_h*k_w, C_in/g) @ (N, g, C_in/g, H*W)
    kernels = weight.reshape(groups, c_in // groups, -1).transpose(1, 2)  # (g, C_out/g*k_h*k_w, C_in/g)
    patches = kernels @ x.reshape(n, groups, c_in // groups, h * w)  # (N, g, C_out/g*k_h*k_w, H*W)
    patches = patches.reshape(n, weight.shape[1] * groups * kh * kw, h * w)  # (N, C_out*k_h*k_w, H*W), output channels in order
    full = ((h - 1) * s[0] + d[0] * (kh - 1) + 1, (w - 1) * s[1] + d[1] * (kw - 1) + 1)
    y = _fold(patches, (h, w), full, (kh, kw), s, d)  # (N, C_out, *full): overlapping patches added
    y = F.pad(y, (0, op[1], 0, op[0]))  # output_padding: extra rows/columns at the bottom/right
    y = y[:, :, p[0] : p[0] + h_out, p[1] : p[1] + w_out]  # padding: drop p cells on each side
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1)
    y = y.to(dtype).contiguous(memory_format=layout)
    return y[0] if image else y  # (N, C_out, H_out, W_out), or (C_out, H_out, W_out) for one image


def _fold(patches: torch.Tensor, in_hw: IntPair, full: IntPair, k: IntPair, s: IntPair, d: IntPair) -> torch.Tensor:
    """``F.fold``: add each input cell's patch, ``patches (N, C*k_h*k_w, H*W)``, into ``(N, C, *full)``.

    Kernel tap ``(i, j)`` of cell ``(y, x)`` lands on ``(y*s_h + i*d_h, x*s_w + j*d_w)``. For the
    dtypes ``F.fold`` has no CPU kernel for (integers), the same sums come from conv2d's col2im
    (one strided addition per kernel tap): the input cells are the outputs of a convolution
    without padding over the full result.
    """
    if patches.is_floating_point():
        return F.fold(patches, full, k, dilation=d, stride=s)
    n, (h, w) = patches.shape[0], in_hw
    taps = patches.view(n, -1, k[0], k[1], h, w)  # (N, C, k_h, k_w, H, W)
    y = patches.new_empty(n, taps.shape[1], *full)  # (N, C, *full)
    plan, covers = _col2im_plan(full, in_hw, k, s, (0, 0), d)
    _col2im(y, [(y[:, :, rows, cols], taps[:, :, i, j, out_rows, out_cols])
                for i, j, out_rows, out_cols, rows, cols in plan], covers)
    return y


def insert_zeros(x: torch.Tensor, stride: int | tuple[int, int]) -> torch.Tensor:
    """Spread ``x (..., H, W)`` out with ``s - 1`` zeros between neighbouring cells.

    Returns ``(..., (H - 1)*s_h + 1, (W - 1)*s_w + 1)`` (an empty axis stays
    empty: no cells, nothing to spread). A transposed convolution
    with stride ``s`` (padding ``p``, dilation ``d``) is a stride-1 convolution with
    dilation ``d`` and the kernel flipped (its ``C_in`` and ``C_out`` axes swapped)
    over this spread-out input padded by ``d*(k - 1) - p`` cells on each side.

    >>> insert_zeros(torch.tensor([[1., 2], [3, 4]]), 2)
    tensor([[1., 0., 2.],
            [0., 0., 0.],
            [3., 0., 4.]])
    """
    if not isinstance(x, torch.Tensor) or x.ndim < 2:
        raise ConvlibInputError(
            f"x: expected a tensor with at least 2 dims (..., H, W), got "
            f"{type(x).__name__ if not isinstance(x, torch.Tensor) else f'{x.ndim}-D shape {tuple(x.shape)}'}. "
            "Fix: pass a matrix (H, W) or a batch (N, C, H, W)."
        )
    s = as_pair(stride, "stride")
    h, w = x.shape[-2:]
    spread = ((h - 1) * s[0] + 1 if h else 0, (w - 1) * s[1] + 1 if w else 0)  # an empty axis stays empty
    out = x.new_zeros(*x.shape[:-2], *spread)  # (..., H_s, W_s)
    out[..., :: s[0], :: s[1]] = x
    return out
