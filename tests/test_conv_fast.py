"""convlib.conv's three implementations against torch.nn.functional.conv2d.

tests/test_conv.py covers the public ``conv2d`` / ``Conv2D``; here the paths
inside: the hand-written backward of ``conv2d`` (gradcheck, each gradient
alone, strides, dilation, batch slicing, memory layouts), ``conv2d_unfold``
and ``conv2d_loop``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

import convlib.conv as conv_module
from convlib import gemm
from convlib.conv import conv2d, conv2d_loop, conv2d_unfold
from convlib.shapes import conv_output_size

FAST = settings(max_examples=30, deadline=None)
#: as shipped: the fixture below changes them
FOLD_RULE = dict(FOLD_WIDTH=conv_module.FOLD_WIDTH, FOLD_KERNELS=conv_module.FOLD_KERNELS,
                 FOLD_MANY_KERNELS=conv_module.FOLD_MANY_KERNELS, FOLD_BATCH_BYTES=conv_module.FOLD_BATCH_BYTES)
LIBRARIES = ["torch", pytest.param("onednn", marks=pytest.mark.skipif(
    not gemm.onednn_available(), reason="oneDNN's product operator is not usable here"))]


@pytest.fixture(autouse=True, params=["rows", "per-image", "folded", "kernels", "gathered"])
def arrangement(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs five times: with conv2d's products one per slice of the batch, and, wherever
    conv2d may multiply image by image (an NCHW output in float32/float64 on torch.mm), one per kernel
    row and image ("per-image"), one per image over every kernel tap ("folded", as for thin kernel
    rows), folded as for many kernels, the input gradient one product per kernel row ("kernels"), or
    per kernel row with the weight gradient summed over each gathered slice in one product ("gathered")."""
    monkeypatch.setattr(conv_module, "PER_IMAGE_ROWS", 10**9 if request.param == "rows" else 1)
    monkeypatch.setattr(conv_module, "FOLD_WIDTH", 10**9 if request.param == "folded" else 0)
    monkeypatch.setattr(conv_module, "FOLD_KERNELS", 0)
    monkeypatch.setattr(conv_module, "FOLD_MANY_KERNELS", 0 if request.param == "kernels" else 10**9)
    monkeypatch.setattr(conv_module, "FOLD_BATCH_BYTES", 1 << 40)
    monkeypatch.setattr(conv_module, "_gathers", lambda *_: request.param == "gathered")
    return request.param


def _case(seed: int, x_shape, w_shape, bias: bool = True, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(x_shape, generator=g, dtype=dtype)  # (N, C_in, H, W)
    w = torch.randn(w_shape, generator=g, dtype=dtype)  # (C_out, C_in, k_h, k_w)
    b = torch.randn(w_shape[0], generator=g, dtype=dtype) if bias else None  # (C_out,)
    return x, w, b


def _grads(fn, x, w, b, upstream_seed: int = 1, **kw):
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    b = None if b is None else b.clone().requires_grad_()
    y = fn(x, w, b, **kw)  # (N, C_out, H_out, W_out)
    # drawn in float32 whatever y's dtype, so a float32 run and its float64 reference get the same upstream
    up = torch.randn(y.shape, generator=torch.Generator().manual_seed(upstream_seed)).to(y.dtype)
    (y * up).sum().backward()
    return y, x.grad, w.grad, None if b is None else b.grad


def _assert_match(ours: tuple, ref: tuple) -> None:
    """Output and gradients of :func:`_grads` agree (``None`` where the reference has no gradient)."""
    for a, e in zip(ours, ref):
        if e is None:
            assert a is None
        else:
            torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


GEOMETRIES = [
    dict(),
    dict(padding=1),
    dict(stride=2),
    dict(stride=(2, 3), padding=(1, 2)),
    dict(dilation=2, padding=2),
    dict(stride=2, dilation=(2, 1), padding=(0, 1)),
    dict(stride=3),  # windows skip input cells: their gradient must be 0
]


@pytest.mark.parametrize("kw", GEOMETRIES, ids=lambda kw: str(kw) or "plain")
def test_gradcheck_fast_path(kw: dict) -> None:
    x, w, b = _case(0, (2, 3, 7, 8), (4, 3, 3, 2))
    for t in (x, w, b):
        t.requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, **kw), (x, w, b))


@pytest.mark.parametrize("kw", GEOMETRIES, ids=lambda kw: str(kw) or "plain")
def test_fast_and_unfold_match_torch(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", 3_000)  # several slices, the last one shorter
    x, w, b = _case(1, (3, 2, 9, 10), (5, 2, 3, 3))
    ref = _grads(F.conv2d, x, w, b, **kw)
    for fn in (conv2d, conv2d_unfold):
        for a, e in zip(_grads(fn, x, w, b, **kw), ref):
            torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 9), offset=st.integers(-6, 6), s=st.integers(1, 3), out=st.integers(1, 9))
def test_tap_span_matches_brute_force(size: int, offset: int, s: int, out: int) -> None:
    """Output y of one tap reads cell y*s + offset; the span keeps exactly the cells inside."""
    inside = [(y, y * s + offset) for y in range(out) if 0 <= y * s + offset < size]
    span = conv_module._tap_span(size, out, offset, s)
    if not inside:
        assert span is None
    else:
        outputs, cells = span
        assert list(range(out)[outputs]) == [y for y, _ in inside]
        assert list(range(size)[cells]) == [c for _, c in inside]


def test_col2im_by_hand() -> None:
    """Tap (i, j) of output (y, x) lands on input cell (y*s + i*d - p, x*s + j*d - p); overlaps add up."""
    gc = torch.zeros(2, 2, 1, 1, 2, 2)  # (k_h, k_w, C, B, H_out, W_out)
    gc[1, 1, 0, 0, 1, 0] = 5.0  # output (1, 0), tap (1, 1): cell (3, 1)
    gc[1, 1, 0, 0, 0, 0] = 1.0  # output (0, 0), tap (1, 1): cell (1, 1)
    gc[0, 0, 0, 0, 1, 1] = 2.0  # output (1, 1), tap (0, 0): cell (2, 2)
    plan, covers = conv_module._col2im_plan((4, 4), (2, 2), (2, 2), (2, 2), (0, 0), (1, 1))
    assert not covers and len(plan) == 4
    gx = torch.full((1, 1, 4, 4), 7.0)  # (B, C, H, W): whatever was there is overwritten
    conv_module._col2im(gx, conv_module._col2im_pairs(gx, gc, plan), covers)
    expected = torch.zeros(4, 4)
    expected[3, 1], expected[1, 1], expected[2, 2] = 5.0, 1.0, 2.0
    torch.testing.assert_close(gx[0, 0], expected)
    # stride 1, padding 1, k_h = 3 on 4 rows: the centre tap covers every row and writes first;
    # the shares of the outer taps that fall on the padding rows are dropped
    plan, covers = conv_module._col2im_plan((4, 1), (4, 1), (3, 1), (1, 1), (1, 0), (1, 1))
    assert covers and plan[0][:2] == (1, 0)
    gc2 = torch.ones(3, 1, 1, 1, 4, 1)
    gxb = torch.full((1, 1, 4, 1), 7.0)
    conv_module._col2im(gxb, conv_module._col2im_pairs(gxb, gc2, plan), covers)
    assert gxb.flatten().tolist() == [2.0, 3.0, 3.0, 2.0]


