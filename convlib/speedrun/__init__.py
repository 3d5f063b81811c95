"""Fast CIFAR-10 training on a GPU, one trick per module (the "CIFAR-10 in seconds" chapter).

=================  =====================================================
``recipe``         :class:`Recipe`: every hyperparameter, GPU and CPU presets
``loader``         :class:`DeviceLoader`: the data set as device tensors,
                   augmentation (random crop, flip) on the device
``whiten``         a frozen first layer that whitens 2x2 patches
``net``            :class:`SpeedNet`: the small VGG-like net with BatchNorm
``schedule``       the triangular (one-cycle) learning rate, lookahead decay
``lookahead``      :class:`Lookahead`: averaging the weights every few steps
``tta``            test-time augmentation: flips and shifts averaged
``timing``         :class:`Stopwatch`: CUDA events on a GPU
``train``          :class:`SpeedTrainer`: warm-up and timed runs
``ablation``       :func:`ablate`: what each trick buys
``figures``        the chapter's figures (imported on its own: it needs matplotlib)
``cli``            ``python -m convlib.speedrun``; ``cli.main([...])`` from Python
=================  =====================================================
"""

from convlib.speedrun import cli
from convlib.speedrun.ablation import VARIANTS, AblationRow, Variant, ablate
from convlib.speedrun.loader import DeviceLoader, channel_stats, crop_flip, normalize
from convlib.speedrun.lookahead import Lookahead
from convlib.speedrun.net import ConvGroup, SpeedNet, reset_parameters
from convlib.speedrun.recipe import Recipe
from convlib.speedrun.schedule import lookahead_decay, triangular
from convlib.speedrun.timing import Stopwatch
from convlib.speedrun.train import RunResult, SpeedTrainer, param_groups
from convlib.speedrun.tta import flip, shifted, tta_accuracies, tta_logits
from convlib.speedrun.whiten import init_whitening, patches, whitening_weights

__all__ = [
    "VARIANTS", "AblationRow", "ConvGroup", "DeviceLoader", "Lookahead", "Recipe", "RunResult",
    "SpeedNet", "SpeedTrainer", "Stopwatch", "Variant", "ablate", "channel_stats", "crop_flip", "flip",
    "init_whitening", "lookahead_decay", "normalize", "param_groups", "patches", "reset_parameters",
    "shifted", "triangular", "tta_accuracies", "tta_logits", "whitening_weights", "cli",
]
