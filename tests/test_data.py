"""Tests for convlib.data: Batches, the offline archives, and the errors for missing or corrupt data.

No test touches the network: every test runs with the online loaders and
socket connections replaced by functions that fail loudly.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import re
import shutil
import socket
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from convlib import data as D

# The real online loaders, kept before the autouse fixture below replaces them.
REAL_ONLINE = {"fashion": D._fashion_online, "cifar": D._cifar_online}

def _shared_data() -> Path:
    """CONVLIB_DATA if set, else the course machines' folder beside the checkout (../shared/data)."""
    value = os.environ.get("CONVLIB_DATA", "").strip()
    return Path(value) if value else Path(__file__).resolve().parents[2] / "shared" / "data"


SHARED = _shared_data()
needs_archives = pytest.mark.skipif(
    not (SHARED / D.FASHION_ARCHIVE).is_file() or not (SHARED / D.CIFAR_ARCHIVE).is_file(),
    reason=f"offline archives not found in {SHARED} (set CONVLIB_DATA to the folder holding "
    f"{D.FASHION_ARCHIVE} and {D.CIFAR_ARCHIVE})",
)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to go online fail loudly instead of downloading."""

    def no_download(train: bool) -> D.ImageData:
        raise AssertionError("a test reached the online (download) path")

    def no_connect(*args: object, **kwargs: object) -> None:
        raise AssertionError("a test tried to open a network connection")

    monkeypatch.setattr(D, "_fashion_online", no_download)
    monkeypatch.setattr(D, "_cifar_online", no_download)
    monkeypatch.setattr(socket.socket, "connect", no_connect)


def toy(n: int = 10, channels: int = 1, side: int = 4) -> D.ImageData:
    images = torch.arange(n * channels * side * side, dtype=torch.int64).remainder(256).to(torch.uint8)
    return D.ImageData(images.view(n, channels, side, side), torch.arange(n) % 3, ("a", "b", "c"), "toy")


# ------------------------------------------------------------------ Batches


def test_batches_shapes_dtype_and_range() -> None:
    data = toy(10)
    batches = D.Batches(data, 4)
    assert len(batches) == 3 and batches.classes == ("a", "b", "c")
    got = list(batches)
    assert [tuple(X.shape) for X, _ in got] == [(4, 1, 4, 4), (4, 1, 4, 4), (2, 1, 4, 4)]
    X, y = got[0]
    assert X.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(X.min()) and float(X.max()) <= 1.0
    torch.testing.assert_close(X, data.images[:4].float() / 255)
    assert torch.equal(torch.cat([y for _, y in got]), data.labels)  # no shuffle: original order


def test_batches_normalise_each_channel() -> None:
    data = toy(6, channels=3)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    (X, _), = D.Batches(data, 6, mean=mean, std=std)
    raw = data.images.float() / 255
    expected = (raw - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    torch.testing.assert_close(X, expected)


def test_batches_take_the_channel_statistics_as_any_sequence_and_stay_float32() -> None:
    """A tensor or array of numbers works as a tuple does; the batches stay float32 whatever the default dtype."""
    import numpy as np

    data = toy(4, channels=3)
    expected = next(iter(D.Batches(data, 4, mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 2.0))))[0]
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        (X, _), = D.Batches(data, 4, mean=torch.tensor([0.1, 0.2, 0.3]), std=np.array([0.5, 0.25, 2.0]))
    finally:
        torch.set_default_dtype(previous)
    assert X.dtype == torch.float32
    torch.testing.assert_close(X, expected)


def test_batches_resize_and_transform() -> None:
    (X, _), = D.Batches(toy(3), 3, resize=8, transform=lambda t: t.flip(3))
    assert X.shape == (3, 1, 8, 8)


def test_shuffle_repeats_with_the_seed_and_covers_every_example() -> None:
    data = toy(50)

    def orders(seed: int) -> list[list[int]]:
        batches = D.Batches(data, 8, shuffle=True, seed=seed)
        return [torch.cat([y for _, y in batches]).tolist(), torch.cat([X[:, 0, 0, 0] for X, _ in batches]).tolist()]

    a, b, c = orders(0), orders(0), orders(1)
    assert a == b and a != c
    batches = D.Batches(data, 8, shuffle=True, seed=0)
    first = torch.cat([X.flatten(1)[:, 0] for X, _ in batches])
    second = torch.cat([X.flatten(1)[:, 0] for X, _ in batches])
    assert not torch.equal(first, second)  # a new order each epoch
    assert sorted(first.tolist()) == sorted((data.images.flatten(1)[:, 0].float() / 255).tolist())


def test_subset_is_reproducible() -> None:
    data = toy(20)
    a, b = data.subset(5, seed=3), data.subset(5, seed=3)
    assert len(a) == 5 and torch.equal(a.images, b.images)
    assert data.subset(100) is data


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "4"])
def test_bad_batch_size(bad: object) -> None:
    with pytest.raises(ValueError, match=rf"^batch_size: expected an int >= 1, got {re.escape(repr(bad))}.*\. Fix: .*batch_size=64"):
        D.Batches(toy(), bad)  # type: ignore[arg-type]


def test_whole_numbers_taken_as_numpy_ints() -> None:
    data = toy(10)
    assert len(data.subset(np.int64(4), seed=np.int32(1))) == 4
    batches = D.Batches(data, np.int64(4), resize=np.int64(8), seed=np.int64(2))
    assert type(batches.batch_size) is int and [tuple(X.shape) for X, _ in batches][0] == (4, 1, 8, 8)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: toy(10).subset(-1), r"^n: expected an int >= 1, got -1\. Fix: "),  # randperm(10)[:-1] kept 9 of 10
        (lambda: toy(10).subset(True), r"^n: expected an int >= 1, got True \(a bool\)\. Fix: "),
        (lambda: toy(10).subset(2.5), r"^n: expected an int >= 1, got 2\.5 \(a float\)\. Fix: "),
        (lambda: toy(10).subset(3, seed=1.5), r"^seed: expected an int such as 0, got 1\.5 \(a float\)\. Fix: "),
        (lambda: D.Batches(toy(), 4, resize=True), r"^resize: expected None \(keep the size\) or an int >= 1, got True \(a bool\)"),
        (lambda: D.Batches(toy(), 4, resize=0), r"^resize: expected None \(keep the size\) or an int >= 1, got 0\."),
        (lambda: D.Batches(toy(), 4, seed=True), r"^seed: expected an int such as 0, got True \(a bool\)"),
    ],
)
def test_bad_whole_numbers(call: object, message: str) -> None:
    """subset(-1) used to keep all but one example, subset(True) one, and resize=True resized to 1x1."""
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


# --------------------------------------------------------- offline archives


@needs_archives
def test_fashion_mnist_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVLIB_DATA", str(SHARED))
    train, test = D.fashion_mnist(True), D.fashion_mnist(False)
    assert train.images.shape == (60_000, 1, 28, 28) and test.images.shape == (10_000, 1, 28, 28)
    assert train.images.dtype == torch.uint8
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert train.classes == D.FASHION_MNIST_CLASSES and "offline" in train.source
    tr, te = D.load_fashion_mnist(64, limit=200, resize=32)
    X, y = next(iter(tr))
    assert X.shape == (64, 1, 32, 32) and len(tr) == 4 and len(te.data) == 200


@needs_archives
def test_cifar10_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVLIB_DATA", str(SHARED))
    train, test = D.cifar10(True), D.cifar10(False)
    assert train.images.shape == (50_000, 3, 32, 32) and test.images.shape == (10_000, 3, 32, 32)
    assert torch.bincount(train.labels).tolist() == [5000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    tr, _ = D.load_cifar10(32, limit=64)
    X, _ = next(iter(tr))
    assert X.shape == (32, 3, 32, 32)
    assert -3 < float(X.mean()) < 3  # standardised, not in [0, 1]


# ----------------------------------------------------------------- errors


@pytest.fixture
def empty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("CONVLIB_DATA", str(folder))
    monkeypatch.setenv("CONVLIB_CACHE", str(tmp_path / "cache"))
    return folder


@pytest.mark.parametrize(("loader", "name"), [(D.fashion_mnist, D.FASHION_ARCHIVE), (D.cifar10, D.CIFAR_ARCHIVE)])
def test_missing_archive_names_the_file_and_the_fix(empty_env: Path, loader: object, name: str) -> None:
    with pytest.raises(D.DataUnavailableError) as info:
        loader(True)  # type: ignore[operator]
    message = str(info.value)
    assert name in message and str(empty_env) in message
    assert "torchvision" in message and "CONVLIB_DATA" in message


@pytest.mark.parametrize(("loader", "name"), [(D.fashion_mnist, D.FASHION_ARCHIVE), (D.cifar10, D.CIFAR_ARCHIVE)])
def test_missing_folder_is_named_as_missing(empty_env: Path, monkeypatch: pytest.MonkeyPatch, loader: object,
                                             name: str) -> None:
    missing = empty_env / "no-such-folder"
    monkeypatch.setenv("CONVLIB_DATA", str(missing))
    with pytest.raises(D.DataUnavailableError, match="no such folder") as info:
        loader(True)  # type: ignore[operator]
    message = str(info.value)
    assert f"CONVLIB_DATA={missing}" in message and name in message and "../shared/data" in message
    assert "current folder" not in message  # only a relative path earns that hint


def test_missing_relative_folder_says_where_it_was_looked_for(empty_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative CONVLIB_DATA is read from the current folder: a kernel in notebooks/ misses ../shared/data."""
    (empty_env / "notebooks").mkdir()
    monkeypatch.chdir(empty_env / "notebooks")
    monkeypatch.setenv("CONVLIB_DATA", "../shared/data")
    with pytest.raises(D.DataUnavailableError, match="no such folder") as info:
        D.cifar10(False)
    assert f"read from the current folder {empty_env / 'notebooks'}; give an absolute path" in str(info.value)