def test_input_never_read_gets_zero_gradient() -> None:
    """Every window reads only padding: no tap reaches the input, its gradient is 0, as torch says."""
    x, w, b = _case(10, (2, 1, 1, 1), (2, 1, 2, 2))
    kw = dict(padding=2, dilation=3)
    assert conv_module._col2im_plan((1, 1), (2, 2), (2, 2), (1, 1), (2, 2), (3, 3)) == ([], False)
    for a, e in zip(_grads(conv2d, x, w, b, **kw), _grads(F.conv2d, x, w, b, **kw)):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("which", ["x", "weight", "bias"])
def test_each_gradient_alone(which: str) -> None:
    """The backward skips what is not needed; each gradient must still be right alone."""
    x, w, b = _case(2, (2, 3, 6, 6), (4, 3, 3, 3))
    ours = dict(x=x.clone(), weight=w.clone(), bias=b.clone())
    theirs = dict(x=x.clone(), weight=w.clone(), bias=b.clone())
    ours[which].requires_grad_()
    theirs[which].requires_grad_()
    up = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    (conv2d(ours["x"], ours["weight"], ours["bias"], padding=1) * up).sum().backward()
    (F.conv2d(theirs["x"], theirs["weight"], theirs["bias"], padding=1) * up).sum().backward()
    torch.testing.assert_close(ours[which].grad, theirs[which].grad)
    assert all(ours[k].grad is None for k in ours if k != which)


def test_no_bias_and_no_grad() -> None:
    x, w, _ = _case(3, (2, 3, 6, 6), (4, 3, 3, 3))
    with torch.no_grad():
        torch.testing.assert_close(conv2d(x, w), F.conv2d(x, w))
    y, gx, gw, gb = _grads(conv2d, x, w, None, stride=2)
    ref = _grads(F.conv2d, x, w, None, stride=2)
    assert gb is None
    for a, e in zip((y, gx, gw), ref[:3]):
        torch.testing.assert_close(a, e)


@pytest.mark.parametrize("chunk_bytes", [1, 5_000, 1 << 30])
def test_batch_slicing_does_not_change_results(monkeypatch: pytest.MonkeyPatch, chunk_bytes: int) -> None:
    """One image per slice, uneven slices (7 images, several per slice) and one slice for all."""
    monkeypatch.setattr(conv_module, "CHUNK_BYTES", chunk_bytes)
    x, w, b = _case(4, (7, 2, 5, 6), (3, 2, 2, 3))
    ref = _grads(F.conv2d, x, w, b, padding=(1, 0))
    for a, e in zip(_grads(conv2d, x, w, b, padding=(1, 0)), ref):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


def test_scratch_is_reused_and_freed(arrangement: str) -> None:
    conv_module.free_scratch()
    x, w, b = _case(8, (3, 2, 6, 6), (4, 2, 3, 3))
    for t in (x, w, b):
        t.requires_grad_()
    conv2d(x, w, b, padding=1).sum().backward()
    buffers = dict(conv_module._SCRATCH.buffers)
    # float64: products on torch.mm; image by image, the forward pass's shifted copies are leased, not scratch
    # folded, the output gradient needs no zero rows around it ("grad"), unless the input gradient is not folded
    expected = {"rows": {"cols", "out", "grad", "gcols"}, "per-image": {"wparts", "grad", "gcols"},
                "folded": {"wparts", "gcols"}, "kernels": {"wparts", "grad", "gcols"},
                "gathered": {"gall", "wparts", "grad", "gcols"}}[arrangement]
    assert {name for name, _, _ in buffers} == expected
    kept = [t for spare in conv_module._KEPT.free.values() for t in spare]
    assert len(kept) == (arrangement != "rows")  # given back after the backward pass
    first = [x.grad.clone(), w.grad.clone()]
    x.grad = w.grad = None
    conv2d(x, w, b, padding=1).sum().backward()  # same sizes: the same buffers, same results
    assert all(conv_module._SCRATCH.buffers[k] is v for k, v in buffers.items())
    assert [t for spare in conv_module._KEPT.free.values() for t in spare] == kept
    torch.testing.assert_close(x.grad, first[0])
    torch.testing.assert_close(w.grad, first[1])
    conv2d(x[:1, :, :4, :4].detach(), w.detach()).sum()  # no gradient: scratch; a smaller call reuses a prefix
    cols = conv_module._SCRATCH.buffers[("cols", torch.float64, x.device)]
    conv2d(x[:1, :, :3, :3].detach(), w.detach()).sum()
    assert conv_module._SCRATCH.buffers[("cols", torch.float64, x.device)] is cols
    conv_module.free_scratch()
    assert conv_module._SCRATCH.buffers == {} and conv_module._KEPT.free == {}


@pytest.mark.parametrize("library", LIBRARIES)
def test_inference_mode_then_training(library: str) -> None:
    """Scratch made inside torch.inference_mode() must stay writable outside it, and the other way round."""
    conv_module.free_scratch()
    x, w, b = _case(10, (4, 3, 6, 6), (5, 3, 3, 3), dtype=torch.float32)
    with gemm.use(library):
        with torch.inference_mode():  # evaluation first: the scratch is made here
            torch.testing.assert_close(conv2d(x, w, b, padding=1), F.conv2d(x, w, b, padding=1))
        xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
        conv2d(xg, wg, b, padding=1).square().sum().backward()  # then a training step reuses it
        F.conv2d(x.requires_grad_(), w.requires_grad_(), b, padding=1).square().sum().backward()
        torch.testing.assert_close(xg.grad, x.grad, rtol=1e-4, atol=1e-4)  # float32 sums, added in another order
        torch.testing.assert_close(wg.grad, w.grad, rtol=1e-4, atol=1e-4)
        with torch.inference_mode():  # and evaluation again, on buffers made outside
            torch.testing.assert_close(conv2d(x, w, b, stride=2), F.conv2d(x, w, b, stride=2))
    conv_module.free_scratch()


