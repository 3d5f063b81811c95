"""convlib: the small, tested library behind the convlib course.

``import convlib as cl`` gives the ops the chapters build (``cl.corr2d``,
``cl.conv2d``, ``cl.pool2d`` ...). Heavier parts load on first use:
``cl.widgets``, ``cl.check``, ``cl.data``, ``cl.plot``.
Importing convlib has no side effects.
"""

from __future__ import annotations

import importlib
from typing import Any

from convlib.config import quick_mode
from convlib.conv import Conv2D, conv2d
from convlib.corr import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_naive
from convlib.pool import pool2d
from convlib.shapes import conv_output_size
from convlib.validate import ConvlibInputError

__version__ = "0.1.0"

_LAZY_MODULES = {"widgets", "check", "data", "plot"}

__all__ = [
    "Conv2D",
    "ConvlibInputError",
    "conv2d",
    "conv_output_size",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_naive",
    "pool2d",
    "quick_mode",
    *sorted(_LAZY_MODULES),
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"convlib.{name}")
    raise AttributeError(f"module 'convlib' has no attribute {name!r}")
