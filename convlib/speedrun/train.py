"""One timed training run of the speed-run recipe, and the warm-up before it.

:class:`SpeedTrainer` puts the data on the device once, builds the net once
(and ``torch.compile``-s it once, on CUDA), and then trains it from scratch as
often as asked, re-initialising the weights in place each time. A run is:

1. (timed) compute the whitening filters from training images;
2. (timed) ``epochs`` passes of SGD with Nesterov momentum over augmented
   batches: label-smoothed cross-entropy, the triangular learning-rate
   schedule, lookahead averaging every few steps, bf16 autocast on CUDA;
3. (timed separately) test accuracy at every TTA level up to the recipe's.

Only step 1 and 2 count as training seconds. Compilation, cuDNN's algorithm
search and other first-call costs happen in :meth:`SpeedTrainer.warm_up` and
are reported on their own.
"""

from __future__ import annotations

import math
import time
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from convlib.speedrun.lookahead import Lookahead
from convlib.speedrun.loader import DeviceLoader, normalize
from convlib.speedrun.net import SpeedNet, reset_parameters
from convlib.speedrun.recipe import Recipe
from convlib.speedrun.schedule import lookahead_decay, triangular
from convlib.speedrun.timing import Stopwatch, synchronize
from convlib.speedrun.tta import tta_accuracies
from convlib.speedrun.whiten import init_whitening
from convlib.validate import check_int, check_optional_int, check_seed

__all__ = ["RunResult", "SpeedTrainer", "compile_or_not", "param_groups"]


@dataclass
class RunResult:
    """What one run measured. Accuracies are fractions in [0, 1]."""

    seed: int
    accuracy: float                      # test accuracy at the recipe's TTA level
    accuracy_by_tta: dict[int, float]    # level -> accuracy, for every level up to the recipe's
    train_seconds: float                 # whitening + all training steps
    eval_seconds: float                  # the TTA evaluation
    steps: int
    final_loss: float                    # training loss of the last batch
    history: list[float] = field(default_factory=list)  # loss every few steps (when asked for)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accuracy_by_tta"] = {str(k): v for k, v in self.accuracy_by_tta.items()}
        return d


def param_groups(net: SpeedNet, recipe: Recipe) -> list[dict[str, Any]]:
    """SGD parameter groups: BatchNorm biases (faster), the whitening bias, all the rest.

    Each group carries ``base_lr`` (its peak learning rate); the trainer sets
    ``lr = base_lr x schedule`` every step. Weight decay is divided by the same
    factor the learning rate is multiplied by, so every group decays alike.

    >>> groups = param_groups(SpeedNet(widths=(4, 8, 8)), Recipe())
    >>> [(g["name"], len(g["params"]), g["base_lr"]) for g in groups]
    [('bn_bias', 6, 96.0), ('stem_bias', 1, 1.5), ('weights', 7, 1.5)]
    """
    peak, scale = recipe.peak_lr(), recipe.bias_lr_scale
    bn_bias, stem_bias, rest = [], [], []
    for name, p in net.named_parameters():
        if not p.requires_grad:
            continue
        if ".norm" in name:
            bn_bias.append(p)
        elif name == "stem.bias" and recipe.whiten:
            stem_bias.append(p)
        else:
            rest.append(p)
    groups = [
        dict(name="bn_bias", params=bn_bias, base_lr=peak * scale, lr=peak * scale, weight_decay=recipe.weight_decay / scale),
        dict(name="stem_bias", params=stem_bias, base_lr=peak, lr=peak, weight_decay=recipe.weight_decay),
        dict(name="weights", params=rest, base_lr=peak, lr=peak, weight_decay=recipe.weight_decay),
    ]
    return [g for g in groups if g["params"]]


