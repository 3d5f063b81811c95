"""How fast is each convolution? A side-by-side benchmark on this machine.

Run ``python -m convlib.bench`` for a table (``--json`` for machine-readable
output, ``--quick`` for a seconds-long smoke run). It times, on the CIFAR-10
and LeNet layer shapes of the course:

* ``loop``: :func:`convlib.conv.conv2d_loop`, Python loops around
  :func:`convlib.corr2d_naive`. Far too slow for a whole batch, so it runs on
  one image and at most two input and two output channels, and that time is
  scaled up to the full layer (its cost grows linearly with images and channel
  pairs): the numbers are **extrapolated**, and labelled so.
* ``unfold``: :func:`convlib.conv.conv2d_unfold`, ``F.unfold`` + matmul with
  autograd's backward.
* ``convlib``: :func:`convlib.conv2d`, im2col + matmul with a hand-written
  backward, its products on the library :func:`convlib.gemm.preferred` names
  for this processor (oneDNN on other makers' processors with AVX-512 where it
  measures clearly faster, ``torch.mm`` elsewhere).
* ``convlib-mm``: the same layer with every product on ``torch.mm``
  (:func:`conv2d_torch_mm`): the difference to ``convlib`` is the library
  (none where ``convlib`` uses ``torch.mm`` too).
* ``matmuls``: :func:`matmuls_only`, the three matrix products an im2col
  convolution needs (forward, weight gradient, input gradient), on the same
  slices of the batch, in the same arrangement (image by image or one product
  per slice) and on the same library as ``convlib``, and nothing else:
  no gathering, no scattering. An im2col implementation built on these
  products cannot be faster than this row, so it shows how much of the gap to
  ``torch`` is the matrix products and how much is everything around them.
* ``torch``: ``torch.nn.functional.conv2d`` (oneDNN's direct convolution kernels).
* ``winograd``: :func:`convlib.winograd.conv2d_winograd` with 4x4 output tiles
  (4 times fewer multiplications, autograd's backward; 3x3 stride-1 layers only).
  Timed only when asked for (``run(..., impls=(..., "winograd"))``): it is not
  in ``DEFAULT_IMPLS``.

All run in one process, interleaved (each repeat times every implementation
once, in turn, right after an untimed warm-up call of the same one; ``loop``
is timed in the first ``loop_repeats`` repeats only, without that call), so a busy
machine slows them alike; the table shows medians. Some costs are fixed for
the life of a process (where its buffers landed in memory, the allocator's
state): ``--processes N`` repeats the whole measurement in N fresh processes
and prints each ratio's median and range over them.
"Forward + backward" is one forward pass and the backward pass for the input,
the weight and the bias, with an upstream gradient laid out like the output.
The last column, ``faults/pass``, counts the minor page faults of one such pass:
a row that writes memory fresh from the operating system pays for it there, and
which rows do depends on the allocator's state, not on the arithmetic.

Below the table, ``targets:`` judges the course's speed targets (``TARGETS``):
``convlib``'s forward+backward time on the full-size CIFAR-10 layers as a multiple
of torch's, against its limit, with the ``matmuls`` floor beside a missed one
(``--processes N`` judges the median over the processes; ``--json`` lists them
under ``"targets"``).
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

try:
    import resource  # page-fault counts (Unix)
except ImportError:  # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

from convlib import gemm
from convlib.validate import check_int, positive_int_arg as _positive_int
from convlib.winograd import conv2d_winograd
from convlib.conv import (
    IntPair,
    _arrangement,
    _checked,
    _forward_product,
    _gathers,
    _input_grad_plan,
    _kernels_from_rows,
    _product,
    _row_weights,
    _shift_products,
    _shift_tap_shares,
    _shift_weight_grad,
    _shifted_shape,
    _weight_matrix,
    _WeightGrad,
    conv2d,
    conv2d_loop,
    conv2d_unfold,
)

__all__ = [
    "DEFAULT_IMPLS",
    "IMPLEMENTATIONS",
    "TARGETS",
    "BenchCase",
    "BenchReport",
    "Timing",
    "cases",
    "conv2d_torch_mm",
    "cpu_name",
    "matmuls_only",
    "run",
    "run_processes",
    "spread_table",
    "main",
]

ConvFn = Callable[..., torch.Tensor]

#: Placeholder matrices for :func:`matmuls_only` (flat; a slice views a dense prefix), by name, size, dtype and device.
_PLACEHOLDERS: dict[tuple, torch.Tensor] = {}


def _placeholder(name: str, numel: int, like: torch.Tensor) -> torch.Tensor:
    """A flat zero buffer of ``numel`` entries, made once per name, size, dtype and device."""
    key = (name, numel, like.dtype, like.device)
    if key not in _PLACEHOLDERS:
        _PLACEHOLDERS[key] = like.new_zeros(numel)
    return _PLACEHOLDERS[key]


class _Matmuls(torch.autograd.Function):
    """:func:`convlib.conv2d`'s matrix products, slice by slice, on placeholder matrices."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, s: IntPair, p: IntPair,
        d: IntPair, out_hw: IntPair,
    ) -> torch.Tensor:
        # as conv2d decides for an NCHW output, here where autograd records nothing (as in conv2d's
        # forward): outside it a weight that requires grad would send every product to torch.mm
        plan, step = _arrangement(x, weight, torch.contiguous_format, s, p, d, out_hw)
        n, c_out, width = x.shape[0], weight.shape[0], weight[0].numel()
        rows = out_hw[0] * out_hw[1]
        out = x.new_empty(n, c_out, *out_hw)  # (N, C_out, H_out, W_out)
        ctx.plan = plan
        if plan is not None:  # image by image, one product per kernel row (or one, folded), straight into the output
            wt = _row_weights(weight, plan)  # (T, C_out, K')
            x3 = _placeholder("cols", math.prod(_shifted_shape(plan, step, x.shape[1], bias)), x)
        else:
            cols = _placeholder("cols", step * rows * width, x)
            w2 = _weight_matrix(weight)  # (C_out, K)
        for a in range(0, n, step):
            b = min(n, a + step)
            if plan is not None:
                shifted = _prefix(x3, *_shifted_shape(plan, b - a, x.shape[1], bias))  # (G, B, K' (+1), H''*W_out)
                _shift_products(wt, shifted, bias, out[a:b].view(b - a, c_out, rows), plan)
            else:
                _forward_product(w2, _prefix(cols, (b - a) * rows, width), bias, out[a:b])  # (B, C_out, H_out, W_out)
        ctx.save_for_backward(weight)
        ctx.geometry = (out_hw, step)
        ctx.shape = (x.shape, bias is not None)
        ctx.library = gemm.current()
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        with gemm.use(ctx.library):
            return _Matmuls._backward(ctx, grad)

    @staticmethod
    def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (weight,) = ctx.saved_tensors
        out_hw, step = ctx.geometry
        shape, has_bias = ctx.shape
        n, c_out, rows, plan = shape[0], weight.shape[0], out_hw[0] * out_hw[1], ctx.plan
        if plan is not None:
            taps, width = len(plan.taps), plan.slots * shape[1]  # the weight gradient's T and K'
            xplan = _input_grad_plan(plan, shape[1])  # the input gradient's products
            wt = _row_weights(weight, xplan)  # (T, C_out, K')
            x3 = _placeholder("cols_t", math.prod(_shifted_shape(plan, step, shape[1], None)), grad)
            (lo, hi), (top, bottom) = xplan.span, xplan.pad
            gv = _placeholder("grad", step * c_out * (top + out_hw[0] + bottom) * out_hw[1], grad)
            gx3 = _placeholder("gcols", step * xplan.groups * wt.shape[2] * (hi - lo) * out_hw[1], grad)
            parts = _placeholder("wparts", step * width * max(taps * c_out, rows), grad)
            g_all = _placeholder("gall", step * c_out * rows, grad)
            gwt = weight.new_zeros(taps, c_out, width)
            g3 = grad.contiguous().view(n, c_out, rows)  # (N, C_out, L), as conv2d's backward views it
            gathers = _gathers(plan, c_out, width)
            for a in range(0, n, step):
                b = min(n, a + step)
                if gathers:  # one product per kernel row over the gathered slice
                    for t in range(taps):
                        gwt[t].addmm_(_prefix(g_all, c_out, (b - a) * rows), _prefix(parts, width, (b - a) * rows).t())
                else:
                    _shift_weight_grad(gwt, g3[a:b], _prefix(x3, *_shifted_shape(plan, b - a, shape[1], None)),
                                       _prefix(parts, taps, b - a, c_out, width), plan)
                g = _prefix(gv, b - a, c_out, (top + out_hw[0] + bottom) * out_hw[1]) if top or bottom else g3[a:b]
                _shift_tap_shares(wt, g, _prefix(gx3, xplan.groups, b - a, wt.shape[2], (hi - lo) * out_hw[1]), xplan)
            gw_kernels = _kernels_from_rows(gwt, weight, plan)
        else:
            width, size = weight[0].numel(), step * rows
            cols, gcols = (_placeholder(name, size * width, grad) for name in ("cols_t", "gcols"))
            g_t = _placeholder("grad", size * c_out, grad)
            w2_t = _weight_matrix(weight).t().contiguous()  # (K, C_out)
            acc = _WeightGrad(weight)
            for a in range(0, n, step):
                m = (min(n, a + step) - a) * rows
                gs = _prefix(g_t, c_out, m)  # (C_out, M): the slice's output gradients, transposed
                acc.add(gs, _prefix(cols, width, m))
                _product(w2_t, gs, _prefix(gcols, width, m))  # (K, M)
            gw_kernels = acc.as_kernels(weight, torch.contiguous_format)
        return None, gw_kernels, grad.sum((0, 2, 3)) if has_bias else None, None, None, None, None


