"""Self-checks for the chapter "Modern CNNs"."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable

import torch
from torch import nn

from convlib.check._core import (CheckResult, answer_check, host_float64, numbers, same_values, swapped_hint, verdict,
                                 wants_a_number)
from convlib.train import evaluation_mode
from convlib.validate import ConvlibInputError

__all__ = [
    "two_3x3_params",
    "inception_channels",
    "nin_switch_dataset",
    "alexnet_receptive_field",
    "dropout_scale",
    "vgg16_19_params",
    "nin_extra_1x1_params",
    "smallest_inputs",
    "alexnet_activation_mb",
    "nin_class_map_values",
]

#: Table 1 of Simonyan & Zisserman (2014): configuration D (VGG-16) and E (VGG-19).
_VGG16_ARCH = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))
_VGG19_ARCH = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))


@wants_a_number
def two_3x3_params(answer: Any) -> CheckResult:
    """Exercise: weights (no biases) of two stacked 3x3 convs, 64 -> 64 -> 64 channels, and of one 5x5 conv 64 -> 64.

    Answer ``(two_3x3, one_5x5)``.

    >>> bool(two_3x3_params((73_728, 102_400)))
    True
    >>> two_3x3_params((102_400, 73_728))
    ❌ Not yet: Hint: right numbers, swapped: answer (two_3x3, one_5x5), the stack first.
    """
    hint = "a k x k conv from C_in to C_out channels has k * k * C_in * C_out weights; count both layers of the stack."
    return verdict(
        same_values(answer, (73_728, 102_400)),
        "2 x (3 x 3 x 64 x 64) = 73,728 against 5 x 5 x 64 x 64 = 102,400: the same 5x5 receptive field "
        "for 28% fewer weights, and one more ReLU in between. That is VGG's bet.",
        swapped_hint(answer, (73_728, 102_400), "(two_3x3, one_5x5), the stack first") or hint,
    )


@wants_a_number
def inception_channels(answer: Any) -> CheckResult:
    """Exercise: output channels of ``Inception(256, 128, (128, 192), (32, 96), 64)``.

    >>> bool(inception_channels(480))
    True
    >>> bool(inception_channels(256))
    False
    """
    return verdict(
        same_values(answer, 480),
        "the four branches are concatenated: 128 + 192 + 96 + 64 = 480. The input's 256 and the "
        "reduction widths (128, 32) do not appear in the output.",
        "add the output channels of the four branches: c1, the second number of c2 and of c3, and c4.",
    )


@wants_a_number
def nin_switch_dataset(answer: Any) -> CheckResult:
    """Exercise: NiN from 10-class grayscale to 2-class RGB images of another size.

    Answer ``(in_channels of the first conv, out_channels of the last NiN block)``.

    >>> bool(nin_switch_dataset((3, 2)))
    True
    >>> bool(nin_switch_dataset((1, 10)))
    False
    """
    return verdict(
        same_values(answer, (3, 2)),
        "RGB needs 3 input channels and two classes need 2 class maps; the image size changes nothing, "
        "because kernels slide over any height and width and global average pooling ends at 1 x 1.",
        "which numbers in the network depend on the data: the colour channels, the classes, or the image size?",
    )


@wants_a_number
def alexnet_receptive_field(answer: Any) -> CheckResult:
    """Exercise: receptive field after AlexNet's 11x11 stride-4 conv and its 3x3 stride-2 max pooling.

    >>> bool(alexnet_receptive_field(19))
    True
    >>> bool(alexnet_receptive_field(13))
    False
    """
    return verdict(
        same_values(answer, 19),
        "r = 11 after the conv, jump 4; the pool adds (3 - 1) * 4 = 8: r = 19 pixels.",
        "r_out = r_in + (k - 1) * j_in, where the jump j_in is the product of the earlier strides.",
    )


@wants_a_number
def dropout_scale(answer: Any) -> CheckResult:
    """Exercise: the factor ``nn.Dropout(p=0.5)`` multiplies kept units by during training.

    >>> bool(dropout_scale(2))
    True
    >>> bool(dropout_scale(0.5))
    False
    """
    return verdict(
        same_values(answer, 2.0),
        "kept units are divided by 1 - p = 0.5, so each unit's expected value is unchanged and "
        "evaluation needs no rescaling.",
        "half the units are zeroed; what must the other half be multiplied by to keep the average?",
    )


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@lru_cache(maxsize=None)
def _vgg_counts(in_channels: int, num_classes: int) -> tuple[int, int, int]:
    """Parameters of VGG-16, VGG-19 and VGG-11 as ``convlib.models.vgg`` builds them at 224x224."""
    from convlib import models

    with torch.device("meta"):  # shapes only: no memory for 140 million weights
        return tuple(_params(models.vgg(arch, in_channels=in_channels, num_classes=num_classes))
                     for arch in (_VGG16_ARCH, _VGG19_ARCH, models.VGG11_ARCH))  # type: ignore[return-value]


@wants_a_number
def vgg16_19_params(answer: Any) -> CheckResult:
    """Exercise: parameters of VGG-16 and VGG-19 as published (3 colour channels, 224x224, 1,000 classes).

    Answer ``(vgg16, vgg19)``, counted from ``cl.models.vgg(conv_arch, in_channels=3, num_classes=1000)``.

    >>> bool(vgg16_19_params((138_357_544, 143_667_240)))
    True
    >>> bool(vgg16_19_params((143_667_240, 138_357_544)))
    False
    """
    v16, v19, v11 = _vgg_counts(3, 1000)
    ok = same_values(answer, (v16, v19))
    hint = ("write conv_arch for configurations D and E, build each with cl.models.vgg(conv_arch, "
            "in_channels=3, num_classes=1000) inside `with torch.device('meta'):` and add up p.numel().")
    if not ok and answer is not None:
        if same_values(answer, _vgg_counts(1, 10)[:2]):
            hint = ("those are the counts for the builder's defaults, 1 channel and 10 classes (Fashion-MNIST). "
                    "The paper's networks read 3 colour channels and score 1,000 classes.")
        elif same_values(answer, (v19, v16)):
            hint = "the right numbers in the wrong order: VGG-16 first."
        elif v11 in numbers(answer):
            hint = f"{v11:,} is VGG-11 (cl.models.VGG11_ARCH); D and E have more convolutions per block."
    return verdict(
        ok,
        f"VGG-16 has {v16:,} parameters and VGG-19 {v19:,}; VGG-11 has {v11:,}. The five extra 3x3 "
        f"convolutions of VGG-16 add {(v16 - v11) / 1e6:.1f} million and VGG-19's three more "
        f"{(v19 - v16) / 1e6:.1f} million, while the first dense layer (7 x 7 x 512 -> 4096) alone holds "
        f"{(7 * 7 * 512 + 1) * 4096 / 1e6:.1f} million.",
        hint,
    )


@lru_cache(maxsize=None)
def _extra_1x1() -> tuple[int, int]:
    """Parameters that one more 1x1 conv (or 3x3 conv) adds to NiN's third block, 256 -> 384 channels."""
    from convlib import models

    with torch.device("meta"):
        two, three = (_params(models.nin_block(256, 384, 3, 1, 1, num_1x1=n)) for n in (2, 3))
        two3, three3 = (_params(models.nin_block(256, 384, 3, 1, 1, num_1x1=n, inner_kernel_size=3)) for n in (2, 3))
    return three - two, three3 - two3


