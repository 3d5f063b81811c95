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
* :class:`StepLosses` records the loss of every training step (for reading
  the jitter of a loss curve).
* :func:`train` is the chapter's recipe in one call; ``python -m convlib.cifar``
  runs it from the command line and prints accuracy and time.
* :func:`conv_cases` lists a network's convolutions as benchmark cases for
  :mod:`convlib.bench`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F

from convlib.bench import BenchCase
from convlib.conv import Conv2D, layer_padding
from convlib.data import DataUnavailableError
from convlib.models import _check_conv
from convlib.train import evaluation_mode
from convlib.validate import (ConvlibInputError, check_bool, check_int, check_ints, check_seed, positive_float_arg,
                              positive_int_arg)

__all__ = [
    "RECIPE",
    "StepLosses",
    "batch_throughput",
    "cifar_net",
    "conv_cases",
    "confusion_matrix",
    "curve_stats",
    "epoch_seconds",
    "misclassified",
    "per_class_accuracy",
    "per_image",
    "make_batches",
    "random_crop_flip",
    "train",
    "main",
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
    _check_conv(conv)
    widths = check_ints(widths, "widths", fix="widths=(32, 64, 128)")
    batchnorm = check_bool(batchnorm, "batchnorm")  # batchnorm="no" is truthy: it would add BatchNorm, drop the biases
    convs_per_block = check_int(convs_per_block, "convs_per_block", minimum=1, fix="e.g. convs_per_block=2")
    hidden = check_int(hidden, "hidden", minimum=0, fix="hidden=0 for no hidden layer, e.g. hidden=256 for one")
    in_channels, image_size, num_classes = (
        check_int(value, name, minimum=1, fix=f"e.g. {name}={example}")
        for name, value, example in (("in_channels", in_channels, 3), ("image_size", image_size, 32),
                                     ("num_classes", num_classes, 10))
    )
    side = image_size // 2 ** len(widths)
    if side < 1:
        raise ConvlibInputError(
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
    padding = check_int(padding, "padding", minimum=0, fix="padding=4 as in the chapter, padding=0 for no crop")
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

    >>> confusion_matrix(torch.tensor([0, 1, 1, 2]),
    ...                  torch.tensor([0, 1, 2, 2]), 3)
    tensor([[1, 0, 0],
            [0, 1, 0],
            [0, 1, 1]])
    """
    n = check_int(n, "n", minimum=1, fix="pass n = the number of classes, e.g. n=10")
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
    """Indices of up to ``k`` wrong predictions, taken from each true class in turn.

    Class 0's first mistake, class 1's first, ..., then every class's second, and
    so on: a test set stored sorted by label (as the offline copy is) still shows
    mistakes of every class, not only the first class's. ``pred``, ``true``: ``(N,)``.

    >>> misclassified(torch.tensor([0, 2, 1, 1, 2]),
    ...               torch.tensor([0, 1, 1, 0, 0]))
    tensor([3, 1, 4])
    """
    k = check_int(k, "k", minimum=0, fix="e.g. k=12 mistakes")
    pred, true = torch.as_tensor(pred), torch.as_tensor(true)
    wrong = (pred != true).nonzero().flatten()  # (E,) in test-set order
    if wrong.numel() == 0:
        return wrong
    label = true[wrong]  # (E,) true class of each mistake
    by_class = torch.argsort(label, stable=True)  # grouped by class, test-set order within a class
    grouped = label[by_class]
    counts = torch.bincount(grouped)
    rank = torch.arange(len(grouped)) - (torch.cumsum(counts, 0) - counts)[grouped]  # 0, 1, ... within a class
    turn = torch.argsort(rank * (int(grouped.max()) + 1) + grouped, stable=True)  # by rank, then by class
    return wrong[by_class[turn]][:k]


# ------------------------------------------------------------ benchmarks


def epoch_seconds(report: Any, images: int = 50_000, kind: str = "forward_backward") -> dict[str, float]:
    """Seconds one epoch of ``images`` images spends in the benchmarked layers, per implementation.

    Sums the per-batch times of every case in a :class:`convlib.bench.BenchReport`
    (``kind``: ``"forward"`` or ``"forward_backward"``) and scales them from the
    cases' batch size to ``images``. Extrapolated timings stay extrapolated.

    >>> from convlib.bench import BenchReport, Timing
    >>> r = BenchReport("x", 1, "cpu", 1, False, None)
    >>> r.results = [{"case": "c", "label": "128x..", "n": 128,
    ...               "timings": [Timing("torch", 1.0, 2.0)]}]
    >>> epoch_seconds(r, images=1280)
    {'torch': 0.02}
    """
    if kind not in ("forward", "forward_backward"):
        raise ValueError(f"kind: expected 'forward' or 'forward_backward', got {kind!r}.")
    images = check_int(images, "images", minimum=1, fix="the images in one epoch, e.g. images=50_000")
    totals: dict[str, float] = {}
    for entry in report.results:
        for t in entry["timings"]:
            ms = t.forward_ms if kind == "forward" else t.forward_backward_ms
            totals[t.impl] = totals.get(t.impl, 0.0) + ms / 1e3 * images / entry["n"]
    return {k: round(v, 9) for k, v in totals.items()}


def conv_cases(model: nn.Module, batch_size: int, image_shape: tuple[int, int, int] = (3, 32, 32)) -> list[BenchCase]:
    """The convolutions of ``model`` (square kernels, stride 1) as a list of :class:`~convlib.bench.BenchCase`.

    A forward pass on zeros ``(1, *image_shape)`` records each convolution's input.

    >>> [c.label for c in conv_cases(cifar_net(widths=(8, 16)), 128)]
    ['128x3x32x32 -> 8, 3x3 p1', '128x8x16x16 -> 16, 3x3 p1']
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1, fix="e.g. batch_size=128")
    found: list[BenchCase] = []

    def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], _: torch.Tensor) -> None:
        x = inputs[0]
        c_out, c_in, kh, kw = module.weight.shape
        pad = layer_padding(module)
        if kh != kw or x.shape[2] != x.shape[3] or pad[0] != pad[1] or tuple(module.stride) != (1, 1):
            raise ValueError(f"conv_cases: expected square stride-1 convolutions, got {module}.")
        found.append(BenchCase(f"conv {len(found) + 1}", batch_size, c_in, x.shape[2], c_out, kh, padding=pad[0]))

    hooks = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, (nn.Conv2d, Conv2D))]
    try:
        with evaluation_mode(model), torch.no_grad():
            model(torch.zeros(1, *image_shape))
    finally:
        for h in hooks:
            h.remove()
    return found