def compile_or_not(net: nn.Module, mode: str | None = None) -> tuple[nn.Module, str | None]:
    """``(torch.compile(net), None)``, or ``(net, why)`` when this torch refuses to compile here.

    Some torch/Python pairs refuse in the ``torch.compile`` call itself; failures
    while compiling come later, in :meth:`SpeedTrainer.warm_up`, which falls back too.
    """
    try:
        return torch.compile(net, mode=mode, dynamic=False), None
    except Exception as error:  # noqa: BLE001 - any refusal means: run uncompiled, and say why
        return net, f"{type(error).__name__}: {error}"


class SpeedTrainer:
    """Data on the device, one net, and timed runs of ``recipe``.

    ``train_images``/``test_images``: uint8 ``(N, 3, 32, 32)``; labels int64 ``(N,)``.
    On CUDA this also switches on cuDNN's autotuner and TF32 matmuls
    (process-wide settings). ``amp`` (bf16 autocast) applies on CUDA, or on the
    CPU when ``recipe.amp_on_cpu``; ``compile`` applies on CUDA only.
    """

    def __init__(
        self,
        recipe: Recipe,
        train_images: torch.Tensor,
        train_labels: torch.Tensor,
        test_images: torch.Tensor,
        test_labels: torch.Tensor,
        device: torch.device | str = "cpu",
    ) -> None:
        for name, images, labels in (("train", train_images, train_labels), ("test", test_images, test_labels)):
            if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != (3, 32, 32):
                raise ValueError(
                    f"{name}_images: expected uint8 (N, 3, 32, 32), got {images.dtype} {tuple(images.shape)}. "
                    "Fix: pass convlib.data.cifar10(...).images (the net is built for 32x32 RGB)."
                )
            if len(labels) != len(images):
                raise ValueError(f"{name}_labels: expected {len(images)} labels (one per image), got {len(labels)}.")
        self.recipe = recipe
        self.device = torch.device(device)
        cuda = self.device.type == "cuda"
        if cuda:
            torch.backends.cudnn.benchmark = True
            torch.backends.cudnn.deterministic = False
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.amp = recipe.amp and (cuda or recipe.amp_on_cpu)
        dtype = torch.bfloat16 if self.amp else torch.float32
        self.loader = DeviceLoader(
            train_images, train_labels, batch_size=recipe.batch_size, device=self.device, dtype=dtype,
            translate=recipe.translate, pad_mode=recipe.pad_mode, flip=recipe.flip,
        )
        memory = torch.channels_last if recipe.channels_last else torch.contiguous_format
        self.test_images = normalize(test_images.to(self.device), self.loader.mean, self.loader.std, dtype).contiguous(
            memory_format=memory
        )  # (N_test, 3, 32, 32)
        self.test_labels = test_labels.to(self.device)
        self.net = SpeedNet(
            recipe.widths, whiten=recipe.whiten, bn_momentum=recipe.bn_momentum, logit_scale=recipe.logit_scale
        ).to(self.device, memory_format=memory)
        self.model: nn.Module = self.net
        self.compile_error: str | None = None
        if recipe.compile and cuda:
            self.model, self.compile_error = compile_or_not(self.net, recipe.compile_mode)

    @property
    def compiled(self) -> bool:
        """Whether the runs use a ``torch.compile``-d net (``False`` after a refused or failed compile)."""
        return self.model is not self.net

    # ------------------------------------------------------------ pieces

    def autocast(self) -> AbstractContextManager[Any]:
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def steps_total(self) -> int:
        """Optimizer steps in a full run: ``ceil(epochs x batches per epoch)``."""
        return math.ceil(self.recipe.epochs * len(self.loader))

    def evaluate(self, limit: int | None = None) -> tuple[dict[int, float], float]:
        """Test accuracy at each TTA level (on the first ``limit`` test images) and its seconds."""
        watch = Stopwatch(self.device)
        self.net.eval()
        watch.start()
        with self.autocast():
            accs = tta_accuracies(
                self.model, self.test_images[:limit], self.test_labels[:limit],
                max_level=self.recipe.tta_level, batch_size=self.recipe.eval_batch,
            )
        seconds = watch.stop()
        self.net.train()
        return accs, seconds

    # -------------------------------------------------------------- runs

    def run(self, seed: int = 0, *, max_steps: int | None = None, log_every: int = 0,
            eval_limit: int | None = None) -> RunResult:
        """Train from scratch with ``seed`` and measure.

        ``max_steps`` stops early (the schedules then span ``max_steps``);
        ``log_every`` > 0 records the loss every so many steps in ``history``
        (that forces a device sync, so leave it 0 when timing matters).
        """
        r = self.recipe
        seed = check_seed(seed)
        max_steps = check_optional_int(max_steps, "max_steps", none="the whole run", fix="e.g. max_steps=10")
        log_every = check_int(log_every, "log_every", minimum=0, fix="log_every=0 records nothing, e.g. log_every=10")
        eval_limit = check_optional_int(eval_limit, "eval_limit", none="every test image", fix="e.g. eval_limit=1000")
        torch.manual_seed(seed)
        self.loader.reseed(seed)
        reset_parameters(self.net)
        self.net.train()
        total = self.steps_total() if max_steps is None else min(max_steps, self.steps_total())
        groups = param_groups(self.net, r)
        optimizer = torch.optim.SGD(groups, lr=r.peak_lr(), momentum=r.momentum, nesterov=r.nesterov)
        stem_bias_until = r.whiten_bias_train * total
        lookahead: Lookahead | None = None
        history: list[float] = []
        loss = torch.zeros((), device=self.device)

        synchronize(self.device)
        watch = Stopwatch(self.device)
        watch.start()
        if r.whiten:
            init_whitening(self.net.stem, self.loader.images(r.whiten_images))
        step = 0
        for epoch in range(math.ceil(total / len(self.loader))):
            for x, y in self.loader.batches(epoch, channels_last=r.channels_last):
                factor = triangular(step, total, warmup=r.warmup, start=r.lr_start, end=r.lr_end)
                for g in optimizer.param_groups:
                    active = g["name"] != "stem_bias" or step < stem_bias_until
                    g["lr"] = g["base_lr"] * factor * active
                with self.autocast():
                    logits = self.model(x)  # (B, 10)
                    loss = F.cross_entropy(logits.float(), y, label_smoothing=r.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                if r.lookahead and step % r.lookahead_every == 0 and step >= r.lookahead_start * total:
                    if lookahead is None:
                        lookahead = Lookahead(self.net)
                    else:
                        lookahead.update(self.net, lookahead_decay(step, total, every=r.lookahead_every))
                if log_every and step % log_every == 0:
                    history.append(loss.item())
                if step >= total:
                    break
        if lookahead is not None:
            lookahead.update(self.net, 1.0)  # end on the average
        train_seconds = watch.stop()

        accs, eval_seconds = self.evaluate(eval_limit)
        return RunResult(
            seed=seed, accuracy=accs[r.tta_level], accuracy_by_tta=accs, train_seconds=train_seconds,
            eval_seconds=eval_seconds, steps=step, final_loss=loss.item(), history=history,
        )

    def warm_up(self, steps: int = 12) -> float:
        """Run every code path once (compile, cuDNN autotuning, lazy CUDA libraries); return its seconds.

        If ``torch.compile`` fails, the error is kept in ``compile_error``, the
        trainer goes on uncompiled, and the warm-up is repeated.
        """
        steps = check_int(steps, "steps", minimum=1, fix="e.g. steps=12")
        t0 = time.perf_counter()
        try:
            self.run(seed=10_000, max_steps=steps, eval_limit=self.recipe.eval_batch)
        except Exception as error:  # compile errors come in many types
            if not self.compiled:
                raise
            self.compile_error = f"{type(error).__name__}: {error}"
            self.model = self.net
            self.run(seed=10_000, max_steps=steps, eval_limit=self.recipe.eval_batch)
        synchronize(self.device)
        return time.perf_counter() - t0