def _prefix(flat: torch.Tensor, *shape: int) -> torch.Tensor:
    """The dense prefix of the flat placeholder ``flat`` that holds ``shape``, viewed as it."""
    return flat[: math.prod(shape)].view(shape)


def matmuls_only(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
) -> torch.Tensor:
    """Only the matrix products of :func:`convlib.conv2d`: a floor for its time.

    Shapes as in :func:`convlib.conv2d`: ``x (N, C_in, H, W)``, ``weight (C_out,
    C_in, k_h, k_w)`` -> ``(N, C_out, H_out, W_out)``. It runs the same products,
    on the same slices of the batch, but multiplies placeholder matrices (zeros,
    made once per shape) instead of gathering the receptive fields and the
    output gradients, and never scatters the input-gradient product back (``x``
    gets no gradient; the bias gets its true one). The
    output has the right shape and **meaningless values**: this is a stopwatch,
    not a convolution.

    >>> matmuls_only(torch.ones(2, 3, 5, 5), torch.ones(4, 3, 3, 3),
    ...              padding=1).shape
    torch.Size([2, 4, 5, 5])
    """
    _, s, p, d, out_hw = _checked(x, weight, bias, stride, padding, 1)
    return _Matmuls.apply(x, weight, bias, s, p, d, out_hw)