def curve_stats(losses: Sequence[float], window: int = 20) -> dict[str, float]:
    """How jittery and how downward a per-step loss curve is.

    ``jitter``: mean absolute change from one step to the next; ``start`` and
    ``end``: mean loss over the first and last ``window`` steps; ``drop``:
    ``start - end`` (positive when the loss went down).

    >>> curve_stats([3.0, 1.0, 3.0, 1.0], window=2)
    {'jitter': 2.0, 'start': 2.0, 'end': 2.0, 'drop': 0.0}
    """
    window = check_int(window, "window", minimum=1, fix="e.g. window=20 steps")
    t = torch.as_tensor(list(losses), dtype=torch.float64)
    if len(t) < 2:
        raise ValueError(f"losses: expected at least 2 steps, got {len(t)}.")
    w = max(1, min(window, len(t)))
    start, end = float(t[:w].mean()), float(t[-w:].mean())
    return {"jitter": float((t[1:] - t[:-1]).abs().mean()), "start": start, "end": end, "drop": start - end}


# ------------------------------------------------------------ training


class StepLosses:
    """A loss function for :func:`convlib.fit` that also keeps every training step's loss.

    Cross-entropy (with ``label_smoothing``), returning the batch mean. Calls
    with gradients enabled are training steps and are recorded in ``losses``;
    evaluation runs without gradients and is not.

    >>> rec = StepLosses()
    >>> loss = rec(torch.zeros(4, 10, requires_grad=True), torch.arange(4))
    >>> with torch.no_grad():
    ...     _ = rec(torch.zeros(4, 10), torch.arange(4))
    >>> [round(v, 4) for v in rec.losses]
    [2.3026]
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.losses: list[float] = []
        self._loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing)

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self._loss(logits, y)
        if torch.is_grad_enabled():
            self.losses.append(float(loss.detach()))
        return loss


#: The chapter's training recipe (tuned for a 2-core CPU: >= 70% test accuracy in a few minutes).
RECIPE: dict[str, Any] = dict(
    widths=(32, 64, 128),
    epochs=4,
    batch_size=128,
    lr=0.1,
    momentum=0.9,
    weight_decay=5e-4,
    label_smoothing=0.0,
    augment=True,
)


def make_batches(
    train_set: Any,
    test_set: Any,
    batch_size: int = RECIPE["batch_size"],
    *,
    limit: int | None = None,
    augment: bool = RECIPE["augment"],
    seed: int = 0,
) -> tuple[Any, Any]:
    """Normalized training and test :class:`convlib.data.Batches` from loaded CIFAR-10 splits.

    ``train_set``, ``test_set``: :class:`convlib.data.ImageData` (``cl.data.cifar10(...)``);
    ``limit`` keeps that many random images of each; ``augment`` gives the training
    batches :func:`random_crop_flip` (seeded by ``seed``, like the shuffling).
    Build them once and reuse them: loading the data is the slow part of a short run.
    """
    from convlib.data import CIFAR10_MEAN, CIFAR10_STD, Batches, _check_limit

    limit, seed = _check_limit(limit), check_seed(seed)
    if limit is not None:
        train_set, test_set = train_set.subset(limit, seed=seed), test_set.subset(limit, seed=seed)
    g = torch.Generator().manual_seed(seed)
    transform = (lambda X: random_crop_flip(X, generator=g)) if augment else None
    stats = dict(mean=CIFAR10_MEAN, std=CIFAR10_STD)
    return (
        Batches(train_set, batch_size, shuffle=True, transform=transform, seed=seed, **stats),
        Batches(test_set, batch_size, **stats),
    )


def batch_throughput(
    data: Any,
    batch_sizes: Sequence[int],
    *,
    conv: ConvFactory = nn.Conv2d,
    widths: Sequence[int] = RECIPE["widths"],
    steps: int = 5,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Training speed and activation memory of :func:`cifar_net` at each batch size, measured here.

    ``data``: a :class:`convlib.data.ImageData` of CIFAR-10 images (uint8, as
    loaded; each batch is normalised here like the training batches), with at
    least ``batch_sizes[k] * (steps + 1)`` images.
    For each batch size a fresh network takes one untimed warm-up step, then
    ``steps`` timed SGD steps (forward, loss, backward, update), each on its own
    batch of real images. One row per batch size:

    * ``batch_size``; ``ms_per_step``, the median step; ``images_per_s``;
    * ``activation_mb``: the outputs of every layer for one batch, in float32,
      which training keeps for the backward pass (inference needs only the
      current layer's). It grows in proportion to the batch size.
    """
    from convlib.data import CIFAR10_MEAN, CIFAR10_STD, Batches
    from convlib.train import seed as seed_all
    batch_sizes = check_ints(batch_sizes, "batch_sizes", fix="e.g. batch_sizes=(32, 128, 512)")
    steps = check_int(steps, "steps", minimum=1, fix="e.g. steps=5 timed steps")
    need = max(batch_sizes) * (steps + 1)
    if len(data) < need:
        raise ConvlibInputError(
            f"data: expected at least {need} images ((steps + 1) batches of {max(batch_sizes)}), got {len(data)}. "
            "Fix: pass more images, fewer steps or smaller batch sizes."
        )
    rows = []
    for b in batch_sizes:
        seed_all(seed)
        model = cifar_net(conv, widths=widths)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        floats = []  # per-layer output sizes, recorded in the warm-up step
        hooks = [m.register_forward_hook(lambda m, i, out: floats.append(out.numel()))
                 for m in model.modules() if not list(m.children())]
        times = []
        for k, (X, y) in enumerate(Batches(data, b, mean=CIFAR10_MEAN, std=CIFAR10_STD)):  # X: (B, 3, 32, 32)
            if k > steps:
                break
            start = time.perf_counter()
            opt.zero_grad()
            F.cross_entropy(model(X), y).backward()
            opt.step()
            if k == 0:
                for h in hooks:
                    h.remove()
            else:
                times.append(time.perf_counter() - start)
        ms = 1e3 * sorted(times)[len(times) // 2]
        rows.append({"batch_size": b, "ms_per_step": round(ms, 2), "images_per_s": round(b / ms * 1e3, 1),
                     "activation_mb": round(sum(floats) * 4 / 1e6, 2)})
    return rows


def train(
    conv: ConvFactory = nn.Conv2d,
    *,
    widths: Sequence[int] = RECIPE["widths"],
    epochs: int = RECIPE["epochs"],
    batch_size: int = RECIPE["batch_size"],
    lr: float = RECIPE["lr"],
    momentum: float = RECIPE["momentum"],
    weight_decay: float = RECIPE["weight_decay"],
    label_smoothing: float = RECIPE["label_smoothing"],
    augment: bool = RECIPE["augment"],
    batchnorm: bool = True,
    scheduler: str | None = "onecycle",
    limit: int | None = None,
    seed: int = 0,
    sets: tuple[Any, Any] | None = None,
    **fit_kwargs: Any,
) -> tuple[nn.Sequential, Any]:
    """Build :func:`cifar_net` and train it on CIFAR-10 with :func:`convlib.fit`; return ``(model, history)``.

    SGD with Nesterov momentum and weight decay, a one-cycle learning rate
    peaking at ``lr`` (``scheduler=None``: constant), per-image random crops and
    flips when ``augment``. The one-cycle schedule also cycles the momentum
    (0.95 -> 0.85 -> 0.95), so ``momentum`` then only switches Nesterov on; with
    ``scheduler=None`` it is used as given. ``sets``: the ``(train, test)`` splits already loaded
    (default: ``cl.data.cifar10`` loads them); ``limit`` trains and tests on that
    many images of each. Extra keyword arguments go to :func:`convlib.fit`
    (``progress``, ``verbose``, ``loss_fn``, ``max_batches`` ...).
    """
    from convlib.data import cifar10
    from convlib.train import fit, seed as seed_all

    seed_all(seed)
    model = cifar_net(conv, widths=widths, batchnorm=batchnorm)
    if sets is None:
        sets = (cifar10(True), cifar10(False))
    data = make_batches(*sets, batch_size, limit=limit, augment=augment, seed=seed)

    def sgd(params: Any) -> torch.optim.Optimizer:
        return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=momentum > 0, weight_decay=weight_decay)

    if "loss_fn" not in fit_kwargs:
        fit_kwargs["label_smoothing"] = label_smoothing
    history = fit(model, data[0], data[1], epochs=epochs, lr=lr, optimizer=sgd, scheduler=scheduler, **fit_kwargs)
    return model, history


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m convlib.cifar [--conv torch|convlib] [--epochs E] [--limit N]``: train, print the result."""
    parser = argparse.ArgumentParser(prog="python -m convlib.cifar", description="Train the CIFAR-10 chapter's network.")
    parser.add_argument("--conv", choices=("torch", "convlib"), default="torch", help="nn.Conv2d or convlib.Conv2D")
    parser.add_argument("--epochs", type=positive_int_arg, default=RECIPE["epochs"])
    parser.add_argument("--lr", type=positive_float_arg, default=RECIPE["lr"])
    parser.add_argument("--batch-size", type=positive_int_arg, default=RECIPE["batch_size"])
    parser.add_argument("--limit", type=positive_int_arg, default=None, help="train/test on this many images of each split")
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--threads", type=positive_int_arg, default=None, help="torch.set_num_threads")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    conv = Conv2D if args.conv == "convlib" else nn.Conv2d
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        _, h = train(conv, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, limit=args.limit,
                     augment=not args.no_augment, progress=False)
    except DataUnavailableError as error:  # the message says how to get the data: no traceback around it
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"conv={args.conv} epochs={args.epochs} lr={args.lr} batch={args.batch_size} limit={args.limit} "
        f"augment={not args.no_augment} threads={torch.get_num_threads()}\n"
        f"test accuracy {h.test_acc[-1]:.4f}; training {h.total_seconds:.1f} s "
        f"({h.total_seconds / h.epochs:.1f} s/epoch); whole run {wall:.1f} s wall, {cpu:.1f} s CPU; "
        f"load average at the end {load:.2f}; torch {torch.__version__}"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