def test_outputs_do_not_alias_the_scratch() -> None:
    """Two outputs computed one after the other must not share memory with the buffers."""
    x, w, _ = _case(9, (2, 2, 5, 5), (3, 2, 3, 3))
    y1 = conv2d(x, w)
    y2 = conv2d(x * 2, w)
    torch.testing.assert_close(y2, 2 * y1)
    torch.testing.assert_close(y1, F.conv2d(x, w))


def test_batch_step() -> None:
    assert conv_module._batch_step(128, conv_module.CHUNK_BYTES) == 1
    assert conv_module._batch_step(128, 1) == 128  # never more than the batch
    assert conv_module._batch_step(10, conv_module.CHUNK_BYTES // 4) == 4
    assert conv_module._batch_step(128, conv_module.CHUNK_BYTES // 14) == 13  # not 14: the last slice would hold 2


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 300), fit=st.integers(1, 40))
def test_batch_step_is_even(n: int, fit: int) -> None:
    """As few slices as the chunk size allows, none above it, their sizes as even as they can be."""
    step = conv_module._batch_step(n, conv_module.CHUNK_BYTES // fit)  # about `fit` images fit
    most = min(n, fit)
    assert 1 <= step <= most
    slices = -(-n // step)
    assert slices == -(-n // most)  # no more slices than needed
    assert n - (slices - 1) * step >= step - slices  # the last one is not much shorter


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced"])
def test_input_memory_layouts(layout: str) -> None:
    x, w, b = _case(5, (2, 3, 8, 8), (4, 3, 3, 3))
    if layout == "channels_last":
        x = x.contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":
        x = torch.randn(2, 6, 10, 9, dtype=torch.float64)[:, ::2, 1:9, :8]  # strided view
    for padding in (0, 1):
        ref = _grads(F.conv2d, x, w, b, padding=padding)
        ours = _grads(conv2d, x, w, b, padding=padding)
        for a, e in zip(ours, ref):
            torch.testing.assert_close(a, e)
        # conv2d's backward returns the input gradient laid out like the input (dense when the
        # input is not), so autograd can store it in x.grad without another copy
        xg = x.clone().requires_grad_()
        y = conv2d(xg, w, b, padding=padding)
        (gx,) = torch.autograd.grad(y, xg, torch.ones_like(y))  # as the backward returned it
        if layout == "channels_last":
            assert gx.is_contiguous(memory_format=torch.channels_last)
        else:
            assert gx.is_contiguous()


def test_output_is_contiguous_and_chains() -> None:
    """The output is laid out as torch's (N, C, H, W) output is; a second layer reads it without trouble."""
    x, w1, b1 = _case(6, (2, 3, 8, 8), (4, 3, 3, 3), dtype=torch.float32)
    w2 = torch.randn(5, 4, 3, 3)
    y = conv2d(x, w1, b1, padding=1)
    assert y.is_contiguous()
    assert y.view(2, -1).shape == (2, 256)  # so .view works on it, as on F.conv2d's output
    z = conv2d(torch.relu(y), w2)
    torch.testing.assert_close(z, F.conv2d(torch.relu(F.conv2d(x, w1, b1, padding=1)), w2), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stored", ["x", "weight", "both"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_channels_last_layouts_follow_torch(library: str, stored: str) -> None:
    """As F.conv2d: a channels-last input or weight gives a channels-last output, and channels-last
    gradients for both (torch 2.14 does so on every routine: float32 and float64, stride, dilation)."""
    x, w, b = _case(11, (3, 4, 7, 6), (5, 4, 3, 3), dtype=torch.float32)
    if stored in ("x", "both"):
        x = x.contiguous(memory_format=torch.channels_last)
    if stored in ("weight", "both"):
        w = w.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    w.requires_grad_()
    with gemm.use(library):
        y = conv2d(x, w, b, padding=1, stride=(1, 2))
    ref = F.conv2d(x, w, b, padding=1, stride=(1, 2))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)
    up = torch.randn_like(y)
    got = torch.autograd.grad(y, (x, w), up)
    expected = torch.autograd.grad(ref, (x, w), up)
    assert y.stride() == ref.stride()
    for mine, theirs in zip(got, expected):  # torch's gradient layouts vary with its backend: values only
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)
    layout = torch.channels_last  # every case here stores x, w or both channels-last
    assert got[0].is_contiguous(memory_format=layout) and got[1].is_contiguous(memory_format=layout)
    assert [g.stride() for g in got] == [e.stride() for e in expected]


@pytest.mark.parametrize("stored", ["x", "weight"])
def test_grouped_layouts_follow_torch(stored: str) -> None:
    """Groups run one convolution per group; the gradients still come back in the op's layout."""
    x, w, b = _case(12, (2, 4, 6, 5), (6, 2, 3, 3), dtype=torch.float32)
    x, w = (t.contiguous(memory_format=torch.channels_last) if name == stored else t for name, t in (("x", x), ("weight", w)))
    x.requires_grad_()
    w.requires_grad_()
    y, ref = conv2d(x, w, b, padding=1, groups=2), F.conv2d(x, w, b, padding=1, groups=2)
    up = torch.randn_like(ref)
    got, expected = torch.autograd.grad(y, (x, w), up), torch.autograd.grad(ref, (x, w), up)
    assert y.stride() == ref.stride()
    for mine, theirs in zip(got, expected):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)
        assert mine.stride() == theirs.stride()


def test_second_derivatives() -> None:
    """create_graph=True routes the backward through conv2d_unfold, so it differentiates again."""
    x, w, b = _case(7, (2, 2, 5, 5), (3, 2, 2, 2))
    for t in (x, w, b):
        t.requires_grad_()
    for kw in (dict(), dict(stride=2, padding=1, dilation=(1, 2))):
        assert torch.autograd.gradgradcheck(lambda x, w, b: conv2d(x, w, b, **kw), (x, w, b))
        assert torch.autograd.gradgradcheck(lambda x, w, b: conv2d_unfold(x, w, b, **kw), (x, w, b))
    # a path that also reaches x directly: the conv part must not be dropped
    def second(fn):
        (gx,) = torch.autograd.grad(fn(x, w, b).pow(2).sum(), x, create_graph=True)
        return torch.autograd.grad(gx.pow(2).sum() + x.sum(), (x, w))
    for a, e in zip(second(conv2d), second(F.conv2d)):
        torch.testing.assert_close(a, e)


def test_float32_large_batch_matches_torch() -> None:
    torch.manual_seed(0)
    x = torch.randn(16, 8, 12, 12, requires_grad=True)
    w = torch.randn(6, 8, 3, 3, requires_grad=True)
    y = conv2d(x, w, padding=1)
    y.backward(torch.ones_like(y))
    x2, w2 = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    y2 = F.conv2d(x2, w2, padding=1)
    y2.backward(torch.ones_like(y2))
    torch.testing.assert_close(y, y2, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(x.grad, x2.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(w.grad, w2.grad, rtol=1e-4, atol=1e-3)


@st.composite
def float32_case(draw: st.DrawFn) -> dict:
    """A float32 layer of any geometry, its batch cut into slices of one or a few images."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, k[0] // 2 + 1)), draw(st.integers(0, k[1] // 2 + 1)))
    size = [draw(st.integers(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]), 9)) for i in range(2)]
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 6)), *size)
    return dict(seed=draw(st.integers(0, 2**16)), x_shape=shape, w_shape=(draw(st.integers(1, 40)), shape[1], *k),
                bias=draw(st.booleans()), stride=(draw(st.integers(1, 3)), draw(st.integers(1, 3))), padding=p,
                dilation=d, chunk=draw(st.sampled_from([1, 3_000, 1 << 30])))


@pytest.mark.parametrize("library", LIBRARIES)
@FAST
@given(case=float32_case())
def test_float32_matches_torch_on_each_library(library: str, case: dict) -> None:
    """Output and all gradients in float32 on each product library, slices refilling the same scratch."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conv_module, "CHUNK_BYTES", case.pop("chunk"))
        x, w, b = _case(case.pop("seed"), case.pop("x_shape"), case.pop("w_shape"), case.pop("bias"), torch.float32)
        ref = _grads(F.conv2d, x.double(), w.double(), None if b is None else b.double(), **case)
        with gemm.use(library):
            ours = _grads(conv2d, x, w, b, **case)
    for a, e in zip(ours, ref):
        if e is None:
            assert a is None
        else:
            assert a.dtype == torch.float32
            torch.testing.assert_close(a.double(), e, rtol=1e-4, atol=1e-4)


@st.composite
def loop_case(draw: st.DrawFn) -> dict:
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), kh - 2 * ph + 4))
    w = draw(st.integers(max(1, kw - 2 * pw), kw - 2 * pw + 4))
    return dict(x=(n, c_in, h, w), w=(c_out, c_in, kh, kw), padding=(ph, pw), stride=(sh, sw),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


@FAST
@given(loop_case())
def test_loop_matches_torch(case: dict) -> None:
    x, w, b = _case(case["seed"], case["x"], case["w"], case["bias"])
    kw = dict(padding=case["padding"], stride=case["stride"])
    _assert_match(_grads(conv2d_loop, x, w, b, **kw), _grads(F.conv2d, x, w, b, **kw))


@FAST
@given(loop_case(), st.tuples(st.integers(1, 3), st.integers(1, 3)))
def test_loop_takes_dilation_as_f_conv2d(case: dict, dilation: tuple[int, int]) -> None:
    """conv2d_loop(..., dilation=2) was a TypeError; it spreads the kernel with insert_zeros."""
    x, w, b = _case(case["seed"], case["x"], case["w"], case["bias"])
    span = [dilation[i] * (case["w"][2 + i] - 1) + 1 for i in (0, 1)]
    assume(all(span[i] <= case["x"][2 + i] + 2 * case["padding"][i] for i in (0, 1)))
    kw = dict(padding=case["padding"], stride=case["stride"], dilation=dilation)
    _assert_match(_grads(conv2d_loop, x, w, b, **kw), _grads(F.conv2d, x, w, b, **kw))


def test_loop_validates_like_conv2d() -> None:
    with pytest.raises(ValueError, match=r"^x: expected 3 input channels"):
        conv2d_loop(torch.randn(1, 2, 5, 5), torch.randn(1, 3, 3, 3))
    with pytest.raises(ValueError, match=r"^stride: expected values >= 1"):
        conv2d_loop(torch.randn(1, 3, 5, 5), torch.randn(1, 3, 3, 3), stride=0)
    with pytest.raises(TypeError, match=r"^x: expected a floating-point tensor"):
        conv2d_unfold(torch.zeros(1, 3, 5, 5, dtype=torch.uint8), torch.randn(1, 3, 3, 3))


@st.composite
def same_case(draw: st.DrawFn) -> dict:
    """``padding="same"`` or ``"valid"``, odd and even windows (an even one pads one side more)."""
    padding = draw(st.sampled_from(["same", "valid"]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    low = (1, 1) if padding == "same" else (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    h, w = draw(st.integers(low[0], low[0] + 5)), draw(st.integers(low[1], low[1] + 5))
    return dict(x=(draw(st.integers(1, 2)), 2, h, w), w=(3, 2, kh, kw), padding=padding, dilation=dilation,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's note on its own copy
@FAST
@given(same_case())
def test_padding_strings_match_torch(case: dict) -> None:
    x, w, b = _case(case["seed"], case["x"], case["w"], case["bias"])
    kw = dict(padding=case["padding"], dilation=case["dilation"])
    ref = _grads(F.conv2d, x, w, b, **kw)
    for fn in (conv2d, conv2d_unfold, conv2d_loop):  # the loop had no dilation= (F.conv2d's keyword)
        _assert_match(_grads(fn, x, w, b, **kw), ref)


def test_padding_string_errors_say_what_to_do() -> None:
    x, w = torch.randn(1, 3, 8, 8), torch.randn(2, 3, 3, 3)
    with pytest.raises(ValueError, match=r"^padding='same': expected stride 1 .* got stride \(2, 2\)\. Fix: use stride=1"):
        conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match=r"^padding: expected an int, a pair of ints, 'same' or 'valid', got 'full'"):
        conv2d(x, w, padding="full")


@pytest.mark.parametrize("fn", [conv2d, conv2d_unfold, conv2d_loop], ids=lambda f: f.__name__)
@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2), dict(padding="same")], ids=str)
def test_empty_batch_like_torch(fn, kw: dict) -> None:
    """No images in, no images out (PyTorch's rule), and zero weight and bias gradients."""
    x, w, b = _case(2, (0, 3, 6, 7), (4, 3, 3, 3))
    ours, ref = _grads(fn, x, w, b, **kw), _grads(F.conv2d, x, w, b, **kw)
    for a, e in zip(ours, ref):
        assert a.shape == e.shape
        torch.testing.assert_close(a, e)


@st.composite
def group_case(draw: st.DrawFn) -> dict:
    """Grouped convolutions: ``groups`` divides both channel counts (depthwise when C_in/groups is 1)."""
    groups = draw(st.integers(1, 4))
    c_group, out_per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    (ph, pw), (sh, sw) = draw(st.tuples(st.integers(0, 1), st.integers(0, 1))), draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    dilation = draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    h = draw(st.integers(max(1, span[0] - 2 * ph), span[0] - 2 * ph + 4))
    w = draw(st.integers(max(1, span[1] - 2 * pw), span[1] - 2 * pw + 4))
    return dict(x=(draw(st.integers(1, 2)), groups * c_group, h, w), w=(groups * out_per_group, c_group, kh, kw),
                groups=groups, padding=(ph, pw), stride=(sh, sw), dilation=dilation,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**31 - 1)))


