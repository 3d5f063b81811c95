"""convlib.transposed: conv_transpose2d and its teaching versions against F.conv_transpose2d."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

import convlib as cl
from convlib.transposed import conv_transpose2d, insert_zeros, trans_conv_naive
from convlib.validate import INTEGER_DTYPES, ConvlibInputError
from tests.autograd_checks import value_and_grads
from tests.integer_checks import assert_integer_op_as_torch, random_integers


@st.composite
def transposed_case(draw: st.DrawFn) -> dict:
    """Sizes, stride, padding, dilation and an output_padding torch accepts."""
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    op = tuple(draw(st.integers(0, max(s[a], d[a]) - 1)) for a in (0, 1))
    hw = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    out = [(hw[a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + 1 + op[a] for a in (0, 1)]
    assume(min(out) >= 1)
    n, c_in, c_out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(x=(n, c_in, *hw), w=(c_in, c_out, *k), bias=draw(st.booleans()),
                kw=dict(stride=s, padding=p, output_padding=op, dilation=d), seed=draw(st.integers(0, 2**31 - 1)))


def _tensors(case: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(case["seed"])
    x = torch.randn(case["x"], generator=g, dtype=torch.float64)  # (N, C_in, H, W)
    w = torch.randn(case["w"], generator=g, dtype=torch.float64)  # (C_in, C_out, k_h, k_w)
    b = torch.randn(case["w"][1], generator=g, dtype=torch.float64) if case["bias"] else None
    return x, w, b


@settings(max_examples=120, deadline=None)
@given(transposed_case())
def test_matches_torch_values_and_gradients(case: dict) -> None:
    x, w, b = _tensors(case)
    ours = value_and_grads(lambda x, w, b: conv_transpose2d(x, w, b, **case["kw"]), x, w, b)
    ref = value_and_grads(lambda x, w, b: F.conv_transpose2d(x, w, b, **case["kw"]), x, w, b)
    assert ours[0].shape == ref[0].shape
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 5), w=st.integers(1, 5), kh=st.integers(1, 4), kw=st.integers(1, 4),
       s=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 2**31 - 1))
def test_naive_loop_matches_the_batched_op(h: int, w: int, kh: int, kw: int, s: tuple, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    X, K = torch.randn(h, w, generator=g, dtype=torch.float64), torch.randn(kh, kw, generator=g, dtype=torch.float64)
    want = F.conv_transpose2d(X[None, None], K[None, None], stride=s)[0, 0]
    torch.testing.assert_close(trans_conv_naive(X, K, stride=s), want)
    torch.testing.assert_close(conv_transpose2d(X[None, None], K[None, None], stride=s)[0, 0], want)


def test_worked_example_and_lists() -> None:
    X = K = [[0, 1], [2, 3]]
    assert torch.equal(trans_conv_naive(X, K), torch.tensor([[0.0, 0, 1], [0, 4, 6], [4, 12, 9]]))
    assert torch.equal(trans_conv_naive(X, K, stride=2),
                       torch.tensor([[0.0, 0, 0, 1], [0, 0, 2, 3], [0, 2, 0, 3], [4, 6, 6, 9]]))
    assert cl.trans_conv_naive is trans_conv_naive and cl.conv_transpose2d is conv_transpose2d


def test_naive_is_differentiable() -> None:
    X = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    K = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda X, K: trans_conv_naive(X, K, stride=2), (X, K))


@pytest.mark.parametrize(("n", "k", "s", "p"), [(5, 3, 2, 1), (6, 3, 2, 1), (4, 2, 1, 0), (7, 3, 3, 0), (5, 4, 2, 2)])
def test_is_the_transpose_of_the_convolution_matrix(n: int, k: int, s: int, p: int) -> None:
    K = torch.randn(k, k, dtype=torch.float64)
    M = cl.conv_as_matrix(K, n, stride=s, padding=p)  # (H_out*W_out, n*n)
    m = cl.conv_output_size(n, k, padding=p, stride=s)
    op = n - cl.conv_transpose_output_size(m, k, padding=p, stride=s)  # sizes a stride-s conv merges
    y = torch.randn(1, 1, m, m, dtype=torch.float64)
    back = conv_transpose2d(y, K[None, None], stride=s, padding=p, output_padding=op)  # (1, 1, n, n)
    torch.testing.assert_close(back.flatten(), M.T @ y.flatten())


@settings(max_examples=60, deadline=None)
@given(transposed_case())
def test_is_a_convolution_of_the_zero_spread_input(case: dict) -> None:
    x, w, _ = _tensors(case)
    kw = case["kw"]
    (kh, kw_), (ph, pw), (dh, dw) = case["w"][2:], kw["padding"], kw["dilation"]
    assume(ph <= dh * (kh - 1) and pw <= dw * (kw_ - 1))
    oph, opw = kw["output_padding"]
    qh, qw = dh * (kh - 1) - ph, dw * (kw_ - 1) - pw  # padding of the spread-out input
    spread = F.pad(insert_zeros(x, kw["stride"]), (qw, qw + opw, qh, qh + oph))
    flipped = w.flip(2, 3).transpose(0, 1)  # (C_out, C_in, k_h, k_w), each kernel turned 180 degrees
    want = cl.conv2d(spread, flipped, dilation=kw["dilation"])
    torch.testing.assert_close(conv_transpose2d(x, w, **kw), want)


@settings(max_examples=60, deadline=None)
@given(transposed_case())
def test_is_the_input_gradient_of_a_convolution(case: dict) -> None:
    x, w, _ = _tensors(case)
    kw = case["kw"]
    assume(all(op < s for op, s in zip(kw["output_padding"], kw["stride"])))
    # A convolution with these settings maps y back to x's size; the same w is its
    # weight (C_out, C_in) from the convolution's side: y's C_out channels in, x's C_in out.
    y = conv_transpose2d(x, w, **kw).detach().requires_grad_()  # (N, C_out, H_y, W_y)
    out = F.conv2d(y, w, stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"])  # (N, C_in, H, W)
    assert out.shape == x.shape
    (grad,) = torch.autograd.grad(out, y, x)
    torch.testing.assert_close(grad, conv_transpose2d(x, w, **kw))


def test_insert_zeros() -> None:
    x = torch.arange(1.0, 7).reshape(1, 1, 2, 3)
    got = insert_zeros(x, (3, 2))  # (1, 1, 4, 5)
    assert got.shape == (1, 1, 4, 5) and torch.equal(got[..., ::3, ::2], x) and got.sum() == x.sum()
    assert torch.equal(insert_zeros(x, 1), x)
    with pytest.raises(ConvlibInputError, match="at least 2 dims"):
        insert_zeros(torch.ones(3), 2)


def test_errors_say_what_to_do() -> None:
    x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 2, 3, 3)
    with pytest.raises(ConvlibInputError, match=r"or one 3-D image \(C, H, W\), got 2-D shape \(5, 5\)\. Fix: x\[None\]"):
        conv_transpose2d(x[0, 0], w)
    with pytest.raises(ConvlibInputError, match=r"permute\(0, 3, 1, 2\)"):
        conv_transpose2d(torch.randn(1, 5, 5, 4), w)  # (N, H, W, C): channels last
    with pytest.raises(ConvlibInputError, match="C_in first"):
        conv_transpose2d(x, w[0])
    with pytest.raises(ConvlibInputError, match="output_padding smaller than the stride"):
        conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ConvlibInputError, match="use less padding"):
        conv_transpose2d(torch.randn(1, 4, 1, 1), torch.randn(4, 2, 1, 1), padding=1)
    with pytest.raises(ConvlibInputError, match=r"bias: expected shape \(2,\)"):
        conv_transpose2d(x, w, torch.zeros(4))
    with pytest.raises(ConvlibInputError, match="dtype of x"):
        conv_transpose2d(x, w.double())
    with pytest.raises(TypeError, match="floating-point"):
        conv_transpose2d(x.long(), w)


@settings(max_examples=60, deadline=None)
@given(transposed_case(), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2))
def test_groups_match_torch(case: dict, groups: int, in_per_group: int, out_per_group: int) -> None:
    """Weight ``(C_in, C_out/groups, k_h, k_w)``: each group spreads into its own output channels."""
    n, _, h, w = case["x"]
    case = {**case, "x": (n, groups * in_per_group, h, w), "w": (groups * in_per_group, out_per_group, *case["w"][2:])}
    x, w, b = _tensors(case)
    b = None if b is None else torch.randn(groups * out_per_group, dtype=torch.float64)  # (C_out,)
    kw = dict(case["kw"], groups=groups)
    ours = value_and_grads(lambda x, w, b: conv_transpose2d(x, w, b, **kw), x, w, b)
    ref = value_and_grads(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)
    assert ours[0].shape == ref[0].shape
    for got, want in zip(ours, ref):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(transposed_case(), st.sampled_from(INTEGER_DTYPES), st.integers(1, 2))
def test_integer_tensors_as_torch(case: dict, dtype: torch.dtype, groups: int) -> None:
    """Integer x and weight: F.conv_transpose2d's integer result in their dtype (sums wrapped as torch's)."""
    g = torch.Generator().manual_seed(case["seed"])
    n, c_in, h, w = case["x"]
    x = random_integers((n, c_in * groups, h, w), dtype, g)  # (N, C_in, H, W)
    weight = random_integers((c_in * groups, *case["w"][1:]), dtype, g)  # (C_in, C_out/groups, k_h, k_w)
    b = random_integers((case["w"][1] * groups,), dtype, g) if case["bias"] else None
    kw = dict(case["kw"], groups=groups)
    assert_integer_op_as_torch(lambda x, w, b: conv_transpose2d(x, w, b, **kw),
                               lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, weight, b)


def test_groups_errors() -> None:
    with pytest.raises(ConvlibInputError, match=r"^groups: expected a divisor of the weight's C_in = 3 .*got 2\. "
                                                r"Fix: pick groups from \[1, 3\]"):
        conv_transpose2d(torch.randn(1, 3, 4, 4), torch.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(ConvlibInputError, match=r"bias: expected shape \(4,\)"):  # C_out = groups * 2
        conv_transpose2d(torch.randn(1, 4, 4, 4), torch.randn(4, 2, 3, 3), torch.zeros(2), groups=2)


def test_naive_result_lives_on_the_input_device() -> None:
    X, K = torch.zeros(2, 2, device="meta"), torch.zeros(2, 2, device="meta")
    assert cl.trans_conv_naive(X, K, stride=2).shape == (4, 4)
    assert cl.trans_conv_naive(X, K).device.type == "meta"


@pytest.mark.parametrize("bias", [True, False])
def test_autocast_computes_in_its_dtype_like_torch(bias: bool) -> None:
    g = torch.Generator().manual_seed(3)
    x, w = torch.randn(2, 4, 5, 5, generator=g), torch.randn(4, 3, 3, 3, generator=g)  # (N, C_in, H, W), (C_in, C_out, k, k)
    b = torch.randn(3, generator=g) if bias else None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours, ref = cl.conv_transpose2d(x, w, b, stride=2), F.conv_transpose2d(x, w, b, stride=2)
    assert ours.dtype == ref.dtype == torch.bfloat16
    torch.testing.assert_close(ours.float(), ref.float(), rtol=2e-2, atol=5e-2)


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)])
def test_one_image_matches_torch_with_gradients(kwargs: dict) -> None:
    """(C_in, H, W) -> (C_out, H_out, W_out), as F.conv_transpose2d takes one image; gradients too."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 5, generator=g, dtype=torch.float64, requires_grad=True)  # (C_in, H, W)
    w = torch.randn(4, 3, 3, 2, generator=g, dtype=torch.float64, requires_grad=True)  # (C_in, C_out/groups, k_h, k_w)
    b = torch.randn(3 * kwargs.get("groups", 1), generator=g, dtype=torch.float64, requires_grad=True)
    out, ref = conv_transpose2d(x, w, b, **kwargs), F.conv_transpose2d(x, w, b, **kwargs)
    assert out.shape == ref.shape and out.ndim == 3
    torch.testing.assert_close(out, ref)
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for got, want in zip(torch.autograd.grad(out, (x, w, b), up), torch.autograd.grad(ref, (x, w, b), up)):
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize(("shape", "stride", "expected"), [
    ((0, 3), 2, (0, 5)), ((3, 0), (2, 3), (5, 0)), ((2, 4, 0, 0), 3, (2, 4, 0, 0)), ((0, 1), 1, (0, 1)),
])
def test_insert_zeros_keeps_an_empty_axis_empty(shape: tuple[int, ...], stride, expected: tuple[int, ...]) -> None:
    """No cells, nothing to spread: an empty axis stays empty (and the other axis spreads as usual)."""
    out = insert_zeros(torch.zeros(shape), stride)
    assert out.shape == expected