@wants_a_number
def nin_extra_1x1_params(answer: Any) -> CheckResult:
    """Exercise: parameters one more 1x1 conv adds to NiN's third block (384 channels, published width).

    >>> bool(nin_extra_1x1_params(147_840))
    True
    >>> bool(nin_extra_1x1_params(147_456))
    False
    """
    extra, extra3 = _extra_1x1()
    ok = same_values(answer, extra)
    hint = "a 1x1 conv from C to C channels has C * C weights (one per channel pair) plus C biases."
    if not ok and answer is not None:
        if same_values(answer, extra - 384):
            hint = "that is the weights alone: every output channel has a bias too."
        elif same_values(answer, extra3):
            hint = "that would be a 3x3 conv; a 1x1 kernel has a single tap per channel pair."
    return verdict(
        ok,
        f"384 x 384 weights + 384 biases = {extra:,}; a 3x3 conv in its place would add {extra3:,}. "
        "Per pixel it is a dense layer 384 -> 384, so its cost grows with the channels squared, "
        "not with the image.",
        hint,
    )


def _smallest_side(build: Callable[[], nn.Module], largest: int = 64) -> int:
    """The smallest square side in ``1..largest`` that ``build()`` accepts (a grayscale image)."""
    net = build().eval()
    with torch.no_grad():
        for side in range(1, largest + 1):
            try:
                net(torch.zeros(1, 1, side, side))  # (1, 1, side, side)
            except RuntimeError:  # a feature map reached 0 x 0 (or a pool found no input)
                continue
            return side
    raise ValueError(f"no side up to {largest} fits")


@lru_cache(maxsize=None)
def _smallest_nin_googlenet() -> tuple[int, int]:
    from convlib import models

    return (_smallest_side(lambda: models.nin(div=8, stem="small")),
            _smallest_side(lambda: models.googlenet(div=8, stem="small")))