@FAST
@given(group_case())
def test_groups_match_torch(case: dict) -> None:
    """Every implementation, values and all three gradients, against ``F.conv2d(groups=...)``."""
    x, w, b = _case(case["seed"], case["x"], case["w"], case["bias"])
    kw = dict(padding=case["padding"], stride=case["stride"], groups=case["groups"])
    ref = _grads(F.conv2d, x, w, b, dilation=case["dilation"], **kw)
    for fn in (conv2d, conv2d_unfold, conv2d_loop):
        _assert_match(_grads(fn, x, w, b, dilation=case["dilation"], **kw), ref)


def test_groups_gradcheck_and_second_derivatives() -> None:
    x, w, b = _case(3, (2, 4, 5, 6), (6, 2, 3, 3))
    for t in (x, w, b):
        t.requires_grad_()
    assert torch.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, padding=1, groups=2), (x, w, b))
    assert torch.autograd.gradgradcheck(lambda x, w, b: conv2d(x, w, b, padding=1, groups=2), (x, w, b))


def test_groups_are_blocks_of_one_convolution() -> None:
    """Two groups = the ordinary convolution whose weight is block-diagonal over channels."""
    x, w, b = _case(4, (2, 4, 6, 6), (6, 2, 3, 3))
    full = torch.zeros(6, 4, 3, 3, dtype=w.dtype)  # (C_out, C_in, k, k): group 0 reads channels 0-1, group 1 channels 2-3
    full[:3, :2], full[3:, 2:] = w[:3], w[3:]
    torch.testing.assert_close(conv2d(x, w, b, groups=2), conv2d(x, full, b), rtol=1e-12, atol=1e-12)


