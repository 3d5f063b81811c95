"""Ablation (消融实验): take one trick out at a time and measure what it was worth.

Every variant trains with the same seeds as the baseline, so the comparison is
paired: the same initial weights and data order wherever the change allows.
"Without TTA" needs no training of its own: it is the baseline's networks
evaluated on the plain test images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Any, Callable

import torch

from convlib.speedrun.recipe import Recipe
from convlib.speedrun.train import RunResult, SpeedTrainer
from convlib.validate import check_int, check_seed

__all__ = ["Variant", "VARIANTS", "AblationRow", "ablate", "variants_for"]


@dataclass(frozen=True)
class Variant:
    """One trick removed: a name, what changes, and the recipe fields that change."""

    name: str
    what: str
    changes: dict[str, Any] = field(default_factory=dict)
    cuda_only: bool = False


VARIANTS: tuple[Variant, ...] = (
    Variant("baseline", "the full recipe"),
    Variant("no augmentation", "no random shifts and no flips while training", {"translate": 0, "flip": "none"}),
    Variant("random flip", "each image flipped with probability 1/2 every epoch instead of alternating", {"flip": "random"}),
    Variant("no label smoothing", "plain cross-entropy (label_smoothing=0)", {"label_smoothing": 0.0}),
    Variant("no whitening", "a learned first layer instead of the frozen whitening filters", {"whiten": False}),
    Variant("no lookahead", "no weight averaging", {"lookahead": False}),
    Variant("no channels_last", "NCHW memory layout", {"channels_last": False}),
    Variant("no mixed precision", "float32 (TF32 matmuls) instead of bf16 autocast", {"amp": False}, cuda_only=True),
)


def variants_for(device: torch.device) -> list[Variant]:
    """The variants that mean something on ``device`` (no mixed-precision variant on the CPU)."""
    return [v for v in VARIANTS if device.type == "cuda" or not v.cuda_only]


@dataclass
class AblationRow:
    """Mean results of one variant over its runs (accuracies in [0, 1])."""

    name: str
    what: str
    accuracy: float
    train_seconds: float
    runs: list[RunResult]
    derived: bool = False   # True for rows computed from the baseline's runs (no training of their own)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "what": self.what, "accuracy": self.accuracy,
            "train_seconds": self.train_seconds, "derived": self.derived,
            "runs": [r.as_dict() for r in self.runs],
        }


def ablate(
    recipe: Recipe,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    device: torch.device,
    *,
    runs: int = 1,
    seed: int = 0,
    warm_up: bool = True,   # (CUDA only: on the CPU there is nothing to warm up)
    variants: list[Variant] | None = None,
    report: Callable[[str], None] | None = None,
    on_rows: Callable[[list[AblationRow]], None] | None = None,
) -> list[AblationRow]:
    """Train ``runs`` runs of every variant (seeds ``seed..seed+runs-1``); return one row each.

    ``data`` is ``(train_images, train_labels, test_images, test_labels)``.
    Rows for "no TTA" (and "flip TTA only" when the recipe uses level 2) come
    from the baseline's runs. ``report`` gets a line per row; ``on_rows`` gets the
    rows so far after every variant (to save them before a later one can fail).
    """
    runs = check_int(runs, "runs", minimum=1, fix="e.g. runs=2")
    seed = check_seed(seed)
    chosen = variants if variants is not None else variants_for(device)
    rows: list[AblationRow] = []
    for variant in chosen:
        trainer = SpeedTrainer(recipe.replace(**variant.changes), *data, device=device)
        if warm_up and device.type == "cuda":
            trainer.warm_up(steps=min(12, trainer.steps_total()))
        results = [trainer.run(seed + i) for i in range(runs)]
        row = AblationRow(
            variant.name, variant.what, mean(r.accuracy for r in results),
            mean(r.train_seconds for r in results), results,
        )
        rows.append(row)
        if report is not None:
            report(f"  {row.name:<22s} accuracy {100 * row.accuracy:6.2f}%   training {row.train_seconds:7.2f} s")
        if variant.name == "baseline":
            for level, label in ((0, "no TTA"), (1, "flip TTA only")):
                if level < recipe.tta_level:
                    what = "the baseline's nets on the plain test images" if level == 0 else \
                        "the baseline's nets with flip TTA but no shifted views"
                    derived = AblationRow(
                        label, what, mean(r.accuracy_by_tta[level] for r in results),
                        row.train_seconds, results, derived=True,
                    )
                    rows.append(derived)
                    if report is not None:
                        report(f"  {label:<22s} accuracy {100 * derived.accuracy:6.2f}%   (same training as baseline)")
        if on_rows is not None:
            on_rows(rows)
    return rows
