"""A convolution written as one big matrix: the "special fully connected layer".

Convolution is linear in its input, so it is a matrix product
``y = M @ x`` with ``x`` and ``y`` flattened. :func:`conv_as_matrix` builds
``M`` by convolving every one-hot input (the columns of the identity): most
entries are zero (locality) and the nonzero ones repeat the same few kernel
weights along every row (weight sharing). Meant for small inputs: ``M`` has
``(C_out * H_out * W_out) x (C_in * H * W)`` entries.
"""

from __future__ import annotations

import torch

from convlib.conv import conv2d
from convlib.validate import ConvlibInputError, as_pair, check_float, check_groups

__all__ = ["conv_as_matrix", "conv_weight_ids", "MAX_DENSE_INPUTS"]

#: Largest ``C_in * H * W`` :func:`conv_as_matrix` accepts (its identity basis
#: has that many squared entries: 4096**2 floats is 64 MB).
MAX_DENSE_INPUTS = 4096


def conv_as_matrix(
    weight: torch.Tensor,
    input_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> torch.Tensor:
    """The dense matrix ``M`` of a bias-free convolution on inputs of size ``input_size``.

    ``weight`` is ``(C_out, C_in/groups, k_h, k_w)`` or a single kernel ``(k_h, k_w)``;
    ``stride``, ``padding`` (``"same"`` and ``"valid"`` too), ``dilation`` and ``groups``
    as in :func:`convlib.conv2d`. Returns ``M`` of shape ``(C_out * H_out * W_out, C_in * H * W)`` such that
    ``conv2d(x, weight, ...).flatten(1) == x.flatten(1) @ M.T`` for every
    batch ``x (N, C_in, H, W)``, in ``weight``'s dtype and on its device. Row ``r`` of ``M`` is output ``r`` in
    reading order; its nonzero columns are that output's receptive field.

    >>> K = torch.tensor([[1., 2.], [3., 4.]])
    >>> M = conv_as_matrix(K, (3, 3))
    >>> M.shape  # 2x2 outputs, 3x3 inputs
    torch.Size([4, 9])
    >>> M[0]     # output (0, 0): K on the top-left 2x2
    tensor([1., 2., 0., 3., 4., 0., 0., 0., 0.])
    """
    check_float(weight, "weight")
    if weight.ndim == 2:
        weight = weight[None, None]  # (1, 1, k_h, k_w)
    if weight.ndim != 4:
        raise ConvlibInputError(
            f"weight: expected (C_out, C_in, k_h, k_w) or (k_h, k_w), got {weight.ndim}-D shape "
            f"{tuple(weight.shape)}. Fix: one 2-D kernel K works as is; stacks need 4 axes."
        )
    h, w = as_pair(input_size, "input_size")
    c_out, c_group, kh, kw = weight.shape
    c_in = c_group * check_groups(groups, c_out)  # the input's channels: C_in/groups per kernel, groups of them
    n_in = c_in * h * w
    if n_in > MAX_DENSE_INPUTS:
        raise ConvlibInputError(
            f"input_size: expected at most {MAX_DENSE_INPUTS} input numbers (C_in * H * W), got "
            f"{c_in} * {h} * {w} = {n_in}. Fix: use a small input; the dense matrix grows as "
            "(H * W) squared, which is exactly why layers do not store it."
        )
    basis = torch.eye(n_in, dtype=weight.dtype, device=weight.device).reshape(n_in, c_in, h, w)  # (C_in*H*W, C_in, H, W)
    # conv2d checks the geometry (the window must fit the padded input) before it computes anything
    out = conv2d(basis, weight, stride=stride, padding=padding, dilation=dilation,
                 groups=groups)  # (C_in*H*W, C_out, H_out, W_out)
    return out.reshape(n_in, -1).T.contiguous()  # (C_out*H_out*W_out, C_in*H*W)


def conv_weight_ids(
    kernel_size: int | tuple[int, int],
    input_size: int | tuple[int, int],
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> torch.Tensor:
    """Which kernel weight links each (output, input) pair, as an int64 matrix.

    Entry ``[r, m]`` is the tap index ``a * k_w + b`` of the weight that
    multiplies input ``m`` (reading order) in output ``r``, or ``-1`` where
    the two are not connected. Shape ``(H_out * W_out, H * W)``; one channel.
    It is :func:`conv_as_matrix` of the kernel ``1, 2, ..., k_h * k_w``
    minus one (an input meets each output through at most one tap).

    >>> conv_weight_ids(2, (3, 3))
    tensor([[ 0,  1, -1,  2,  3, -1, -1, -1, -1],
            [-1,  0,  1, -1,  2,  3, -1, -1, -1],
            [-1, -1, -1,  0,  1, -1,  2,  3, -1],
            [-1, -1, -1, -1,  0,  1, -1,  2,  3]])
    """
    kh, kw = as_pair(kernel_size, "kernel_size")
    ids = torch.arange(1, kh * kw + 1, dtype=torch.float64).reshape(kh, kw)  # (k_h, k_w)
    M = conv_as_matrix(ids, input_size, stride=stride, padding=padding, dilation=dilation)
    return M.round().long() - 1  # (H_out*W_out, H*W)
