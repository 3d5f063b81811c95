"""convlib.gemm: every product against torch.mm, on both libraries; which library runs when."""

from __future__ import annotations

import threading

import pytest
import torch
from hypothesis import given, settings, strategies as st

from torch.autograd import forward_ad

from convlib import gemm

needs_onednn = pytest.mark.skipif(not gemm.onednn_available(), reason="oneDNN's product operator is not usable here")
LIBRARIES = ["torch", pytest.param("onednn", marks=needs_onednn)]


def _where_auto_means_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend to be a processor on which "auto" picks oneDNN: not Intel's, with AVX-512, oneDNN twice as fast."""
    monkeypatch.setattr(gemm, "cpu_vendor", lambda: "amd")
    monkeypatch.setattr(gemm, "wide_vectors", lambda: True)
    monkeypatch.setattr(gemm, "onednn_speedup", lambda: 2.0)


def _operand(g: torch.Generator, rows: int, cols: int, transposed: bool) -> torch.Tensor:
    """A ``(rows, cols)`` float32 matrix, stored either way round (a transposed view when asked)."""
    if transposed:
        return torch.randn(cols, rows, generator=g).t()
    return torch.randn(rows, cols, generator=g)


@pytest.mark.parametrize("library", LIBRARIES)
@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 70), k=st.integers(1, 70), n=st.integers(1, 70), seed=st.integers(0, 2**16),
       a_t=st.booleans(), b_t=st.booleans(), bias=st.booleans(), into=st.booleans(), gaps=st.booleans())
def test_matmul_matches_torch(library: str, m: int, k: int, n: int, seed: int, a_t: bool, b_t: bool,
                              bias: bool, into: bool, gaps: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = _operand(g, m, k, a_t), _operand(g, k, n + 3 * gaps, b_t)[:, :n]  # (M, K), (K, N), either memory order
    c = torch.randn(n, generator=g) if bias else None  # (N,)
    expected = a.double() @ b.double() + (0 if c is None else c.double())
    out = torch.full((m, n), float("nan")) if into else None
    with gemm.use(library):
        got = gemm.matmul(a, b, c, out=out)  # (M, N)
    if into:
        assert got is out
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("library", LIBRARIES)
@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 70), k=st.integers(1, 70), n=st.integers(1, 70), seed=st.integers(0, 2**16),
       a_t=st.booleans(), b_t=st.booleans())
def test_add_matmul_accumulates(library: str, m: int, k: int, n: int, seed: int, a_t: bool, b_t: bool) -> None:
    g = torch.Generator().manual_seed(seed)
    a, b = _operand(g, m, k, a_t), _operand(g, k, n, b_t)
    c = torch.randn(m, n, generator=g)
    expected = c.double() + a.double() @ b.double()
    with gemm.use(library):
        got = gemm.add_matmul(c, a, b)
    assert got is c
    torch.testing.assert_close(c.double(), expected, rtol=1e-5, atol=1e-4)


@needs_onednn
def test_a_reused_buffer_is_read_afresh() -> None:
    """oneDNN must not cache a matrix by its address: the convolution refills one scratch buffer per slice."""
    buf = torch.empty(50, 30)
    w = torch.randn(30, 8)
    with gemm.use("onednn"):
        for seed in range(4):
            buf.copy_(torch.randn(50, 30, generator=torch.Generator().manual_seed(seed)))
            torch.testing.assert_close(gemm.matmul(buf, w), buf @ w, rtol=1e-5, atol=1e-4)  # as the input
            torch.testing.assert_close(gemm.matmul(w.t(), buf.t()), w.t() @ buf.t(), rtol=1e-5, atol=1e-4)  # as the weight


@needs_onednn
@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")  # torch's note when the flags are set
def test_library_for_follows_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    _where_auto_means_onednn(monkeypatch)
    x = torch.ones(3, 3)
    assert gemm.library_for(x) == "onednn"
    assert gemm.library_for(x.double()) == "torch"  # oneDNN's operator is used for float32 only
    assert gemm.library_for(x, x.requires_grad_()) == "torch"  # no derivative: autograd needs torch.mm
    with torch.no_grad():
        assert gemm.library_for(x) == "onednn"  # no graph to record
    wide = torch.ones(4, 6)
    assert gemm.library_for(wide[:, :4]) == "torch"  # rows with gaps between them: oneDNN crawls there
    assert gemm.library_for(wide[:, :4].t()) == "torch"
    assert gemm.library_for(wide.t()) == "onednn"  # a transposed dense matrix is fine
    with torch.backends.mkldnn.flags(enabled=False):
        assert gemm.library_for(torch.ones(2, 2)) == "torch"
    with gemm.use("torch"):
        assert gemm.library_for(torch.ones(2, 2)) == "torch"
        with gemm.use("auto"):
            assert gemm.library_for(torch.ones(2, 2)) == "onednn"
        assert gemm.library_for(torch.ones(2, 2)) == "torch"  # restored on leaving the inner block
    assert gemm.library_for(torch.ones(2, 2)) == "onednn"


