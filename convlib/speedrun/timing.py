"""Timing that tells the truth on a GPU.

CUDA runs asynchronously: a Python call returns as soon as the work is *queued*,
so ``time.perf_counter()`` around GPU code measures the queueing, not the work.
:class:`Stopwatch` records CUDA events in the stream instead and waits for the
last one before reading the time; on the CPU it uses ``time.perf_counter``.
"""

from __future__ import annotations

import time

import torch

__all__ = ["Stopwatch", "synchronize"]


def synchronize(device: torch.device) -> None:
    """Wait until ``device`` has finished all queued work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Stopwatch:
    """Seconds between :meth:`start` and :meth:`stop` on ``device``.

    >>> watch = Stopwatch(torch.device("cpu")); watch.start()
    >>> watch.stop() >= 0
    True
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._cuda = device.type == "cuda"

    def start(self) -> None:
        """Start timing (on a GPU, at this point of the device's stream)."""
        if self._cuda:
            self._begin = torch.cuda.Event(enable_timing=True)
            self._end = torch.cuda.Event(enable_timing=True)
            self._begin.record(torch.cuda.current_stream(self.device))  # this device's stream, not cuda:0's
        else:
            self._t0 = time.perf_counter()

    def stop(self) -> float:
        """Seconds since :meth:`start` (waits for the GPU to finish first)."""
        if self._cuda:
            self._end.record(torch.cuda.current_stream(self.device))
            self._end.synchronize()
            return self._begin.elapsed_time(self._end) / 1000
        return time.perf_counter() - self._t0
