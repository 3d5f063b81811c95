"""convlib: the small, tested library behind the convlib course.

``import convlib as cl`` gives the ops the chapters build (``cl.corr2d``,
``cl.conv2d``, ``cl.pool2d`` ...). Heavier parts load on first use:
``cl.widgets``, ``cl.check``, ``cl.data``, ``cl.plot``.
Importing convlib has no side effects.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from convlib.config import quick_mode
from convlib.conv import Conv2D, conv2d
from convlib.corr import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_naive
from convlib.counts import conv_macs, conv_params, linear_params
from convlib.coverage import input_usage
from convlib.dense import conv_as_matrix, conv_weight_ids
from convlib.pointwise import conv1x1
from convlib.params import bytes_float32, human_bytes, locally_connected_params
from convlib.pool import pool2d
from convlib.shapes import conv_output_size, conv_transpose_output_size
from convlib.summary import layer_summary, receptive_field
from convlib.transposed import conv_transpose2d, insert_zeros, trans_conv_naive
from convlib.train import History, evaluate, evaluation_mode, fit, predict, seed
from convlib.validate import ConvlibInputError

__version__ = "0.1.0"

_LAZY_MODULES = {"widgets", "check", "data", "plot", "models", "bench", "cifar", "speedrun", "winograd"}

__all__ = [
    "Conv2D",
    "ConvlibInputError",
    "conv1x1",
    "conv2d",
    "conv_output_size",
    "conv_transpose2d",
    "conv_transpose_output_size",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_naive",
    "conv_macs",
    "conv_params",
    "linear_params",
    "bytes_float32",
    "conv_as_matrix",
    "conv_weight_ids",
    "human_bytes",
    "input_usage",
    "insert_zeros",
    "locally_connected_params",
    "pool2d",
    "History",
    "evaluate",
    "evaluation_mode",
    "fit",
    "layer_summary",
    "predict",
    "receptive_field",
    "seed",
    "trans_conv_naive",
    "quick_mode",
    *sorted(_LAZY_MODULES),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"convlib.{name}")
    raise AttributeError(f"module 'convlib' has no attribute {name!r}")


def __dir__() -> list[str]:
    """What ``dir(cl)`` and tab completion offer: the public names and convlib's modules, not its imports."""
    loaded = {name.split(".")[1] for name in sys.modules if name.startswith("convlib.") and name.count(".") == 1}
    return sorted({*__all__, "__version__", *loaded})
