"""Batched 2-D convolution built from tensor ops: im2col (unfold) + matmul.

``conv2d`` computes what ``torch.nn.functional.conv2d`` computes (a
cross-correlation, as every deep-learning library does) but from parts a reader
can follow: gather every receptive field into a row of a matrix (im2col), then
one matrix product applies all kernels to all rows.

Three versions, same numbers:

* :func:`conv2d_loop`, the layer written with Python loops over images,
  output channels and input channels, each step a :func:`corr2d_naive`
  double loop: the definition, and hopelessly slow on real data.
* :func:`~convlib.conv.conv2d_unfold`, the short version: ``F.unfold`` + ``@``, with autograd
  deriving the backward pass. Readable, and several times slower than PyTorch.
* :func:`~convlib.conv2d` (used by :class:`Conv2D`), the same idea arranged for speed,
  in one of two ways, both with the backward pass written by hand: two more
  matrix products (weight gradient and input gradient) plus a "col2im" step
  that adds each kernel tap's share of the input gradient back onto the input
  (shares that fall on padding are dropped).

  - **Image by image** (``_forward_per_image``), where the products run on
    ``torch.mm``'s library (or oneDNN's is preferred but the layer has at most
    ``TORCH_MM_KERNELS`` kernels) and each image has at least ``PER_IMAGE_ROWS`` output
    positions. The input is copied ``k_w`` times, each copy shifted left by one
    kernel column (and zero-padded); kernel row ``i``'s receptive fields are then
    those copies read from row ``i`` on, a view, so no ``k_h`` times larger im2col
    matrix is built. Each kernel row is one batched product (``torch.baddbmm``),
    ``(C_out, k_w*C_in)`` times ``(k_w*C_in, H_out*W_out)`` per image, added
    straight into the NCHW output (the bias rides along as a row of ones); the
    backward pass runs the same views the other way. For thin kernel rows with many
    kernels (an RGB input layer), and for 64 kernels or more where the whole batch's
    copies stay small (``FOLD_MANY_KERNELS``), the copies hold every kernel tap instead
    ("folded": each image's ``F.unfold`` matrix, one product; the latter's input
    gradient still one product per kernel row). The copies are kept
    from the forward pass for the backward pass where the whole batch fits in one slice.
    For small images with many kernels the weight gradient gathers each slice first,
    so one product per kernel row sums over all its images (``_gathers``).
  - **One product per slice of the batch** (``_forward_rows``), everywhere
    else (oneDNN, whose product operator has no batched form, for more kernels; small images;
    channels-last and half-precision tensors): the receptive fields are gathered
    channels-last (``(N*H_out*W_out, k_h*k_w*C_in)``, each row one contiguous
    run per kernel row) and the backward pass works in the transposed layout
    (one row per kernel tap and channel, one column per output position, which
    stays fast when ``C_in`` is 1 or 3).

  The input gradient comes back in the input's own memory layout, as torch's
  convolution returns it. The products run on the faster library at hand
  (oneDNN or ``torch.mm``, see :mod:`convlib.gemm`). A large batch is processed
  in slices of even size (at most ``CHUNK_BYTES`` of im2col matrix each), and
  the scratch matrices are kept between calls.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import Any, NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from convlib import gemm
from convlib._torchlike import accumulation_dtype, autocast, channels_last, grad_stored, is_image, output_layout
from convlib.shapes import conv_output_size
from convlib.validate import (
    ConvlibInputError,
    as_pair,
    check_batch,
    check_fits,
    check_float,
    check_groups,
    check_int,
    check_pixels,
    check_weight_and_bias,
    integer_kernels,
    resolve_padding,
    symmetric_padding,
)

__all__ = ["conv2d", "conv2d_loop", "conv2d_unfold", "free_scratch", "layer_padding", "Conv2D"]

IntPair = tuple[int, int]
#: ``padding`` as the ops take it: zeros per side (an int or ``(p_h, p_w)``), ``"same"`` or ``"valid"``.
Padding = int | tuple[int, int] | str

#: ``Conv2D``'s ``padding_mode`` values, as ``nn.Conv2d`` names them.
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

#: Largest im2col matrix built at once (bytes); a bigger batch is processed in slices.
CHUNK_BYTES = 4 << 20

#: The same for the image-by-image arrangement's shifted copies of the input (see :func:`_forward_per_image`).
#: Measured on an Intel Xeon, 2 threads, forward+backward of 128x64x32x32 -> 64 (3x3, padding 1):
#: 173 ms in slices of 8 MiB, 187 ms in slices of 32 MiB, 205 ms in one slice of 107 MiB.
SHIFT_CHUNK_BYTES = 16 << 20

#: Most bytes of shifted copies kept for reuse between a backward pass and the next forward pass (see :class:`_Kept`).
KEPT_BYTES = 128 << 20

#: Fewest output positions per image (``H_out*W_out``) for which :func:`conv2d` multiplies image by
#: image (see :func:`_per_image`); with fewer, each image's products are too small to run fast.
#: Measured on an Intel Xeon, 2 threads, forward+backward x torch (image by image vs one product per
#: slice, three layers for some sizes): 16 positions 2.97 vs 2.07 and 3.53 vs 2.26, 36 2.22 vs 1.89,
#: 64 1.84 vs 2.25, 1.85 vs 2.54 and 1.71 vs 1.79, 100 1.65 vs 2.66 and 1.96 vs 3.44, 256 1.40 vs 2.02.
PER_IMAGE_ROWS = 64

#: Where oneDNN is the faster library (``"auto"`` on other makers' processors with AVX-512, see :mod:`convlib.gemm`),
#: a layer with at most this many kernels is still multiplied image by image, on ``torch.mm``: products with
#: so few rows are cheap even in MKL's slower code for these processors, and image by image moves far less
#: data than one product per slice. Measured on an AMD EPYC with AVX-512, 2 threads, forward+backward x torch
#: (one product per slice on oneDNN vs image by image on torch.mm): 6 kernels (LeNet's C1) 1.10 vs 0.50;
#: 16 kernels 2.12 vs 1.71 (LeNet's C3), 3.19 vs 2.43, 2.43 vs 1.95, 2.81 vs 1.99 and 1.24 vs 1.23; 32 kernels
#: mixed (1.21 vs 1.49, 1.37 vs 1.83, 1.44 vs 1.26, 1.32 vs 1.17); 64 or more 1.09 vs 1.13, 1.40 vs 1.66,
#: 1.66 vs 2.42, 1.65 vs 2.50.
TORCH_MM_KERNELS = 16

#: Image by image, the shifted copies hold every kernel tap (one im2col product per image, "folded")
#: when a kernel row's copies would have fewer than ``FOLD_WIDTH`` rows (``k_w*C_in``) and there are
#: at least ``FOLD_KERNELS`` kernels: thin products with many kernels run far below peak, and the
#: extra copying is worth it. Measured as above (folded vs one product per kernel row):
#: ``k_w*C_in`` 9 with 16, 32 and 64 kernels 1.26 vs 1.54, 0.66 vs 0.80, 0.46 vs 0.79; 5 with 32
#: 0.50 vs 0.84 but with 6 kernels 1.06 vs 0.52; 12 with 32 0.73 vs 0.68; 15 with 32 1.43 vs 0.98.
FOLD_WIDTH = 10
FOLD_KERNELS = 16

#: Image by image, a layer with at least ``FOLD_MANY_KERNELS`` kernels has its copies folded too when the
#: whole batch's fit in ``FOLD_BATCH_BYTES`` (they are then made in one slice and kept for the backward pass):
#: one product per image with every tap (``K = k_h*k_w*C_in``) runs faster than ``k_h`` products with a
#: kernel row's taps each, and with many kernels that outweighs the ``k_h`` times larger copies. The input
#: gradient still takes one product per kernel row (see :func:`_input_grad_plan`). Measured on an AMD EPYC
#: without AVX-512, 2 threads, forward+backward time folded / not folded, alternating blocks of passes in
#: one process (2-4 processes each): 128x32x16x16 -> 64 0.91-0.98 (about 1.48x torch's time -> 1.38x);
#: 128x64x8x8 -> 128 0.94; 64x32x16x16 -> 64 0.94-0.95; 128x16x16x16 -> 64 0.94-0.97; 128x8x32x32 -> 64
#: 0.88-0.90; 128x128x8x8 -> 128 0.97 and 1.08; 32x64x16x16 -> 64 0.98 and 1.03. Folded copies that
#: overflow the bound lose, sliced and built twice (in fresh processes, x torch: 64x64x32x32 -> 64 1.33
#: vs 1.41, 128x64x16x16 -> 64 with 5x5 kernels 1.62 vs 1.89).
FOLD_MANY_KERNELS = 64
FOLD_BATCH_BYTES = 48 << 20


class _Scratch(threading.local):
    """Scratch matrices kept between calls (one set per thread).

    Allocating a fresh multi-megabyte buffer on every call costs a page fault
    per 4 KiB the first time it is written (the allocator hands large blocks
    back to the operating system when they are freed); reusing the buffers
    avoids that. One product per slice, they hold about ``CHUNK_BYTES`` per dtype
    and device for the im2col matrix (more when a single image's is larger), as much
    again for the input-gradient product where ``torch.mm`` computes it, one slice's
    output gradient (and, on ``torch.mm``, output), and one slice's input gradient when
    the input is stored channels-last or in bfloat16/float16 (there a float32 one,
    where col2im sums). Image by image, about ``SHIFT_CHUNK_BYTES`` (``FOLD_BATCH_BYTES`` where
    folded for many kernels) for the shifted copies of a slice's input (when they are not leased,
    see :class:`_Kept`), as much for its input gradient in that form, the zero-padded output
    gradient, and the images' weight-gradient products before they are summed.
    :func:`free_scratch` releases them.
    """

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, torch.dtype, torch.device], torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """A scratch tensor ``shape`` on ``like``'s device, in ``dtype`` (default: ``like``'s)."""
        numel = math.prod(shape)
        dtype = like.dtype if dtype is None else dtype
        key = (name, dtype, like.device)
        buf = self.buffers.get(key)
        if buf is None or buf.numel() < numel:
            # a normal tensor even inside torch.inference_mode(): an inference tensor kept
            # here could not be written to by a later call outside it
            with torch.inference_mode(False):
                buf = torch.empty(numel, dtype=dtype, device=like.device)
            self.buffers[key] = buf
        return buf[:numel].view(shape)


_SCRATCH = _Scratch()


class _Kept(threading.local):
    """Buffers that a forward pass hands to its backward pass, recycled (one pool per thread).

    The image-by-image arrangement keeps its shifted copies of the input for the backward pass
    (:class:`_Lease`) rather than building them twice. A fresh buffer for every forward
    pass would cost its page faults each time (see :class:`_Scratch`), so a buffer
    comes back here once the backward pass has used it, or once the graph holding it
    is freed, and the next forward pass of the same size takes it. The pool holds at
    most ``KEPT_BYTES`` (a buffer that would overflow it is let go), so a model fed
    ever new input sizes does not pile up buffers.
    """

    def __init__(self) -> None:
        self.free: dict[tuple, list[torch.Tensor]] = {}
        self.nbytes = 0

    def take(self, shape: tuple[int, ...], like: torch.Tensor, tag: tuple) -> tuple[torch.Tensor, bool]:
        """A buffer ``shape`` in ``like``'s dtype and on its device, and whether it is fresh.

        A recycled one comes from a lease with the same ``tag`` (and size), so whatever
        that lease's owner wrote once and never overwrote is still there.
        """
        spare = self.free.get((shape, like.dtype, like.device, tag))
        if spare:
            buf = spare.pop()
            self.nbytes -= buf.nbytes
            return buf, False
        with torch.inference_mode(False):  # as in _Scratch.get
            return torch.empty(shape, dtype=like.dtype, device=like.device), True

    def give(self, buf: torch.Tensor, tag: tuple) -> None:
        """Take ``buf`` back, if the pool has room: at most two per size (a training step holds one per layer)."""
        spare = self.free.setdefault((tuple(buf.shape), buf.dtype, buf.device, tag), [])
        if len(spare) < 2 and self.nbytes + buf.nbytes <= KEPT_BYTES:
            spare.append(buf)
            self.nbytes += buf.nbytes

    def clear(self) -> None:
        """Let every pooled buffer go."""
        self.free.clear()
        self.nbytes = 0


_KEPT = _Kept()


class _Lease:
    """A buffer from :data:`_KEPT`, given back when the lease is dropped (by :meth:`end` or garbage collection).

    ``fresh`` says whether the buffer is new, or was last leased with the same ``tag``.
    """

    def __init__(self, shape: tuple[int, ...], like: torch.Tensor, tag: tuple) -> None:
        self.tag = tag
        self.buffer: torch.Tensor | None
        self.buffer, self.fresh = _KEPT.take(shape, like, tag)

    def end(self) -> None:
        """Give the buffer back now; the lease holds nothing after."""
        if self.buffer is not None:
            _KEPT.give(self.buffer, self.tag)
            self.buffer = None

    def __del__(self) -> None:
        try:
            self.end()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass


def free_scratch() -> None:
    """Release the scratch matrices :func:`~convlib.conv2d` keeps for this thread, and its recycled buffers."""
    _SCRATCH.buffers.clear()
    _KEPT.clear()


def _checked(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: int | tuple[int, int],
    padding: Padding,
    dilation: int | tuple[int, int],
    groups: int = 1,
) -> tuple[torch.Tensor, IntPair, IntPair, IntPair, IntPair]:
    """Validate the arguments; return ``x, stride, padding, dilation, (H_out, W_out)``.

    ``x`` comes back as a batch ``(N, C_in, H, W)``: one image ``(C_in, H, W)``
    gets a batch axis of 1 (the caller removes it from the result, see :func:`convlib._torchlike.is_image`).
    ``padding`` comes back as the zeros on each side. ``padding="same"`` with an
    even window wants one zero more after than before; that extra row or column
    is added to ``x`` here (``F.pad``, so gradients flow through it).
    """
    ints = integer_kernels(x, weight)  # integer x and weight: an exact integer convolution
    check_float(weight, "weight", integers=ints)
    if weight.ndim != 4:
        raise ConvlibInputError(
            f"weight: expected 4-D (C_out, C_in, k_h, k_w), got {weight.ndim}-D shape "
            f"{tuple(weight.shape)}. Fix: a single 2-D kernel K becomes K[None, None]."
        )
    if weight.numel() == 0:
        raise ConvlibInputError(
            f"weight: expected every size >= 1 in (C_out, C_in, k_h, k_w), got shape "
            f"{tuple(weight.shape)}. Fix: kernel_size, in_channels and out_channels must be >= 1."
        )
    # plain ints even where torch.jit.trace hands out sizes as 0-d tensors
    c_out, c_in, kh, kw = (int(v) for v in weight.shape)  # c_in: channels each kernel reads, C_in/groups
    g = check_groups(groups)
    check_batch(x, "x", channels=c_in * g, image=True, integers=ints,
                channels_from="the weight's C_in" if g == 1 else f"groups={g} times the weight's C_in/groups = {c_in}")
    check_pixels(x)  # F.conv2d refuses an image without rows or columns, padding or not
    if is_image(x):
        x = x.unsqueeze(0)  # (1, C_in, H, W)
    # x's channels and the weight's depth leave one choice of groups: C_out must suit it
    check_groups(g, c_out, fix=f"x's {c_in * g} channels in kernels {c_in} deep make {g} groups, so the weight needs a "
                               f"C_out that {g} divides, e.g. shape ({g * -(-c_out // g)}, {c_in}, {kh}, {kw})")
    check_weight_and_bias(x, weight, bias, c_out)
    s = as_pair(stride, "stride")
    d = as_pair(dilation, "dilation")
    p, after = resolve_padding(padding, (kh, kw), stride=s, dilation=d)
    if after != p:
        layout = output_layout(x, weight)  # F.pad returns NCHW: keep a channels-last x channels-last
        x = F.pad(x, (0, after[1] - p[1], 0, after[0] - p[0])).contiguous(memory_format=layout)  # (N, C_in, H + 1?, W + 1?)
    span = (d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1)
    check_fits(tuple(x.shape[2:]), span, p, name="weight")
    h, w = (int(v) for v in x.shape[2:])
    out = (conv_output_size(h, kh, padding=p[0], stride=s[0], dilation=d[0]),
           conv_output_size(w, kw, padding=p[1], stride=s[1], dilation=d[1]))
    return x, s, p, d, out


def _plain_ops_only(*tensors: torch.Tensor | None) -> bool:
    """Whether a transform watches this call that a hand-written backward pass cannot serve:
    ``torch.compile``, ``torch.jit.trace``, ``torch.func`` (``grad``, ``vmap``, ...) or forward-mode AD."""
    if gemm.compiling() or torch.jit.is_tracing():
        return True
    return any(gemm.transformed(t) for t in tensors if t is not None)


def _teaching_layout(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.memory_format:
    """The memory format of :func:`conv2d_unfold`'s and :func:`conv2d_loop`'s output and gradients:
    :func:`~convlib._torchlike.output_layout`, except under a transform (``vmap`` cannot even ask a
    tensor's layout), where it stays contiguous NCHW."""
    return torch.contiguous_format if _plain_ops_only(x, weight, bias) else output_layout(x, weight)


def conv2d_unfold(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: Padding = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """The short version of :func:`~convlib.conv2d`: ``F.unfold`` + one batched matmul.

    Shapes as in :func:`~convlib.conv2d`. Autograd derives the backward pass (so second
    derivatives work too); it is correct and simple, not fast. With ``groups``,
    the unfolded rows split into one block per group and each group's kernels
    multiply only their own block (a batched matmul over groups). The output and
    both gradients are stored as ``F.conv2d`` stores them (channels-last when ``x`` or ``weight`` is),
    except under ``torch.compile``, ``torch.jit.trace`` and ``torch.func``: contiguous NCHW there.
    Integer tensors are convolved as :func:`~convlib.conv2d` convolves them.

    >>> x = torch.arange(9.).reshape(1, 1, 3, 3)
    >>> conv2d_unfold(x, torch.tensor([[[[0., 1], [2, 3]]]]))
    tensor([[[[19., 25.],
              [37., 43.]]]])
    """
    image = is_image(x)
    x, s, p, d, out_hw = _checked(x, weight, bias, stride, padding, dilation, groups)
    x, weight, bias = autocast(x, weight, bias)
    layout = _teaching_layout(x, weight, bias)
    x, weight = grad_stored(x, layout), grad_stored(weight, layout)
    dtype = x.dtype
    if not x.is_floating_point():  # integers: summed in int64, wrapped back into their dtype at the end
        x, weight, bias = x.long(), weight.long(), None if bias is None else bias.long()
    c_out, _, kh, kw = weight.shape
    n = x.shape[0]
    cols = _unfold(x, (kh, kw), s, p, d, out_hw)  # (N, C_in*k_h*k_w, L), rows ordered by channel
    cols = cols.reshape(n, groups, cols.shape[1] // groups, cols.shape[2])  # (N, g, C_in/g*k_h*k_w, L): one block per group
    out = weight.reshape(groups, c_out // groups, -1) @ cols  # (g, C_out/g, K) @ (N, g, K, L) -> (N, g, C_out/g, L)
    out = out.reshape(n, c_out, cols.shape[-1])  # (N, C_out, L)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1)
    # the output size from x's own size, not from _checked's ints: torch.jit.trace records this
    # arithmetic, so a traced call replays on other image sizes
    h_out, w_out = ((size + 2 * p[i] - d[i] * (k - 1) - 1) // s[i] + 1
                    for i, (size, k) in enumerate(zip(x.shape[2:], (kh, kw))))
    out = out.reshape(n, c_out, h_out, w_out)  # (N, C_out, H_out, W_out)
    out = out.to(dtype).contiguous(memory_format=layout)
    return out[0] if image else out  # one image: (C_out, H_out, W_out)


def _unfold(x: torch.Tensor, k: IntPair, s: IntPair, p: IntPair, d: IntPair, out: IntPair) -> torch.Tensor:
    """``F.unfold``: every receptive field of ``x (N, C, H, W)`` as a column, ``(N, C*k_h*k_w, L)``,
    ``L = H_out*W_out`` (``out``).

    For the dtypes ``F.unfold`` has no CPU kernel for (integers), the same columns are
    gathered from :func:`_windows` (a copy, rows in the same ``(C, k_h, k_w)`` order).
    """
    if x.is_floating_point():
        return F.unfold(x, k, dilation=d, padding=p, stride=s)
    n, c = x.shape[:2]
    win = _windows(_padded_nhwc(x, p), k, s, d, out)  # (N, H_out, W_out, k_h, k_w, C), a view
    return win.permute(0, 5, 3, 4, 1, 2).reshape(n, c * k[0] * k[1], out[0] * out[1])  # (N, C*k_h*k_w, L)


def conv2d_loop(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int | tuple[int, int] = 1,
    padding: Padding = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """The for-loop layer: every image, output channel and input channel.

    Shapes as in :func:`~convlib.conv2d`. Each ``(image, C_out, C_in)``
    triple runs :func:`convlib.corr2d_naive`, itself a double loop over
    output cells; a stride keeps every ``s``-th output of the stride-1
    result, and a dilation ``d`` spreads each kernel out with ``d - 1``
    zeros between its taps (:func:`convlib.insert_zeros`) before it slides.
    With ``groups``, output channel ``o`` belongs to group
    ``o // (C_out/groups)`` and sums over that group's ``C_in/groups``
    input channels only. Differentiable through autograd, so it can train,
    very slowly. The output and both gradients are stored as ``F.conv2d``
    stores them (channels-last when ``x`` or ``weight`` is).

    >>> x = torch.arange(9.).reshape(1, 1, 3, 3)
    >>> conv2d_loop(x, torch.tensor([[[[0., 1], [2, 3]]]]))
    tensor([[[[19., 25.],
              [37., 43.]]]])
    """
    from convlib.corr import corr2d_naive
    from convlib.transposed import insert_zeros

    image = is_image(x)
    x, s, p, d, (h_out, w_out) = _checked(x, weight, bias, stride, padding,
                                          dilation, groups)
    if x.shape[0] == 0:  # no images to loop over, but the result has a shape
        return conv2d_unfold(x, weight, bias, stride=s, padding=p, dilation=d,
                             groups=groups)
    layout = _teaching_layout(x, weight, bias)
    x, weight = grad_stored(x, layout), grad_stored(weight, layout)
    # c_group = C_in/groups: the channels each kernel reads
    c_out, c_group = weight.shape[:2]
    xp = F.pad(x, (p[1], p[1], p[0], p[0]))  # (N, C_in, H + 2p_h, W + 2p_w)
    images = []
    for n in range(x.shape[0]):
        maps = []
        for o in range(c_out):
            # the group's first input channel
            first = o // (c_out // groups) * c_group
            # (H_p - span_h + 1, W_p - span_w + 1), where
            # span = d*(k - 1) + 1 is the dilated kernel's extent
            acc = sum(corr2d_naive(xp[n, first + c],
                                   insert_zeros(weight[o, c], d))
                      for c in range(c_group))
            maps.append(acc if bias is None else acc + bias[o])
        # (C_out, H_p - span_h + 1, W_p - span_w + 1)
        images.append(torch.stack(maps))
    # (N, C_out, H_out, W_out): every s-th row and column
    out = torch.stack(images)[:, :, :: s[0], :: s[1]]
    assert out.shape[2:] == (h_out, w_out)
    # integers: corr2d_naive's int64 sums, wrapped back
    out = out.to(x.dtype).contiguous(memory_format=layout)
    return out[0] if image else out  # one image: (C_out, H_out, W_out)


# ------------------------------------------------------------ the fast path


def _padded_nhwc(x: torch.Tensor, p: IntPair) -> torch.Tensor:
    """``x (N, C, H, W)`` -> zero-padded, channels-last ``(N, H+2p_h, W+2p_w, C)``.

    No copy when there is no padding and ``x`` is already channels-last.
    """
    n, c, h, w = x.shape
    if p == (0, 0):
        return x.permute(0, 2, 3, 1).contiguous()  # (N, H, W, C)
    xp = x.new_zeros(n, h + 2 * p[0], w + 2 * p[1], c)  # (N, H_p, W_p, C)
    xp[:, p[0] : p[0] + h, p[1] : p[1] + w] = x.permute(0, 2, 3, 1)
    return xp


def _windows(xp: torch.Tensor, k: IntPair, s: IntPair, d: IntPair, out: IntPair) -> torch.Tensor:
    """Every receptive field of ``xp (N, H_p, W_p, C)`` as a view ``(N, H_out, W_out, k_h, k_w, C)``.

    Moving one output row jumps ``s_h`` input rows, one kernel row ``d_h``
    input rows: the view only sets strides, it copies nothing.
    """
    n, _, _, c = xp.shape
    sn, sh, sw, sc = xp.stride()
    return xp.as_strided(
        (n, out[0], out[1], k[0], k[1], c),
        (sn, s[0] * sh, s[1] * sw, d[0] * sh, d[1] * sw, sc),
        xp.storage_offset(),
    )


def _batch_step(n: int, row_bytes: int, chunk: int | None = None) -> int:
    """How many images go into one slice: at most ``chunk`` (default ``CHUNK_BYTES``) of im2col matrix, slices of even size.

    Evenly sized slices matter: 128 images at 14 per slice would leave a last slice of
    2, whose matrix products run far below the speed of the others; 13 per slice
    (the last 11) does not.

    >>> (_batch_step(128, CHUNK_BYTES // 14), _batch_step(10, CHUNK_BYTES // 4),
    ...  _batch_step(0, 1))
    (13, 4, 1)
    """
    if n == 0:  # an empty batch: no slices, but the scratch shapes still need a size
        return 1
    most = max(1, min(n, (CHUNK_BYTES if chunk is None else chunk) // max(1, row_bytes)))  # images that fit in one slice
    return -(-n // -(-n // most))  # n / (number of slices), rounded up


def _differentiable_backward(
    ctx: Any, grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
) -> tuple[torch.Tensor | None, ...]:
    """The backward pass as a graph autograd can differentiate again (slow, rarely needed)."""
    s, p, d, _, _ = ctx.geometry
    inputs = [t for t, need in zip((x, weight, bias), ctx.needs_input_grad[:3]) if need]
    y = conv2d_unfold(x, weight, bias, stride=s, padding=p, dilation=d)  # (N, C_out, H_out, W_out)
    found = iter(torch.autograd.grad(y, inputs, grad, create_graph=True))
    layout = output_layout(x, weight)  # stored as the first-order backward stores them (F.conv2d's rule)
    gx, gw, gb = (next(found) if need else None for need in ctx.needs_input_grad[:3])
    gx, gw = (None if g is None else g.contiguous(memory_format=layout) for g in (gx, gw))
    return gx, gw, gb, None, None, None, None


def _tap_span(size: int, out: int, offset: int, s: int) -> tuple[slice, slice] | None:
    """One kernel tap along one axis: which outputs read inside the input, and which cells.

    Output ``y`` reads input cell ``y*s + offset`` (``offset = i*d - p`` for tap ``i``);
    cells outside ``0 .. size-1`` are padding. Returns ``(outputs, cells)`` as slices
    of equal length, or ``None`` when the tap reads only padding.

    >>> # tap 0 of a 3-tap kernel, padding 1: the first output reads padding
    >>> _tap_span(5, 5, -1, 1)
    (slice(1, 5, None), slice(0, 4, 1))
    """
    lo = max(0, -(offset // s))  # first y with y*s + offset >= 0
    hi = min(out, (size - 1 - offset) // s + 1)  # one past the last y with y*s + offset <= size - 1
    if hi <= lo:
        return None
    start = lo * s + offset
    return slice(lo, hi), slice(start, start + (hi - lo - 1) * s + 1, s)


#: One kernel tap in col2im: ``(i, j, out_rows, out_cols, in_rows, in_cols)``.
Tap = tuple[int, int, slice, slice, slice, slice]
#: col2im's work list: ``(input cells, their share of the tap matrix)`` views, one pair per tap.
Pairs = list[tuple[torch.Tensor, torch.Tensor]]


def _col2im_plan(in_hw: IntPair, out_hw: IntPair, k: IntPair, s: IntPair, p: IntPair, d: IntPair) -> tuple[list[Tap], bool]:
    """The kernel taps that reach the input, as ``(i, j, out_rows, out_cols, in_rows, in_cols)``.

    The second value says whether the first tap covers every input cell (stride 1 and
    "same" padding: the centre tap): col2im can then write it instead of zeroing first.
    """
    rows = [_tap_span(in_hw[0], out_hw[0], i * d[0] - p[0], s[0]) for i in range(k[0])]
    cols = [_tap_span(in_hw[1], out_hw[1], j * d[1] - p[1], s[1]) for j in range(k[1])]
    plan = [(i, j, r[0], c[0], r[1], c[1]) for i, r in enumerate(rows) if r for j, c in enumerate(cols) if c]
    whole = (slice(0, in_hw[0], 1), slice(0, in_hw[1], 1))
    covering = [n for n, tap in enumerate(plan) if (tap[4], tap[5]) == whole]
    if covering:
        plan.insert(0, plan.pop(covering[0]))
    return plan, bool(covering)


def _col2im_pairs(gx: torch.Tensor, gc: torch.Tensor, plan: list[Tap]) -> Pairs:
    """For each tap of ``plan``: ``(input cells of gx (B, C, H, W), its share of gc (k_h, k_w, C, B, H_out, W_out))``.

    Both are views (no copies); the backward pass makes them for each slice.
    """
    return [(gx[:, :, in_rows, in_cols], gc[i, j].transpose(0, 1)[:, :, out_rows, out_cols])
            for i, j, out_rows, out_cols, in_rows, in_cols in plan]


def _col2im(gx: torch.Tensor, pairs: Pairs, covers: bool) -> None:
    """col2im: ``gx (B, C, H, W)`` = every tap's share of the input gradient, summed.

    Entry ``(i, j, c, b, y, x)`` of the tap matrix belongs to input cell ``(y*s_h + i*d_h - p_h,
    x*s_w + j*d_w - p_w)`` of channel ``c`` of image ``b``; overlapping windows add up, shares
    that fall on padding are dropped (``plan`` leaves them out). One strided addition per tap
    of :func:`_col2im_pairs`, each running along rows of ``W`` cells; when the first tap
    ``covers`` ``gx``, it writes and nothing is zeroed.
    """
    if not covers:
        gx.zero_()
    for n, (target, share) in enumerate(pairs):
        if n == 0 and covers:
            target.copy_(share)
        else:
            target += share


def _weight_matrix(weight: torch.Tensor) -> torch.Tensor:
    """``weight (C_out, C_in, k_h, k_w)`` -> ``(C_out, K)``, taps ordered ``(k_h, k_w, C_in)`` like an im2col row."""
    return weight.permute(0, 2, 3, 1).reshape(weight.shape[0], -1)


def _product(a: torch.Tensor, b: torch.Tensor, scratch: torch.Tensor) -> torch.Tensor:
    """``a @ b``: in ``scratch`` where the library writes into given memory (``torch.mm``).

    oneDNN returns a matrix of its own, used as it is: copying it into
    ``scratch`` would cost one more pass over it.
    """
    if gemm.library_for(a, b) == "onednn":
        return gemm.matmul(a, b)
    return gemm.matmul(a, b, out=scratch)


def _forward_product(w2: torch.Tensor, cols: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor) -> None:
    """One slice of the output: ``w2 (C_out, K) @ cols (M, K).T (+ bias)`` into ``out (B, C_out, H_out, W_out)``.

    For an NCHW ``out`` the product comes out as ``(C_out, B*H_out*W_out)``, one
    row per output channel, and moving it into place (adding the bias on the way)
    copies rows of ``H_out*W_out`` numbers. A channels-last ``out`` is ``(M, C_out)``
    in memory: the product ``cols @ w2.T`` is written there directly.
    """
    b, c_out = out.shape[:2]
    if not out.is_contiguous():  # channels-last: memory order (B, H_out, W_out, C_out)
        gemm.matmul(cols, w2.t(), bias, out=out.permute(0, 2, 3, 1).view(-1, c_out))  # (M, C_out)
        return
    y = _product(w2, cols.t(), _SCRATCH.get("out", (c_out, cols.shape[0]), cols))  # (C_out, M)
    y = y.view(c_out, b, *out.shape[2:]).transpose(0, 1)  # (B, C_out, H_out, W_out), a view
    if bias is None:
        out.copy_(y)
    else:
        torch.add(y, bias.view(1, c_out, 1, 1), out=out)


def _padded_nchw(x: torch.Tensor, p: IntPair) -> torch.Tensor:
    """``x (N, C, H, W)`` -> zero-padded and contiguous, ``(N, C, H+2p_h, W+2p_w)``; ``x`` itself if it already is."""
    n, c, h, w = x.shape
    if p == (0, 0) and x.is_contiguous():
        return x
    xp = x.new_zeros(n, c, h + 2 * p[0], w + 2 * p[1])  # (N, C, H_p, W_p)
    xp[:, :, p[0] : p[0] + h, p[1] : p[1] + w] = x
    return xp


def _windows_kernel_first(xp: torch.Tensor, k: IntPair, s: IntPair, d: IntPair, out: IntPair) -> torch.Tensor:
    """Every receptive field of ``xp (N, C, H_p, W_p)`` as a view ``(k_h, k_w, C, N, H_out, W_out)``.

    The transposed im2col matrix of the backward pass: one row per kernel tap and
    channel, one column per output position. Copying it reads whole rows of the
    input (``W_out`` cells a step ``s_w`` apart) even when ``C`` is small.
    """
    sn, sc, sh, sw = xp.stride()
    return xp.as_strided(
        (k[0], k[1], xp.shape[1], xp.shape[0], out[0], out[1]),
        (d[0] * sh, d[1] * sw, sc, sn, s[0] * sh, s[1] * sw),
        xp.storage_offset(),
    )


class _WeightGrad:
    """A layer's weight gradient ``(K, C_out)``, summed over the slices of a batch."""

    def __init__(self, weight: torch.Tensor) -> None:
        self.matrix = weight.new_zeros(weight[0].numel(), weight.shape[0])  # (K, C_out)

    def add(self, g_t: torch.Tensor, cols_t: torch.Tensor) -> None:
        """Add one slice: ``cols_t (K, M) @ g_t.T``, ``g_t (C_out, M)`` the output gradients of the M columns."""
        gemm.add_matmul(self.matrix, cols_t, g_t.t())  # (K, M) @ (M, C_out)

    def as_kernels(self, weight: torch.Tensor, layout: torch.memory_format) -> torch.Tensor:
        """The finished sum, shaped like ``weight (C_out, C_in, k_h, k_w)``, stored in ``layout``."""
        c_out, c_in, kh, kw = weight.shape
        return self.matrix.t().reshape(c_out, kh, kw, c_in).permute(0, 3, 1, 2).contiguous(memory_format=layout)


#: How a batch is cut up: ``(stride, padding, dilation, (H_out, W_out), images per slice)``.
Geometry = tuple[IntPair, IntPair, IntPair, IntPair, int]


def _per_image(x: torch.Tensor, weight: torch.Tensor, layout: torch.memory_format, rows: int) -> bool:
    """Whether :func:`conv2d` multiplies image by image (see :func:`_forward_per_image`).

    It does for an NCHW output with at least :data:`PER_IMAGE_ROWS` positions per image, in
    float32 or float64, where the products run on ``torch.mm``'s library (see
    :func:`convlib.gemm.library_for`): one batched product then writes each image's output
    where it belongs, with no reordering after. oneDNN's operator has no batched form,
    so where it is the faster library the products stay one per slice (:func:`_forward_rows`),
    unless the library was left to ``"auto"`` and the layer has at most
    :data:`TORCH_MM_KERNELS` kernels: then image by image on ``torch.mm`` is faster still.
    """
    if layout != torch.contiguous_format or rows < PER_IMAGE_ROWS or x.dtype not in (torch.float32, torch.float64):
        return False
    return gemm.library_for(x, weight) == "torch" or (gemm.current() == "auto" and weight.shape[0] <= TORCH_MM_KERNELS)


def _forward_per_image(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, plan: _ShiftPlan,
                       step: int, out: torch.Tensor, keep: bool) -> _Lease | None:
    """``out (N, C_out, H_out, W_out)``, image by image, from shifted copies of the input (see :func:`_shift_plan`).

    Kernel row ``i`` of every kernel, ``(C_out, k_w*C_in)``, times the matrix of the
    input rows it reads, ``(k_w*C_in, H_out*W_out)``, is that row's share of the
    image's output, ``(C_out, H_out*W_out)``, as NCHW stores it. The matrix is a
    view: the input is copied ``k_w`` times, shifted by one kernel column each time
    (:func:`_shifted_input`), and kernel row ``i`` reads those copies from row ``q``
    on, ``q*W_out`` numbers further along. ``k_h`` batched products
    (``torch.baddbmm``) add the shares straight into ``out``, the bias included: no
    im2col matrix ``k_h`` times larger, nothing reordered after. (Folded, the copies
    hold every kernel tap and one product does it all.)

    With ``keep`` and the whole batch in one slice (``step`` images), the copies are
    made in a leased buffer and returned for the backward pass; else ``None``.
    """
    n, c_in = x.shape[:2]
    c_out = weight.shape[0]
    wt = _row_weights(weight, plan)  # (T, C_out, K')
    out3 = out.view(n, c_out, plan.out_rows * plan.cols)  # (N, C_out, L)
    # a leased buffer last filled for this layout still has its zeros (and ones) where the copies read padding
    tag = (plan.key, c_in, bias is not None)  # what decides where the zeros and ones are
    lease = _Lease(_shifted_shape(plan, n, c_in, bias), x, tag) if keep and step >= n else None
    for a in range(0, n, step):
        b = min(n, a + step)
        x3 = _SCRATCH.get("cols", _shifted_shape(plan, b - a, c_in, bias), x) if lease is None else lease.buffer
        padded = lease is not None and not lease.fresh
        _shift_products(wt, _shifted_input(x3, x[a:b], plan, bias, padded), bias, out3[a:b], plan)
    return lease


class _ShiftPlan(NamedTuple):
    """How the image-by-image arrangement lays out one layer (see :func:`_shift_plan`)."""

    groups: int  #: G: the phases of input rows the kernel rows read (1 at vertical stride 1), or 1 when folded
    slots: int  #: shifted copies per group: ``k_w``, or ``k_h*k_w`` when folded
    rows: int  #: H'', rows per copy
    out_rows: int  #: H_out
    cols: int  #: W_out, the columns of every row
    taps: tuple[IntPair, ...]  #: per product ``t``: ``(group, q)``; it reads the group's rows ``q .. q+H_out-1``
    fill: tuple[Tap, ...]  #: per copy reaching the input: ``(group, slot, copy_rows, copy_cols, in_rows, in_cols)``
    covers: bool  #: whether ``fill[0]`` reaches every input cell
    span: IntPair  #: the copy rows ``lo .. hi-1`` that reach the input: the backward computes only those
    pad: IntPair  #: zero rows the backward puts above and below the output gradient
    folded: bool  #: every kernel row in the copies (one product, im2col), not one product per kernel row
    key: tuple  #: the arguments it was made from: equal keys, equal plans


@functools.lru_cache(maxsize=256)
def _shift_plan(in_hw: IntPair, out_hw: IntPair, k: IntPair, s: IntPair, p: IntPair, d: IntPair,
                folded: bool = False) -> _ShiftPlan:
    """Where each product reads in the shifted copies of the input (see :func:`_forward_per_image`).

    Copy ``j`` of a group holds the input shifted left by ``j*d_w`` columns (and
    strided by ``s_w``): its column ``x`` is input column ``x*s_w + j*d_w - p_w``.
    Kernel row ``i`` reads padded input row ``y*s_h + i*d_h`` for output row ``y``;
    with ``i*d_h = q*s_h + r`` that is row ``y + q`` of group (phase) ``r``, whose row
    ``t`` is input row ``t*s_h + r - p_h``. Each kernel row is then one product over
    its group's ``k_w`` copies, from row ``q`` on. ``folded`` instead makes one copy
    per kernel tap ``(i, j)``, whose row ``y`` is input row ``y*s_h + i*d_h - p_h``:
    the image's whole im2col matrix, one product, ``k_h`` times the copying.
    :func:`_tap_span` says which cells lie inside the input. The output gradient's
    row ``y`` is needed by copy rows ``y .. y + q_max``: ``pad`` zero rows around it
    let every product of the backward pass read a full window.

    >>> plan = _shift_plan((5, 5), (5, 5), (3, 3), (1, 1), (1, 1), (1, 1))
    >>> (plan.groups, plan.slots, plan.rows, plan.taps, plan.covers,
    ...  plan.span, plan.pad)
    (1, 3, 7, ((0, 0), (0, 1), (0, 2)), True, (1, 6), (1, 1))
    >>> # stride 2: two phases
    >>> _shift_plan((8, 8), (4, 4), (3, 3), (2, 2), (1, 1), (1, 1)).taps
    ((0, 0), (1, 0), (0, 1))
    >>> plan = _shift_plan((5, 5), (5, 5), (3, 3), (1, 1), (1, 1), (1, 1),
    ...                    folded=True)
    >>> plan.groups, plan.slots, plan.rows, plan.taps, plan.span, plan.pad
    (1, 9, 5, ((0, 0),), (0, 5), (0, 0))
    """
    col_spans = [_tap_span(in_hw[1], out_hw[1], j * d[1] - p[1], s[1]) for j in range(k[1])]
    if folded:  # slot i*k_w + j: kernel tap (i, j)
        rows, taps = out_hw[0], [(0, 0)]
        row_spans = [(0, i, _tap_span(in_hw[0], rows, i * d[0] - p[0], s[0])) for i in range(k[0])]
    else:  # slot j of group f: copy j of phase f
        offsets = [i * d[0] for i in range(k[0])]
        phases = sorted({o % s[0] for o in offsets})
        taps = [(phases.index(o % s[0]), o // s[0]) for o in offsets]
        rows = max(q for _, q in taps) + out_hw[0]
        row_spans = [(f, 0, _tap_span(in_hw[0], rows, r - p[0], s[0])) for f, r in enumerate(phases)]
    fill = [(f, i * k[1] + j, r[0], c[0], r[1], c[1])
            for f, i, r in row_spans if r for j, c in enumerate(col_spans) if c]
    whole = (slice(0, in_hw[0], 1), slice(0, in_hw[1], 1))
    covering = [n for n, tap in enumerate(fill) if (tap[4], tap[5]) == whole]
    if covering:
        fill.insert(0, fill.pop(covering[0]))
    reach = [r[0] for _, _, r in row_spans if r] or [slice(0, 0)]
    lo, hi = min(t.start for t in reach), max(t.stop for t in reach)
    q_max = max(q for _, q in taps)
    return _ShiftPlan(max(f for f, _, _ in row_spans) + 1, k[0] * k[1] if folded else k[1], rows, out_hw[0], out_hw[1],
                      tuple(taps), tuple(fill), bool(covering), (lo, hi), (max(0, q_max - lo), max(0, hi - out_hw[0])), folded,
                      (in_hw, out_hw, k, s, p, d, folded))


def _plan(x: torch.Tensor, weight: torch.Tensor, s: IntPair, p: IntPair, d: IntPair, out_hw: IntPair) -> _ShiftPlan:
    """The :func:`_shift_plan` :func:`conv2d` uses for ``x (N, C_in, H, W)`` and ``weight``: folded
    (one im2col product) for thin kernel rows and many kernels (see ``FOLD_WIDTH``), or for very
    many kernels when the whole batch's folded copies are small enough (see ``FOLD_MANY_KERNELS``)."""
    c_out, c_in, kh, kw = weight.shape
    geometry = (tuple(x.shape[2:]), out_hw, (kh, kw), s, p, d)
    if _thin_rows(kw, c_in) and c_out >= FOLD_KERNELS:
        return _shift_plan(*geometry, True)
    if c_out >= FOLD_MANY_KERNELS:
        folded = _shift_plan(*geometry, True)
        if _copies_bytes(folded, x) <= FOLD_BATCH_BYTES:
            return folded
    return _shift_plan(*geometry, False)


def _copies_bytes(plan: _ShiftPlan, x: torch.Tensor, images: int | None = None) -> int:
    """Bytes of ``plan``'s shifted copies of ``images`` (default: all) images of ``x (N, C_in, H, W)``,
    without the row of ones a bias adds."""
    per_image = math.prod(_shifted_shape(plan, 1, x.shape[1], None)) * x.element_size()
    return per_image * (x.shape[0] if images is None else images)


def _thin_rows(k_w: int, c_in: int) -> bool:
    """Whether a kernel row, ``k_w*C_in`` numbers, is thin enough to fold for (``FOLD_WIDTH``)."""
    return k_w * c_in < FOLD_WIDTH


def _folded_for_kernels(plan: _ShiftPlan, c_in: int) -> bool:
    """Whether ``plan`` is folded for its many kernels (``FOLD_MANY_KERNELS``), not for thin kernel rows."""
    return plan.folded and not _thin_rows(plan.key[2][1], c_in)  # key[2]: the kernel size


def _input_grad_plan(plan: _ShiftPlan, c_in: int) -> _ShiftPlan:
    """The plan whose products give the input gradient: ``plan``, or one product per kernel row where
    ``plan`` is folded for its kernels (:func:`_folded_for_kernels`).

    There the kernel rows are wide enough (``k_w*C_in``) to multiply well, and the input gradient
    comes back as ``k_w`` shifted copies for col2im to add, not ``k_h*k_w``: less to write and add.
    Measured as for ``FOLD_MANY_KERNELS``, time folded / not folded: 128x32x16x16 -> 64 0.97-0.98 with
    the input gradient folded too, 0.91-0.98 this way (timed against each other: 1.00, 1.00, 0.96);
    32x64x16x16 -> 64 1.07 and 1.12 with it folded, 0.98 and 1.03 this way.
    """
    return _shift_plan(*plan.key[:6], False) if _folded_for_kernels(plan, c_in) else plan


def _images_per_slice(x: torch.Tensor, weight: torch.Tensor, out_hw: IntPair, plan: _ShiftPlan | None) -> int:
    """Images per slice of the batch (:func:`_batch_step`) for either arrangement: image by image (``plan``),
    at most ``SHIFT_CHUNK_BYTES`` of shifted copies (``FOLD_BATCH_BYTES`` where folded for many kernels),
    else ``CHUNK_BYTES`` of im2col matrix."""
    if plan is not None:
        chunk = FOLD_BATCH_BYTES if _folded_for_kernels(plan, weight.shape[1]) else SHIFT_CHUNK_BYTES
        return _batch_step(x.shape[0], _copies_bytes(plan, x, 1), chunk)
    return _batch_step(x.shape[0], out_hw[0] * out_hw[1] * weight[0].numel() * x.element_size())


def _arrangement(x: torch.Tensor, weight: torch.Tensor, layout: torch.memory_format, s: IntPair, p: IntPair,
                 d: IntPair, out_hw: IntPair) -> tuple[_ShiftPlan | None, int]:
    """How :func:`conv2d` cuts up one call: ``(plan, images per slice)``, ``plan`` ``None`` for one product per slice.

    Call it where autograd records nothing (inside an autograd function's forward): which
    library takes the products (:func:`convlib.gemm.library_for`), and so the arrangement,
    depends on that.
    """
    plan = _plan(x, weight, s, p, d, out_hw) if _per_image(x, weight, layout, out_hw[0] * out_hw[1]) else None
    return plan, _images_per_slice(x, weight, out_hw, plan)


def _row_weights(weight: torch.Tensor, plan: _ShiftPlan) -> torch.Tensor:
    """``weight (C_out, C_in, k_h, k_w)`` -> one matrix per product of ``plan``, ``(T, C_out, slots*C_in)``.

    Columns ordered like the shifted copies, ``(k_w, C_in)`` per kernel row (``T = k_h``),
    or ``(k_h, k_w, C_in)`` when folded (``T = 1``).
    """
    c_out = weight.shape[0]
    if plan.folded:
        return weight.permute(0, 2, 3, 1).reshape(1, c_out, -1)
    return weight.permute(2, 0, 3, 1).reshape(weight.shape[2], c_out, -1)


def _kernels_from_rows(gwt: torch.Tensor, weight: torch.Tensor, plan: _ShiftPlan) -> torch.Tensor:
    """The inverse of :func:`_row_weights`: ``gwt (T, C_out, slots*C_in)`` shaped like ``weight``, contiguous."""
    c_out, c_in, kh, kw = weight.shape
    if plan.folded:
        return gwt.view(c_out, kh, kw, c_in).permute(0, 3, 1, 2).contiguous()
    return gwt.view(kh, c_out, kw, c_in).permute(1, 3, 0, 2).contiguous()


def _zero_outside(t: torch.Tensor, rows: slice, cols: slice) -> None:
    """Zero every cell of ``t (..., H, W)`` outside ``t[..., rows, cols]`` (``rows``, ``cols`` plain ranges)."""
    t[..., : rows.start, :].zero_()
    t[..., rows.stop :, :].zero_()
    t[..., rows, : cols.start].zero_()
    t[..., rows, cols.stop :].zero_()


def _shifted_shape(plan: _ShiftPlan, images: int, c_in: int, bias: torch.Tensor | None) -> tuple[int, ...]:
    """The shifted copies' shape, ``(G, B, K' (+1 with a bias), H''*W_out)``, ``K' = slots*C_in``."""
    return (plan.groups, images, plan.slots * c_in + (bias is not None), plan.rows * plan.cols)


def _shifted_input(x3: torch.Tensor, x: torch.Tensor, plan: _ShiftPlan, bias: torch.Tensor | None,
                   padded: bool = False) -> torch.Tensor:
    """Fill ``x3`` (shaped by :func:`_shifted_shape`) with the shifted copies of ``x (B, C, H, W)``; return it.

    ``x3[f, :, m*C + c, t*W_out + col]`` is channel ``c`` of copy (slot) ``m`` of group
    ``f``, at the input cell :func:`_shift_plan` gives, zero where that falls on padding.
    With a bias, row ``K'`` is all ones: the bias, as one more column of the first
    product's weights, is then added by that product. ``padded``: ``x3`` was last filled
    with this plan, so its zeros and ones are in place and only the input is copied.
    """
    c = x.shape[1]
    copies = x3[:, :, : plan.slots * c].unflatten(2, (plan.slots, c)).unflatten(-1, (plan.rows, plan.cols))  # (G, B, slots, C, H'', W_out)
    if not padded:
        reached = {(f, m) for f, m, *_ in plan.fill}
        for f in range(plan.groups):
            for m in range(plan.slots):
                if (f, m) not in reached:  # this copy reads only padding
                    copies[f, :, m].zero_()
        for f, m, rows, cols, _, _ in plan.fill:
            _zero_outside(copies[f, :, m], rows, cols)
        if bias is not None:
            x3[:, :, plan.slots * c] = 1
    for f, m, rows, cols, in_rows, in_cols in plan.fill:
        copies[f, :, m, :, rows, cols] = x[:, :, in_rows, in_cols]
    return x3


def _row_window(m: torch.Tensor, start: int, count: int, width: int) -> torch.Tensor:
    """Rows ``start .. start+count-1`` of ``m (..., rows*width)``, each ``width`` long: a view."""
    return m[..., start * width : (start + count) * width]


def _shift_products(wt: torch.Tensor, x3: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor,
                    plan: _ShiftPlan) -> None:
    """``out (B, C_out, L) = sum over products t of wt[t] (C_out, K') @ x3's window for t (K', L) (+ bias)``.

    ``x3`` as :func:`_shifted_input` fills it (with its row of ones when there is a bias); ``L = H_out*W_out``.
    """
    for t, (f, q) in enumerate(plan.taps):
        w_t = wt[t] if t > 0 or bias is None else torch.cat([wt[0], bias[:, None]], 1)  # (C_out, K' (+1))
        window = _row_window(x3[f, :, : w_t.shape[1]], q, plan.out_rows, plan.cols)  # (B, K' (+1), L), a view
        w_b = w_t.expand(out.shape[0], *w_t.shape)  # (B, C_out, K' (+1)), a view
        if t == 0:
            torch.bmm(w_b, window, out=out)
        else:
            out.baddbmm_(w_b, window)


def _shift_weight_grad(gwt: torch.Tensor, g: torch.Tensor, x3: torch.Tensor, parts: torch.Tensor,
                       plan: _ShiftPlan) -> None:
    """``gwt (T, C_out, K') +=`` per product ``t``, the images' ``g[b] (C_out, L) @ window_t[b].T`` summed.

    ``x3`` as :func:`_shifted_input` fills it; ``parts (T, B, C_out, K')`` is scratch.
    """
    width = gwt.shape[2]
    for t, (f, q) in enumerate(plan.taps):
        window = _row_window(x3[f, :, :width], q, plan.out_rows, plan.cols)  # (B, K', L), a view
        torch.bmm(g, window.transpose(1, 2), out=parts[t])  # (B, C_out, K')
    gwt += parts.sum(1)


def _gathers(plan: _ShiftPlan, c_out: int, width: int) -> bool:
    """Whether the weight gradient gathers each slice first (:func:`_gathered_weight_grad`).

    It does where the images' products, ``T*C_out*K'`` numbers each to be summed, would
    outweigh what must be gathered, ``(T*K' + C_out)*L`` numbers per image: small images
    and many kernels. Measured on an Intel Xeon, 2 threads, the weight gradient of
    128x64x8x8 -> 128 (3x3): 6.2 ms gathered vs 7.9 ms image by image; of
    128x32x16x16 -> 64, which the rule leaves image by image: 7.9 vs 6.0 ms.
    """
    taps, rows = len(plan.taps), plan.out_rows * plan.cols
    return taps * c_out * width > (taps * width + c_out) * rows


def _gathered_weight_grad(gwt: torch.Tensor, g: torch.Tensor, x3: torch.Tensor, plan: _ShiftPlan,
                          g_all: torch.Tensor, windows: torch.Tensor) -> None:
    """``gwt (T, C_out, K') +=`` per product ``t``, ``g_all (C_out, B*L) @ windows (K', B*L).T``.

    The slice's output gradient ``g (B, C_out, L)`` and product ``t``'s windows of ``x3`` are
    first gathered image after image into ``g_all (C_out, B, L)`` and ``windows (K', B, L)``
    (scratch), so that one product sums over the whole slice: no per-image products to add up.
    """
    g_all.copy_(g.transpose(0, 1))
    for t, (f, q) in enumerate(plan.taps):
        windows.copy_(_row_window(x3[f, :, : gwt.shape[2]], q, plan.out_rows, plan.cols).transpose(0, 1))
        gwt[t].addmm_(g_all.flatten(1), windows.flatten(1).t())  # (C_out, B*L) @ (B*L, K')


def _shift_tap_shares(wt: torch.Tensor, gv: torch.Tensor, gx3: torch.Tensor, plan: _ShiftPlan) -> None:
    """The input gradient as shifted copies: ``gx3 (G, B, K', (hi-lo)*W_out)``, copy rows ``lo .. hi-1``.

    Row ``r`` of group ``f``'s copies is read by each product ``t`` of that group for
    output row ``r - q_t``, so its gradient is ``sum_t wt[t].T @ g[r - q_t]``: each
    product reads a window of ``gv (B, C_out, (top + H_out + bottom)*W_out)``, the
    output gradient with ``plan.pad`` zero rows around it.
    """
    (lo, hi), top = plan.span, plan.pad[0]
    written = set()
    for t, (f, q) in enumerate(plan.taps):
        w_b = wt[t].t().expand(gv.shape[0], wt.shape[2], wt.shape[1])  # (B, K', C_out), a view
        window = _row_window(gv, lo - q + top, hi - lo, plan.cols)  # (B, C_out, (hi-lo)*W_out)
        if f in written:
            gx3[f].baddbmm_(w_b, window)
        else:
            torch.bmm(w_b, window, out=gx3[f])
            written.add(f)


def _forward_rows(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, geometry: Geometry,
                  out: torch.Tensor) -> None:
    """``out (N, C_out, H_out, W_out)`` from one product per slice of the batch, one im2col row per output position.

    The rows are gathered channels-last, ``(B*H_out*W_out, k_h*k_w*C_in)``: each
    row is one contiguous run per kernel row even when ``C_in`` is small, and
    the product runs on either library (see :func:`_forward_product`).
    """
    s, p, d, out_hw, step = geometry
    n, c_in = x.shape[:2]
    c_out, _, kh, kw = weight.shape
    width = kh * kw * c_in  # K
    win = _windows(_padded_nhwc(x, p), (kh, kw), s, d, out_hw)  # (N, H_out, W_out, k_h, k_w, C_in), a view
    w2 = _weight_matrix(weight)  # (C_out, K), K = k_h*k_w*C_in
    for a in range(0, n, step):
        b = min(n, a + step)
        block = _SCRATCH.get("cols", (b - a, *win.shape[1:]), x)  # one slice's im2col matrix, dense
        block.copy_(win[a:b])  # im2col: (B, H_out, W_out, k_h, k_w, C_in)
        _forward_product(w2, block.view(-1, width), bias, out[a:b])  # (B, C_out, H_out, W_out)


def _backward_per_image(ctx: Any, grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor
                        ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The backward pass of :func:`_forward_per_image`, image by image: ``(grad_x, grad_weight, grad_bias)``.

    With ``g (C_out, L)`` an image's output gradient and ``window_t (K', L)`` the
    shifted copies product ``t`` read: product ``t``'s weight gradient is
    ``g @ window_t.T``, summed over the images; the input gradient comes back as
    shifted copies (:func:`_shift_tap_shares`, following :func:`_input_grad_plan`),
    and col2im adds each copy's share onto the input.
    """
    out_hw, step, plan = ctx.geometry[3], ctx.geometry[4], ctx.plan
    need_x, need_w, need_b = ctx.needs_input_grad[:3]
    n, c_in = x.shape[:2]
    c_out = weight.shape[0]
    width = plan.slots * c_in  # K'
    xplan = _input_grad_plan(plan, c_in)  # the input gradient's products
    x_width, (lo, hi), (top, bottom) = xplan.slots * c_in, xplan.span, xplan.pad  # its K'
    gathers = need_w and _gathers(plan, c_out, width)
    g3 = grad.contiguous().view(n, c_out, out_hw[0] * out_hw[1])  # (N, C_out, L)
    gb = g3.sum((0, 2)) if need_b else None  # (C_out,): the bias touches every output position
    gwt = weight.new_zeros(len(plan.taps), c_out, width) if need_w else None  # (T, C_out, K')
    gx = torch.empty_like(x, memory_format=torch.contiguous_format) if need_x else None  # (N, C_in, H, W)
    wt = _row_weights(weight, xplan)  # (T, C_out, K'), the input gradient's
    kept = None if ctx.lease is None else ctx.lease.buffer  # the forward pass's shifted copies, whole batch
    for a in range(0, n, step):
        b = min(n, a + step)
        g = g3[a:b]  # (B, C_out, L)
        if gwt is not None:
            x3 = kept if kept is not None else _shifted_input(  # else built again
                _SCRATCH.get("cols", _shifted_shape(plan, b - a, c_in, None), x), x[a:b], plan, None)
            if gathers:
                _gathered_weight_grad(gwt, g, x3, plan, _SCRATCH.get("gall", (c_out, *g.shape[::2]), x),
                                      _SCRATCH.get("wparts", (width, *g.shape[::2]), x))
            else:
                _shift_weight_grad(gwt, g, x3, _SCRATCH.get("wparts", (len(plan.taps), b - a, c_out, width), x), plan)
        if gx is not None:
            if top or bottom:  # zero rows around the output gradient, so every kernel row reads a full window
                gv = _SCRATCH.get("grad", (b - a, c_out, top + out_hw[0] + bottom, out_hw[1]), x)
                _zero_outside(gv, slice(top, top + out_hw[0]), slice(0, out_hw[1]))
                gv[:, :, top : top + out_hw[0]] = g.view(b - a, c_out, *out_hw)
                g = gv.view(b - a, c_out, -1)
            gx3 = _SCRATCH.get("gcols", (xplan.groups, b - a, x_width, (hi - lo) * out_hw[1]), x)  # (G, B, K', (hi-lo)*W_out)
            _shift_tap_shares(wt, g, gx3, xplan)
            gx3 = gx3.view(xplan.groups, b - a, xplan.slots, c_in, hi - lo, out_hw[1])
            pairs = [(gx[a:b, :, in_rows, in_cols], gx3[f, :, j, :, rows.start - lo : rows.stop - lo, cols])
                     for f, j, rows, cols, in_rows, in_cols in xplan.fill]
            _col2im(gx[a:b], pairs, xplan.covers)
    if ctx.lease is not None:  # done with it (a second backward pass, retain_graph=True, builds its own)
        ctx.lease.end()
    gw = None if gwt is None else _kernels_from_rows(gwt, weight, plan)
    return gx, gw, gb


class _Im2colConv(torch.autograd.Function):
    """im2col convolution with a hand-written backward pass (see the module docstring)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
        s: IntPair,
        p: IntPair,
        d: IntPair,
        out_hw: IntPair,
    ) -> torch.Tensor:
        layout = output_layout(x, weight)  # as F.conv2d stores its output
        out = torch.empty(x.shape[0], weight.shape[0], *out_hw, dtype=x.dtype, device=x.device,
                          memory_format=layout)  # (N, C_out, H_out, W_out)
        plan, step = _arrangement(x, weight, layout, s, p, d, out_hw)
        ctx.lease = None
        if plan is not None:
            ctx.lease = _forward_per_image(x, weight, bias, plan, step, out, ctx.needs_input_grad[1])
        else:
            _forward_rows(x, weight, bias, (s, p, d, out_hw, step), out)
        ctx.save_for_backward(x, weight, bias)
        ctx.geometry = (s, p, d, out_hw, step)
        ctx.plan = plan
        ctx.library = gemm.current()  # the backward's products run on the same library
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        with gemm.use(ctx.library):
            return _Im2colConv._backward(ctx, grad)

    @staticmethod
    def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """The backward pass in the transposed layout: ``(K, M)`` im2col columns, ``(C_out, M)`` gradients."""
        x, weight, bias = ctx.saved_tensors
        s, p, d, (h_out, w_out), step = ctx.geometry
        if torch.is_grad_enabled():  # create_graph=True: a second derivative will follow
            return _differentiable_backward(ctx, grad, x, weight, bias)
        if ctx.plan is not None:
            return (*_backward_per_image(ctx, grad, x, weight), None, None, None, None)
        n, c_in, h, w = x.shape
        c_out, _, kh, kw = weight.shape
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        width = kh * kw * c_in  # K
        layout = output_layout(x, weight)  # both gradients are stored like the output, as torch's conv stores them
        gw = _WeightGrad(weight) if need_w else None
        gb = grad.new_zeros(c_out) if need_b else None  # (C_out,): the bias touches every output position
        win = _windows_kernel_first(_padded_nchw(x, p), (kh, kw), s, d, (h_out, w_out)) if need_w else None
        gx = plan = None
        covers = False
        # bfloat16/float16: each tap's share of the input gradient is computed in float32 and the shares
        # summed there, rounded once (each share rounded, then summed, the error was 1.4x one rounding's)
        wide = accumulation_dtype(x.dtype)
        if need_x:
            plan, covers = _col2im_plan((h, w), (h_out, w_out), (kh, kw), s, p, d)
            w2_t = _weight_matrix(weight).t().to(wide or weight.dtype).contiguous()  # (K, C_out)
            gx = torch.empty_like(x, memory_format=layout)  # (N, C_in, H, W)
        for a in range(0, n, step):
            b = min(n, a + step)
            m = (b - a) * h_out * w_out  # output positions in the slice
            g_t = _SCRATCH.get("grad", (c_out, b - a, h_out, w_out), grad)  # dense: (C_out, B, H_out, W_out)
            g_t.copy_(grad[a:b].transpose(0, 1))
            g_t = g_t.view(c_out, m)  # (C_out, M)
            if gb is not None:
                gb += g_t.sum(1)
            if gw is not None:
                cols_t = _SCRATCH.get("cols", (kh, kw, c_in, b - a, h_out, w_out), x)
                cols_t.copy_(win[:, :, :, a:b])  # im2col again, transposed: cheaper than keeping the forward's
                gw.add(g_t, cols_t.view(width, m))
            if gx is not None:
                g_wide = g_t if wide is None else g_t.to(wide)  # (C_out, M)
                gc = _product(w2_t, g_wide, _SCRATCH.get("gcols", (width, m), grad, wide))  # (K, M): each tap's share
                direct = gx.is_contiguous() and wide is None  # else summed in a dense buffer, then copied
                target = gx[a:b] if direct else _SCRATCH.get("gx", (b - a, c_in, h, w), grad, wide)  # (B, C_in, H, W)
                _col2im(target, _col2im_pairs(target, gc.view(kh, kw, c_in, b - a, h_out, w_out), plan), covers)
                if not direct:
                    gx[a:b] = target
        return gx, None if gw is None else gw.as_kernels(weight, layout), gb, None, None, None, None


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: Padding = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """2-D convolution (cross-correlation) of a batch.

    Shapes: ``x (N, C_in, H, W)``, ``weight (C_out, C_in/groups, k_h, k_w)``,
    ``bias (C_out,)`` -> ``(N, C_out, H_out, W_out)`` with
    ``H_out = conv_output_size(H, k_h, padding=p, stride=s, dilation=d)``; one
    image ``x (C_in, H, W)`` gives ``(C_out, H_out, W_out)``, as in PyTorch.
    ``stride``, ``padding`` and ``dilation`` take an int, a pair or a 1-tuple (as
    ``F.conv2d``), NumPy integers included.
    ``padding`` is the zeros on each side (an int or ``(p_h, p_w)``), or, as in
    PyTorch, ``"valid"`` (none) or ``"same"`` (stride 1 only: ``H_out = H``; an
    even window puts its extra zero at the bottom and right).
    ``groups`` (as in PyTorch) splits the input channels and the kernels into
    that many groups; each group of ``C_out/groups`` kernels reads only its own
    ``C_in/groups`` channels (``groups=C_in``: a depthwise convolution). It is
    computed as one convolution per group, side by side.
    Differentiable in ``x``, ``weight`` and ``bias``; second derivatives
    (``create_graph=True``) go through :func:`~convlib.conv.conv2d_unfold`, as
    does the whole call where a transform watches it that the hand-written
    backward pass cannot serve (``torch.compile``, ``torch.jit.trace``,
    ``torch.func.grad`` / ``vmap`` / ``jacrev``, forward-mode AD). Inside
    ``torch.autocast`` it computes in the autocast dtype, as ``F.conv2d`` does.
    Integer ``x`` and ``weight`` (one dtype of :data:`convlib.pool.INTEGER_DTYPES`, and
    ``bias`` in it too) give the exact integer convolution in that dtype, as ``F.conv2d``
    computes it on the CPU: summed in int64 by :func:`~convlib.conv.conv2d_unfold` and
    wrapped back (uint8 sums past 255 wrap around, as torch's do). An integer ``x`` with a
    float ``weight`` is refused: a uint8 image wants ``x.float() / 255``.
    The output is stored as ``F.conv2d`` stores it: channels-last
    (``torch.channels_last``) when ``x`` or ``weight`` is, else contiguous NCHW,
    and so are both gradients. The arguments come in ``F.conv2d``'s order, so
    ``conv2d(x, w, b, 2, 1)`` means stride 2, padding 1.

    >>> x = torch.arange(9.).reshape(1, 1, 3, 3)
    >>> w = torch.tensor([[[[0., 1], [2, 3]]]])
    >>> conv2d(x, w)
    tensor([[[[19., 25.],
              [37., 43.]]]])
    >>> conv2d(x, w, padding=1, stride=2).shape
    torch.Size([1, 1, 2, 2])
    >>> conv2d(x, w, padding="same").shape
    torch.Size([1, 1, 3, 3])
    >>> conv2d(x[0], w).shape  # one image (C_in, H, W)
    torch.Size([1, 2, 2])
    >>> # 2 groups of 2 channels
    >>> conv2d(torch.ones(1, 4, 3, 3), torch.ones(2, 2, 1, 1), groups=2).shape
    torch.Size([1, 2, 3, 3])
    >>> # integers stay integers
    >>> conv2d(torch.arange(9).reshape(1, 1, 3, 3),
    ...        torch.tensor([[[[0, 1], [2, 3]]]]))
    tensor([[[[19, 25],
              [37, 43]]]])
    """
    image = is_image(x)  # one image (C_in, H, W), as F.conv2d takes it: run as a batch of one
    x, s, p, d, out_hw = _checked(x, weight, bias, stride, padding, dilation, groups)  # x: (N, C_in, H, W)
    x, weight, bias = autocast(x, weight, bias)
    if _plain_ops_only(x, weight, bias) or not x.is_floating_point():  # integers: no gradient, no need for speed
        out = conv2d_unfold(x, weight, bias, stride=s, padding=p, dilation=d, groups=groups)
    elif groups == 1:
        out = _Im2colConv.apply(x, weight, bias, s, p, d, out_hw)
    else:
        layout = output_layout(x, weight)
        # each group's kernels stored in the op's layout, so each group's gradients come back in it too;
        # x's gradient is put together from its groups' (one channel each when depthwise), so it is stored once more
        parts = zip(grad_stored(x, layout).chunk(groups, dim=1), [wg.contiguous(memory_format=layout) for wg in weight.chunk(groups, dim=0)],
                    bias.chunk(groups) if bias is not None else [None] * groups)
        # one convolution per group: (N, C_in/g, H, W) with (C_out/g, C_in/g, k_h, k_w) -> (N, C_out/g, H_out, W_out)
        outs = [_Im2colConv.apply(xg, wg, bg, s, p, d, out_hw) for xg, wg, bg in parts]
        out = torch.cat(outs, dim=1).contiguous(memory_format=layout)  # (N, C_out, H_out, W_out)
    return out[0] if image else out  # one image: (C_out, H_out, W_out)


class Conv2D(nn.Module):
    """A convolution layer: learnable kernels ``(C_out, C_in/groups, k_h, k_w)`` and biases.

    The constructor of ``torch.nn.Conv2d`` (same arguments, order and
    initialisation), computed by :func:`~convlib.conv2d`. ``padding_mode`` other than
    ``"zeros"`` (``"reflect"``, ``"replicate"``, ``"circular"``) pads with
    ``F.pad`` first and convolves without padding, as ``nn.Conv2d`` does.

    >>> layer = Conv2D(3, 8, kernel_size=3, padding=1)
    >>> layer(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 8, 32, 32])
    >>> Conv2D(3, 8, kernel_size=4, padding="same")(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 8, 32, 32])

    Arguments by position, as ``nn.Conv2d(3, 8, 3, 1, 1)`` takes them:

    >>> Conv2D(3, 8, 3, 1, 1, padding_mode="reflect")  # doctest: +NORMALIZE_WHITESPACE
    Conv2D(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1),
           dilation=(1, 1), bias=True, padding_mode=reflect)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: Padding = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode: expected one of {list(PADDING_MODES)}, got {padding_mode!r}. "
                             "Fix: 'zeros' pads with zeros; the others copy or wrap the border (chapter 3).")
        self.padding_mode = padding_mode
        kh, kw = as_pair(kernel_size, "kernel_size", single=False)  # nn.Conv2d makes no 2-D layer of (3,)
        in_channels, out_channels, groups = (
            check_int(value, name, minimum=1, fix=fix) for name, value, fix in (
                ("in_channels", in_channels, "the channels of the layer's input, e.g. 3 for RGB images"),
                ("out_channels", out_channels, "the number of kernels, e.g. 16"),
                ("groups", groups, "groups=1 is an ordinary convolution")))
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if value % groups:
                raise ValueError(f"{name}: expected a multiple of groups={groups}, got {value}. "
                                 f"Fix: every group gets {name}/groups channels; change {name} or groups.")
        # nn.Conv2d's attributes, so code written for it (summaries, exporters) reads this layer too
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (kh, kw)
        self.groups = groups
        self.transposed, self.output_padding = False, (0, 0)  # as nn.Conv2d sets them (its shared base reads them)
        self.stride = as_pair(stride, "stride")
        self.dilation = as_pair(dilation, "dilation")
        pair, _ = resolve_padding(padding, (kh, kw), stride=self.stride, dilation=self.dilation)  # fails here, not at the first call
        self.padding: IntPair | str = padding if isinstance(padding, str) else pair
        make = dict(device=device, dtype=dtype)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw, **make))
        self.bias = nn.Parameter(torch.empty(out_channels, **make)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform weights and uniform biases, as ``nn.Conv2d`` does."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``; one image ``(C_in, H, W)`` -> ``(C_out, H_out, W_out)``."""
        padding = self.padding
        if self.padding_mode != "zeros":  # the border comes from x itself: pad first, then no zeros
            check_batch(x, "x", image=True)
            before, after = resolve_padding(padding, tuple(self.weight.shape[2:]), stride=self.stride,
                                            dilation=self.dilation)
            _check_border(x, before, after, self.padding_mode)
            x = F.pad(x, (before[1], after[1], before[0], after[0]), mode=self.padding_mode)  # (N, C_in, H + p, W + p)
            padding = 0
        return conv2d(
            x, self.weight, self.bias,
            stride=self.stride, padding=padding, dilation=self.dilation, groups=self.groups,
        )

    def extra_repr(self) -> str:
        c_out, c_group, kh, kw = self.weight.shape
        groups = f", groups={self.groups}" if self.groups != 1 else ""  # shown only when set, as nn.Conv2d does
        mode = f", padding_mode={self.padding_mode}" if self.padding_mode != "zeros" else ""  # likewise
        return (f"{c_group * self.groups}, {c_out}, kernel_size=({kh}, {kw}), stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}{groups}, bias={self.bias is not None}{mode}")


def _check_border(x: torch.Tensor, before: IntPair, after: IntPair, mode: str) -> None:
    """Require ``x (..., H, W)`` large enough for ``F.pad``'s ``mode``: a reflected border mirrors at most
    ``size - 1`` cells, a circular one wraps at most ``size`` (torch refuses more, as here)."""
    most = {"reflect": 1, "circular": 0}.get(mode)
    if most is None:  # "replicate" repeats the edge cell as often as asked
        return
    for axis, name in ((0, "H"), (1, "W")):
        size, pad = int(x.shape[axis - 2]), max(before[axis], after[axis])
        if pad > size - most:
            raise ConvlibInputError(
                f"x: expected {name} >= {pad + most} for padding_mode={mode!r} with {pad} padded cells on a side "
                f"({'a reflection mirrors at most ' + name + ' - 1 cells' if most else 'a wrap copies at most ' + name + ' cells'}), "
                f"got shape {tuple(x.shape)}. Fix: a larger input, less padding, or padding_mode='replicate' or 'zeros'."
            )


def layer_padding(layer: nn.Module) -> IntPair:
    """The zeros on each side of a :class:`Conv2D` or ``nn.Conv2d`` layer, ``(p_h, p_w)``.

    ``"valid"`` and ``"same"`` are turned into numbers; an even-sized ``"same"``
    window, which pads one side more than the other, raises :class:`~convlib.ConvlibInputError`.

    >>> layer_padding(nn.Conv2d(3, 8, kernel_size=5, padding="same"))
    (2, 2)
    """
    kernel = tuple(layer.weight.shape[2:])
    return symmetric_padding(layer.padding, kernel, stride=as_pair(tuple(layer.stride), "stride"),
                             dilation=as_pair(tuple(layer.dilation), "dilation"), name=f"{type(layer).__name__}.padding")