def test_depthwise_output_is_contiguous_and_float32_matches() -> None:
    x, w, b = _case(5, (3, 8, 9, 9), (8, 1, 3, 3), dtype=torch.float32)
    y = conv2d(x, w, b, padding=1, groups=8)  # depthwise: one 3x3 kernel per channel
    assert y.is_contiguous()
    torch.testing.assert_close(y, F.conv2d(x, w, b, padding=1, groups=8), rtol=1e-5, atol=1e-5)


def test_group_errors_say_what_to_do() -> None:
    with pytest.raises(ValueError, match=r"^groups: expected a divisor of the weight's C_out = 6 \(each group has C_out/groups channels\), got 4\. "
                                         r"Fix: x's 4 channels in kernels 1 deep make 4 groups, so the weight needs a "
                                         r"C_out that 4 divides, e.g. shape \(8, 1, 3, 3\)"):
        conv2d(torch.randn(1, 4, 5, 5), torch.randn(6, 1, 3, 3), groups=4)
    with pytest.raises(ValueError, match=r"^x: expected 4 input channels \(groups=2 times the weight's "
                                         r"C_in/groups = 2\), got 3 channels"):
        conv2d_unfold(torch.randn(1, 3, 5, 5), torch.randn(6, 2, 3, 3), groups=2)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match=r"^groups: expected an int >= 1"):
            conv2d_loop(torch.randn(1, 2, 5, 5), torch.randn(2, 2, 3, 3), groups=bad)


