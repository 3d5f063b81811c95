"""The CIFAR-10 chapter's parts: the network, per-image augmentation, and error counts.

* :func:`cifar_net` builds the classic small classifier: conv blocks
  (convolution, optional BatchNorm, ReLU, 2x2 max pooling), then a fully
  connected head. ``conv=`` chooses the convolution layer class, so the same
  code gives a network made of :class:`convlib.Conv2D` or of ``nn.Conv2d``.
* :func:`random_crop_flip` and :func:`per_image` augment a batch with a
  *different* random crop and flip for each image. (torchvision's v2
  transforms, given a batch tensor, draw one set of parameters for the whole
  batch.)
* :func:`confusion_matrix`, :func:`per_class_accuracy` and
  :func:`misclassified` count the errors of a trained model.
* :func:`conv_cases` lists a network's convolutions as benchmark cases for
  :mod:`convlib.bench`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from convlib.bench import BenchCase
from convlib.conv import Conv2D

__all__ = [
    "cifar_net",
    "conv_cases",
    "confusion_matrix",
    "misclassified",
    "per_class_accuracy",
    "per_image",
    "random_crop_flip",
]

ConvFactory = Callable[..., nn.Module]


def cifar_net(
    conv: ConvFactory = nn.Conv2d,
    *,
    widths: Sequence[int] = (32, 64, 128),
    convs_per_block: int = 1,
    batchnorm: bool = True,
    hidden: int = 0,
    in_channels: int = 3,
    image_size: int = 32,
    num_classes: int = 10,
) -> nn.Sequential:
    """A small CIFAR-10 classifier: one conv block per entry of ``widths``, then a linear head.

    Each block: ``convs_per_block`` times (``conv(c_in, c_out, 3, padding=1)``,
    ``BatchNorm2d`` if ``batchnorm``, ``ReLU``), then ``MaxPool2d(2)``, which
    halves the side. Input ``(N, in_channels, image_size, image_size)``,
    output logits ``(N, num_classes)``. ``hidden > 0`` adds a hidden fully
    connected layer (with ReLU) before the output layer. With ``batchnorm``
    the convolutions carry no bias (BatchNorm's shift replaces it).

    >>> net = cifar_net(widths=(8, 16))
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> type(cifar_net(Conv2D, widths=(8,))[0]).__name__
    'Conv2D'
    """
    if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"widths: expected a non-empty sequence of ints >= 1, got {widths!r}. Fix: widths=(32, 64, 128).")
    if not isinstance(convs_per_block, int) or convs_per_block < 1:
        raise ValueError(f"convs_per_block: expected an int >= 1, got {convs_per_block!r}.")
    side = image_size // 2 ** len(widths)
    if side < 1:
        raise ValueError(
            f"widths: expected at most {max(0, image_size.bit_length() - 1)} blocks for {image_size}x{image_size} "
            f"images (each halves the side), got {len(widths)}. Fix: use fewer blocks."
        )
    layers: list[nn.Module] = []
    c_in = in_channels
    for width in widths:
        for _ in range(convs_per_block):
            layers.append(conv(c_in, width, 3, padding=1, bias=not batchnorm))
            if batchnorm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU())
            c_in = width
        layers.append(nn.MaxPool2d(2))
    layers.append(nn.Flatten())
    features = c_in * side * side
    if hidden:
        layers += [nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)]
    else:
        layers.append(nn.Linear(features, num_classes))
    return nn.Sequential(*layers)


# ------------------------------------------------------------ augmentation


def random_crop_flip(
    X: torch.Tensor,
    *,
    padding: int = 4,
    flip: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A random crop (after zero padding) and a random horizontal flip, drawn per image.

    ``X (N, C, H, W)`` -> ``(N, C, H, W)``: image ``i`` is padded by ``padding``
    zeros on each side, cut at a random offset ``(dy_i, dx_i)`` in
    ``[0, 2 * padding]``, and mirrored left-right with probability 1/2. The
    same as torchvision's ``RandomCrop(H, padding)`` and
    ``RandomHorizontalFlip()`` applied image by image, in two tensor ops.

    >>> X = torch.arange(16.).reshape(1, 1, 4, 4)
    >>> random_crop_flip(X, padding=0, flip=False).equal(X)
    True
    >>> random_crop_flip(torch.zeros(5, 3, 8, 8), padding=2).shape
    torch.Size([5, 3, 8, 8])
    """
    if X.ndim != 4:
        raise ValueError(f"X: expected a batch (N, C, H, W), got shape {tuple(X.shape)}. Fix: X[None] for one image.")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding: expected an int >= 0, got {padding!r}.")
    n, _, h, w = X.shape
    if padding:
        Xp = F.pad(X, (padding, padding, padding, padding))  # (N, C, H + 2p, W + 2p)
        windows = Xp.unfold(2, h, 1).unfold(3, w, 1)  # (N, C, 2p+1, 2p+1, H, W): every crop, a view
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        X = windows[torch.arange(n), :, dy, dx]  # (N, C, H, W): crop (dy_i, dx_i) of image i
    if flip:
        mirror = torch.rand(n, generator=generator) < 0.5
        X = torch.where(mirror[:, None, None, None], X.flip(3), X)  # (N, C, H, W)
    return X


def per_image(transform: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wrap an image transform so a batch ``(N, C, H, W)`` gets it image by image.

    Random transforms then draw fresh parameters for each image. Slower than a
    vectorized version (one call per image), and always correct.

    >>> calls = []
    >>> f = per_image(lambda img: calls.append(img.shape) or img)
    >>> f(torch.zeros(3, 1, 2, 2)).shape, len(calls)
    (torch.Size([3, 1, 2, 2]), 3)
    """

    def apply(X: torch.Tensor) -> torch.Tensor:
        return torch.stack([transform(img) for img in X])  # (N, C, H, W)

    return apply


# ------------------------------------------------------------ error counts


def confusion_matrix(pred: torch.Tensor, true: torch.Tensor, n: int) -> torch.Tensor:
    """``(n, n)`` counts: entry ``[i, j]`` = examples of class ``i`` predicted as ``j``.

    Rows are the true classes, columns the predictions; the diagonal holds the
    correct ones.

    >>> confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    tensor([[1, 0, 0],
            [0, 1, 0],
            [0, 1, 1]])
    """
    pred, true = torch.as_tensor(pred).long().flatten(), torch.as_tensor(true).long().flatten()
    if pred.shape != true.shape:
        raise ValueError(f"pred, true: expected the same length, got {pred.numel()} and {true.numel()}.")
    if pred.numel() and (min(int(pred.min()), int(true.min())) < 0 or max(int(pred.max()), int(true.max())) >= n):
        raise ValueError(f"pred, true: expected class indices in [0, {n - 1}], got values outside. Fix: pass n = the number of classes.")
    return torch.bincount(true * n + pred, minlength=n * n).reshape(n, n)


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """Accuracy of each true class from a confusion matrix: diagonal / row sum (NaN for an empty row).

    >>> per_class_accuracy(torch.tensor([[3, 1], [0, 2]]))
    tensor([0.7500, 1.0000])
    """
    cm = torch.as_tensor(cm)
    return cm.diagonal().double().div(cm.sum(1).double()).float()


def misclassified(pred: torch.Tensor, true: torch.Tensor, k: int = 12) -> torch.Tensor:
    """Indices of the first ``k`` examples whose prediction is wrong.

    >>> misclassified(torch.tensor([0, 2, 1, 1]), torch.tensor([0, 1, 1, 0]))
    tensor([1, 3])
    """
    return (torch.as_tensor(pred) != torch.as_tensor(true)).nonzero().flatten()[:k]


# ------------------------------------------------------------ benchmarks


def conv_cases(model: nn.Module, batch_size: int, image_shape: tuple[int, int, int] = (3, 32, 32)) -> list[BenchCase]:
    """The convolutions of ``model`` (square kernels, stride 1) as :class:`convlib.bench.BenchCase` s.

    A forward pass on zeros ``(1, *image_shape)`` records each convolution's input.

    >>> [c.label for c in conv_cases(cifar_net(widths=(8, 16)), 128)]
    ['128x3x32x32 -> 8, 3x3 p1', '128x8x16x16 -> 16, 3x3 p1']
    """
    found: list[BenchCase] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], _: torch.Tensor) -> None:
        x = inputs[0]
        c_out, c_in, kh, kw = module.weight.shape
        pad = module.padding if isinstance(module.padding, tuple) else (module.padding, module.padding)
        if kh != kw or x.shape[2] != x.shape[3] or pad[0] != pad[1] or tuple(module.stride) != (1, 1):
            raise ValueError(f"conv_cases: expected square stride-1 convolutions, got {module}.")
        found.append(BenchCase(f"conv {len(found) + 1}", batch_size, c_in, x.shape[2], c_out, kh, padding=pad[0]))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, (nn.Conv2d, Conv2D))]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *image_shape))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return found
