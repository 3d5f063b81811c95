"""Two-dimensional cross-correlation (互相关), from the double loop to channels.

These are the teaching ops of the first chapters: one matrix ``X`` of shape
``(H, W)`` and one kernel ``K`` of shape ``(k_h, k_w)``, no batch, no padding,
stride 1. The output has shape ``(H - k_h + 1, W - k_w + 1)``.

Dtypes follow ``F.conv2d`` (:func:`convlib.validate.as_tensor_pair`): integer
tensors compute exactly in their integer dtype, nested lists become the default
float dtype (or the dtype of the tensor next to them), and two tensors of
different dtypes raise rather than one being cast.
"""

from __future__ import annotations

import torch

from convlib.validate import as_tensor_2d, as_tensor_pair, check_fits, ConvlibInputError, nonempty

__all__ = ["corr2d_naive", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out"]


def _pair_2d(X: object, K: object, *, fits: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """``X (H, W)`` and ``K (k_h, k_w)`` as non-empty matrices of one dtype (see :func:`as_tensor_pair`);
    ``fits``: ``K`` no larger than ``X`` (a correlation's windows; a transposed convolution needs no such thing)."""
    X, K = as_tensor_pair(X, K)
    X = nonempty(as_tensor_2d(X, "X"), "X", "(H, W)")
    K = nonempty(as_tensor_2d(K, "K"), "K", "(k_h, k_w)")  # an empty K summed to 0 everywhere
    if fits:
        check_fits(tuple(X.shape), tuple(K.shape), (0, 0), name="K")
    return X, K


def corr2d_naive(X: object, K: object) -> torch.Tensor:
    """Cross-correlate ``X (H, W)`` with ``K (k_h, k_w)`` by sliding a window.

    The classic double loop: kept because it is the definition, and slow.

    >>> corr2d_naive([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    tensor([[19., 25.],
            [37., 43.]])
    """
    X, K = _pair_2d(X, K)
    h, w = K.shape
    Y = torch.zeros(X.shape[0] - h + 1, X.shape[1] - w + 1,
                    dtype=X.dtype, device=X.device)  # (H_out, W_out)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


def corr2d(X: object, K: object) -> torch.Tensor:
    """Vectorized :func:`corr2d_naive`: every window at once, one contraction.

    ``X.unfold`` builds a view of shape ``(H_out, W_out, k_h, k_w)`` holding
    every window (no copy); summing it against ``K`` gives all outputs.
    Differentiable in both ``X`` and ``K``.

    >>> corr2d([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[0, 1], [2, 3]])
    tensor([[19., 25.],
            [37., 43.]])
    """
    X, K = _pair_2d(X, K)
    h, w = K.shape
    windows = X.unfold(0, h, 1).unfold(1, w, 1)  # (H_out, W_out, k_h, k_w)
    return torch.einsum("ijab,ab->ij", windows, K)  # (H_out, W_out)


def _check_channels(X: torch.Tensor, fn: str) -> None:
    """Require ``X (C_in, H, W)`` with ``C_in >= 1``: one multi-channel image, the input of ``fn``."""
    if X.ndim != 3:
        fixes = {
            2: "X[None] makes one channel (1, H, W)",
            4: "pass one image at a time, X[0] (for a batch (N, C_in, H, W) use convlib.conv2d)",
        }
        raise ConvlibInputError(
            f"{fn}: expected X (C_in, H, W), got X {X.ndim}-D shape {tuple(X.shape)}. "
            f"Fix: {fixes.get(X.ndim, 'reshape X to (C_in, H, W)')}."
        )
    if X.shape[0] == 0:
        raise ConvlibInputError(
            f"{fn}: expected at least one input channel, got X shape {tuple(X.shape)} (C_in = 0: "
            "no channels to add up). Fix: give X shape (C_in, H, W) with C_in >= 1."
        )


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Several input channels: correlate each ``X[c]`` with ``K[c]`` and add.

    ``X (C_in, H, W)``, ``K (C_in, k_h, k_w)`` -> ``(H_out, W_out)``; ``C_in >= 1``.

    >>> X = torch.tensor([[[0., 1, 2], [3, 4, 5], [6, 7, 8]],
    ...                   [[1., 2, 3], [4, 5, 6], [7, 8, 9]]])
    >>> K = torch.tensor([[[0., 1], [2, 3]], [[1., 2], [3, 4]]])
    >>> corr2d_multi_in(X, K)
    tensor([[ 56.,  72.],
            [104., 120.]])
    """
    X, K = as_tensor_pair(X, K)  # one dtype: integer tensors stay exact, lists become floats
    _check_channels(X, "corr2d_multi_in")
    if K.ndim != 3:
        fix = ("K[None] gives one channel (1, k_h, k_w)" if K.ndim == 2 else
               "for several output channels use corr2d_multi_in_out" if K.ndim == 4 else "reshape K to (C_in, k_h, k_w)")
        raise ConvlibInputError(
            f"corr2d_multi_in: expected K (C_in, k_h, k_w) = ({X.shape[0]}, k_h, k_w), got K {K.ndim}-D shape "
            f"{tuple(K.shape)}. Fix: {fix}."
        )
    if X.shape[0] != K.shape[0]:
        raise ConvlibInputError(
            f"corr2d_multi_in: expected one kernel channel per input channel, got "
            f"{X.shape[0]} input channels and {K.shape[0]} kernel channels. Fix: give K "
            f"shape ({X.shape[0]}, k_h, k_w)."
        )
    return sum(corr2d(x, k) for x, k in zip(X, K))  # (H_out, W_out)


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Several output channels: one ``(C_in, k_h, k_w)`` kernel stack each.

    ``X (C_in, H, W)``, ``K (C_out, C_in, k_h, k_w)`` -> ``(C_out, H_out, W_out)``.
    ``C_out = 0`` gives an empty ``(0, H_out, W_out)``: no kernels, no maps.

    >>> X = torch.ones(2, 3, 3)
    >>> K = torch.stack([torch.ones(2, 2, 2), 2 * torch.ones(2, 2, 2)])
    >>> corr2d_multi_in_out(X, K).shape
    torch.Size([2, 2, 2])
    """
    X, K = as_tensor_pair(X, K)  # one dtype: integer tensors stay exact, lists become floats
    _check_channels(X, "corr2d_multi_in_out")
    if K.ndim != 4:
        fix = ("K[None] makes one output channel (1, C_in, k_h, k_w); for several, torch.stack one "
               "(C_in, k_h, k_w) kernel stack per output channel" if K.ndim == 3 else
               "stack one (C_in, k_h, k_w) kernel stack per output channel with torch.stack")
        raise ConvlibInputError(
            f"corr2d_multi_in_out: expected K (C_out, C_in, k_h, k_w) with C_in = {X.shape[0]}, got K "
            f"{K.ndim}-D shape {tuple(K.shape)}. Fix: {fix}."
        )
    if K.shape[1] != X.shape[0]:
        raise ConvlibInputError(
            f"corr2d_multi_in_out: expected K (C_out, C_in, k_h, k_w) with C_in = {X.shape[0]} (X has "
            f"shape {tuple(X.shape)}), got K shape {tuple(K.shape)} with C_in = {K.shape[1]}. Fix: give K "
            f"shape ({K.shape[0]}, {X.shape[0]}, {K.shape[2]}, {K.shape[3]}), one kernel channel per channel of X."
        )
    if K.shape[0] == 0:  # no kernels: the empty stack of (H_out, W_out) maps
        x0, k0 = _pair_2d(X[0], K.new_zeros(K.shape[2:]))  # the checks and dtype corr2d would apply
        shape = (0, x0.shape[0] - k0.shape[0] + 1, x0.shape[1] - k0.shape[1] + 1)
        return x0.new_zeros(shape)  # (0, H_out, W_out), in the dtype corr2d computes in
    return torch.stack([corr2d_multi_in(X, k) for k in K])  # (C_out, H_out, W_out)
