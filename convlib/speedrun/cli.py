"""``python -m convlib.speedrun``: timed CIFAR-10 runs, their mean, and an ablation.

On a CUDA GPU it runs the full recipe (:meth:`Recipe.gpu`); on a CPU (or with
``--cpu-short``) the shortened version (:meth:`Recipe.cpu_short`), and says so.
Accuracy and training seconds are printed per run and as a mean; compilation
and warm-up are timed apart; ``--json PATH`` writes everything.

    python -m convlib.speedrun --runs 5 --json speedrun.json
    python -m convlib.speedrun --ablate --ablate-runs 2 --json ablation.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from convlib.speedrun.ablation import AblationRow, ablate
from convlib.speedrun.recipe import Recipe
from convlib.speedrun.train import RunResult, SpeedTrainer

__all__ = ["main", "parse_args", "summarize", "REFERENCE", "TARGET"]

REFERENCE = {
    "name": "airbench94 (Keller Jordan), on the offline JPEG copy of CIFAR-10",
    "mean_accuracy": 0.9066,
    "runs": 5,
    "seconds": "1.5-2.0 s per run on an H100",
}
TARGET = {"mean_accuracy": 0.905, "train_seconds": 3.6, "runs": 5, "gpu": "H100/H200"}
SHORT_BANNER = (
    "SHORTENED CPU VERSION: a subset of CIFAR-10, a narrower net and fewer epochs.\n"
    "Its accuracy and seconds say nothing about the GPU recipe or its target;\n"
    "run on a CUDA GPU for those."
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m convlib.speedrun", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=None, help="timed runs (default: 5 on a GPU, 1 in the CPU version)")
    p.add_argument("--epochs", type=float, help="training epochs (may be fractional)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate at batch 1024 (scaled linearly with the batch)")
    p.add_argument("--widths", type=lambda s: tuple(int(v) for v in s.split(",")), help="e.g. 64,256,256")
    p.add_argument("--limit", type=int, help="use this many training images (a random subset)")
    p.add_argument("--test-limit", type=int, help="use this many test images (a random subset)")
    p.add_argument("--tta", type=int, choices=(0, 1, 2), help="test-time augmentation level")
    p.add_argument("--flip", choices=("alternate", "random", "none"))
    p.add_argument("--translate", type=int, help="random shift in pixels (0: none)")
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--no-whiten", action="store_true", help="learn the first layer instead of whitening it")
    p.add_argument("--no-lookahead", action="store_true")
    p.add_argument("--no-amp", action="store_true", help="float32 instead of bf16 autocast")
    p.add_argument("--no-channels-last", action="store_true")
    p.add_argument("--compile", dest="compile", action="store_true", default=None,
                   help="torch.compile (CUDA; default on for runs, off for --ablate)")
    p.add_argument("--no-compile", dest="compile", action="store_false")
    p.add_argument("--compile-mode", help="torch.compile mode, e.g. max-autotune-no-cudagraphs")
    p.add_argument("--cpu-short", action="store_true", help="the shortened CPU version, even on a GPU")
    p.add_argument("--device", default="auto", help="auto (CUDA if present), cuda, cuda:1, cpu")
    p.add_argument("--seed", type=int, default=0, help="run i uses seed + i")
    p.add_argument("--ablate", action="store_true", help="measure each trick by taking it out (instead of plain runs)")
    p.add_argument("--ablate-runs", type=int, default=None, help="runs per ablation variant (default: 2 GPU, 1 CPU)")
    p.add_argument("--json", type=Path, help="write the results to this file")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    for name in ("runs", "ablate_runs", "limit", "test_limit", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')}: expected an int >= 1, got {value}")
    return args


def _recipe(args: argparse.Namespace, short: bool) -> Recipe:
    changes: dict[str, Any] = {}
    for arg, field in (("epochs", "epochs"), ("batch_size", "batch_size"), ("lr", "lr"), ("widths", "widths"),
                       ("limit", "train_limit"), ("test_limit", "test_limit"), ("tta", "tta_level"),
                       ("flip", "flip"), ("translate", "translate"), ("label_smoothing", "label_smoothing"),
                       ("compile_mode", "compile_mode")):
        if getattr(args, arg) is not None:
            changes[field] = getattr(args, arg)
    for flag, field in (("no_whiten", "whiten"), ("no_lookahead", "lookahead"), ("no_amp", "amp"),
                        ("no_channels_last", "channels_last")):
        if getattr(args, flag):
            changes[field] = False
    if args.compile is not None:
        changes["compile"] = args.compile
    elif args.ablate:
        changes["compile"] = False
    if short:
        return (Recipe.cpu_ablation if args.ablate else Recipe.cpu_short)(**changes)
    return Recipe.gpu(**changes)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: expected a CUDA GPU, got none (torch.cuda.is_available() is False). "
                         "Fix: --device cpu, or run on a GPU machine.")
    return device


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"CPU ({platform.processor() or platform.machine()}, {threads} thread{'' if threads == 1 else 's'})"


def summarize(results: Sequence[RunResult]) -> dict[str, float | int]:
    """Mean and sample standard deviation of accuracy and training seconds.

    >>> r = [RunResult(i, a, {0: a}, s, 0.1, 10, 1.0)
    ...      for i, (a, s) in enumerate([(0.9, 3.0), (0.92, 3.2)])]
    >>> for k, v in summarize(r).items():
    ...     print(k, round(v, 4))
    runs 2
    mean_accuracy 0.91
    std_accuracy 0.0141
    mean_train_seconds 3.1
    std_train_seconds 0.1414
    mean_eval_seconds 0.1
    """
    accs = [r.accuracy for r in results]
    secs = [r.train_seconds for r in results]
    spread = statistics.stdev if len(results) > 1 else (lambda v: 0.0)
    return {
        "runs": len(results),
        "mean_accuracy": statistics.mean(accs),
        "std_accuracy": spread(accs),
        "mean_train_seconds": statistics.mean(secs),
        "std_train_seconds": spread(secs),
        "mean_eval_seconds": statistics.mean(r.eval_seconds for r in results),
    }


def _load(recipe: Recipe) -> tuple[tuple[torch.Tensor, ...], dict[str, Any]]:
    from convlib.data import cifar10

    train, test = cifar10(True), cifar10(False)
    if recipe.train_limit is not None:
        train = train.subset(recipe.train_limit, seed=0)
    if recipe.test_limit is not None:
        test = test.subset(recipe.test_limit, seed=0)
    info = {"source": train.source, "train_images": len(train), "test_images": len(test)}
    return (train.images, train.labels, test.images, test.labels), info


def _describe(result: RunResult) -> str:
    names = {0: "no TTA", 1: "flip", 2: "flip+shift"}
    levels = ", ".join(f"{names[k]} {100 * v:.2f}%" for k, v in result.accuracy_by_tta.items())
    return (f"accuracy {100 * result.accuracy:.2f}% ({levels}), training {result.train_seconds:.2f} s, "
            f"eval {result.eval_seconds:.2f} s")


def _wrapped(message: str, width: int = 79) -> str:
    """``message`` with each line folded at ``width`` characters, continuations indented.

    The report's lines carry many fields; folded, they fit a terminal and the
    book's output cells. Words (a file path) are never broken.

    >>> print(_wrapped("recipe: 12 epochs, batch 1024, widths (64, 256, 256)", 30))
    recipe: 12 epochs, batch 1024,
      widths (64, 256, 256)
    """
    return "\n".join(textwrap.fill(line, width, subsequent_indent="  ", break_long_words=False,
                                   break_on_hyphens=False) for line in message.split("\n"))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the command line; return what ``--json`` writes."""
    args = parse_args(argv)
    say: Callable[[str], None] = (lambda s: None) if args.quiet else (lambda s: print(_wrapped(s), flush=True))
    device = _device(args.device)
    short = args.cpu_short or device.type == "cpu"
    recipe = _recipe(args, short)
    mode = "cpu-short" if short else "gpu"
    runs = args.runs if args.runs is not None else (1 if short else 5)

    say("convlib speed run: CIFAR-10" + (" (ablation)" if args.ablate else ""))
    if short:
        say(SHORT_BANNER)
    t0 = time.perf_counter()
    data, info = _load(recipe)
    say(f"device: {_device_name(device)} | torch {torch.__version__}"
        + (f" | CUDA {torch.version.cuda}" if device.type == "cuda" else ""))
    say(f"data: {info['train_images']:,} training / {info['test_images']:,} test images from {info['source']} "
        "(JPEG copy: accuracies run below the original CIFAR-10; airbench94 94% -> 90.66%)")
    say(f"recipe: {recipe.epochs:g} epochs, batch {recipe.batch_size}, widths {recipe.widths}, "
        f"peak lr {recipe.peak_lr():.3g}, label smoothing {recipe.label_smoothing}, TTA level {recipe.tta_level}, "
        f"whiten {recipe.whiten}, lookahead {recipe.lookahead}, flip {recipe.flip}, translate {recipe.translate}, "
        f"channels_last {recipe.channels_last}, amp {recipe.amp and device.type == 'cuda'}, "
        f"compile {recipe.compile and device.type == 'cuda'}")

    report: dict[str, Any] = {
        "mode": mode, "short_cpu_version": short, "device": str(device), "device_name": _device_name(device),
        "torch": torch.__version__, "cuda": torch.version.cuda if device.type == "cuda" else None,
        "command": "python -m convlib.speedrun " + " ".join(sys.argv[1:] if argv is None else argv),
        "recipe": recipe.as_dict(), "data": info, "reference": REFERENCE, "target": dict(TARGET),
    }
    try:
        _measure(args, recipe, data, device, runs, short, report, say, t0)
    except BaseException as error:
        report["error"] = f"{type(error).__name__}: {error}"  # kept with whatever was measured before it
        raise
    finally:
        _save(args.json, report, say)
    return report