def test_insert_zeros_then_convolve_is_the_transposed_convolution() -> None:
    """The identity insert_zeros states: spread, pad by d*(k-1) - p, and convolve with the flipped kernel."""
    g = torch.Generator().manual_seed(2)
    x, w = torch.randn(2, 3, 4, 5, generator=g, dtype=torch.float64), torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    spread = F.pad(insert_zeros(x, 2), (1, 1, 1, 1))  # k - 1 - p = 3 - 1 - 1
    flipped = w.flip(2, 3).transpose(0, 1)  # (C_out, C_in, k_h, k_w)
    torch.testing.assert_close(F.conv2d(spread, flipped), F.conv_transpose2d(x, w, stride=2, padding=1))


def test_arguments_in_torchs_order() -> None:
    """conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation), as F.conv_transpose2d."""
    g = torch.Generator().manual_seed(4)
    x, w = torch.randn(2, 4, 5, 4, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    for groups, args in [(1, (2,)), (1, (2, 1)), (1, (2, 1, 1)), (2, (2, 1, (1, 0), 2)), (2, (2, 1, 1, 2, (2, 1)))]:
        b = torch.randn(3 * groups, generator=g)  # (C_out,)
        torch.testing.assert_close(cl.conv_transpose2d(x, w, b, *args), F.conv_transpose2d(x, w, b, *args),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stored", ["x", "weight", "neither"])
def test_output_stored_as_torch(stored: str) -> None:
    """A channels-last input or weight gives a channels-last output (and padding never leaves a strided view)."""
    g = torch.Generator().manual_seed(6)
    x, w = torch.randn(2, 4, 5, 4, generator=g), torch.randn(4, 3, 3, 3, generator=g)
    if stored == "x":
        x = x.contiguous(memory_format=torch.channels_last)
    if stored == "weight":
        w = w.contiguous(memory_format=torch.channels_last)
    got, expected = cl.conv_transpose2d(x, w, stride=2, padding=1), F.conv_transpose2d(x, w, stride=2, padding=1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert got.stride() == expected.stride()


@pytest.mark.parametrize(("X", "K", "match"), [
    (torch.zeros(0, 2), torch.ones(2, 2), r"^X: expected at least one value along every axis of \(H, W\), got shape \(0, 2\)"),
    (torch.ones(2, 2), torch.ones(2, 0), r"^K: expected at least one value along every axis of \(k_h, k_w\), got shape \(2, 0\)"),
])
def test_naive_refuses_an_empty_input_or_kernel_as_torch(X: torch.Tensor, K: torch.Tensor, match: str) -> None:
    """trans_conv_naive(torch.zeros(0, 2), ...) returned a (1, 3) matrix of zeros; F.conv_transpose2d raises."""
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(X[None, None], K[None, None])
    with pytest.raises(ConvlibInputError, match=match):
        trans_conv_naive(X, K)


def test_bias_as_a_list_and_an_image_without_rows_say_what_is_wrong() -> None:
    """A list bias raised AttributeError; a 0-row x failed in the output-size helper. F.conv_transpose2d raises for both."""
    x, w = torch.randn(2, 4, 5, 5), torch.randn(4, 3, 3, 3)
    with pytest.raises(TypeError, match=r"^bias: expected a tensor of shape \(3,\) .*got a list\. Fix: bias = torch\.tensor\(bias"):
        conv_transpose2d(x, w, [0.0] * 3)
    empty = torch.zeros(1, 4, 0, 5)
    with pytest.raises(RuntimeError):
        F.conv_transpose2d(empty, w, padding=1)
    with pytest.raises(ConvlibInputError, match=r"^x: expected at least one row and one column \(H, W >= 1\), got shape \(1, 4, 0, 5\)"):
        conv_transpose2d(empty, w, padding=1)


@settings(max_examples=60, deadline=None)
@given(transposed_case(), st.sampled_from(["x", "weight", "neither"]))
def test_gradients_stored_as_torch(case: dict, stored: str) -> None:
    """Both gradients come back in F.conv_transpose2d's layout (torch.autograd.grad): x's was NCHW for a
    channels-last x, the weight's had F.fold's transposed strides even when nothing was channels-last."""
    x, w, b = _tensors(case)
    x, w = (t.contiguous(memory_format=torch.channels_last) if name == stored else t for name, t in (("x", x), ("weight", w)))
    assume(stored == "neither" or not (x if stored == "x" else w).is_contiguous())  # a 1x1 map is stored alike either way
    x.requires_grad_()
    w.requires_grad_()
    y, ref = conv_transpose2d(x, w, b, **case["kw"]), F.conv_transpose2d(x, w, b, **case["kw"])
    up = torch.randn(ref.shape, generator=torch.Generator().manual_seed(1), dtype=ref.dtype)
    for mine, theirs in zip(torch.autograd.grad(y, (x, w), up), torch.autograd.grad(ref, (x, w), up)):
        torch.testing.assert_close(mine, theirs, rtol=1e-10, atol=1e-10)
        assert mine.is_contiguous(memory_format=torch.channels_last) == theirs.is_contiguous(memory_format=torch.channels_last)
        assert mine.is_contiguous() == theirs.is_contiguous()


@pytest.mark.parametrize("kwargs", [dict(), dict(stride=2, padding=1, output_padding=1), dict(groups=2, dilation=2)])
def test_bfloat16_sums_in_float32_as_torch(kwargs: dict) -> None:
    """bfloat16 patches were added in bfloat16 (each overlap rounded again: errors of 1% of the result);
    convlib now sums in float32 and rounds once: the numbers of the float32 layer, rounded. Where oneDNN
    runs bfloat16 natively (AVX-512), F.conv_transpose2d gives exactly these; on an AVX2-only processor
    (2026-12-03) it differed from them in 326 of 600 outputs, by up to 0.125, rounding as it went."""
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 8, 8, generator=g).bfloat16()
    w = torch.randn(4, 3, 3, 3, generator=g).bfloat16()
    b = torch.randn(3 * kwargs.get("groups", 1), generator=g).bfloat16()
    got = conv_transpose2d(x, w, b, **kwargs)
    expected = F.conv_transpose2d(x.float(), w.float(), b.float(), **kwargs).bfloat16()  # summed in float32, rounded once
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")  # torch.func's own import
def test_vmap_and_func_grad_match_torch() -> None:
    """torch.func.vmap over conv_transpose2d raised "NYI: querying is_contiguous inside of vmap" (asking
    the layout); it now computes as for NCHW there, and torch.func.grad goes through too."""
    g = torch.Generator().manual_seed(4)
    xs, w = torch.randn(3, 2, 5, 5, generator=g), torch.randn(2, 3, 3, 3, generator=g)
    kw = dict(stride=2, padding=1)
    torch.testing.assert_close(torch.func.vmap(lambda x: conv_transpose2d(x, w, **kw))(xs), F.conv_transpose2d(xs, w, **kw))
    grads = [torch.func.grad(lambda x: fn(x, w, **kw).pow(2).sum())(xs) for fn in (conv_transpose2d, F.conv_transpose2d)]
    torch.testing.assert_close(*grads, rtol=1e-4, atol=1e-4)


def test_empty_batch_is_stored_contiguous_as_torch() -> None:
    """As F.conv_transpose2d: an empty batch (N = 0) comes back plain NCHW, even for a channels-last weight."""
    x, w = torch.randn(0, 2, 6, 6), torch.randn(2, 3, 3, 3).contiguous(memory_format=torch.channels_last)
    got, expected = conv_transpose2d(x, w), F.conv_transpose2d(x, w)
    assert got.shape == expected.shape and got.stride() == expected.stride()