def conv2d_torch_mm(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    **kwargs: Any,
) -> torch.Tensor:
    """:func:`convlib.conv2d` with every matrix product on ``torch.mm``, forward and backward.

    The same gathering, slicing and scattering as ``conv2d``; only the library
    that multiplies differs (see :mod:`convlib.gemm`), so the two rows side by
    side show what the library is worth.

    >>> x, w = torch.randn(2, 3, 5, 5), torch.randn(4, 3, 3, 3)
    >>> torch.allclose(conv2d_torch_mm(x, w, padding=1), conv2d(x, w, padding=1),
    ...                atol=1e-4)
    True
    """
    with gemm.use("torch"):
        return conv2d(x, weight, bias, **kwargs)


IMPLEMENTATIONS: dict[str, ConvFn] = {
    "loop": conv2d_loop,
    "unfold": conv2d_unfold,
    "convlib": conv2d,
    "convlib-mm": conv2d_torch_mm,
    "matmuls": matmuls_only,
    "torch": F.conv2d,
    "winograd": functools.partial(conv2d_winograd, tile=4),  # 3x3, stride 1 only: on request (impls=...)
}

#: What :func:`run` and the command line time unless told otherwise: every implementation but ``winograd``.
DEFAULT_IMPLS: tuple[str, ...] = ("loop", "unfold", "convlib", "convlib-mm", "matmuls", "torch")

#: The course's speed targets: ``convlib.conv2d``'s forward+backward time at most this multiple of
#: ``torch.nn.functional.conv2d``'s, by layer label (so only full-size runs of these layers are judged).
TARGETS: dict[str, float] = {
    "128x3x32x32 -> 32, 3x3 p1": 1.3,  # CIFAR-10 conv 1
    "128x32x16x16 -> 64, 3x3 p1": 1.3,  # CIFAR-10 conv 2
}