@pytest.mark.parametrize(("which", "dataset", "name"), [("fashion", "FashionMNIST", D.FASHION_ARCHIVE),
                                                        ("cifar", "CIFAR10", D.CIFAR_ARCHIVE)])
def test_failed_download_points_to_the_offline_archives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        which: str, dataset: str, name: str) -> None:
    """With CONVLIB_DATA unset, a failed download says how to load offline, not "unset CONVLIB_DATA"."""
    import torchvision

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OSError("<urlopen error [Errno -2] Name or service not known>")

    monkeypatch.delenv("CONVLIB_DATA", raising=False)
    monkeypatch.setenv("CONVLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torchvision.datasets, dataset, unreachable)
    with pytest.raises(D.DataUnavailableError, match="Name or service not known") as info:
        REAL_ONLINE[which](True)
    message = str(info.value)
    assert "unset CONVLIB_DATA" not in message
    assert f"point CONVLIB_DATA at a folder holding {name}" in message and "../shared/data" in message


@pytest.mark.parametrize(("loader", "name"), [(D.fashion_mnist, D.FASHION_ARCHIVE), (D.cifar10, D.CIFAR_ARCHIVE)])
def test_garbage_archive_is_reported(empty_env: Path, loader: object, name: str) -> None:
    (empty_env / name).write_bytes(b"this is not a gzip file" * 100)
    with pytest.raises(D.DataUnavailableError, match="not a readable .tar.gz"):
        loader(True)  # type: ignore[operator]


@pytest.mark.parametrize("loader", [D.load_fashion_mnist, D.load_cifar10])
@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_bad_limit_is_rejected_before_loading(empty_env: Path, loader: object, bad: object) -> None:
    """A negative limit used to drop that many examples silently (``randperm(n)[:-5]``)."""
    with pytest.raises(ValueError, match=r"^limit: expected None \(every example\) or an int >= 1, got .*Fix: limit=1000"):
        loader(limit=bad)  # type: ignore[operator]


def test_sha256sums_mismatch_is_reported(empty_env: Path) -> None:
    (empty_env / D.CIFAR_ARCHIVE).write_bytes(b"some bytes")
    (empty_env / "SHA256SUMS").write_text(f"{'0' * 64}  {D.CIFAR_ARCHIVE}\n")
    with pytest.raises(D.DataUnavailableError, match="corrupt") as info:
        D.cifar10(True)
    assert "SHA256SUMS" in str(info.value)


def test_sha256sums_in_binary_mode_format_is_read(empty_env: Path) -> None:
    blob = b"other bytes"
    (empty_env / D.CIFAR_ARCHIVE).write_bytes(blob)
    (empty_env / "SHA256SUMS").write_text(f"{'f' * 64} *{D.CIFAR_ARCHIVE}\n")  # `sha256sum -b` style
    with pytest.raises(D.DataUnavailableError, match="corrupt"):
        D.cifar10(True)
    (empty_env / "SHA256SUMS").write_text(f"{hashlib.sha256(blob).hexdigest()} *{D.CIFAR_ARCHIVE}\n")
    with pytest.raises(D.DataUnavailableError, match="not a readable"):  # hash fine, content not a tar
        D.cifar10(True)


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue()


def test_incomplete_cifar_archive_is_reported(empty_env: Path) -> None:
    from PIL import Image

    jpg = io.BytesIO()
    Image.new("RGB", (32, 32), (255, 0, 0)).save(jpg, format="JPEG")
    (empty_env / D.CIFAR_ARCHIVE).write_bytes(_tar_gz({"train/cat/0001.jpg": jpg.getvalue()}))
    with pytest.raises(D.DataUnavailableError, match="incomplete: expected 50000 train images, found 1"):
        D.cifar10(True)


def test_fashion_archive_without_the_idx_files_is_reported(empty_env: Path) -> None:
    (empty_env / D.FASHION_ARCHIVE).write_bytes(_tar_gz({"FashionMNIST/LICENSE": b"MIT"}))
    with pytest.raises(D.DataUnavailableError, match="could not read Fashion-MNIST"):
        D.fashion_mnist(False)


@pytest.mark.parametrize(("loader", "name", "member"), [
    (D.fashion_mnist, D.FASHION_ARCHIVE, "FashionMNIST/raw/t10k-labels-idx1-ubyte"),
    (D.cifar10, D.CIFAR_ARCHIVE, "train/cat/0001.jpg"),
])
def test_truncated_archive_is_reported(empty_env: Path, loader: object, name: str, member: str) -> None:
    """Without SHA256SUMS a cut-off copy opens fine and fails only while it is read."""
    blob = _tar_gz({member: random.Random(0).randbytes(20_000)})  # incompressible: the cut lands inside it
    (empty_env / name).write_bytes(blob[: len(blob) // 2])
    with pytest.raises(D.DataUnavailableError, match="is not a readable .tar.gz") as info:
        loader(True)  # type: ignore[operator]
    message = str(info.value)
    assert name in message and "Fix: copy it again" in message
    assert "torchvision" in message and "CONVLIB_DATA" in message  # how to get the data
    assert list(D.cache_dir().iterdir()) == []  # nothing half-extracted left in the cache


def _idx(data: torch.Tensor) -> bytes:
    """uint8 ``data`` as an IDX file (the format of the Fashion-MNIST files)."""
    return struct.pack(f">{1 + data.ndim}I", 0x800 + data.ndim, *data.shape) + data.numpy().tobytes()


def _fashion_tar_gz() -> bytes:
    """A tiny Fashion-MNIST archive, members in the real archive's order: t10k-labels before train-images."""
    images = torch.arange(5 * 28 * 28).remainder(251).to(torch.uint8).view(5, 28, 28)
    raw = "FashionMNIST/raw/"
    return _tar_gz({
        "FashionMNIST/LICENSE": b"MIT",
        raw + "t10k-images-idx3-ubyte": _idx(images[3:]),
        raw + "t10k-labels-idx1-ubyte": _idx(torch.tensor([4, 5], dtype=torch.uint8)),
        raw + "train-images-idx3-ubyte": _idx(images[:3]),
        raw + "train-labels-idx1-ubyte": _idx(torch.tensor([1, 2, 3], dtype=torch.uint8)),
    })


def test_interrupted_fashion_extraction_leaves_no_cache(empty_env: Path) -> None:
    """Stopped right after t10k-labels, an extraction must not leave a cache that passes for complete."""
    (empty_env / D.FASHION_ARCHIVE).write_bytes(_fashion_tar_gz())
    extractall = tarfile.TarFile.extractall

    def interrupted(self: tarfile.TarFile, path: object, members: object = None, **kwargs: object) -> None:
        upto = [m for m in self.getmembers() if not m.name.startswith("FashionMNIST/raw/train")]
        extractall(self, path, upto, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt  # Ctrl-C (or a full disk) while train-images is written

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tarfile.TarFile, "extractall", interrupted)
        with pytest.raises(KeyboardInterrupt):
            D.fashion_mnist(False)
    assert list(D.cache_dir().iterdir()) == []  # neither the cache folder nor the temporary one
    train, test = D.fashion_mnist(True), D.fashion_mnist(False)  # extracted anew, completely
    assert train.labels.tolist() == [1, 2, 3] and test.labels.tolist() == [4, 5]
    assert train.images.shape == (3, 1, 28, 28) and int(train.images[1, 0, 0, 0]) == 784 % 251
    assert [p.name for p in D.cache_dir().iterdir()] == [f"fashion-mnist-{_sha(empty_env / D.FASHION_ARCHIVE)}"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_unreadable_fashion_cache_folder_names_the_folder_to_delete(empty_env: Path) -> None:
    """A cache folder left incomplete (e.g. by an older convlib) is named in the error, with the fix."""
    (empty_env / D.FASHION_ARCHIVE).write_bytes(_fashion_tar_gz())
    root = D.cache_dir() / f"fashion-mnist-{_sha(empty_env / D.FASHION_ARCHIVE)}"
    (root / "FashionMNIST" / "raw").mkdir(parents=True)
    (root / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(D.DataUnavailableError, match="could not read Fashion-MNIST") as info:
        D.fashion_mnist(True)
    assert f"Fix: delete the cache folder {root} and load again" in str(info.value)
    shutil.rmtree(root)  # the fix works
    assert len(D.fashion_mnist(True)) == 3


def _tiny_cifar(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Any bytes as the CIFAR-10 archive, decoded as 2 + 1 toy images (no 60,000 JPEGs needed)."""
    (folder / D.CIFAR_ARCHIVE).write_bytes(b"stands in for the archive")
    monkeypatch.setattr(D, "_decode_cifar_archive", lambda path: {"train": toy(2, 3), "test": toy(1, 3)})


def test_interrupted_cifar_cache_write_leaves_nothing(empty_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_cifar(monkeypatch, empty_env)

    def interrupted(obj: object, f: Path) -> None:
        Path(f).write_bytes(b"PK half a zip")
        raise KeyboardInterrupt

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch, "save", interrupted)
        with pytest.raises(KeyboardInterrupt):
            D.cifar10(True)
    assert list(D.cache_dir().iterdir()) == []  # no half-written cache file, no temporary file
    assert len(D.cifar10(True)) == 2 and len(D.cifar10(False)) == 1
    assert [p.name for p in D.cache_dir().iterdir()] == [f"cifar10-jpeg-{_sha(empty_env / D.CIFAR_ARCHIVE)}.pt"]


def test_unreadable_cifar_cache_file_names_the_file_to_delete(empty_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tiny_cifar(monkeypatch, empty_env)
    cache = D.cache_dir() / f"cifar10-jpeg-{_sha(empty_env / D.CIFAR_ARCHIVE)}.pt"
    cache.write_bytes(b"not a torch file")
    with pytest.raises(D.DataUnavailableError, match="could not read the decoded CIFAR-10 cache file") as info:
        D.cifar10(True)
    assert f"Fix: delete {cache} and load again" in str(info.value)
    cache.unlink()  # the fix works
    assert len(D.cifar10(True)) == 2


@pytest.mark.parametrize("content", [b"not a torch file", "empty dict", "wrong shapes"])
def test_a_damaged_or_foreign_cifar_cache_says_delete_it_not_weights_only(
    empty_env: Path, monkeypatch: pytest.MonkeyPatch, content: object
) -> None:
    """torch.load's text for a damaged file advises weights_only=False ("will likely succeed"): wrong here,
    and unsafe; a readable file without the splits raised a raw KeyError; one with other shapes loaded silently."""
    _tiny_cifar(monkeypatch, empty_env)
    cache = D.cache_dir() / f"cifar10-jpeg-{_sha(empty_env / D.CIFAR_ARCHIVE)}.pt"
    if content == "empty dict":
        torch.save({}, cache)
    elif content == "wrong shapes":
        torch.save({s: (torch.zeros(2, 1, 28, 28, dtype=torch.uint8), torch.zeros(2)) for s in ("train", "test")}, cache)
    else:
        cache.write_bytes(content)  # type: ignore[arg-type]
    with pytest.raises(D.DataUnavailableError, match=r"could not read the decoded CIFAR-10 cache file .*: expected the "
                                                     r"train images and labels this module stores, got a damaged or "
                                                     r"foreign file \(\w+\)\. Fix: delete") as info:
        D.cifar10(True)
    assert "weights_only" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(mean=(0.5,)), ValueError, r"^mean and std: expected both or neither .*got mean without std\. Fix: give std"),
        (dict(std=(0.5,)), ValueError, r"^mean and std: .*got std without mean\. Fix: give mean"),
        (dict(mean=(0.5, 0.5), std=(0.2, 0.2)), ValueError, r"^mean: expected one number per channel \(1\), got 2 values"),
        # a std that is 0 (a constant channel), negative or NaN, or a mean that is not finite, made every
        # batch inf or NaN without a word
        (dict(mean=(0.5,), std=(0.0,)), ValueError,
         r"^std\[0\]: expected a finite number > 0, got 0\.0\. Fix: a standard deviation > 0 .*use 1\.0"),
        (dict(mean=(0.5,), std=(-0.2,)), ValueError, r"^std\[0\]: expected a finite number > 0, got -0\.2\. Fix: "),
        (dict(mean=(0.5,), std=(float("nan"),)), ValueError, r"^std\[0\]: expected a finite number > 0, got nan\. "),
        (dict(mean=(float("inf"),), std=(0.2,)), ValueError,
         r"^mean\[0\]: expected a finite number, got inf\. Fix: a finite number for every channel, e\.g\. mean=\(0\.5,\)"),
        (dict(mean=("a",), std=(0.2,)), ValueError, r"^mean\[0\]: expected a finite number, got 'a' \(a str\)"),
        (dict(mean=0.5, std=0.2), ValueError,  # (len() of a float was a raw TypeError)
         r"^mean: expected a sequence of one number per channel \(1\), got 0\.5 \(a float\)\. Fix: e\.g\. mean=\(0\.5,\)"),
        (dict(shuffle="no"), TypeError, r"^shuffle: expected True or False, got 'no' \(a str\)"),
        (dict(transform=3), TypeError, r"^transform: expected None or a callable .* got int\. Fix: "),
    ],
)
def test_batches_refuse_bad_options_at_construction(kwargs: dict, error: type, match: str) -> None:
    """These used to pass construction and fail at the first batch (or never: shuffle='no' shuffled)."""
    with pytest.raises(error, match=match):
        D.Batches(toy(), 4, **kwargs)


def test_batches_want_image_data() -> None:
    with pytest.raises(TypeError, match=r"^data: expected a convlib.data.ImageData .*got Tensor\. Fix: .*DataLoader"):
        D.Batches(torch.zeros(4, 1, 4, 4), 2)  # type: ignore[arg-type]


def test_load_cifar10_refuses_a_bad_transform_before_loading(empty_env: Path) -> None:
    with pytest.raises(TypeError, match=r"^transform: expected None or a callable"):
        D.load_cifar10(transform=3)  # type: ignore[arg-type]


@pytest.mark.parametrize("normalize", ["no", 0, None])
def test_load_cifar10_refuses_a_normalize_that_is_not_a_bool_before_loading(empty_env: Path, normalize: object) -> None:
    """normalize="no" is truthy: it standardised the images without a word (Batches checks shuffle alike)."""
    with pytest.raises(TypeError, match=r"^normalize: expected True or False, got .*Fix: normalize=True or normalize=False"):
        D.load_cifar10(normalize=normalize)  # type: ignore[arg-type]
