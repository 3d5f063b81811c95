"""Matrix products on the faster of the two libraries PyTorch ships for them.

An im2col convolution (:func:`convlib.conv2d`) is three matrix products plus
data movement, so its speed is mostly the speed of the matrix-product library.
PyTorch's x86-64 builds carry two:

* **MKL** (Intel's BLAS), behind ``torch.mm`` and ``@``;
* **oneDNN**, behind PyTorch's own convolution. It computes a plain product
  too: ``torch.compile`` sends ``nn.Linear`` layers to the operator
  ``torch.ops.mkldnn._linear_pointwise(x, w, b, ...)``, which returns
  ``x @ w.T + b``.

They give the same numbers up to float32 rounding, not the same speed, and
which is faster depends on the processor. MKL uses AVX-512 (16 floats per
instruction) only on Intel's processors; oneDNN uses it wherever it exists.
On the course's AMD EPYC with AVX-512 (2026-12-01), oneDNN ran the convolution
products of chapter 8 about twice as fast as ``torch.mm``. Where both libraries
run the same instructions, ``torch.mm`` wins: on an Intel Xeon (AVX-512 for
both, 2026-12-02) ``convlib.conv2d`` took 10 to 25% less time with every
product on ``torch.mm``, and on an AMD EPYC without AVX-512 (AVX2 for both, 2026-12-03)
forward+backward of chapter 8's two layers took 1.00x and 1.46x torch's
convolution on ``torch.mm`` against 1.56x and 1.69x on oneDNN (oneDNN's
operator returns a fresh matrix on every call, which then has to be copied
into place; ``torch.mm`` writes where it is told).

AVX-512 alone does not settle it: on a Zen 4 EPYC, whose AVX-512 units do the work of
AVX2's (2026-12-03), oneDNN computed those products about as fast as ``torch.mm``, and
chapter 8's first layer took 1.62x torch's convolution on oneDNN against 1.09x on
``torch.mm``. So the default, ``"auto"``, is the library :func:`preferred` names for
this processor: oneDNN on a processor not made by Intel that has AVX-512 (see
:func:`wide_vectors`), where :func:`onednn_available` says it works and its products
measure clearly faster (:func:`onednn_speedup`, at least :data:`ONEDNN_SPEEDUP` times);
``torch.mm`` everywhere else. :func:`matmul` and :func:`add_matmul`
then use oneDNN where :func:`library_for` lets them (float32 on the CPU,
matrices without gaps, ``torch.backends.mkldnn`` enabled, nothing for autograd
to record), and ``torch.mm`` otherwise. :func:`use` picks a library for a block
of code in one thread; the benchmark (``python -m convlib.bench``) times both.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import platform
import time
from collections.abc import Iterator

import torch
from torch.autograd import forward_ad

__all__ = ["LIBRARIES", "ONEDNN_SPEEDUP", "add_matmul", "compiling", "cpu_vendor", "current", "library_for", "matmul",
           "onednn_available", "onednn_speedup", "preferred", "transformed", "use", "wide_vectors"]

#: What :func:`use` accepts: ``"auto"`` (:func:`preferred`), ``"torch"``, ``"onednn"``.
LIBRARIES = ("auto", "torch", "onednn")

#: The choice :func:`use` made, per thread (and per asyncio task): one thread's block never changes another's products.
_choice: contextvars.ContextVar[str] = contextvars.ContextVar("convlib_gemm_library", default="auto")


@functools.cache
def onednn_available() -> bool:
    """Whether oneDNN's product operator exists here and computes ``x @ w.T`` exactly on a small case.

    False off x86-64 (on ARM, torch.mm reaches a tuned BLAS and oneDNN adds
    nothing), in builds without oneDNN, and if a later PyTorch renames the
    operator: every product then runs on ``torch.mm``. Checked once per process.
    """
    if platform.machine().lower() not in ("x86_64", "amd64") or not torch.backends.mkldnn.is_available():
        return False
    # float32 on the CPU whatever torch.set_default_dtype or a `with torch.device(...)` block says:
    # the answer is cached for the whole process
    x = torch.arange(6.0, dtype=torch.float32, device="cpu").reshape(2, 3)
    w = torch.arange(12.0, dtype=torch.float32, device="cpu").reshape(4, 3)
    try:
        got = torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
    except (AttributeError, RuntimeError, TypeError):  # no such operator, or another signature
        return False
    return isinstance(got, torch.Tensor) and torch.equal(got, x @ w.T)


def _vendor_in(text: str) -> str:
    """``"intel"``, ``"amd"`` or ``"other"``, from a text that names the processor's maker.

    >>> (_vendor_in("vendor_id : GenuineIntel"),
    ...  _vendor_in("AMD64 Family 25 Model 17, AuthenticAMD"), _vendor_in(""))
    ('intel', 'amd', 'other')
    """
    if "GenuineIntel" in text:
        return "intel"
    if "AuthenticAMD" in text:
        return "amd"
    return "other"


@functools.cache
def cpu_vendor() -> str:
    """Who made this processor: ``"intel"``, ``"amd"`` or ``"other"`` (unknown, or not x86-64).

    Read from ``/proc/cpuinfo`` on Linux and from ``platform.processor()``
    elsewhere (Windows names the vendor there). Checked once per process.
    """
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "other"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 16)  # the first processor's entry is enough
    except OSError:
        text = ""
    return _vendor_in(text) if text else _vendor_in(platform.processor())


@functools.cache
def wide_vectors() -> bool:
    """Whether PyTorch runs AVX-512 code on this processor (``torch.backends.cpu.get_cpu_capability()``).

    MKL (``torch.mm``) uses those 512-bit instructions on Intel's processors only,
    oneDNN on every processor that has them. Checked once per process, like
    :func:`cpu_vendor`: :func:`preferred` asks on every product.

    >>> wide_vectors() in (True, False)
    True
    """
    return torch.backends.cpu.get_cpu_capability().upper().startswith("AVX512")


#: How many times as fast as ``torch.mm`` oneDNN must compute a convolution's products
#: (:func:`onednn_speedup`) for :func:`preferred` to pick it: its fresh result matrices
#: cost copies that ``torch.mm`` does not make, so a tie goes to ``torch.mm``.
ONEDNN_SPEEDUP = 1.5


@functools.cache
def onednn_speedup() -> float:
    """How many times as fast oneDNN computes a convolution's three products as ``torch.mm``,
    measured once per process, on the threads torch uses then.

    The products are those of one slice of four images of chapter 8's second layer
    (128x32x16x16 -> 64, 3x3, one row per output position): forward
    ``(1024, 288) @ (288, 64)``, weight gradient ``(64, 1024) @ (1024, 288)``, input
    gradient ``(1024, 64) @ (64, 288)``, each library as :func:`matmul` calls it, the
    best of 5 interleaved timings each (about 35 ms in all, the first calls included). AVX-512 alone does not
    tell: on an AMD EPYC with AVX-512 (2026-12-01) oneDNN ran these products about
    twice as fast as MKL, which uses AVX-512 only on Intel's processors; on a Zen 4
    EPYC (family 25), whose AVX-512 units do the work of AVX2's, both ran at about
    140 GFLOPS, and this function measured 0.92 to 1.21 in five processes (2026-12-03).
    ``0.0`` where :func:`onednn_available` is false.
    """
    if not onednn_available():
        return 0.0
    g = torch.Generator().manual_seed(0)
    shapes = [(1024, 288, 64), (64, 1024, 288), (1024, 64, 288)]  # (M, K, N) per product
    pairs = [(torch.randn(m, k, generator=g), torch.randn(k, n, generator=g)) for m, k, n in shapes]
    outs = [torch.empty(m, n) for m, _, n in shapes]

    def by_torch() -> None:
        for (a, b), out in zip(pairs, outs):
            torch.mm(a, b, out=out)

    def by_onednn() -> None:
        for a, b in pairs:
            _onednn_product(a, b)

    best = {by_torch: float("inf"), by_onednn: float("inf")}
    with torch.no_grad():
        for run in best:  # warm-up: oneDNN builds its kernels on the first call
            run()
        for _ in range(5):
            for run in best:
                start = time.perf_counter()
                run()
                best[run] = min(best[run], time.perf_counter() - start)
    return best[by_torch] / best[by_onednn]


def preferred() -> str:
    """The library ``"auto"`` means on this machine: ``"onednn"`` on an x86-64 processor
    not made by Intel that has AVX-512 (:func:`wide_vectors`), where :func:`onednn_available`
    and its products measure at least :data:`ONEDNN_SPEEDUP` times as fast as ``torch.mm``'s
    (:func:`onednn_speedup`); ``"torch"`` everywhere else: on MKL's own processors, on
    processors where both libraries run the same AVX2 code, and wherever oneDNN is not
    clearly faster, as ``torch.mm`` then writes its result in place. See the module
    docstring for the measurements behind it."""
    if cpu_vendor() == "intel" or not wide_vectors() or not onednn_available():
        return "torch"
    return "onednn" if onednn_speedup() >= ONEDNN_SPEEDUP else "torch"


@contextlib.contextmanager
def use(library: str) -> Iterator[None]:
    """Compute the products inside the ``with`` block on ``library`` (one of :data:`LIBRARIES`).

    ``"torch"`` keeps every product on ``torch.mm``. ``"onednn"`` sends every
    product oneDNN can take to oneDNN, whoever made the processor, and refuses to
    start where oneDNN's operator does not work; ``"auto"`` is :func:`preferred`.
    A product that oneDNN cannot take (see :func:`library_for`) runs on ``torch.mm``.
    The choice holds for the calling thread only.

    >>> with use("torch"):
    ...     library_for(torch.ones(2, 2))
    'torch'
    """
    if library not in LIBRARIES:
        raise ValueError(f"library: expected one of {list(LIBRARIES)}, got {library!r}.")
    if library == "onednn" and not onednn_available():
        raise RuntimeError(
            f"library: 'onednn' was asked for, but oneDNN's product operator does not work here "
            f"(machine {platform.machine()}, torch {torch.__version__}, "
            f"torch.backends.mkldnn.is_available() = {torch.backends.mkldnn.is_available()}). "
            "Fix: use 'auto', which falls back to torch.mm."
        )
    token = _choice.set(library)
    try:
        yield
    finally:
        _choice.reset(token)


def _dense(m: torch.Tensor) -> bool:
    """Whether a matrix is stored row after row or column after column with no gaps.

    oneDNN takes other strides too, but a matrix with gaps between its rows (a
    slice of a wider one) sent it down a path hundreds of times slower.
    """
    return m.is_contiguous() or m.t().is_contiguous()


def compiling() -> bool:
    """Whether ``torch.compile`` is tracing the code that runs now.

    Its compiler cannot take oneDNN's product operator with a weight that is
    not a constant of the graph, so traced products stay on ``torch.mm``.
    """
    check = getattr(torch.compiler, "is_compiling", None)
    return bool(check and check())


def transformed(t: torch.Tensor) -> bool:
    """Whether a transform other than plain backpropagation watches ``t``: a forward-mode
    tangent (``torch.autograd.forward_ad``) or a ``torch.func`` wrapper (``grad``, ``vmap``, ``jacrev``, ...).

    >>> transformed(torch.ones(2))
    False
    """
    if forward_ad.unpack_dual(t).tangent is not None:
        return True
    wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return bool(wrapped and wrapped(t))


def _traced(t: torch.Tensor) -> bool:
    """Whether autograd would record a product of ``t``: a graph to build, or a :func:`transformed` tensor."""
    return (torch.is_grad_enabled() and t.requires_grad) or transformed(t)


def current() -> str:
    """The library chosen now, one of :data:`LIBRARIES`: ``"auto"`` unless inside :func:`use`,
    and ``"torch"`` while ``torch.backends.mkldnn`` is disabled.

    An autograd function that multiplies in its backward pass records this in
    its forward pass and runs the backward under ``use(recorded)``: the backward
    runs after the ``with`` block has closed.
    """
    return "torch" if not torch.backends.mkldnn.enabled else _choice.get()


def library_for(*tensors: torch.Tensor) -> str:
    """``"onednn"`` or ``"torch"``: the library a product of these tensors runs on now.

    Under ``"auto"`` on a processor where :func:`preferred` is ``"torch"``, every
    product runs on ``torch.mm``. Otherwise oneDNN needs float32 tensors on the CPU, ``torch.backends.mkldnn.enabled``
    (so ``torch.backends.mkldnn.flags(enabled=False)`` turns it off here too),
    matrices stored without gaps between their rows or columns, and nothing for
    autograd to record (a graph, a forward-mode tangent, a ``torch.func``
    transform): its operator has no derivative, so such a product runs on
    ``torch.mm``, as does one that ``torch.compile`` traces (:func:`compiling`).
    :func:`matmul` and :func:`add_matmul` also send it products of
    shapes it does not take (an empty inner dimension, a bias that is not one
    contiguous row).
    """
    choice = current()
    if compiling() or choice == "torch" or not onednn_available() or (choice == "auto" and preferred() == "torch"):
        return "torch"
    if any(t.device.type != "cpu" or t.dtype != torch.float32 for t in tensors):
        return "torch"
    if not all(_dense(t) for t in tensors if t.ndim == 2):
        return "torch"
    if any(_traced(t) for t in tensors):
        return "torch"
    return "onednn"


def _onednn_takes(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None,
                  result: torch.Tensor | None = None) -> bool:
    """Whether ``a @ b (+ bias)`` into ``result`` goes to oneDNN: :func:`library_for`, plus shapes its operator takes."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or a.shape[1] == 0:
        return False  # let torch.mm say what is wrong, or return zeros for an empty inner dimension
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != b.shape[1] or not bias.is_contiguous()):
        return False
    if result is not None and (result.shape != (a.shape[0], b.shape[1]) or result.dtype != a.dtype):
        return False
    extra = [t for t in (bias, result) if t is not None]
    return library_for(a, b, *extra) == "onednn"


