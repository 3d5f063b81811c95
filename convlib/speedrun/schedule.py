"""Learning-rate and averaging schedules for a short run, as plain functions of the step.

:func:`triangular` is the one-cycle (单周期) schedule of fast CIFAR-10
training: the learning rate climbs linearly from ``start`` x peak to the
peak during the first ``warmup`` fraction of the steps, then falls linearly to
``end`` x peak at the last step. A short run has no time for a long warm-up or
a long tail, so both sides are straight lines.

:func:`lookahead_decay` is how strongly the weight average holds on to its
past: 0 early on (the average just follows the weights), rising as a cube to
``base ** every`` at the end, so the last steps are averaged the most.
"""

from __future__ import annotations

__all__ = ["triangular", "lookahead_decay"]


def triangular(step: int, total: int, *, warmup: float = 0.23, start: float = 0.2, end: float = 0.07) -> float:
    """The learning rate at ``step`` (0..``total``) as a fraction of the peak.

    >>> [round(triangular(s, 100), 3) for s in (0, 23, 100)]
    [0.2, 1.0, 0.07]
    >>> round(triangular(50, 100), 3)   # on the way down: 1 - (27/77) * 0.93
    0.674
    """
    if total < 1 or not 0 <= step <= total:
        raise ValueError(f"step, total: expected 0 <= step <= total and total >= 1, got step={step}, total={total}.")
    peak = int(warmup * total)
    if step < peak:
        return start + (1.0 - start) * step / peak
    if total == peak:
        return 1.0
    return 1.0 + (end - 1.0) * (step - peak) / (total - peak)


def lookahead_decay(step: int, total: int, *, base: float = 0.95, every: int = 5, power: float = 3.0) -> float:
    """The averaging weight used at ``step``: ``base ** every * (step / total) ** power``.

    >>> (lookahead_decay(0, 100), round(lookahead_decay(100, 100), 4),
    ...  round(lookahead_decay(50, 100), 4))
    (0.0, 0.7738, 0.0967)
    """
    return base**every * (step / total) ** power