@dataclass(frozen=True)
class BenchCase:
    """One convolution layer: input ``(n, c_in, size, size)``, ``c_out`` kernels ``k x k``."""

    name: str
    n: int
    c_in: int
    size: int
    c_out: int
    k: int
    padding: int = 0
    stride: int = 1

    def __post_init__(self) -> None:
        for name, low in (("n", 1), ("c_in", 1), ("size", 1), ("c_out", 1), ("k", 1), ("padding", 0), ("stride", 1)):
            object.__setattr__(self, name, check_int(getattr(self, name), f"BenchCase.{name}", minimum=low,
                                                     fix=f"pass {name}={low} or larger"))

    @property
    def label(self) -> str:
        """E.g. ``128x3x32x32 -> 32, 3x3 p1``."""
        extra = f" p{self.padding}" if self.padding else ""
        extra += f" s{self.stride}" if self.stride != 1 else ""
        return f"{self.n}x{self.c_in}x{self.size}x{self.size} -> {self.c_out}, {self.k}x{self.k}{extra}"


def cases(quick: bool = False) -> list[BenchCase]:
    """The layer shapes benchmarked: CIFAR-10 net and LeNet (smaller batches when ``quick``).

    >>> [c.label for c in cases()][:2]
    ['128x3x32x32 -> 32, 3x3 p1', '128x32x16x16 -> 64, 3x3 p1']
    >>> cases(quick=True)[0].n
    8
    """
    full = [
        BenchCase("CIFAR conv 1", 128, 3, 32, 32, 3, padding=1),
        BenchCase("CIFAR conv 2", 128, 32, 16, 64, 3, padding=1),
        BenchCase("LeNet C1", 256, 1, 28, 6, 5, padding=2),
        BenchCase("LeNet C3", 256, 6, 14, 16, 5),
    ]
    if not quick:
        return full
    return [BenchCase(c.name, 8, c.c_in, c.size, c.c_out, c.k, c.padding, c.stride) for c in full]


@dataclass
class Timing:
    """Median times (ms) of one implementation on one case; ``extrapolated`` for ``loop``."""

    impl: str
    forward_ms: float
    forward_backward_ms: float
    extrapolated: bool = False
    measured_on: str = ""
    forward_ratio: float | None = None  # x torch
    forward_backward_ratio: float | None = None
    #: Median minor page faults in one forward+backward pass (``None`` where the OS does not count them).
    #: Memory the allocator has just taken from the operating system faults on first write; a row with
    #: thousands of them pays for that on every pass, so it shows why a time moved between processes.
    faults_per_pass: float | None = None


def _threads(count: int) -> str:
    """``"1 thread"``, ``"2 threads"``: the thread count as the header line states it."""
    return f"{count} thread{'' if count == 1 else 's'}"