@needs_onednn
def test_auto_is_the_library_preferred_for_the_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN on other makers' processors with AVX-512 where it measures clearly faster, torch.mm
    (MKL) on Intel's, wherever both run AVX2 code, and where oneDNN is not clearly faster (a Zen 4
    EPYC); an explicit choice overrides either."""
    for vendor, wide, speedup, expected in (
        ("intel", True, 2.0, "torch"), ("intel", False, 2.0, "torch"), ("amd", True, 2.0, "onednn"),
        ("amd", True, 1.2, "torch"), ("amd", False, 2.0, "torch"), ("other", True, gemm.ONEDNN_SPEEDUP, "onednn"),
        ("other", True, 1.0, "torch"), ("other", False, 2.0, "torch"),
    ):
        monkeypatch.setattr(gemm, "cpu_vendor", lambda vendor=vendor: vendor)
        monkeypatch.setattr(gemm, "wide_vectors", lambda wide=wide: wide)
        monkeypatch.setattr(gemm, "onednn_speedup", lambda speedup=speedup: speedup)
        assert gemm.preferred() == expected
        assert gemm.library_for(torch.ones(2, 2)) == expected
        with gemm.use("onednn"):
            assert gemm.library_for(torch.ones(2, 2)) == "onednn"
        with gemm.use("torch"):
            assert gemm.library_for(torch.ones(2, 2)) == "torch"


def test_preferred_is_torch_without_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    _where_auto_means_onednn(monkeypatch)
    monkeypatch.setattr(gemm, "onednn_available", lambda: False)
    assert gemm.preferred() == "torch"


@needs_onednn
def test_onednn_speedup_is_measured_once() -> None:
    """A ratio of two measured times, the same on every call of one process."""
    first = gemm.onednn_speedup()
    assert 0.05 < first < 20 and gemm.onednn_speedup() == first


def test_onednn_speedup_is_zero_without_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemm, "onednn_available", lambda: False)
    try:
        gemm.onednn_speedup.cache_clear()
        assert gemm.onednn_speedup() == 0.0
    finally:
        gemm.onednn_speedup.cache_clear()  # measured afresh for the tests after this one


def test_wide_vectors_reads_torchs_cpu_capability(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        for capability, expected in (("AVX512", True), ("AVX512_BF16", True), ("AVX2", False), ("DEFAULT", False)):
            monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda capability=capability: capability)
            gemm.wide_vectors.cache_clear()  # the answer is kept for the process: ask afresh
            assert gemm.wide_vectors() is expected
    finally:
        gemm.wide_vectors.cache_clear()  # the real processor's answer for the tests after this one


def test_cpu_vendor_is_one_of_three() -> None:
    assert gemm.cpu_vendor() in ("intel", "amd", "other")


def test_products_that_need_a_gradient_still_get_one() -> None:
    a = torch.randn(4, 3, requires_grad=True)
    b = torch.randn(3, 2)
    gemm.matmul(a, b).sum().backward()
    torch.testing.assert_close(a.grad, b.sum(1).expand(4, 3))


def test_use_rejects_unknown_libraries() -> None:
    with pytest.raises(ValueError, match=r"library: expected one of \['auto', 'torch', 'onednn'\], got 'mkl'"):
        with gemm.use("mkl"):
            pass


def test_use_onednn_where_it_is_missing_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemm, "onednn_available", lambda: False)
    with pytest.raises(RuntimeError, match="Fix: use 'auto', which falls back to torch.mm"):
        with gemm.use("onednn"):
            pass
    assert gemm.library_for(torch.ones(2, 2)) == "torch"  # "auto" falls back


def test_onednn_probe_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing operator, or one that computes something else, leaves every product on torch.mm."""
    class Broken:
        def __getattr__(self, name: str):
            raise AttributeError(name)

    gemm.onednn_available.cache_clear()
    try:
        monkeypatch.setattr(torch.ops, "mkldnn", Broken(), raising=False)
        assert gemm.onednn_available() is False
        gemm.onednn_available.cache_clear()
        monkeypatch.setattr(gemm.platform, "machine", lambda: "arm64")
        assert gemm.onednn_available() is False
    finally:
        monkeypatch.undo()
        gemm.onednn_available.cache_clear()


