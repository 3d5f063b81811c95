"""Real image data, loaded once and kept as tensors.

Two sources, chosen explicitly:

* online (default): torchvision downloads the original Fashion-MNIST / CIFAR-10;
* offline: when ``CONVLIB_DATA`` names a folder holding ``fashion-mnist.tar.gz``
  or ``cifar10-jpeg.tar.gz`` (the course machines' copies), those are read.

There is no silent fallback: a missing, truncated or corrupt archive raises
:class:`DataUnavailableError` saying how to get the data. Decoded images are
cached under :func:`convlib.config.cache_dir`, so only the first load decodes
anything. Each cache entry is written in a temporary folder beside it and
renamed into place when complete, so an interrupted load leaves no cache that
looks complete but is not.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import pickle
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from convlib.config import cache_dir, data_dir
from convlib.validate import _fail, _got, check_bool, check_int, check_optional_int, check_real, check_seed

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "Batches",
    "DataUnavailableError",
    "ImageData",
    "cifar10",
    "fashion_mnist",
    "load_cifar10",
    "load_fashion_mnist",
]

FASHION_MNIST_CLASSES = (
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle boot",
)
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)
FASHION_ARCHIVE = "fashion-mnist.tar.gz"
CIFAR_ARCHIVE = "cifar10-jpeg.tar.gz"
_OFFLINE_WAY = ("point CONVLIB_DATA at a folder holding {name} "
                "(on the course machines: ../shared/data beside the repository, as an absolute path).")
_HOW_TO_GET = "Either let torchvision download the original (unset CONVLIB_DATA; needs internet), or " + _OFFLINE_WAY
# After a failed download CONVLIB_DATA is already unset: only the offline way is left.
_HOW_TO_GET_OFFLINE = "Without internet, " + _OFFLINE_WAY


class DataUnavailableError(RuntimeError):
    """The requested data set cannot be read; the message says how to get it."""


@dataclass(frozen=True)
class ImageData:
    """A labelled image set held in memory.

    ``images``: uint8 ``(N, C, H, W)``; ``labels``: int64 ``(N,)``;
    ``classes``: the class names, indexed by label.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int, *, seed: int = 0) -> "ImageData":
        """``n`` (an int >= 1) examples drawn at random (the same ones for the same seed)."""
        n = check_int(n, "n", minimum=1, fix="e.g. subset(1000) keeps 1000 random examples")
        seed = check_seed(seed)
        if n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n]
        return ImageData(self.images[idx], self.labels[idx], self.classes, self.source)


# ---------------------------------------------------------------- archives


def _archive(name: str) -> Path:
    folder = data_dir()
    assert folder is not None
    path = folder / name
    if not folder.is_dir():
        relative = "" if folder.is_absolute() else f", read from the current folder {Path.cwd()}; give an absolute path"
        raise DataUnavailableError(
            f"CONVLIB_DATA={folder}: no such folder (expected a folder holding {name}{relative}). "
            + _HOW_TO_GET.format(name=name)
        )
    if not path.is_file():
        raise DataUnavailableError(
            f"CONVLIB_DATA={folder} has no {name}: expected the archive at {path}. "
            + _HOW_TO_GET.format(name=name)
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path) -> str:
    """Check ``path`` against a ``SHA256SUMS`` beside it (if any); return its hash."""
    actual = _sha256(path)
    sums = path.parent / "SHA256SUMS"
    if sums.is_file():
        # "HASH  name" (text mode) or "HASH *name" (binary mode, `sha256sum -b`)
        expected = {
            name.lstrip("*"): digest
            for digest, name in (line.split() for line in sums.read_text().splitlines() if len(line.split()) == 2)
        }.get(path.name)
        if expected is not None and expected != actual:
            raise DataUnavailableError(
                f"{path} is corrupt: its SHA-256 is {actual[:16]}..., SHA256SUMS expects "
                f"{expected[:16]}.... Fix: copy the archive again. " + _HOW_TO_GET.format(name=path.name)
            )
    return actual