@dataclass
class BenchReport:
    """Everything one run measured, with the machine it ran on."""

    torch_version: str
    threads: int
    cpu: str
    repeats: int
    quick: bool
    load_before: tuple[float, float, float] | None
    load_after: tuple[float, float, float] | None = None
    results: list[dict] = field(default_factory=list)  # {"case", "label", "n" (batch), "timings": [Timing, ...]}

    def timing(self, case: str, impl: str) -> Timing:
        """The :class:`Timing` of ``impl`` on the case named ``case``."""
        for entry in self.results:
            if entry["case"] == case:
                for t in entry["timings"]:
                    if t.impl == impl:
                        return t
        raise KeyError(f"no timing for case {case!r}, implementation {impl!r}")

    def _plain(self) -> dict:
        """The report as plain dicts and lists, without the ``targets`` verdicts."""
        out = asdict(self)
        out["results"] = [
            {**entry, "timings": [asdict(t) for t in entry["timings"]]} for entry in self.results
        ]
        return out

    def to_dict(self) -> dict:
        """Plain JSON-ready data, with ``targets``: each judged case's limit, ratio and whether it is met."""
        out = self._plain()
        out["targets"] = [
            {"case": case, "label": label, "limit": limit, "ratio": ratios[0], "met": ratios[0] <= limit}
            for case, label, limit, ratios, _ in _judged([out])
        ]
        return out

    def _about(self) -> list[str]:
        """The lines above the table: torch, threads, CPU, repeats, load."""
        lines = [
            f"torch {self.torch_version}, {_threads(self.threads)}, CPU: {self.cpu}",
            f"median of {self.repeats} interleaved repeats"
            + (" (quick mode: small batches)" if self.quick else ""),
        ]
        if self.load_before is not None:
            after = "" if self.load_after is None else f", after {self.load_after[0]:.2f}"
            lines.append(f"load average (1 min) before {self.load_before[0]:.2f}{after}")
        return lines

    def _rows(self) -> list[tuple[dict, list[list[str]]]]:
        """Each case's entry with its rows: impl (``*`` when extrapolated), forward ms, f+b ms,
        the two ratios to torch and faults per pass, as the table prints them."""
        rows = []
        for entry in self.results:
            cells = []
            for t in entry["timings"]:
                ratios = [f"{r:.2f}" if r is not None else "" for r in (t.forward_ratio, t.forward_backward_ratio)]
                faults = "" if t.faults_per_pass is None else f"{t.faults_per_pass:,.0f}"
                impl = t.impl + ("*" if t.extrapolated else "")
                cells.append([impl, f"{t.forward_ms:.2f}", f"{t.forward_backward_ms:.2f}", *ratios, faults])
            rows.append((entry, cells))
        return rows

    def _notes(self) -> list[str]:
        """What each extrapolated row was timed on, one line per case (none without such rows)."""
        notes = [f"  {entry['case']}: {t.measured_on}"
                 for entry in self.results for t in entry["timings"] if t.extrapolated]
        return ["* extrapolated: timed on a smaller case, scaled by images x channel pairs:", *notes] if notes else []

    def table(self) -> str:
        """The report as a fixed-width text table (118 characters wide: a terminal's,
        a page's is :meth:`html`)."""
        lines = self._about()
        head = (f"{'case':<13} {'layer':<28} {'impl':<10} {'forward ms':>12} {'fwd+bwd ms':>12} "
                f"{'fwd x torch':>12} {'f+b x torch':>12} {'faults/pass':>12}")
        lines += ["", head, "-" * len(head)]
        for entry, cells in self._rows():
            for impl, *numbers in cells:
                lines.append(f"{entry['case']:<13} {entry['label']:<28} {impl:<10} "
                             + " ".join(f"{n:>12}" for n in numbers))
        notes = self._notes()
        return "\n".join(lines + ([""] if notes else []) + notes + _target_lines([self._plain()]))

    def html(self) -> str:
        """The report as an HTML table, one row group per case under a line that names it:
        what a notebook and the book show (``_repr_mimebundle_``), narrow enough for a page
        where :meth:`table` is not. Same numbers, notes and verdicts as :meth:`table`."""
        esc = html.escape
        pad = "padding: 0.1em 0.5em"
        cell = f"{pad}; white-space: nowrap"  # headings may wrap, numbers may not
        right = f' style="{cell}; text-align: right"'
        heads = ["forward ms", "fwd+bwd ms", "fwd x torch", "f+b x torch", "faults/pass"]
        parts = ['<div class="convlib-bench">', f"<p>{'<br>'.join(esc(line) for line in self._about())}</p>",
                 '<table style="border-collapse: collapse">',
                 f'<thead style="border-bottom: 2px solid currentColor"><tr><th scope="col" style="{cell}">impl</th>'
                 + "".join(f'<th scope="col" style="{pad}; text-align: right">{h}</th>' for h in heads)
                 + "</tr></thead>"]
        for entry, cells in self._rows():
            parts.append(f'<tbody style="border-top: 1px solid currentColor"><tr><th scope="rowgroup" colspan="6" '
                         f'style="{cell}; text-align: left">{esc(entry["case"])}: {esc(entry["label"])}</th></tr>')
            for impl, *numbers in cells:
                parts.append(f'<tr><td style="{cell}">{esc(impl)}</td>'
                             + "".join(f"<td{right}>{n}</td>" for n in numbers) + "</tr>")
            parts.append("</tbody>")
        parts.append("</table>")
        notes = self._notes()
        if notes:
            parts.append(f"<p>{'<br>'.join(esc(line.strip()) for line in notes)}</p>")
        verdicts = _verdicts([self._plain()])
        if verdicts:
            parts.append(f"<p>{esc(_TARGETS_HEADING)}</p><ul>"
                         + "".join(f"<li>{esc(f'{case}, {label}: ' + ', '.join(verdict))}</li>"
                                   for case, label, verdict in verdicts) + "</ul>")
        return "\n".join(parts + ["</div>"])

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter shows a report as :meth:`html` (:meth:`table` where HTML is not shown)."""
        return {"text/plain": self.table(), "text/html": self.html()}


def cpu_name() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` on Linux, else ``platform``)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _minor_faults() -> int | None:
    """Minor page faults this process has taken so far (``None`` where ``resource`` is missing: Windows)."""
    if resource is None:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def _inputs(case: BenchCase, n: int, c_in: int, c_out: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, case.size, case.size, generator=g).requires_grad_()  # (N, C_in, H, W)
    w = (torch.randn(c_out, c_in, case.k, case.k, generator=g) * 0.1).requires_grad_()  # (C_out, C_in, k, k)
    b = torch.randn(c_out, generator=g).requires_grad_()  # (C_out,)
    return x, w, b


class _Runner:
    """Times one implementation on one (possibly reduced) case."""

    def __init__(self, fn: ConvFn, case: BenchCase, n: int, c_in: int, c_out: int) -> None:
        self.fn, self.case = fn, case
        self.x, self.w, self.b = _inputs(case, n, c_in, c_out)
        kwargs = dict(padding=case.padding, stride=case.stride)
        self.kwargs = kwargs
        with torch.no_grad():
            y = fn(self.x, self.w, self.b, **kwargs)
        self.grad = torch.randn_like(y)  # laid out like the output (preserve_format)
        self.faults: int | None = None  # page faults of the last forward_backward()

    def forward(self) -> float:
        start = time.perf_counter()
        self.fn(self.x, self.w, self.b, **self.kwargs)
        return time.perf_counter() - start

    def forward_backward(self) -> float:
        for t in (self.x, self.w, self.b):
            t.grad = None
        before = _minor_faults()
        start = time.perf_counter()
        y = self.fn(self.x, self.w, self.b, **self.kwargs)
        y.backward(self.grad)
        seconds = time.perf_counter() - start
        after = _minor_faults()
        self.faults = None if before is None or after is None else after - before
        return seconds


def run(
    bench_cases: Sequence[BenchCase] | None = None,
    *,
    repeats: int | None = None,
    quick: bool = False,
    impls: Sequence[str] = DEFAULT_IMPLS,
    loop_repeats: int | None = None,
) -> BenchReport:
    """Benchmark ``impls`` on ``bench_cases`` (default: :func:`cases`), medians of ``repeats``.

    The ``loop`` implementation runs on one image with at most two input and two
    output channels (``loop_repeats`` times, default 1 quick / 3 full) and is scaled
    up to the whole case.

    >>> r = run([BenchCase("tiny", 2, 1, 6, 2, 3)], repeats=1,
    ...         impls=("convlib", "torch"))
    >>> ([t.impl for t in r.results[0]["timings"]],
    ...  r.timing("tiny", "torch").forward_ratio)
    (['convlib', 'torch'], 1.0)
    """
    unknown = [name for name in impls if name not in IMPLEMENTATIONS]
    if unknown:
        raise ValueError(
            f"impls: expected names from {list(IMPLEMENTATIONS)}, got {unknown}. "
            "Fix: pick from that list."
        )
    bench_cases = list(bench_cases if bench_cases is not None else cases(quick))
    repeats = (3 if quick else 15) if repeats is None else check_int(repeats, "repeats", minimum=1, fix="e.g. repeats=3")
    loop_repeats = (1 if quick else 3) if loop_repeats is None else check_int(
        loop_repeats, "loop_repeats", minimum=1, fix="e.g. loop_repeats=1 (the loop is slow)")
    report = BenchReport(torch.__version__, torch.get_num_threads(), cpu_name(), repeats, quick, _load())
    for case in bench_cases:
        runners: dict[str, _Runner] = {}
        scale: dict[str, float] = {}
        measured_on = ""
        for name in impls:
            if name == "loop":
                n, ci, co = 1, min(case.c_in, 2), min(case.c_out, 2)
                runners[name] = _Runner(IMPLEMENTATIONS[name], case, n, ci, co)
                scale[name] = case.n * case.c_in * case.c_out / (n * ci * co)
                measured_on = f"1 image, {ci} in / {co} out channels, x{scale[name]:g}"
            else:
                runners[name] = _Runner(IMPLEMENTATIONS[name], case, case.n, case.c_in, case.c_out)
                scale[name] = 1.0
        for r in runners.values():  # warm up
            r.forward_backward()
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runners}
        faults: dict[str, list[int]] = {name: [] for name in runners}
        for rep in range(repeats):
            for name, r in runners.items():
                if name == "loop":
                    if rep >= loop_repeats:
                        continue
                else:
                    r.forward_backward()  # untimed: each timing starts warm, whatever ran before
                times[name][0].append(r.forward())
                times[name][1].append(r.forward_backward())
                if r.faults is not None:
                    faults[name].append(r.faults)
        timings = []
        for name in runners:
            fwd, fb = (statistics.median(ts) * 1e3 * scale[name] for ts in times[name])
            timing = Timing(name, fwd, fb, name == "loop", measured_on if name == "loop" else "")
            if faults[name] and name != "loop":  # the loop's small case says nothing about the full layer's memory
                timing.faults_per_pass = statistics.median(faults[name])
            timings.append(timing)
        ref = next((t for t in timings if t.impl == "torch"), None)
        if ref is not None:
            for t in timings:
                t.forward_ratio = t.forward_ms / ref.forward_ms
                t.forward_backward_ratio = t.forward_backward_ms / ref.forward_backward_ms
        report.results.append({"case": case.name, "label": case.label, "n": case.n, "timings": timings})
        _PLACEHOLDERS.clear()
    report.load_after = _load()
    return report


def run_processes(count: int, argv: Sequence[str] = ()) -> list[dict]:
    """Run ``python -m convlib.bench --json *argv`` in ``count`` fresh processes, one after another.

    Returns their reports (as :meth:`~convlib.bench.BenchReport.to_dict` gives them), in order.
    """
    count = check_int(count, "count", minimum=1, fix="e.g. count=3 processes")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the folder holding convlib/
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    reports = []
    for _ in range(count):
        done = subprocess.run(
            [sys.executable, "-m", "convlib.bench", "--json", *argv],
            capture_output=True, text=True, env=env,
        )
        if done.returncode != 0:
            raise RuntimeError(f"a benchmark process failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        reports.append(json.loads(done.stdout))
    return reports


def _spread(values: Sequence[float]) -> str:
    """``median (min-max)``, two decimals below 100, or one number when all agree to that precision."""
    med, lo, hi = (f"{v:.2f}" if v < 100 else f"{v:.0f}" for v in (statistics.median(values), min(values), max(values)))
    return med if lo == hi else f"{med} ({lo}-{hi})"


def _times(ratios: Sequence[float]) -> str:
    """``1.25x (1.20-1.50)``: :func:`_spread` with the unit on the median.

    >>> _times([1.2, 1.5, 1.25]), _times([1.3])
    ('1.25x (1.20-1.50)', '1.30x')
    """
    median, _, spread = _spread(ratios).partition(" ")
    return f"{median}x {spread}".rstrip()


def _judged(reports: Sequence[dict]) -> list[tuple[str, str, float, list[float], list[float]]]:
    """The cases of ``reports`` (dicts, one per process, same cases) that have a ``TARGETS`` entry:
    ``(case, label, limit, convlib's f+b ratios, matmuls' f+b ratios)``, one ratio per report."""
    def ratios(n: int, impl: str) -> list[float]:
        found = [t["forward_backward_ratio"] for report in reports for t in report["results"][n]["timings"]
                 if t["impl"] == impl and t["forward_backward_ratio"] is not None]
        return found if len(found) == len(reports) else []

    judged = []
    for n, entry in enumerate(reports[0]["results"]):
        limit = TARGETS.get(entry["label"])
        ours = ratios(n, "convlib") if limit is not None else []
        if ours:
            judged.append((entry["case"], entry["label"], limit, ours, ratios(n, "matmuls")))
    return judged


#: The heading above the target verdicts, in the text table and in the HTML one.
_TARGETS_HEADING = "targets: convlib forward+backward at most the limit x torch's time"


def _verdicts(reports: Sequence[dict]) -> list[tuple[str, str, list[str]]]:
    """For each ``TARGETS`` entry judged in ``reports`` (median over them): ``(case, label, parts)``,
    the parts being the limit, convlib's ratio and the verdict, as both tables show them."""
    verdicts = []
    for case, label, limit, ratios, floors in _judged(reports):
        verdict = "met" if statistics.median(ratios) <= limit else "NOT met"
        if floors and verdict != "met":
            verdict += f" (its matrix products alone: {_times(floors)})"
        verdicts.append((case, label, [f"limit {limit:.2f}x", f"convlib {_times(ratios)}", verdict]))
    return verdicts