@pytest.mark.parametrize("library", LIBRARIES)
def test_shapes_onednn_does_not_take_still_work(library: str) -> None:
    """Biases that are not one contiguous row, an empty inner dimension, an ``out`` of another dtype."""
    a, b = torch.randn(2, 3), torch.randn(3, 4)
    with gemm.use(library):
        for bias in (torch.arange(8.0)[::2], torch.tensor(5.0).expand(4), torch.tensor(5.0), torch.ones(1, 4)):
            torch.testing.assert_close(gemm.matmul(a, b, bias), torch.addmm(bias, a, b))
        assert torch.equal(gemm.matmul(torch.ones(2, 0), torch.ones(0, 3)), torch.zeros(2, 3))
        c = torch.ones(2, 3)
        assert torch.equal(gemm.add_matmul(c, torch.ones(2, 0), torch.ones(0, 3)), torch.ones(2, 3))
        with pytest.raises(RuntimeError):  # as torch.mm does: it will not write float32 into float64
            gemm.matmul(a, b, out=torch.empty(2, 4, dtype=torch.float64))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # torch.func's own import
def test_forward_mode_derivatives_survive() -> None:
    """A product with a forward-mode tangent (or inside torch.func.jvp) must carry its derivative."""
    a, b, ta = torch.randn(3, 4), torch.randn(4, 2), torch.randn(3, 4)
    with forward_ad.dual_level():
        tangent = forward_ad.unpack_dual(gemm.matmul(forward_ad.make_dual(a, ta), b)).tangent
    torch.testing.assert_close(tangent, ta @ b)
    _, jvp = torch.func.jvp(lambda x: gemm.matmul(x, b), (a,), (ta,))
    torch.testing.assert_close(jvp, ta @ b)


@needs_onednn
def test_use_holds_for_its_own_thread_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``with use(...)`` block in one thread (an autograd backward, say) leaves another thread's products alone."""
    _where_auto_means_onednn(monkeypatch)
    inside, release, seen = threading.Event(), threading.Event(), {}

    def other() -> None:
        with gemm.use("torch"):
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    worker.start()
    inside.wait(5)
    seen["main, while the other thread is inside"] = gemm.library_for(torch.ones(2, 2))
    release.set()
    worker.join()
    assert seen == {"main, while the other thread is inside": "onednn"}
    assert gemm.current() == "auto"


@needs_onednn
@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
def test_current_reports_torch_while_mkldnn_is_disabled() -> None:
    with torch.backends.mkldnn.flags(enabled=False):
        assert gemm.current() == "torch"  # so a forward recorded here keeps its backward off oneDNN too
    assert gemm.current() == "auto"


def test_compiling_and_transformed_outside_any_transform() -> None:
    assert gemm.compiling() is False
    assert gemm.transformed(torch.ones(2, requires_grad=True)) is False


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # torch.func's own import
def test_transformed_sees_tangents_and_torch_func() -> None:
    with forward_ad.dual_level():
        assert gemm.transformed(forward_ad.make_dual(torch.ones(2), torch.ones(2)))
    seen = []
    torch.func.vmap(lambda row: seen.append(gemm.transformed(row)) or row)(torch.ones(3, 2))
    torch.func.grad(lambda v: seen.append(gemm.transformed(v)) or v.sum())(torch.ones(2))
    assert seen == [True, True]


@needs_onednn
def test_onednn_probe_ignores_default_dtype_and_device() -> None:
    """The answer is cached for the process: a float64 default or a meta-device block must not spoil it."""
    old = torch.get_default_dtype()
    try:
        for setting in ("float64", "meta"):
            gemm.onednn_available.cache_clear()
            if setting == "float64":
                torch.set_default_dtype(torch.float64)
                assert gemm.onednn_available() is True
            else:
                with torch.device("meta"):
                    assert gemm.onednn_available() is True
    finally:
        torch.set_default_dtype(old)
        gemm.onednn_available.cache_clear()