def _onednn_product(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``a (M, K) @ b (K, N) (+ bias (N,))`` on oneDNN, a fresh matrix: its operator takes
    the weights as ``(N, K)`` and computes ``a @ w.T``, so ``b`` goes in as the view ``b.t()``."""
    return torch.ops.mkldnn._linear_pointwise(a, b.t(), bias, "none", [], "")


def matmul(
    a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None = None, *, out: torch.Tensor | None = None
) -> torch.Tensor:
    """``a (M, K) @ b (K, N) (+ bias (N,))`` -> ``(M, N)``, written into ``out`` when given.

    >>> matmul(torch.ones(2, 3), torch.ones(3, 4), torch.arange(4.))
    tensor([[3., 4., 5., 6.],
            [3., 4., 5., 6.]])
    """
    if _onednn_takes(a, b, bias, out):
        result = _onednn_product(a, b, bias)
        return result if out is None else out.copy_(result)
    if bias is None:
        return torch.mm(a, b) if out is None else torch.mm(a, b, out=out)
    return torch.addmm(bias, a, b) if out is None else torch.addmm(bias, a, b, out=out)


def add_matmul(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``c += a (M, K) @ b (K, N)`` in place; returns ``c (M, N)``.

    >>> add_matmul(torch.ones(2, 2), torch.ones(2, 3), torch.ones(3, 2))
    tensor([[4., 4.],
            [4., 4.]])
    """
    if _onednn_takes(a, b, None, c):
        return c.add_(_onednn_product(a, b))
    return c.addmm_(a, b)
