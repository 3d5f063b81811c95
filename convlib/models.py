"""The classic CNNs, LeNet to GoogLeNet, as small builders for the course.

Every builder takes the data's ``in_channels`` and ``num_classes``, a
``conv`` layer class (``torch.nn.Conv2d``, the default because it trains
fastest, or ``convlib.Conv2D``, a drop-in replacement computed from unfold +
matmul) and, for the modern nets, ``div``: every channel count and hidden
width divided by ``div`` ("course scale", so they train on a laptop CPU in
minutes; ``div=1`` gives the published widths). Stems come in two kinds:
``stem="imagenet"`` is the published first stage for 224x224 photos (large
kernel, stride, pooling), ``stem="small"`` keeps 28x28-to-64x64 inputs from
shrinking to nothing in the first layers. ``dropout`` (AlexNet, VGG, NiN) is
the rate of their dropout layers, in ``[0, 1)``, 0.5 as published.

Layer order follows the papers as the d2l book writes them; shapes are in the
docstrings, ``(N, C, H, W)`` in and ``(N, num_classes)`` logits out.
"""

from __future__ import annotations

from typing import Callable, Literal, Sequence

import torch
from torch import nn

from convlib.validate import ConvlibInputError, _got, as_pair, check_bool, check_int, check_ints, check_real

__all__ = [
    "lenet",
    "lenet_modern",
    "xavier_init",
    "alexnet",
    "vgg_block",
    "vgg",
    "VGG11_ARCH",
    "nin_block",
    "nin",
    "Inception",
    "googlenet",
]

ConvFactory = Callable[..., nn.Module]
Stem = Literal["imagenet", "small"]

