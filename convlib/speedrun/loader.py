"""A data loader that lives on the device: the whole data set as one tensor.

Ordinary loaders read, decode and augment images on the CPU, batch by batch,
and copy every batch to the GPU. At CIFAR-10 size the whole training set fits
in GPU memory (50,000 x 3 x 36 x 36 bf16 values are about 0.4 GB), so
:class:`DeviceLoader` normalises it once, pads it once, and then makes each
batch with a single indexing operation on the device: random permutation,
per-sample random crop (a shift of up to ``translate`` pixels) and horizontal
flip all happen there, with no Python loop over images.

Images are stored channels-last, ``(N, H + 2t, W + 2t, C)``, so a batch comes
out as ``(B, H, W, C)`` memory and :meth:`DeviceLoader.batches` hands it on as a
``(B, C, H, W)`` *view* whose strides are already ``torch.channels_last``.
"""

from __future__ import annotations

from typing import Iterator

import torch
import torch.nn.functional as F

from convlib.validate import check_int, check_seed

__all__ = ["DeviceLoader", "channel_stats", "normalize", "crop_flip"]


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of uint8 images ``(N, C, H, W)``, in [0, 1] units.

    >>> m, s = channel_stats(torch.full((2, 3, 4, 4), 255, dtype=torch.uint8))
    >>> m.tolist(), s.tolist()
    ([1.0, 1.0, 1.0], [0.0, 0.0, 0.0])
    """
    x = images.float().div_(255)  # (N, C, H, W)
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3), unbiased=False)


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 ``(N, C, H, W)`` -> standardised ``dtype`` ``(N, C, H, W)`` on the same device.

    >>> normalize(torch.full((1, 1, 2, 2), 51, dtype=torch.uint8),
    ...           torch.tensor([0.1]), torch.tensor([0.5]))[0, 0]
    tensor([[0.2000, 0.2000],
            [0.2000, 0.2000]])
    """
    mean = mean.to(images.device).view(1, -1, 1, 1)
    std = std.to(images.device).view(1, -1, 1, 1)
    return ((images.float() / 255 - mean) / std).to(dtype)  # (N, C, H, W)


def crop_flip(
    padded: torch.Tensor, idx: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor, size: int
) -> torch.Tensor:
    """Crop ``size x size`` windows from padded channels-last images, flipping some.

    ``padded``: ``(N, H_p, W_p, C)``; ``idx``: which images, int64 ``(B,)``;
    ``dy``, ``dx``: top-left corner of each window, int64 ``(B,)``, each in
    ``[0, H_p - size]``; ``flip``: bool ``(B,)``, mirror left-right.
    Returns ``(B, size, size, C)``, gathered in one indexing operation.

    >>> P = torch.arange(16.).view(1, 4, 4, 1)
    >>> crop_flip(P, torch.tensor([0]), torch.tensor([1]), torch.tensor([0]),
    ...           torch.tensor([True]), 2)[0, :, :, 0]
    tensor([[5., 4.],
            [9., 8.]])
    """
    ar = torch.arange(size, device=padded.device)
    rows = dy[:, None] + ar                                   # (B, size)
    cols = dx[:, None] + torch.where(flip[:, None], size - 1 - ar, ar)  # (B, size)
    return padded[idx[:, None, None], rows[:, :, None], cols[:, None, :]]  # (B, size, size, C)