@contextlib.contextmanager
def _open_tar(path: Path) -> Iterator[tarfile.TarFile]:
    """``path`` opened as a tar.gz for the ``with`` block; a truncated or corrupt
    archive, found on opening or only while reading it, raises :class:`DataUnavailableError`."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            yield tar
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        if isinstance(error, OSError) and error.errno is not None and error.filename not in (path, str(path)):
            raise  # a failing system call elsewhere (disk full, no permission), not the archive's bytes
        raise DataUnavailableError(
            f"{path} is not a readable .tar.gz ({error}). Fix: copy it again. "
            + _HOW_TO_GET.format(name=path.name)
        ) from error


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """A path to write ``target`` at (a file or a folder), inside a fresh
    temporary folder beside it; after the ``with`` block it is renamed to
    ``target`` in one step, so ``target`` exists only when complete.

    An interrupted write leaves no ``target`` (and no temporary folder, unless
    the process is killed outright); when another process placed ``target``
    first, that one is kept.
    """
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        yield stage / target.name
        try:
            (stage / target.name).replace(target)
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# ------------------------------------------------------------ Fashion-MNIST


def _fashion_offline(train: bool) -> ImageData:
    import torchvision

    path = _archive(FASHION_ARCHIVE)
    root = cache_dir() / f"fashion-mnist-{_verify(path)[:12]}"
    if not root.is_dir():
        with _staged(root) as stage, _open_tar(path) as tar:
            tar.extractall(stage, filter="data")
    try:
        ds = torchvision.datasets.FashionMNIST(str(root), train=train, download=False)
    except Exception as error:  # a missing or damaged IDX file fails in many ways (assert, view, KeyError)
        raise DataUnavailableError(
            f"could not read Fashion-MNIST from {path}, extracted into the cache folder {root}: {error}. "
            f"Fix: delete the cache folder {root} and load again (it is extracted anew); "
            "if that fails too, copy the archive again."
        ) from error
    return ImageData(ds.data[:, None].clone(), ds.targets.clone(), FASHION_MNIST_CLASSES, f"offline copy {path}")


def _fashion_online(train: bool) -> ImageData:
    import torchvision

    root = cache_dir() / "torchvision"
    try:
        ds = torchvision.datasets.FashionMNIST(str(root), train=train, download=True)
    except Exception as error:  # network errors come in many types
        raise DataUnavailableError(
            f"downloading Fashion-MNIST failed ({error}). " + _HOW_TO_GET_OFFLINE.format(name=FASHION_ARCHIVE)
        ) from error
    return ImageData(ds.data[:, None].clone(), ds.targets.clone(), FASHION_MNIST_CLASSES, "torchvision download")


def fashion_mnist(train: bool = True) -> ImageData:
    """Fashion-MNIST: 60,000 training or 10,000 test images, uint8 ``(N, 1, 28, 28)``."""
    return _fashion_offline(train) if data_dir() is not None else _fashion_online(train)


# ----------------------------------------------------------------- CIFAR-10


def _decode_cifar_archive(path: Path) -> dict[str, ImageData]:
    from PIL import Image

    found: dict[str, list[tuple[int, str, bytes]]] = {"train": [], "test": []}
    index = {name: i for i, name in enumerate(CIFAR10_CLASSES)}
    with _open_tar(path) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[0] in found and parts[2].endswith(".jpg"):
                if parts[1] not in index:
                    raise DataUnavailableError(f"{path}: unexpected class folder {parts[1]!r}")
                found[parts[0]].append((index[parts[1]], parts[2], tar.extractfile(member).read()))
    result = {}
    for split, expected in (("train", 50_000), ("test", 10_000)):
        items = sorted(found[split])  # by label, then file name: a fixed order
        if len(items) != expected:
            raise DataUnavailableError(
                f"{path} is incomplete: expected {expected} {split} images, found {len(items)}. "
                "Fix: copy the archive again."
            )
        images = torch.empty(expected, 3, 32, 32, dtype=torch.uint8)
        for i, (_, _, blob) in enumerate(items):
            with Image.open(io.BytesIO(blob)) as img:
                images[i] = torch.frombuffer(bytearray(img.convert("RGB").tobytes()), dtype=torch.uint8).view(32, 32, 3).permute(2, 0, 1)
        labels = torch.tensor([label for label, _, _ in items], dtype=torch.int64)
        result[split] = ImageData(images, labels, CIFAR10_CLASSES, f"offline JPEG copy {path}")
    return result


def _cifar_offline(train: bool) -> ImageData:
    path = _archive(CIFAR_ARCHIVE)
    cache = cache_dir() / f"cifar10-jpeg-{_verify(path)[:12]}.pt"
    split = "train" if train else "test"
    if cache.is_file():
        try:
            images, labels = torch.load(cache)[split]
            if not (images.dtype == torch.uint8 and images.ndim == 4 and images.shape[1] == 3
                    and labels.dtype == torch.int64 and labels.shape == images.shape[:1]):  # RGB (N, 3, H, W), (N,)
                raise ValueError(f"{split} images {images.dtype} {tuple(images.shape)}, labels {tuple(labels.shape)}")
        except (RuntimeError, OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError, ValueError,
                AttributeError, IndexError) as error:
            # torch's own text would suggest torch.load(weights_only=False): wrong for a damaged file
            raise DataUnavailableError(
                f"could not read the decoded CIFAR-10 cache file {cache}: expected the {split} images and labels "
                f"this module stores, got a damaged or foreign file ({type(error).__name__}). "
                f"Fix: delete {cache} and load again (it is decoded anew from {path})."
            ) from error
    else:
        decoded = _decode_cifar_archive(path)
        with _staged(cache) as stage:
            torch.save({name: (d.images, d.labels) for name, d in decoded.items()}, stage)
        images, labels = decoded[split].images, decoded[split].labels
    return ImageData(images, labels, CIFAR10_CLASSES, f"offline JPEG copy {path}")


def _cifar_online(train: bool) -> ImageData:
    import torchvision

    root = cache_dir() / "torchvision"
    try:
        ds = torchvision.datasets.CIFAR10(str(root), train=train, download=True)
    except Exception as error:  # network errors come in many types
        raise DataUnavailableError(
            f"downloading CIFAR-10 failed ({error}). " + _HOW_TO_GET_OFFLINE.format(name=CIFAR_ARCHIVE)
        ) from error
    images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()  # (N, 3, 32, 32)
    return ImageData(images, torch.tensor(ds.targets), CIFAR10_CLASSES, "torchvision download")


def cifar10(train: bool = True) -> ImageData:
    """CIFAR-10: 50,000 training or 10,000 test images, uint8 ``(N, 3, 32, 32)``."""
    return _cifar_offline(train) if data_dir() is not None else _cifar_online(train)


# ------------------------------------------------------------------ batches


class Batches:
    """Mini-batches of ``batch_size`` (an int >= 1) examples of an :class:`ImageData`,
    made from tensors in memory.

    Yields ``(X, y)`` with ``X`` float32 ``(B, C, H, W)``: the images scaled to
    ``[0, 1]``, then resized to ``resize x resize`` (if ``resize``), standardised
    per channel as ``(X - mean) / std`` (if ``mean`` and ``std``: one finite number
    per channel each, every ``std`` > 0) and passed
    through ``transform`` (if given); ``y`` int64 ``(B,)``. Shuffling uses the
    object's own generator, seeded by ``seed``, so a new ``Batches`` repeats its order.

    >>> data = ImageData(torch.zeros(10, 1, 4, 4, dtype=torch.uint8),
    ...                  torch.arange(10), ("a",), "demo")
    >>> [tuple(X.shape) for X, y in Batches(data, 4)]
    [(4, 1, 4, 4), (4, 1, 4, 4), (2, 1, 4, 4)]
    """

    def __init__(
        self,
        data: ImageData,
        batch_size: int,
        *,
        shuffle: bool = False,
        resize: int | None = None,
        mean: tuple[float, ...] | None = None,
        std: tuple[float, ...] | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
    ) -> None:
        batch_size = check_int(batch_size, "batch_size", minimum=1,
                               fix="give a whole number of examples per batch, e.g. batch_size=64")
        resize = check_optional_int(resize, "resize", none="keep the size", fix="e.g. resize=32, or resize=None")
        seed = check_seed(seed)
        if not isinstance(data, ImageData):
            raise TypeError(
                f"data: expected a convlib.data.ImageData (uint8 images and labels), got {type(data).__name__}. "
                "Fix: cl.data.cifar10(True) or cl.data.fashion_mnist(True) give one; for tensors of your own use "
                "torch.utils.data.DataLoader(TensorDataset(X, y), batch_size=...)."
            )
        shuffle = check_bool(shuffle, "shuffle")
        _check_transform(transform)
        if (mean is None) != (std is None):
            given, missing = ("mean", "std") if std is None else ("std", "mean")
            raise _fail("mean and std", "both or neither (images become (X - mean) / std)",
                        f"{given} without {missing}", f"give {missing} too, one number per channel, or neither")
        channels = data.images.shape[1]
        self.data, self.batch_size, self.shuffle = data, batch_size, shuffle
        self.resize, self.transform = resize, transform
        self.mean = _channel_stats(mean, "mean", channels)
        self.std = _channel_stats(std, "std", channels)
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.data.classes

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.data)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            X = self.data.images[idx].float().div_(255)  # (B, C, H, W)
            if self.resize is not None:
                X = F.interpolate(X, size=(self.resize, self.resize), mode="bilinear", antialias=True, align_corners=False)
            if self.mean is not None:
                X = (X - self.mean) / self.std
            if self.transform is not None:
                X = self.transform(X)
            yield X, self.data.labels[idx]


def _channel_stats(values: object, name: str, channels: int) -> torch.Tensor | None:
    """``mean`` or ``std`` as Batches takes them: None, or one finite number per channel (a standard
    deviation > 0, since the images are divided by it), as a float32 ``(1, C, 1, 1)`` tensor.

    A std of 0 (a channel that never changes), a negative or NaN one would turn every batch into
    inf or NaN without a word; so would NaN or infinity in ``mean``.

    >>> _channel_stats((0.5, 0.25), "std", 2).flatten().tolist()
    [0.5, 0.25]
    >>> _channel_stats((0.2, 0.0), "std", 2)
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: std[1]: expected a finite number > 0, got 0.0. Fix: a standard deviation > 0 for every channel (the images are divided by it); for a channel that never changes use 1.0
    """
    if values is None:
        return None
    example = f"{name}=({', '.join(['0.5'] * channels)}{',' if channels == 1 else ''})"  # (0.5,) or (0.5, 0.5, 0.5)
    try:
        items = None if isinstance(values, (str, bytes)) else list(values)  # type: ignore[call-overload]
    except TypeError:
        items = None
    if items is None:
        raise _fail(name, f"a sequence of one number per channel ({channels})", _got(values), f"e.g. {example}")
    if len(items) != channels:
        raise _fail(name, f"one number per channel ({channels})", f"{len(items)} values {tuple(items)!r}",
                    f"give {channels} values, one for each of the images' channels")
    if name == "std":
        fix = ("a standard deviation > 0 for every channel (the images are divided by it); "
               "for a channel that never changes use 1.0")
        numbers = [check_real(v, f"std[{i}]", above=0, fix=fix) for i, v in enumerate(items)]
    else:
        numbers = [check_real(v, f"mean[{i}]", fix=f"a finite number for every channel, e.g. {example}")
                   for i, v in enumerate(items)]
    return torch.tensor(numbers, dtype=torch.float32).view(1, channels, 1, 1)


def _check_transform(transform: object) -> None:
    """``transform`` as Batches and the loaders take it: None or a callable ``f(X) -> X`` on a batch."""
    if transform is not None and not callable(transform):
        raise TypeError(
            f"transform: expected None or a callable f(X) -> X on a batch (B, C, H, W), got "
            f"{type(transform).__name__}. Fix: e.g. transform=cl.cifar.random_crop_flip, or transform=None."
        )


def _check_limit(limit: object) -> int | None:
    return check_optional_int(limit, "limit", none="every example",
                              fix="limit=1000 keeps 1000 random examples of each split; limit=None keeps them all")


def load_fashion_mnist(
    batch_size: int = 256, *, resize: int | None = None, limit: int | None = None, seed: int = 0
) -> tuple[Batches, Batches]:
    """Training and test batches of Fashion-MNIST (``limit``, None or an int >= 1,
    caps each split's size).

    Images are ``(B, 1, 28, 28)`` in ``[0, 1]`` (or ``resize`` x ``resize``).
    """
    limit, seed = _check_limit(limit), check_seed(seed)
    train, test = fashion_mnist(True), fashion_mnist(False)
    if limit is not None:
        train, test = train.subset(limit, seed=seed), test.subset(limit, seed=seed)
    return (
        Batches(train, batch_size, shuffle=True, resize=resize, seed=seed),
        Batches(test, batch_size, resize=resize),
    )


CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


def load_cifar10(
    batch_size: int = 128,
    *,
    limit: int | None = None,
    normalize: bool = True,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
) -> tuple[Batches, Batches]:
    """Training and test batches of CIFAR-10, ``(B, 3, 32, 32)``.

    ``limit`` (None or an int >= 1) caps each split's size. ``normalize`` standardises each channel with the training set's mean and
    standard deviation; ``transform`` (e.g. augmentation) applies to training
    batches only.
    """
    limit, seed = _check_limit(limit), check_seed(seed)
    normalize = check_bool(normalize, "normalize")  # normalize="no" is truthy: it would standardise without a word
    _check_transform(transform)
    train, test = cifar10(True), cifar10(False)
    if limit is not None:
        train, test = train.subset(limit, seed=seed), test.subset(limit, seed=seed)
    stats = dict(mean=CIFAR10_MEAN, std=CIFAR10_STD) if normalize else {}
    return (
        Batches(train, batch_size, shuffle=True, transform=transform, seed=seed, **stats),
        Batches(test, batch_size, **stats),
    )