@wants_a_number
def smallest_inputs(answer: Any) -> CheckResult:
    """Exercise: the smallest square input the course-scale NiN and GoogLeNet accept (``div=8, stem="small"``).

    Answer ``(nin, googlenet)``, the side in pixels.

    >>> bool(smallest_inputs((15, 1)))
    True
    >>> bool(smallest_inputs((14, 1)))
    False
    """
    nin_side, goog_side = _smallest_nin_googlenet()
    ok = same_values(answer, (nin_side, goog_side))
    hint = ("try sizes with torch: net(torch.zeros(1, 1, s, s)) for s = 1, 2, 3, ... and note the first "
            "that runs. Which pooling layers pad their input, and which do not?")
    got = numbers(answer)
    if not ok and len(got) == 2:
        if got[0] != nin_side:
            hint = ("NiN: each of its three 3x3, stride-2 max pools has no padding and needs a side of at "
                    "least 3; work backwards from 1 x 1 with n_in = 2 * n_out + 1.")
        else:
            hint = ("GoogLeNet: every one of its 3x3, stride-2 max pools pads by 1, so a side n becomes "
                    "floor((n - 1) / 2) + 1. Can that ever reach 0?")
    return verdict(
        ok,
        f"NiN needs {nin_side} x {nin_side}: its unpadded pools take 15 to 7, 3 and 1 (14 ends at 0). "
        f"GoogLeNet takes even {goog_side} x {goog_side}: its convolutions keep the size and its pools pad "
        "by 1, so a side n becomes ceil(n / 2), never 0, and global average pooling accepts any map. "
        "Such a tiny input runs, but gives the network nothing to see.",
        hint,
    )


@lru_cache(maxsize=None)
def _alexnet_activation_values() -> tuple[tuple[int, ...], int, int]:
    """Per image, the values of every layer's output (Flatten, a view, skipped); the input's; the parameters."""
    from convlib import models
    from convlib.summary import layer_summary

    with torch.device("meta"):
        rows = layer_summary(models.alexnet(), (1, 224, 224))
    values = tuple(math.prod(r.output_shape[1:]) for r in rows if r.kind != "Flatten")
    return values, 224 * 224, rows.total_params


@wants_a_number
def alexnet_activation_mb(answer: Any) -> CheckResult:
    """Exercise: MB of activations that training ``cl.models.alexnet()`` keeps for backward, batch 128.

    Every layer's output (Flatten's is a view and is skipped) as float32, 1 MB = 10**6 bytes.

    >>> bool(alexnet_activation_mb(683)), bool(alexnet_activation_mb(683.1))
    (True, True)
    >>> bool(alexnet_activation_mb(5.34))
    False
    """
    values, image, params = _alexnet_activation_values()
    batch, mb = 128, 1e6
    train = 4 * batch * sum(values) / mb
    inputs = (image, *values[:-1])
    infer = 4 * batch * max(i + o for i, o in zip(inputs, values)) / mb
    got = numbers(answer)
    value = got[0] if len(got) == 1 else None
    ok = value is not None and abs(value - train) <= 0.01 * train
    hint = ("sum the values of every layer's output in cl.layer_summary(cl.models.alexnet(), (1, 224, 224)) "
            "(skip Flatten), multiply by 128 images and 4 bytes, divide by 10**6.")

    def near(target: float) -> bool:
        return value is not None and abs(value - target) <= 0.01 * target

    if value is not None and not ok:
        if near(train / batch):
            hint = "that is one image; the batch holds 128."
        elif near(train / 4):
            hint = "that counts values; each float32 value takes 4 bytes."
        elif near(train * mb):
            hint = "that is in bytes; give megabytes (divide by 10**6)."
        elif near(train * mb / 2**20):
            hint = "that is MiB (2**20 bytes); the exercise asks for MB = 10**6 bytes."
        elif near(infer):
            hint = "that is what inference needs, one layer's input and output; training keeps every output."
        elif near(train + 4 * batch * image / mb):
            hint = "leave the input batch out: count the layers' outputs only."
    return verdict(
        ok,
        f"about {train:.0f} MB for 128 images ({train / batch:.2f} MB each), against {infer:.0f} MB "
        "for inference, which needs only one layer's input and output at a time; the weights take "
        f"{4 * params / mb:.0f} MB. The first convolution's 96 x 54 x 54 output and its ReLU are the largest.",
        hint,
    )