#: VGG-11's convolutional part: (number of 3x3 convs, output channels) per block.
VGG11_ARCH: tuple[tuple[int, int], ...] = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def _div(channels: int, div: int) -> int:
    return max(1, channels // div)


def _check_ints(**values: tuple[object, int]) -> None:
    """Each ``name=(value, lowest allowed)`` must be an int (not a bool) at least that low."""
    for name, (value, low) in values.items():
        check_int(value, name, minimum=low, fix=f"e.g. {name}={max(low, 1)}")


def _check_common(in_channels: int, num_classes: int, div: int = 1) -> None:
    _check_ints(in_channels=(in_channels, 1), num_classes=(num_classes, 1), div=(div, 1))


def _check_image_size(image_size: object) -> None:
    check_int(image_size, "image_size", minimum=1, fix="the side of the input images in pixels, e.g. image_size=28")


def _check_choice(value: object, name: str, choices: Sequence[str], fix: str) -> None:
    """``value`` must be one of the strings ``choices``; the error lists them and says how to fix it."""
    if not isinstance(value, str) or value not in choices:
        raise ConvlibInputError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {_got(value)}. Fix: {fix}")


def _check_stem(stem: object) -> None:
    _check_choice(stem, "stem", ("imagenet", "small"),
                  "stem='imagenet' for 224x224 photos (96x96 for GoogLeNet), stem='small' for 28x28 to 64x64 images")


def _check_dropout(dropout: object) -> float:
    """The dropout rate as a float in ``[0, 1)``: 1 would drop every unit and the dense layers would learn nothing."""
    return check_real(dropout, "dropout", minimum=0, below=1, fix="dropout=0.5 (the published rate), dropout=0 for none")


def _check_conv(conv: object) -> None:
    """``conv`` must be a conv layer class (or another callable that builds one), not a layer or a name."""
    if isinstance(conv, nn.Module) or not callable(conv):
        raise ConvlibInputError(
            f"conv: expected a conv layer class, called as conv(in_channels, out_channels, kernel_size=..., ...), "
            f"got {_got(conv)}. Fix: conv=torch.nn.Conv2d or conv=convlib.Conv2D (the class itself, not a layer "
            "built from it, nor its name)"
        )


def _flat_features(features: nn.Module, in_channels: int, image_size: int) -> int:
    """Size of ``features``' output for one ``image_size`` x ``image_size`` image, flattened."""
    with torch.no_grad():
        try:
            out = features(torch.zeros(1, in_channels, image_size, image_size))  # (1, C, H, W)
        except (RuntimeError, ValueError) as error:
            raise ConvlibInputError(
                f"image_size: a {image_size}x{image_size} input does not fit this network ({error}). "
                "Fix: a larger image_size, or stem='small' for small images."
            ) from error
    return out[0].numel()


def _activation(name: str) -> nn.Module:
    table = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
    _check_choice(name, "activation", tuple(table), "activation='sigmoid' (the original LeNet) or 'relu'")
    return table[name]()


def _pool(name: str, kernel_size: int = 2, stride: int = 2) -> nn.Module:
    _check_choice(name, "pool", ("avg", "max"), "pool='avg' (the original LeNet) or pool='max'")
    return nn.AvgPool2d(kernel_size, stride) if name == "avg" else nn.MaxPool2d(kernel_size, stride)


# ------------------------------------------------------------------- LeNet


def xavier_init(model: nn.Module) -> nn.Module:
    """Xavier (Glorot) uniform weights for every conv and linear layer, in place; returns ``model``.

    Each weight is drawn from ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``,
    which keeps the variance of signals and gradients roughly constant through
    sigmoid and tanh layers. (PyTorch's default scales by ``fan_in`` only and
    suits ReLU networks.) Biases keep their initial values.

    >>> net = xavier_init(nn.Sequential(nn.Linear(300, 100)))
    >>> float(net[0].weight.detach().abs().max()) <= (6 / 400) ** 0.5
    True
    """
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.ndim >= 2:  # conv and linear, not BatchNorm
            nn.init.xavier_uniform_(weight)
    return model


def lenet(
    activation: str = "sigmoid",
    pool: str = "avg",
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    init: str = "xavier",
    conv: ConvFactory = nn.Conv2d,
) -> nn.Sequential:
    """LeNet-5 as in LeCun et al. (1998), for 28x28 images (the first conv pads by 2).

    ``(N, 1, 28, 28)`` -> conv 5x5, 6 channels, padding 2 -> ``(N, 6, 28, 28)`` ->
    pool 2x2 -> ``(N, 6, 14, 14)`` -> conv 5x5, 16 channels -> ``(N, 16, 10, 10)`` ->
    pool -> ``(N, 16, 5, 5)`` -> flatten 400 -> 120 -> 84 -> ``(N, num_classes)``.
    ``activation``: ``"sigmoid"`` (the original), ``"relu"`` or ``"tanh"``;
    ``pool``: ``"avg"`` (the original) or ``"max"``. ``init``: ``"xavier"``
    (:func:`xavier_init`, which lets the sigmoid network start learning within an
    epoch) or ``"default"`` (PyTorch's initialisation).

    >>> lenet()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> sum(p.numel() for p in lenet().parameters())
    61706
    """
    _check_common(in_channels, num_classes)
    _check_conv(conv)
    _check_choice(init, "init", ("xavier", "default"), "init='xavier' (trains the sigmoid LeNet) or init='default'")
    act = lambda: _activation(activation)  # noqa: E731 - one fresh module per use
    net = nn.Sequential(
        conv(in_channels, 6, kernel_size=5, padding=2), act(),  # (N, 6, 28, 28)
        _pool(pool),                                             # (N, 6, 14, 14)
        conv(6, 16, kernel_size=5), act(),                       # (N, 16, 10, 10)
        _pool(pool),                                             # (N, 16, 5, 5)
        nn.Flatten(),                                            # (N, 400)
        nn.Linear(16 * 5 * 5, 120), act(),
        nn.Linear(120, 84), act(),
        nn.Linear(84, num_classes),                              # (N, num_classes)
    )
    return xavier_init(net) if init == "xavier" else net


def lenet_modern(*, in_channels: int = 1, num_classes: int = 10, conv: ConvFactory = nn.Conv2d) -> nn.Sequential:
    """LeNet with today's parts: ReLU, max pooling and BatchNorm after every conv and hidden linear layer.

    Same shapes as :func:`lenet`; BatchNorm adds ``2 * channels`` learned numbers per layer.

    >>> lenet_modern()(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_common(in_channels, num_classes)
    _check_conv(conv)
    return nn.Sequential(
        conv(in_channels, 6, kernel_size=5, padding=2), nn.BatchNorm2d(6), nn.ReLU(),  # (N, 6, 28, 28)
        nn.MaxPool2d(2, 2),                                                             # (N, 6, 14, 14)
        conv(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU(),                      # (N, 16, 10, 10)
        nn.MaxPool2d(2, 2),                                                             # (N, 16, 5, 5)
        nn.Flatten(),                                                                   # (N, 400)
        nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.ReLU(),
        nn.Linear(84, num_classes),                                                     # (N, num_classes)
    )


# ----------------------------------------------------------------- AlexNet


def alexnet(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    image_size: int = 224,
    div: int = 1,
    stem: Stem = "imagenet",
    dropout: float = 0.5,
    conv: ConvFactory = nn.Conv2d,
) -> nn.Sequential:
    """AlexNet (Krizhevsky et al., 2012): five convs with ReLU, three max pools, three dense layers with dropout.

    Channels 96, 256, 384, 384, 256 and dense width 4096, each divided by ``div``.
    ``stem="imagenet"``: 11x11 conv with stride 4, then 3x3/2 max pooling, for
    224x224 inputs. ``stem="small"``: 5x5 conv with stride 1 and padding 2, then
    the same pooling, for 28x28 to 64x64 inputs. The rest is the same: 5x5 conv,
    pool, three 3x3 convs, pool, flatten, dense, dropout, dense, dropout, dense.

    >>> net = alexnet(image_size=28, div=8, stem="small")
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_common(in_channels, num_classes, div)
    _check_image_size(image_size)
    _check_stem(stem)
    _check_conv(conv)
    dropout = _check_dropout(dropout)
    c1, c2, c3, c4, c5 = (_div(c, div) for c in (96, 256, 384, 384, 256))
    hidden = _div(4096, div)
    first = (conv(in_channels, c1, kernel_size=11, stride=4, padding=1) if stem == "imagenet"
             else conv(in_channels, c1, kernel_size=5, stride=1, padding=2))
    features = nn.Sequential(
        first, nn.ReLU(), nn.MaxPool2d(3, 2),                      # 224: (N, c1, 54, 54) -> (N, c1, 26, 26)
        conv(c1, c2, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),  # (N, c2, 12, 12)
        conv(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
        conv(c3, c4, kernel_size=3, padding=1), nn.ReLU(),
        conv(c4, c5, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),  # (N, c5, 5, 5)
    )
    flat = _flat_features(features, in_channels, image_size)
    return nn.Sequential(
        *features,
        nn.Flatten(),                                               # (N, c5 * h * w)
        nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(hidden, num_classes),                             # (N, num_classes)
    )


# --------------------------------------------------------------------- VGG


def vgg_block(num_convs: int, in_channels: int, out_channels: int, *, conv: ConvFactory = nn.Conv2d,
              batch_norm: bool = False) -> nn.Sequential:
    """``num_convs`` 3x3 convs (padding 1, each followed by ReLU), then 2x2 max pooling.

    ``(N, in_channels, H, W)`` -> ``(N, out_channels, H // 2, W // 2)``.

    >>> vgg_block(2, 3, 8)(torch.zeros(1, 3, 32, 32)).shape
    torch.Size([1, 8, 16, 16])
    """
    _check_ints(num_convs=(num_convs, 1), in_channels=(in_channels, 1), out_channels=(out_channels, 1))
    _check_conv(conv)
    batch_norm = check_bool(batch_norm, "batch_norm")  # batch_norm="no" is truthy: it would add BatchNorm
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers.append(conv(in_channels, out_channels, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


def _check_arch(conv_arch: object) -> tuple[tuple[int, int], ...]:
    """``conv_arch`` as a tuple of ``(num_convs, out_channels)`` pairs of ints >= 1, or an error naming the bad block."""
    expected = "a non-empty sequence of (num_convs, out_channels) pairs of ints >= 1"
    fix = "e.g. conv_arch=((1, 64), (1, 128)); one block is ((2, 64),), with the trailing comma"
    if isinstance(conv_arch, (str, bytes)) or not isinstance(conv_arch, Sequence) or not conv_arch:
        raise ConvlibInputError(f"conv_arch: expected {expected}, got {_got(conv_arch)}. Fix: {fix}")
    blocks = []
    for i, block in enumerate(conv_arch):
        if isinstance(block, (str, bytes)) or not isinstance(block, Sequence):
            raise ConvlibInputError(f"conv_arch: expected {expected}, got {conv_arch!r}, whose block {i} is "
                                    f"{_got(block)}. Fix: {fix}")
        blocks.append(check_ints(block, f"conv_arch[{i}]", length=2, expected="a pair (num_convs, out_channels) of ints >= 1",
                                 fix="e.g. (2, 64): two 3x3 convs with 64 output channels"))
    return tuple(blocks)  # type: ignore[arg-type]


def vgg(
    conv_arch: Sequence[tuple[int, int]] = VGG11_ARCH,
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    image_size: int = 224,
    div: int = 1,
    hidden: int = 4096,
    dropout: float = 0.5,
    batch_norm: bool = False,
    conv: ConvFactory = nn.Conv2d,
) -> nn.Sequential:
    """VGG (Simonyan & Zisserman, 2014): VGG blocks, then three dense layers with dropout.

    ``conv_arch`` lists ``(num_convs, out_channels)`` per block (default
    VGG-11); channels and ``hidden`` are divided by ``div``. Each block halves
    the side, so ``image_size`` needs ``2 ** len(conv_arch)`` or more.

    >>> net = vgg(((1, 64), (1, 128), (2, 256)), image_size=28, div=8)
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_common(in_channels, num_classes, div)
    conv_arch = _check_arch(conv_arch)
    _check_image_size(image_size)
    _check_ints(hidden=(hidden, 1))
    _check_conv(conv)
    dropout = _check_dropout(dropout)
    batch_norm = check_bool(batch_norm, "batch_norm")
    if image_size < 2 ** len(conv_arch):
        raise ConvlibInputError(
            f"image_size: {len(conv_arch)} VGG blocks halve the side {len(conv_arch)} times, so they need "
            f"at least {2 ** len(conv_arch)} pixels, got {image_size}. Fix: fewer blocks or larger images."
        )
    blocks, c = [], in_channels
    for num_convs, out in conv_arch:
        blocks.append(vgg_block(num_convs, c, _div(out, div), conv=conv, batch_norm=batch_norm))
        c = _div(out, div)
    side = image_size // 2 ** len(conv_arch)
    width = _div(hidden, div)
    return nn.Sequential(
        *blocks,                                                    # (N, c, side, side)
        nn.Flatten(),
        nn.Linear(c * side * side, width), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(width, num_classes),                              # (N, num_classes)
    )


# --------------------------------------------------------------------- NiN


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int, *,
              num_1x1: int = 2, inner_kernel_size: int = 1, conv: ConvFactory = nn.Conv2d) -> nn.Sequential:
    """One ordinary conv, then ``num_1x1`` 1x1 convs (a small dense layer at every pixel), each with ReLU.

    ``(N, in_channels, H, W)`` -> ``(N, out_channels, H_out, W_out)``. NiN uses
    ``num_1x1=2``; ``0`` leaves a plain conv and its ReLU. ``inner_kernel_size``
    is the kernel of those convs after the first: 1 in NiN; an odd size ``k`` is
    padded by ``k // 2`` so the height and width stay (3 gives a block of
    3x3 convs, to compare what the 1x1 convs save).

    >>> nin_block(1, 8, 5, 1, 2)(torch.zeros(1, 1, 28, 28)).shape
    torch.Size([1, 8, 28, 28])
    >>> [sum(p.numel() for p in nin_block(8, 8, 3, 1, 1, num_1x1=n).parameters())
    ...  for n in (0, 1, 2)]
    [584, 656, 728]
    """
    _check_ints(in_channels=(in_channels, 1), out_channels=(out_channels, 1), num_1x1=(num_1x1, 0),
                inner_kernel_size=(inner_kernel_size, 1))
    _check_conv(conv)
    as_pair(kernel_size, "kernel_size")
    as_pair(stride, "stride")
    if not isinstance(padding, str):  # "same" and "valid" are the conv layer's to check
        as_pair(padding, "padding", minimum=0)
    if inner_kernel_size % 2 == 0:
        raise ConvlibInputError(
            f"inner_kernel_size: expected an odd size (1, 3, 5, ...) so the height and width stay, "
            f"got {inner_kernel_size}. Fix: inner_kernel_size=1 (NiN) or 3."
        )
    layers: list[nn.Module] = [
        conv(in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding), nn.ReLU(),
    ]
    for _ in range(num_1x1):
        layers += [conv(out_channels, out_channels, kernel_size=inner_kernel_size, padding=inner_kernel_size // 2),
                   nn.ReLU()]
    return nn.Sequential(*layers)


def nin(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    div: int = 1,
    stem: Stem = "imagenet",
    dropout: float = 0.5,
    num_1x1: int = 2,
    conv: ConvFactory = nn.Conv2d,
) -> nn.Sequential:
    """Network in Network (Lin et al., 2013): NiN blocks, no dense layers, global average pooling.

    The last NiN block has ``num_classes`` channels, one map per class, and
    global average pooling turns each map into one score. Nothing depends on
    the image's height and width, so the same network takes any size at least
    as large as its pooling needs (``stem="small"``: from 15x15, which its three
    3x3, stride-2 max pools take to 7x7, 3x3 and 1x1; a 14x14 input fails, as the
    last pool would leave 0x0).
    ``num_1x1``: the 1x1 convs in every NiN block (2, as published; see
    :func:`nin_block`).

    >>> net = nin(div=8, stem="small")
    >>> net(torch.zeros(2, 1, 28, 28)).shape, net(torch.zeros(2, 1, 15, 15)).shape
    (torch.Size([2, 10]), torch.Size([2, 10]))
    """
    _check_common(in_channels, num_classes, div)
    _check_stem(stem)
    _check_conv(conv)
    dropout = _check_dropout(dropout)
    c1, c2, c3 = (_div(c, div) for c in (96, 256, 384))
    block = lambda *args: nin_block(*args, num_1x1=num_1x1, conv=conv)  # noqa: E731
    first = block(in_channels, c1, 11, 4, 0) if stem == "imagenet" else block(in_channels, c1, 5, 1, 2)
    return nn.Sequential(
        first, nn.MaxPool2d(3, 2),
        block(c1, c2, 5, 1, 2), nn.MaxPool2d(3, 2),
        block(c2, c3, 3, 1, 1), nn.MaxPool2d(3, 2),
        nn.Dropout(dropout),
        block(c3, num_classes, 3, 1, 1),                     # (N, num_classes, h, w)
        nn.AdaptiveAvgPool2d((1, 1)),                       # (N, num_classes, 1, 1)
        nn.Flatten(),                                       # (N, num_classes)
    )


# --------------------------------------------------------------- GoogLeNet


class Inception(nn.Module):
    """GoogLeNet's Inception block: four parallel branches, outputs concatenated on channels.

    1. 1x1 conv (``c1``);
    2. 1x1 conv to ``c2[0]`` channels, then 3x3 conv (padding 1) to ``c2[1]``;
    3. 1x1 conv to ``c3[0]`` channels, then 5x5 conv (padding 2) to ``c3[1]``;
    4. 3x3 max pooling (stride 1, padding 1), then 1x1 conv to ``c4``.

    Every conv, the 1x1 ones included, is followed by a ReLU. All branches keep
    the height and width, so ``(N, C_in, H, W)`` -> ``(N, c1 + c2[1] + c3[1] + c4, H, W)``.

    >>> block = Inception(192, 64, (96, 128), (16, 32), 32)
    >>> block(torch.zeros(1, 192, 28, 28)).shape
    torch.Size([1, 256, 28, 28])
    """

    parallel_branches = True  # receptive_field refuses blocks with parallel paths

    def __init__(self, in_channels: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int, *,
                 conv: ConvFactory = nn.Conv2d) -> None:
        super().__init__()
        _check_ints(in_channels=(in_channels, 1), c1=(c1, 1), c4=(c4, 1))
        _check_conv(conv)
        c2, c3 = (check_ints(c, name, length=2, expected="a pair (1x1 reduce channels, output channels) of ints >= 1",
                             fix=f"e.g. {name}=(96, 128)") for name, c in (("c2", c2), ("c3", c3)))
        self.p1 = nn.Sequential(conv(in_channels, c1, kernel_size=1), nn.ReLU())
        self.p2 = nn.Sequential(conv(in_channels, c2[0], kernel_size=1), nn.ReLU(),
                                conv(c2[0], c2[1], kernel_size=3, padding=1), nn.ReLU())
        self.p3 = nn.Sequential(conv(in_channels, c3[0], kernel_size=1), nn.ReLU(),
                                conv(c3[0], c3[1], kernel_size=5, padding=2), nn.ReLU())
        self.p4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                conv(in_channels, c4, kernel_size=1), nn.ReLU())
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> ``(N, c1 + c2[1] + c3[1] + c4, H, W)``."""
        branches = [self.p1(x), self.p2(x), self.p3(x), self.p4(x)]  # each (N, c_i, H, W)
        return torch.cat(branches, dim=1)  # (N, out_channels, H, W)


# (c1, (c2 reduce, c2), (c3 reduce, c3), c4) of the nine blocks, as published
_INCEPTIONS = {
    "3a": (64, (96, 128), (16, 32), 32), "3b": (128, (128, 192), (32, 96), 64),
    "4a": (192, (96, 208), (16, 48), 64), "4b": (160, (112, 224), (24, 64), 64),
    "4c": (128, (128, 256), (24, 64), 64), "4d": (112, (144, 288), (32, 64), 64),
    "4e": (256, (160, 320), (32, 128), 128),
    "5a": (256, (160, 320), (32, 128), 128), "5b": (384, (192, 384), (48, 128), 128),
}


def googlenet(
    *,
    in_channels: int = 1,
    num_classes: int = 10,
    div: int = 1,
    stem: Stem = "imagenet",
    conv: ConvFactory = nn.Conv2d,
) -> nn.Sequential:
    """GoogLeNet (Szegedy et al., 2014) without its auxiliary classifiers, as in d2l.

    Stem, then nine Inception blocks in three stages separated by 3x3/2 max
    pooling, global average pooling and one dense layer. Channel counts are
    divided by ``div``. ``stem="imagenet"``: 7x7/2 conv and 3x3/2 pooling, then
    1x1 and 3x3 convs and pooling (a 96x96 input reaches the blocks at 12x12).
    ``stem="small"``: a 3x3 conv (stride 1) and the pooling, for 28x28 inputs:
    they reach the first Inception blocks at 7x7, the last at 2x2.

    >>> net = googlenet(div=8, stem="small")
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """
    _check_common(in_channels, num_classes, div)
    _check_stem(stem)
    _check_conv(conv)
    d = lambda c: _div(c, div)  # noqa: E731
    c64, c192 = d(64), d(192)
    if stem == "imagenet":
        b1 = nn.Sequential(conv(in_channels, c64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                           nn.MaxPool2d(3, stride=2, padding=1))
    else:
        b1 = nn.Sequential(conv(in_channels, c64, kernel_size=3, padding=1), nn.ReLU(),
                           nn.MaxPool2d(3, stride=2, padding=1))
    b2 = nn.Sequential(conv(c64, c64, kernel_size=1), nn.ReLU(),
                       conv(c64, c192, kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(3, stride=2, padding=1))

    def stage(names: Sequence[str], c_in: int) -> tuple[list[nn.Module], int]:
        blocks = []
        for name in names:
            c1, (r2, c2), (r3, c3), c4 = _INCEPTIONS[name]
            block = Inception(c_in, d(c1), (d(r2), d(c2)), (d(r3), d(c3)), d(c4), conv=conv)
            blocks.append(block)
            c_in = block.out_channels
        return blocks, c_in

    s3, c = stage(("3a", "3b"), c192)
    s4, c = stage(("4a", "4b", "4c", "4d", "4e"), c)
    s5, c = stage(("5a", "5b"), c)
    return nn.Sequential(
        b1, b2,
        nn.Sequential(*s3, nn.MaxPool2d(3, stride=2, padding=1)),
        nn.Sequential(*s4, nn.MaxPool2d(3, stride=2, padding=1)),
        nn.Sequential(*s5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()),  # (N, c)
        nn.Linear(c, num_classes),                                       # (N, num_classes)
    )