class DeviceLoader:
    """Augmented mini-batches of a data set held on ``device``.

    ``images``: uint8 ``(N, C, H, W)`` (any device); ``labels``: int64 ``(N,)``.
    The images are standardised with ``mean``/``std`` (default: their own
    per-channel statistics), stored as ``dtype`` channels-last and padded by
    ``translate`` pixels (``pad_mode`` "reflect" or "zeros").

    Each epoch is a random permutation (``drop_last`` keeps every batch the same
    size, which ``torch.compile`` and cuDNN like); each image gets its own random
    shift in ``[-translate, translate]`` on both axes and a horizontal flip:
    ``flip="random"`` flips each image with probability 1/2 every epoch;
    ``flip="alternate"`` draws each image's flip once, then flips it every
    other epoch, so every image is seen both ways in any two consecutive epochs.
    Randomness comes from the loader's own generator: same ``seed``, same batches.

    >>> data = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    >>> loader = DeviceLoader(data, torch.arange(10), batch_size=4)
    >>> [(tuple(x.shape), x.is_contiguous(memory_format=torch.channels_last))
    ...  for x, y in loader.batches(0)]
    [((4, 3, 8, 8), True), ((4, 3, 8, 8), True)]
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        mean: torch.Tensor | None = None,
        std: torch.Tensor | None = None,
        translate: int = 2,
        pad_mode: str = "reflect",
        flip: str = "alternate",
        drop_last: bool = True,
        seed: int = 0,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images: expected uint8 (N, C, H, W), got {images.dtype} with shape {tuple(images.shape)}. "
                "Fix: pass ImageData.images as loaded by convlib.data."
            )
        if len(labels) != len(images):
            raise ValueError(f"labels: expected {len(images)} labels (one per image), got {len(labels)}.")
        batch_size = check_int(batch_size, "batch_size", minimum=1, fix="e.g. batch_size=1024")
        translate = check_int(translate, "translate", minimum=0, fix="translate=2 as in the recipe, 0 for no shifts")
        if drop_last and batch_size > len(images):
            raise ValueError(
                f"batch_size: expected 1..{len(images)} (the number of images), got {batch_size}. "
                "Fix: use a smaller batch or more images."
            )
        if pad_mode not in ("reflect", "zeros"):
            raise ValueError(f"pad_mode: expected 'reflect' or 'zeros', got {pad_mode!r}.")
        if flip not in ("alternate", "random", "none"):
            raise ValueError(f"flip: expected 'alternate', 'random' or 'none', got {flip!r}.")
        self.device = torch.device(device)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.translate, self.flip = translate, flip
        self.size = images.shape[-1]
        images = images.to(self.device)
        if mean is None or std is None:
            mean, std = channel_stats(images)
        self.mean, self.std = mean.to(self.device), std.to(self.device)
        x = normalize(images, self.mean, self.std, torch.float32)  # (N, C, H, W)
        if translate > 0:
            t = translate
            x = F.pad(x, (t, t, t, t), mode="reflect" if pad_mode == "reflect" else "constant")  # (N, C, H+2t, W+2t)
        self.padded = x.permute(0, 2, 3, 1).to(dtype).contiguous()  # (N, H+2t, W+2t, C)
        self.labels = labels.to(self.device)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Restart the randomness: permutations, shifts and flips repeat for the same seed."""
        seed = check_seed(seed)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        n = len(self.labels)
        self._flip_base = torch.randint(0, 2, (n,), generator=self.generator, device=self.device).bool()

    def __len__(self) -> int:
        """Batches per epoch."""
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def num_images(self) -> int:
        return len(self.labels)

    def images(self, n: int | None = None) -> torch.Tensor:
        """The first ``n`` normalised images, unshifted and unflipped: ``(n, C, H, W)`` float32."""
        t = self.translate
        x = self.padded[:n, t : t + self.size, t : t + self.size, :]  # (n, H, W, C)
        return x.permute(0, 3, 1, 2).float()  # (n, C, H, W)

    def flip_mask(self, idx: torch.Tensor, epoch: int) -> torch.Tensor:
        """Which of the images ``idx`` are mirrored in ``epoch``: bool ``(B,)``."""
        if self.flip == "none":
            return torch.zeros(len(idx), dtype=torch.bool, device=self.device)
        if self.flip == "random":
            return torch.randint(0, 2, (len(idx),), generator=self.generator, device=self.device).bool()
        return self._flip_base[idx] ^ bool(epoch % 2)

    def batches(self, epoch: int, *, channels_last: bool = True) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One epoch of ``(X, y)``: ``X`` ``(B, C, H, W)`` in the loader's dtype, ``y`` int64 ``(B,)``."""
        n, b, t = len(self.labels), self.batch_size, self.translate
        order = torch.randperm(n, generator=self.generator, device=self.device)
        for start in range(0, len(self) * b, b):
            idx = order[start : start + b]
            m = len(idx)
            dy = torch.randint(0, 2 * t + 1, (m,), generator=self.generator, device=self.device)
            dx = torch.randint(0, 2 * t + 1, (m,), generator=self.generator, device=self.device)
            x = crop_flip(self.padded, idx, dy, dx, self.flip_mask(idx, epoch), self.size)  # (B, H, W, C)
            x = x.permute(0, 3, 1, 2)  # (B, C, H, W), channels-last strides
            yield (x if channels_last else x.contiguous()), self.labels[idx]