@pytest.mark.skipif(not gemm.onednn_available(), reason="oneDNN's product operator is not usable here")
def test_backward_runs_on_the_library_of_its_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forward inside ``gemm.use("torch")`` keeps its backward on torch.mm, though that runs after the block."""
    calls: list[tuple] = []
    real = torch.ops.mkldnn._linear_pointwise

    class Spy:  # stands in for torch.ops.mkldnn, counting the product calls
        def __getattr__(self, name: str):
            assert name == "_linear_pointwise"
            return lambda *args: calls.append(args) or real(*args)

    monkeypatch.setattr(torch.ops, "mkldnn", Spy(), raising=False)
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    w = torch.randn(40, 3, 3, 3, requires_grad=True)
    with gemm.use("torch"):
        y = conv2d(x, w, padding=1)
    y.sum().backward()
    assert calls == []
    with gemm.use("onednn"):
        y = conv2d(x, w, padding=1)
    assert len(calls) == 1  # the forward product (one slice)
    y.sum().backward()
    assert len(calls) == 3  # weight gradient and input-gradient products


# ------------------------------------------- transforms the hand-written backward cannot serve


def _reference_pair(seed: int = 6):
    """A float32 case with padding and stride, and the function pair to compare."""
    x, w, b = _case(seed, (2, 3, 7, 6), (4, 3, 3, 3), dtype=torch.float32)
    return x, w, b, dict(padding=1, stride=(1, 2))


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # torch.func's own import
@pytest.mark.parametrize("transform", ["grad", "vmap", "jacrev", "jvp"])
def test_torch_func_transforms_match_torch(transform: str) -> None:
    """``torch.func`` wraps tensors that an old-style autograd.Function refuses: conv2d must still work."""
    x, w, b, kw = _reference_pair()
    results = []
    for fn in (conv2d, F.conv2d):
        if transform == "grad":
            results.append(torch.func.grad(lambda x, w: (fn(x, w, b, **kw) ** 2).sum(), argnums=(0, 1))(x, w))
        elif transform == "vmap":  # one image at a time, batched by vmap
            results.append(torch.func.vmap(lambda xi: fn(xi[None], w, b, **kw)[0])(x))
        elif transform == "jacrev":
            results.append(torch.func.jacrev(lambda w: fn(x[:1], w, b, **kw))(w))
        else:
            results.append(torch.func.jvp(lambda x: fn(x, w, b, **kw), (x,), (torch.ones_like(x),)))
    torch.testing.assert_close(results[0], results[1], rtol=1e-4, atol=1e-4)


def test_forward_mode_ad_matches_torch() -> None:
    from torch.autograd import forward_ad

    x, w, b, kw = _reference_pair()
    tangent = torch.randn_like(w)
    found = []
    for fn in (conv2d, F.conv2d):
        with forward_ad.dual_level():
            y = fn(x, forward_ad.make_dual(w, tangent), b, **kw)
            found.append(forward_ad.unpack_dual(y))
    torch.testing.assert_close(found[0].primal, found[1].primal, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(found[0].tangent, found[1].tangent, rtol=1e-4, atol=1e-4)


def test_torch_compile_traces_plain_ops() -> None:
    """torch.compile's graph holds no oneDNN product (its compiler cannot take one whose weight is an
    input: "weight must be a graph constant"), and the compiled layer trains like the eager one."""
    x, w, b, kw = _reference_pair()
    seen: list[str] = []

    def backend(gm: torch.fx.GraphModule, example_inputs: list) -> object:
        seen.extend(str(node.target) for node in gm.graph.nodes)
        from functorch.compile import make_boxed_func

        return torch._dynamo.backends.common.aot_autograd(fw_compiler=lambda g, _: make_boxed_func(g.forward))(
            gm, example_inputs)

    torch._dynamo.reset()
    compiled = torch.compile(lambda x, w, b: conv2d(x, w, b, **kw), backend=backend, fullgraph=True)
    w_eager, w_compiled = w.clone().requires_grad_(), w.clone().requires_grad_()
    y = compiled(x, w_compiled, b)
    y.square().sum().backward()
    conv2d(x, w_eager, b, **kw).square().sum().backward()
    assert seen and not any("mkldnn" in target for target in seen)
    torch.testing.assert_close(y, F.conv2d(x, w, b, **kw), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(w_compiled.grad, w_eager.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")  # the trace keeps this case's shapes, as it should
@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated")
def test_jit_trace_matches_torch() -> None:
    x, w, b, kw = _reference_pair()
    traced = torch.jit.trace(lambda x: conv2d(x, w, b, **kw), (x,), check_trace=False)
    torch.testing.assert_close(traced(x), F.conv2d(x, w, b, **kw), rtol=1e-4, atol=1e-4)
    # replayed on another batch and image size, as a traced F.conv2d is (the output size is traced arithmetic)
    other = torch.randn(x.shape[0] + 1, x.shape[1], x.shape[2] + 3, x.shape[3] + 2, dtype=x.dtype)
    torch.testing.assert_close(traced(other), F.conv2d(other, w, b, **kw), rtol=1e-4, atol=1e-4)
    wide = torch.randn(4, x.shape[1], 2, 4, dtype=x.dtype)  # an even kernel: "same" pads one side more
    same = torch.jit.trace(lambda x: conv2d(x, wide, padding="same"), (x,), check_trace=False)
    torch.testing.assert_close(same(other), F.conv2d(other, wide, padding="same"), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("fn", [conv2d, conv2d_unfold], ids=lambda f: f.__name__)
def test_autocast_computes_in_its_dtype_like_torch(fn, dtype: torch.dtype) -> None:
    """Inside ``torch.autocast("cpu")`` F.conv2d returns the autocast dtype; so must ours, with float32 gradients."""
    x, w, b, kw = _reference_pair()
    outs = []
    for f in (fn, F.conv2d):
        ws = w.clone().requires_grad_()
        with torch.autocast("cpu", dtype=dtype):
            y = f(x, ws, b, **kw)
        y.float().sum().backward()
        outs.append((y, ws.grad))
    (y, gw), (y_ref, gw_ref) = outs
    assert y.dtype == y_ref.dtype == dtype and gw.dtype == torch.float32
    torch.testing.assert_close(y.float(), y_ref.float(), rtol=2e-2, atol=5e-2)
    torch.testing.assert_close(gw, gw_ref, rtol=2e-2, atol=5e-2)


@pytest.mark.parametrize("stored", ["x", "weight"])
def test_grouped_channels_last_follows_torch(stored: str) -> None:
    x, w, b = _case(7, (2, 4, 6, 6), (6, 2, 3, 3), dtype=torch.float32)
    if stored == "x":
        x = x.contiguous(memory_format=torch.channels_last)
    else:
        w = w.contiguous(memory_format=torch.channels_last)
    y, y_ref = conv2d(x, w, b, padding=1, groups=2), F.conv2d(x, w, b, padding=1, groups=2)
    assert y.stride() == y_ref.stride()
    torch.testing.assert_close(y, y_ref, rtol=1e-4, atol=1e-4)


def test_meta_device_needs_no_autocast() -> None:
    """Shapes on the meta device (layer_summary's promise): no autocast exists there."""
    y = conv2d(torch.zeros(2, 3, 8, 8, device="meta"), torch.zeros(4, 3, 3, 3, device="meta"), padding=1)
    assert y.shape == (2, 4, 8, 8) and y.device.type == "meta"


def _relative_error(got: torch.Tensor, exact: torch.Tensor) -> float:
    return float((got.double() - exact).norm() / exact.norm())


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("kernel", "kw", "layout"), [
    (7, dict(padding=3), torch.contiguous_format),  # the centre tap covers the input: col2im writes it first
    (5, dict(stride=2, padding=2), torch.channels_last),  # zeroed first; summed in a dense buffer, then copied
], ids=["7x7-same", "5x5-stride2-channels-last"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_low_precision_input_gradient_sums_in_float32(dtype: torch.dtype, kernel: int, kw: dict,
                                                      layout: torch.memory_format, library: str) -> None:
    """bfloat16/float16: the taps' shares of the input gradient are computed and summed in float32, rounded once.

    Summed in the low precision, every addition rounded: with 49 taps the error was about 5x
    torch's in bfloat16 and 3.5x one rounding in float16. Each share rounded and then summed in
    float32, it was still 1.4x one rounding. The exact gradient comes from the same (rounded)
    numbers in float64; torch's own bfloat16 gradient on the CPU rounds once on an AVX-512
    processor, and is 2x to 5x less exact on an AVX2 one.
    """
    x, w, _ = _case(21, (4, 4, 24, 24), (16, 4, kernel, kernel), bias=False, dtype=torch.float32)
    x, w = x.to(dtype).contiguous(memory_format=layout), w.to(dtype)
    up = torch.randn(F.conv2d(x.float(), w.float(), **kw).shape, generator=torch.Generator().manual_seed(2)).to(dtype)
    exact = torch.nn.grad.conv2d_input(x.shape, w.double(), up.double(), **kw)  # (N, C_in, H, W)
    grads = []
    for fn in (conv2d, F.conv2d):
        xs = x.clone().requires_grad_()
        with gemm.use(library):
            fn(xs, w, **kw).backward(up)
        grads.append(xs.grad)
    ours, torchs = grads
    assert ours.dtype == dtype and ours.stride() == torchs.stride()
    rounded_once = _relative_error(exact.to(dtype), exact)  # the best a result in `dtype` can do
    assert _relative_error(ours, exact) < 1.02 * rounded_once
    if dtype == torch.bfloat16:  # (torch's CPU float16 convolution sums in float16 itself)
        assert _relative_error(ours, exact) < 1.02 * _relative_error(torchs, exact)


@st.composite
def _layout_case(draw: st.DrawFn) -> dict:
    """A channels-last x or weight with groups (depthwise too), even "same" windows, strides and dilation."""
    groups = draw(st.sampled_from([1, 2, 3]))
    c_in = groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    same = draw(st.booleans())
    stride = 1 if same else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    span = [d[i] * (k[i] - 1) + 1 for i in range(2)]
    size = (draw(st.integers(span[0], span[0] + 4)), draw(st.integers(span[1], span[1] + 4)))
    return dict(x_shape=(draw(st.integers(1, 2)), c_in, *size), w_shape=(groups * draw(st.integers(1, 2)),
                c_in // groups, *k), kw=dict(stride=stride, padding="same" if same else 0, dilation=d, groups=groups),
                stored=draw(st.sampled_from(["x", "weight"])), seed=draw(st.integers(0, 2**31 - 1)))


@FAST
@given(_layout_case(), st.sampled_from(["conv2d", "conv2d_unfold", "conv2d_loop"]), st.booleans())
def test_every_version_stores_output_and_gradients_as_torch(case: dict, version: str, create_graph: bool) -> None:
    """A channels-last x or weight: output and both gradients channels-last, as F.conv2d stores them.
    x's gradient came back NCHW when groups were depthwise, after an even "same" window's extra zero, from
    create_graph=True, and from conv2d_unfold and conv2d_loop (the output too); torch.autograd.grad shows it
    (.backward() hides it: x.grad takes x's layout)."""
    fn = dict(conv2d=conv2d, conv2d_unfold=conv2d_unfold, conv2d_loop=conv2d_loop)[version]
    kw = case["kw"]
    x, w, b = _case(case["seed"], case["x_shape"], case["w_shape"])
    x, w = (t.contiguous(memory_format=torch.channels_last) if name == case["stored"] else t
            for name, t in (("x", x), ("weight", w)))
    assume(not (x if case["stored"] == "x" else w).is_contiguous())  # stored alike either way (a 1x1 map, one channel)
    x.requires_grad_()
    w.requires_grad_()
    y, ref = fn(x, w, b, **kw), F.conv2d(x, w, b, **kw)
    up = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=ref.dtype)
    got = torch.autograd.grad(y, (x, w), up, create_graph=create_graph)
    expected = torch.autograd.grad(ref, (x, w), up)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)
    for mine, theirs in zip((y, *got), (ref, *expected)):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-10)
        assert mine.is_contiguous(memory_format=torch.channels_last) == theirs.is_contiguous(memory_format=torch.channels_last)
        assert mine.is_contiguous() == theirs.is_contiguous()