def _save(path: Path | None, report: dict[str, Any], say: Callable[[str], None]) -> None:
    """Write ``report`` as JSON to ``path`` (if given)."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n")
        say(f"wrote {path}")


def _measure(
    args: argparse.Namespace, recipe: Recipe, data: tuple[torch.Tensor, ...], device: torch.device, runs: int,
    short: bool, report: dict[str, Any], say: Callable[[str], None], t0: float,
) -> None:
    """The runs (or the ablation) of :func:`main`, recorded into ``report`` as they finish."""
    if args.ablate:
        ablate_runs = args.ablate_runs if args.ablate_runs is not None else (1 if short else 2)
        say(f"ablation: {ablate_runs} run(s) per variant, same seeds for every variant"
            + ("" if recipe.compile and device.type == "cuda" else ", uncompiled"))
        def keep(rows: list[AblationRow]) -> None:  # saved after every variant
            report["ablation"] = [row.as_dict() for row in rows]
            _save(args.json, report, lambda s: None)

        rows: list[AblationRow] = ablate(recipe, data, device, runs=ablate_runs, seed=args.seed, report=say,
                                         on_rows=keep)
        base = rows[0]
        say("what each trick buys (baseline minus variant):")
        for row in rows[1:]:
            say(f"  {row.name:<22s} {100 * (base.accuracy - row.accuracy):+6.2f} points accuracy, "
                f"{row.train_seconds - base.train_seconds:+7.2f} s training"
                + ("   (no training of its own)" if row.derived else ""))
        report["ablation"] = [row.as_dict() for row in rows]
        report["ablation_runs"] = ablate_runs
    else:
        trainer = SpeedTrainer(recipe, *data, device=device)
        report["setup_seconds"] = time.perf_counter() - t0
        if device.type == "cuda":
            say("warm-up (compile, cuDNN autotuning; not counted) ...")
            report["compile_seconds"] = trainer.warm_up()
            if trainer.compile_error:
                say(f"WARNING: torch.compile failed, running uncompiled: {trainer.compile_error}")
            say(f"compile + warm-up: {report['compile_seconds']:.1f} s (not counted)")
        else:
            report["compile_seconds"] = None
            say("no warm-up on the CPU: nothing is compiled or autotuned there")
        report["compiled"], report["compile_error"] = trainer.compiled, trainer.compile_error
        results = []
        for i in range(runs):
            result = trainer.run(args.seed + i)
            results.append(result)
            report["runs"] = [r.as_dict() for r in results]
            _save(args.json, report, lambda s: None)  # on disk before the next run can fail or time out
            say(f"run {i + 1}/{runs} (seed {result.seed}): {_describe(result)}")
        summary = summarize(results)
        report["summary"] = summary
        say(f"mean over {runs} run(s): accuracy {100 * summary['mean_accuracy']:.2f}% "
            f"(std {100 * summary['std_accuracy']:.2f}), training {summary['mean_train_seconds']:.2f} s "
            f"(std {summary['std_train_seconds']:.2f})")
        if short:
            report["target"]["met"] = None
        else:
            met = (summary["mean_accuracy"] >= TARGET["mean_accuracy"]
                   and summary["mean_train_seconds"] <= TARGET["train_seconds"] and runs >= TARGET["runs"])
            report["target"]["met"] = met
            say(f"target (mean >= {100 * TARGET['mean_accuracy']:.1f}% and <= {TARGET['train_seconds']} s of training "
                f"over >= {TARGET['runs']} runs): " + ("met" if met else "NOT met")
                + f"; reference: airbench94 {100 * REFERENCE['mean_accuracy']:.2f}% in {REFERENCE['seconds']}")