def _class_maps(model: Any, images: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """NiN's class maps ``(N, K, h, w)`` (everything before its global average pooling) and its scores
    ``(N, K)``, in evaluation mode, as float64 on the CPU; the model's modes are left as they were."""
    pool = model[-2] if isinstance(model, nn.Sequential) and len(model) >= 3 else None
    if not (isinstance(pool, nn.AdaptiveAvgPool2d) and pool.output_size in (1, (1, 1))
            and isinstance(model[-1], nn.Flatten)):
        raise ConvlibInputError(
            f"model: expected a NiN, an nn.Sequential that ends in nn.AdaptiveAvgPool2d((1, 1)) and nn.Flatten(), "
            f"got {type(model).__name__}{' ending in ' + type(model[-1]).__name__ if isinstance(model, nn.Sequential) else ''}. "
            "Fix: pass the trained NiN, nets[\"NiN\"]."
        )
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        got = f"shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise ConvlibInputError(f"images: expected a batch (N, C, H, W), got {got}. Fix: pass nin_images, the view's images.")
    if not images.is_floating_point():
        raise ConvlibInputError(f"images: expected float images, got {images.dtype}. "
                                "Fix: pass nin_images, the view's images (or x.float() / 255 for raw pixels).")
    first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if first is not None and images.shape[1] != first.in_channels:
        raise ConvlibInputError(f"images: expected {first.in_channels} channel{'s' * (first.in_channels != 1)} (what the NiN's first conv reads), "
                                f"got shape {tuple(images.shape)}. Fix: pass nin_images, the view's images.")
    param = next(model.parameters(), None)
    device, dtype = (param.device, param.dtype) if param is not None else (torch.device("cpu"), images.dtype)
    try:
        with evaluation_mode(model), torch.no_grad():
            maps = model[:-2](images.to(device, dtype))  # (N, K, h, w)
            scores = model[-2:](maps)  # (N, K)
    except RuntimeError as err:  # e.g. images too small for the NiN's kernels and pooling
        raise ConvlibInputError(f"images: the NiN could not run on shape {tuple(images.shape)} ({err}). "
                                "Fix: pass nin_images, the view's images, at the size the NiN was trained on.") from err
    return maps.cpu().double(), scores.cpu().double()


@answer_check
def nin_class_map_values(answer: Any, model: nn.Module, images: torch.Tensor) -> CheckResult:
    """Exercise: NiN's class scores for ``images``, computed from its class maps by global average pooling.

    ``model`` is a NiN (an ``nn.Sequential`` that ends in ``nn.AdaptiveAvgPool2d((1, 1))`` and
    ``nn.Flatten()``, as ``cl.models.nin`` builds it); ``images`` is ``(N, C, H, W)``. The class
    maps are ``model[:-2](images)`` in evaluation mode, ``(N, K, h, w)``; the answer is every
    map's mean, ``(N, K)``, the scores the model outputs. A model that does not end that way
    raises :class:`~convlib.ConvlibInputError`.

    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    >>> x = torch.rand(2, 1, 6, 6)
    >>> maps = net[:-2](x)  # (2, 3, 4, 4): one map per class
    >>> bool(nin_class_map_values(maps.mean(dim=(2, 3)), net, x))
    True
    >>> nin_class_map_values(maps.amax(dim=(2, 3)), net, x).message[:40]
    "Hint: that takes each map's largest cell"
    """
    maps, scores = _class_maps(model, images)
    n, k, h, w = maps.shape
    means = maps.mean(dim=(2, 3))  # (N, K): global average pooling, which is all the model does after the maps
    ok = same_values(answer, means)
    hint = ("take the class maps with model[:-2](images) (every layer before the global average pooling and the "
            "flatten) after model.eval(), then average each map over its height and width: maps.mean(dim=(2, 3)).")
    values = host_float64(answer)
    shape = tuple(values.shape) if values is not None else None
    if not ok and shape is not None:
        if shape == (n, k, h, w):
            hint = ("those are the class maps themselves; global average pooling turns each one into a single "
                    "number, its mean over the last two axes.")
        elif same_values(answer, maps.amax(dim=(2, 3))):
            hint = "that takes each map's largest cell: global max pooling. NiN averages the cells."
        elif same_values(answer, maps.sum(dim=(2, 3))):
            hint = f"that adds up each map's {h * w} cells; their average divides the sum by {h * w}."
        elif same_values(answer, torch.softmax(means, dim=1)):
            hint = "those are probabilities, softmax of the scores; the scores z come before softmax."
        elif same_values(answer, means.T):
            hint = f"rows and columns swapped: one row per image ({n}), one column per class ({k})."
        elif shape != (n, k):
            hint = f"expected one score per image and class, shape ({n}, {k}), got shape {shape}. T" + hint[1:]
        else:
            hint = ("right shape, other values. Compute the maps in evaluation mode (model.eval(): the Dropout "
                    "before the last block is off then, as in the view), from the same images, and average over "
                    "height and width only.")
    zero = int((means == 0).sum())
    return verdict(
        ok,
        f"each score is the mean of its class map's {h} x {w} cells, and these means are the model's outputs, "
        f"model(images), to within {float((means - scores).abs().max()):.0e}: NiN has no dense layer, so the class "
        f"maps are the evidence and averaging them is the whole decision. {zero} of the {n * k} scores are exactly "
        "0: after the last ReLU those maps are 0 everywhere, and such a class can never win.",
        hint,
    )
