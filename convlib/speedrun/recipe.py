"""The speed-run recipe: every hyperparameter of a run in one frozen record.

Two presets: :meth:`Recipe.gpu` is the full recipe meant for an H100/H200-class
GPU (the whole training set, the 64/256/256 net, bf16 mixed precision,
``torch.compile``); :meth:`Recipe.cpu_short` is a shortened version that runs
in about a minute on a small CPU (a subset, a narrower net, fewer epochs).
Its numbers say nothing about the GPU target; they show that every piece runs
and what each trick buys at that small scale.

The optimizer settings follow airbench's recipe, rewritten for PyTorch's SGD
on the batch-*mean* loss: ``lr`` is the peak learning rate at batch size 1024
and scales linearly with the batch size; the BatchNorm biases get
``bias_lr_scale`` times that learning rate and a weight decay divided by the
same factor, so every parameter decays by the same amount per step.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from convlib.validate import check_int, check_ints, check_optional_int

__all__ = ["Recipe"]

PAD_MODES = ("reflect", "zeros")
FLIP_MODES = ("alternate", "random", "none")


@dataclass(frozen=True)
class Recipe:
    """Everything that defines one training run.

    >>> r = Recipe.gpu()
    >>> r.widths, r.batch_size, r.label_smoothing
    ((64, 256, 256), 1024, 0.2)
    >>> Recipe.cpu_short().widths
    (32, 64, 64)
    >>> r.peak_lr(), Recipe(batch_size=512).peak_lr()
    (1.5, 0.75)
    """

    # data
    train_limit: int | None = None      # None: all 50,000 training images
    test_limit: int | None = None       # None: all 10,000 test images
    translate: int = 2                  # random shift of up to this many pixels (0: no crop augmentation)
    pad_mode: str = "reflect"           # how the border is filled for the shift: "reflect" or "zeros"
    flip: str = "alternate"             # "alternate" (each image flipped every other epoch), "random", "none"
    # net
    widths: tuple[int, int, int] = (64, 256, 256)
    whiten: bool = True                 # first layer: frozen 2x2 whitening conv from data (else learned)
    whiten_images: int = 5000           # how many training images the whitening filters are computed from
    bn_momentum: float = 0.6            # weight of the old running statistics (PyTorch's momentum = 1 - this)
    logit_scale: float = 1 / 9
    # optimisation
    epochs: float = 12.0
    batch_size: int = 1024
    lr: float = 1.5                     # peak SGD learning rate on the mean loss at batch 1024
    momentum: float = 0.85
    nesterov: bool = True
    weight_decay: float = 0.0153 / 11.5
    bias_lr_scale: float = 64.0         # BatchNorm biases learn this much faster
    label_smoothing: float = 0.2
    warmup: float = 0.23                # fraction of steps spent rising to the peak
    lr_start: float = 0.2               # learning rate at step 0, as a fraction of the peak
    lr_end: float = 0.07                # at the last step, as a fraction of the peak
    whiten_bias_train: float = 0.3      # fraction of steps during which the whitening bias learns
    lookahead: bool = True
    lookahead_start: float = 0.3        # fraction of steps before the averaging starts
    lookahead_every: int = 5
    # evaluation
    tta_level: int = 2                  # 0: none, 1: flip, 2: flip + one-pixel shifts
    eval_batch: int = 2000
    # speed
    channels_last: bool = True
    amp: bool = True                    # bf16 autocast (CUDA only; ignored on CPU unless amp_on_cpu)
    amp_on_cpu: bool = False
    compile: bool = True                # torch.compile (CUDA only)
    compile_mode: str | None = None

    def __post_init__(self) -> None:
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode: expected one of {PAD_MODES}, got {self.pad_mode!r}.")
        if self.flip not in FLIP_MODES:
            raise ValueError(f"flip: expected one of {FLIP_MODES}, got {self.flip!r}.")
        whole = {
            "tta_level": check_int(self.tta_level, "tta_level", minimum=0, maximum=2, expected="0, 1 or 2",
                                   fix="0: no TTA, 1: flip, 2: flip and shifts"),
            "widths": check_ints(self.widths, "widths", length=3, expected="three positive ints such as (64, 256, 256)",
                                 fix="e.g. widths=(32, 64, 64)"),
            "translate": check_int(self.translate, "translate", minimum=0, fix="translate=2 as in the recipe, 0 for no shifts"),
            "train_limit": check_optional_int(self.train_limit, "train_limit", none="all 50,000 images",
                                              fix="e.g. train_limit=8000"),
            "test_limit": check_optional_int(self.test_limit, "test_limit", none="all 10,000 images",
                                             fix="e.g. test_limit=2000"),
            **{name: check_int(getattr(self, name), name, minimum=1, fix=f"e.g. {name}={getattr(Recipe, name)}")
               for name in ("whiten_images", "batch_size", "lookahead_every", "eval_batch")},
        }
        for name, value in whole.items():  # plain ints (np.int64(512) -> 512), so as_dict stays JSON-ready
            object.__setattr__(self, name, value)
        if not self.epochs > 0:
            raise ValueError(f"epochs: expected a number > 0, got {self.epochs!r}. Fix: e.g. epochs=12.0.")

    @classmethod
    def gpu(cls, **changes: Any) -> "Recipe":
        """The full recipe for an H100/H200-class GPU."""
        return replace(cls(), **changes)

    @classmethod
    def cpu_short(cls, **changes: Any) -> "Recipe":
        """The shortened CPU version: 8,000 training and 2,000 test images, a
        32/64/64 net, 2 epochs at batch 250, flip TTA only, no compile.

        Its learning rate is 4x the linear-scaling value (peak 1.46 at batch
        250, about the GPU recipe's 1.5 at batch 1024): with only 64 steps
        the small-batch value learns too slowly.
        """
        short = cls(
            train_limit=8000,
            test_limit=2000,
            widths=(32, 64, 64),
            epochs=2.0,
            batch_size=250,
            lr=6.0,
            tta_level=1,
            eval_batch=500,
            whiten_images=1000,
            compile=False,
        )
        return replace(short, **changes)

    @classmethod
    def cpu_ablation(cls, **changes: Any) -> "Recipe":
        """The CPU ablation's recipe: :meth:`cpu_short` on 4,000 training and 1,000 test images."""
        return cls.cpu_short(**{"train_limit": 4000, "test_limit": 1000, **changes})

    def replace(self, **changes: Any) -> "Recipe":
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)

    def peak_lr(self) -> float:
        """The peak learning rate for this batch size (linear scaling from batch 1024)."""
        return self.lr * self.batch_size / 1024

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d
