"""Run-time switches read from environment variables, in one place.

``CONVLIB_QUICK``  set to ``1`` to shrink slow cells (training runs, benchmarks)
                    so every notebook finishes in CI minutes; the book's full
                    results come from runs without it.
``CONVLIB_DATA``   a folder holding the offline data archives
                    (``cifar10-jpeg.tar.gz``, ``fashion-mnist.tar.gz``); when it
                    is unset the loaders download the originals with torchvision.
``CONVLIB_CACHE``  where decoded data sets are cached (default ``~/.cache/convlib``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

__all__ = ["quick_mode", "data_dir", "cache_dir"]

_TRUE = {"1", "true", "yes", "on"}


def quick_mode(environ: Mapping[str, str] | None = None) -> bool:
    """True when ``CONVLIB_QUICK`` asks for the short CI versions of slow cells.

    ``environ`` defaults to ``os.environ`` (an explicit mapping keeps tests
    from touching the real environment, which notebooks run later inherit).

    >>> (quick_mode({"CONVLIB_QUICK": "1"}), quick_mode({"CONVLIB_QUICK": "0"}),
    ...  quick_mode({}))
    (True, False, False)
    """
    env = os.environ if environ is None else environ
    return env.get("CONVLIB_QUICK", "").strip().lower() in _TRUE


def data_dir() -> Path | None:
    """The offline data folder named by ``CONVLIB_DATA``, or None to download."""
    value = os.environ.get("CONVLIB_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Folder for decoded-data caches (created on first use)."""
    value = os.environ.get("CONVLIB_CACHE", "").strip()
    path = Path(value).expanduser() if value else Path.home() / ".cache" / "convlib"
    path.mkdir(parents=True, exist_ok=True)
    return path