@pytest.mark.parametrize("fn", [conv2d, conv2d_unfold, conv2d_loop], ids=lambda f: f.__name__)
def test_empty_batch_is_stored_contiguous_as_torch(fn) -> None:
    """An empty batch (N = 0) with a channels-last weight: F.conv2d returns plain NCHW; convlib returned
    channels-last."""
    x, w = torch.randn(0, 2, 6, 6), torch.randn(3, 2, 3, 3).contiguous(memory_format=torch.channels_last)
    got, expected = fn(x, w, padding=1), F.conv2d(x, w, padding=1)
    assert got.shape == expected.shape and got.stride() == expected.stride()


def test_which_arrangement_conv2d_picks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Image by image only where it pays and is possible: NCHW, float32/64, torch.mm, enough positions per image."""
    monkeypatch.setattr(conv_module, "PER_IMAGE_ROWS", 256)
    x, w = torch.randn(2, 3, 16, 16), torch.randn(4, 3, 3, 3)
    nchw = torch.contiguous_format
    with gemm.use("torch"):
        assert conv_module._per_image(x, w, nchw, 256)
        assert conv_module._per_image(x.double(), w.double(), nchw, 256)
        assert not conv_module._per_image(x, w, nchw, 255)  # small images: one product per slice
        assert not conv_module._per_image(x, w, torch.channels_last, 256)
        assert not conv_module._per_image(x.bfloat16(), w.bfloat16(), nchw, 256)
    if gemm.onednn_available():
        with gemm.use("onednn"):
            assert not conv_module._per_image(x, w, nchw, 256)  # oneDNN's operator has no batched form
            assert conv_module._per_image(x.double(), w.double(), nchw, 256)  # float64 runs on torch.mm anyway
            few = torch.randn(conv_module.TORCH_MM_KERNELS, 3, 3, 3)
            assert not conv_module._per_image(x, few, nchw, 256)  # oneDNN asked for: it multiplies
    if gemm.onednn_available():  # "auto" where oneDNN is preferred (other makers' processors with AVX-512)
        monkeypatch.setattr(gemm, "preferred", lambda: "onednn")
        assert gemm.library_for(x, w) == "onednn"
        k = conv_module.TORCH_MM_KERNELS
        assert conv_module._per_image(x, torch.randn(k, 3, 3, 3), nchw, 256)  # few kernels: torch.mm, image by image
        assert not conv_module._per_image(x, torch.randn(k + 1, 3, 3, 3), nchw, 256)
        assert not conv_module._per_image(x, torch.randn(k, 3, 3, 3), nchw, 255)


def test_which_plan_conv2d_picks_image_by_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """Folded (one im2col product per image) for thin kernel rows with many kernels (the RGB input
    layer of a CIFAR-10 net, not LeNet's first layer with 6 kernels), and for very many kernels while
    the batch's folded copies fit FOLD_BATCH_BYTES: then in one slice, kept for the backward pass, and
    the input gradient one product per kernel row."""
    for name, value in FOLD_RULE.items():
        monkeypatch.setattr(conv_module, name, value)
    def plan(c_in: int, c_out: int, k: int = 3, n: int = 2):
        x, w = torch.randn(n, c_in, 32, 32), torch.randn(c_out, c_in, k, k)
        return conv_module._plan(x, w, (1, 1), (k // 2, k // 2), (1, 1), (32, 32))

    assert plan(3, 32).folded and plan(3, 32).taps == ((0, 0),) and plan(3, 32).slots == 9
    assert not plan(1, 6, 5).folded and len(plan(1, 6, 5).taps) == 5  # one product per kernel row
    assert not plan(4, 32).folded  # k_w*C_in = 12
    assert not plan(32, 63).folded and plan(32, 63).slots == 3
    many = plan(32, 64)  # the CIFAR-10 net's second layer
    assert many.folded and many.slots == 9 and conv_module._folded_for_kernels(many, 32)
    assert conv_module._input_grad_plan(many, 32) == plan(32, 63)
    assert not conv_module._folded_for_kernels(plan(3, 64), 3)  # folded for its thin rows
    assert conv_module._input_grad_plan(plan(3, 64), 3) == plan(3, 64)
    per_image = 9 * 32 * 32 * 32 * 4  # bytes of one image's folded copies
    fits = conv_module.FOLD_BATCH_BYTES // per_image
    assert plan(32, 64, n=fits).folded and not plan(32, 64, n=fits + 1).folded
    x, w = torch.randn(fits, 32, 32, 32), torch.randn(64, 32, 3, 3)
    assert conv_module._images_per_slice(x, w, (32, 32), plan(32, 64, n=fits)) == fits  # kept for the backward pass


@pytest.mark.parametrize("geometry", [dict(padding=1), dict(stride=2, padding=(0, 1)), dict(dilation=2, padding=1)])
def test_folded_for_many_kernels_matches_torch(monkeypatch: pytest.MonkeyPatch, geometry: dict) -> None:
    """With the shipped fold rule, a layer of 64 kernels is folded for its kernels, in one slice whose
    copies the backward pass reuses; output and gradients match F.conv2d's."""
    monkeypatch.setattr(conv_module, "PER_IMAGE_ROWS", 1)
    for name, value in FOLD_RULE.items():
        monkeypatch.setattr(conv_module, name, value)
    x, w, b = _case(21, (3, 4, 20, 18), (64, 4, 3, 3))
    y = conv2d(x, w.requires_grad_(), b, **geometry)
    plan, step = y.grad_fn.plan, y.grad_fn.geometry[4]
    assert plan.folded and conv_module._folded_for_kernels(plan, 4) and step == 3 and y.grad_fn.lease is not None
    _assert_match(_grads(conv2d, x, w.detach(), b, **geometry), _grads(F.conv2d, x, w.detach(), b, **geometry))


@pytest.mark.parametrize("s, p, d", [((1, 1), (1, 1), (1, 1)), ((2, 2), (1, 1), (1, 1)), ((3, 1), (0, 0), (2, 2)),
                                     ((1, 1), (4, 0), (2, 1)), ((2, 1), (9, 9), (1, 1))])
def test_shifted_copies_are_the_padded_input(s, p, d) -> None:
    """Every window a product of the shifted-copy arrangement reads is what F.unfold gathers for it
    (kernel row t's taps, or all taps when folded), zeros on padding included."""
    x, k = torch.randn(2, 3, 9, 8, dtype=torch.float64), (3, 3)
    out_hw = tuple(conv_output_size(n, 3, padding=pp, stride=ss, dilation=dd) for n, pp, ss, dd in zip((9, 8), p, s, d))
    cols = F.unfold(x, k, dilation=d, padding=p, stride=s).view(2, 3, 3, 3, -1)  # (N, C, k_h, k_w, L)
    for folded in (False, True):
        plan = conv_module._shift_plan((9, 8), out_hw, k, s, p, d, folded)
        shape = conv_module._shifted_shape(plan, 2, 3, None)
        x3 = conv_module._shifted_input(torch.full(shape, float("nan"), dtype=x.dtype), x, plan, None)
        for t, (f, q) in enumerate(plan.taps):
            window = conv_module._row_window(x3[f], q, plan.out_rows, plan.cols)  # (N, K', L)
            taps = cols.permute(0, 2, 3, 1, 4) if folded else cols[:, :, t].transpose(1, 2)  # (N, [k_h,] k_w, C, L)
            torch.testing.assert_close(window, taps.reshape(2, -1, cols.shape[-1]))


def test_backward_twice_with_retain_graph_and_forward_without_backward(arrangement: str) -> None:
    """The forward pass's shifted copies go back to the pool after the first backward pass; a second one
    (retain_graph=True) makes its own, and a forward pass whose graph is dropped unused gives them back too."""
    conv_module.free_scratch()
    x, w, b = _case(11, (3, 6, 7, 7), (4, 6, 3, 3))
    for t in (x, w, b):
        t.requires_grad_()
    y = conv2d(x, w, b, padding=1)
    go = torch.randn_like(y)
    first = torch.autograd.grad(y, (x, w, b), go, retain_graph=True)
    conv2d(x * 2, w, b, padding=1)  # another forward pass of the same size may take the pooled copies meanwhile
    second = torch.autograd.grad(y, (x, w, b), go)
    expected = torch.autograd.grad(F.conv2d(x, w, b, padding=1), (x, w, b), go)
    for got in (first, second):
        for a, e in zip(got, expected):
            torch.testing.assert_close(a, e)
    del y
    pooled = sum(len(spare) for spare in conv_module._KEPT.free.values())
    assert pooled == (0 if arrangement == "rows" else 1)


def test_the_pool_of_kept_copies_is_bounded(monkeypatch: pytest.MonkeyPatch, arrangement: str) -> None:
    """Training on ever new input sizes must not pile up buffers: at most KEPT_BYTES stay pooled."""
    conv_module.free_scratch()
    monkeypatch.setattr(conv_module, "KEPT_BYTES", 40_000)
    w = torch.randn(4, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    for size in range(6, 16):
        conv2d(torch.randn(2, 6, size, size, dtype=torch.float64), w, padding=1).sum().backward()
    pooled = [t for spare in conv_module._KEPT.free.values() for t in spare]
    assert sum(t.nbytes for t in pooled) == conv_module._KEPT.nbytes <= 40_000
    assert (len(pooled) > 0) == (arrangement != "rows")
    conv_module.free_scratch()
    assert conv_module._KEPT.nbytes == 0


def test_kept_copies_are_reused_only_by_the_same_layout(arrangement: str) -> None:
    """A recycled buffer keeps the zeros its last fill wrote where the copies read padding, so it may only go
    to a layer with the same layout: here two layers whose copies have the same shape but different padding."""
    conv_module.free_scratch()
    w = torch.randn(4, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    cases = [(torch.randn(2, 6, 7, 7, dtype=torch.float64), 1), (torch.randn(2, 6, 9, 9, dtype=torch.float64), 0)]
    for _ in range(3):
        for x, padding in cases:
            x = (x + torch.rand(()) * 10).requires_grad_()  # new values each time, padding or not
            got = torch.autograd.grad(conv2d(x, w, padding=padding).square().sum(), (x, w))
            expected = torch.autograd.grad(F.conv2d(x, w, padding=padding).square().sum(), (x, w))
            for a, e in zip(got, expected):
                torch.testing.assert_close(a, e)
    tags = {key[3] for key in conv_module._KEPT.free}
    assert len(tags) == (0 if arrangement == "rows" else 2)


def test_kept_copies_are_reused_only_with_the_same_channels_and_bias() -> None:
    """Equal layouts and equal buffer shapes, yet a different meaning for the rows: two channels without a bias
    (two rows of copies) or one channel with one (a row of copies and a row of ones). Found by Hypothesis."""
    conv_module.free_scratch()
    for _ in range(3):
        for c_in, bias in ((2, False), (1, True)):
            x = torch.randn(2, c_in, 5, 5, dtype=torch.float64, requires_grad=True)
            w = torch.randn(3, c_in, 2, 1, dtype=torch.float64, requires_grad=True)
            b = torch.randn(3, dtype=torch.float64) if bias else None
            got = conv2d(x, w, b)
            torch.testing.assert_close(got, F.conv2d(x, w, b))
            got.sum().backward()