def _target_lines(reports: Sequence[dict]) -> list[str]:
    """Lines that say whether ``convlib`` meets each ``TARGETS`` entry (median over ``reports``)."""
    lines = [f"{case:<13} {label:<28} {'  '.join(parts)}" for case, label, parts in _verdicts(reports)]
    return ["", _TARGETS_HEADING, *lines] if lines else []


def spread_table(reports: Sequence[dict]) -> str:
    """Each ratio to torch over several processes' reports: median (min-max).

    >>> r = lambda x: {"cpu": "c", "threads": 2, "torch_version": "t", "quick": False, "repeats": 1,
    ...     "results": [{"case": "a", "label": "1x1x5x5 -> 1, 3x3", "timings": [
    ...         {"impl": "convlib", "forward_ratio": x, "forward_backward_ratio": 2 * x, "extrapolated": False},
    ...         {"impl": "torch", "forward_ratio": 1.0, "forward_backward_ratio": 1.0, "extrapolated": False}]}]}
    >>> print(spread_table([r(1.0), r(1.5), r(1.25)]).splitlines()[-1])
    a             1x1x5x5 -> 1, 3x3            convlib    1.25 (1.00-1.50)  2.50 (2.00-3.00)
    """
    first = reports[0]
    lines = [
        f"torch {first['torch_version']}, {_threads(first['threads'])}, CPU: {first['cpu']}",
        f"{len(reports)} fresh processes, each the median of {first['repeats']} interleaved repeats"
        + (" (quick mode: small batches)" if first["quick"] else ""),
        "ratio to torch: median over the processes (lowest-highest)",
    ]
    rows = []
    for n, entry in enumerate(first["results"]):
        for m, t in enumerate(entry["timings"]):
            if t["impl"] == "torch":
                continue
            runs = [report["results"][n]["timings"][m] for report in reports]
            cells = [_spread([run[key] for run in runs]) for key in ("forward_ratio", "forward_backward_ratio")]
            rows.append((entry["case"], entry["label"], t["impl"] + ("*" if t["extrapolated"] else ""), *cells))
    width = max([len("fwd x torch")] + [len(row[3]) for row in rows])
    head = f"{'case':<13} {'layer':<28} {'impl':<10} {'fwd x torch':<{width}}  f+b x torch"
    lines += ["", head, "-" * (len(head) + 10)]
    lines += [f"{c:<13} {label:<28} {impl:<10} {fwd:<{width}}  {fb}" for c, label, impl, fwd, fb in rows]
    if any(t["extrapolated"] for entry in first["results"] for t in entry["timings"]):
        lines += ["", "* extrapolated from a smaller case (see one process's table for how)"]
    return "\n".join(lines + _target_lines(reports))


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m convlib.bench [--quick] [--json] [--repeats R] [--threads T] [--processes N]``."""
    parser = argparse.ArgumentParser(prog="python -m convlib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small batches, few repeats (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeats", type=_positive_int, default=None, help="interleaved repeats (median reported)")
    parser.add_argument("--threads", type=_positive_int, default=None, help="torch.set_num_threads before timing")
    parser.add_argument("--no-loop", action="store_true", help="skip the (slow) for-loop convolution")
    parser.add_argument(
        "--processes", type=_positive_int, default=1,
        help="repeat the whole run in N fresh processes; print each ratio's median and range",
    )
    args = parser.parse_args(argv)
    if args.processes > 1:
        forwarded = [flag for flag, on in (("--quick", args.quick), ("--no-loop", args.no_loop)) if on]
        for flag, value in (("--repeats", args.repeats), ("--threads", args.threads)):
            if value is not None:
                forwarded += [flag, str(value)]
        reports = run_processes(args.processes, forwarded)
        print(json.dumps({"processes": reports}, indent=2) if args.json else spread_table(reports))
        return 0
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    impls = [name for name in DEFAULT_IMPLS if not (args.no_loop and name == "loop")]
    report = run(quick=args.quick, repeats=args.repeats, impls=impls)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.table())
    return 0


if __name__ == "__main__":  # pragma: no cover - the command line
    sys.exit(main())
