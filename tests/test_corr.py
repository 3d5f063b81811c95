"""convlib.corr: the cross-correlation ops against their definition and F.conv2d."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import convlib as cl
from convlib.corr import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_naive
from convlib.validate import ConvlibInputError

FAST = settings(max_examples=40, deadline=None)


@st.composite
def matrix_and_kernel(draw: st.DrawFn) -> tuple[torch.Tensor, torch.Tensor]:
    """A float64 ``X (H, W)`` and a kernel ``K (k_h, k_w)`` that fits inside it."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, h)), draw(st.integers(1, w))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(h, w, generator=g, dtype=torch.float64),
            torch.randn(kh, kw, generator=g, dtype=torch.float64))


def test_worked_example() -> None:
    X = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    K = [[0, 1], [2, 3]]
    want = torch.tensor([[19.0, 25.0], [37.0, 43.0]])
    assert torch.equal(corr2d(X, K), want)
    assert torch.equal(corr2d_naive(X, K), want)
    assert cl.corr2d is corr2d  # the public name is the tested function


def test_edge_detection_example() -> None:
    X = torch.ones(6, 8)
    X[:, 2:6] = 0  # white | black band | white
    K = torch.tensor([[1.0, -1.0]])
    Y = corr2d(X, K)  # (6, 7)
    want = torch.zeros(6, 7)
    want[:, 1], want[:, 5] = 1.0, -1.0  # white->black is +1, black->white is -1
    assert torch.equal(Y, want)
    # The transposed image has horizontal edges, which [1, -1] cannot see.
    assert torch.equal(corr2d(X.t(), K), torch.zeros(8, 5))
    # ... but the transposed kernel sees them.
    assert torch.equal(corr2d(X.t(), K.t()), want.t())


@FAST
@given(matrix_and_kernel())
def test_naive_equals_vectorized(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    X, K = pair
    Y = corr2d(X, K)
    assert Y.shape == (X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1)
    torch.testing.assert_close(corr2d_naive(X, K), Y, rtol=1e-12, atol=1e-12)


@FAST
@given(matrix_and_kernel())
def test_corr2d_equals_conv2d(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    X, K = pair
    want = F.conv2d(X[None, None], K[None, None])[0, 0]  # (H_out, W_out)
    torch.testing.assert_close(corr2d(X, K), want, rtol=1e-12, atol=1e-12)


@FAST
@given(matrix_and_kernel())
def test_corr2d_gradients_equal_conv2d(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
    X0, K0 = pair
    g = torch.randn(X0.shape[0] - K0.shape[0] + 1, X0.shape[1] - K0.shape[1] + 1,
                    dtype=torch.float64)  # upstream gradient (H_out, W_out)
    X, K = X0.clone().requires_grad_(), K0.clone().requires_grad_()
    (corr2d(X, K) * g).sum().backward()
    Xt, Kt = X0.clone().requires_grad_(), K0.clone().requires_grad_()
    (F.conv2d(Xt[None, None], Kt[None, None])[0, 0] * g).sum().backward()
    torch.testing.assert_close(X.grad, Xt.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(K.grad, Kt.grad, rtol=1e-12, atol=1e-12)


def test_corr2d_gradcheck() -> None:
    X = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    K = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(corr2d, (X, K))


@FAST
@given(st.integers(1, 4), st.integers(1, 4), matrix_and_kernel())
def test_multi_in_and_out_equal_conv2d(
    c_in: int, c_out: int, pair: tuple[torch.Tensor, torch.Tensor]
) -> None:
    X1, K1 = pair
    X = torch.randn(c_in, *X1.shape, dtype=torch.float64)  # (C_in, H, W)
    K = torch.randn(c_out, c_in, *K1.shape, dtype=torch.float64)  # (C_out, C_in, k_h, k_w)
    torch.testing.assert_close(corr2d_multi_in(X, K[0]), F.conv2d(X[None], K[:1])[0, 0])
    torch.testing.assert_close(corr2d_multi_in_out(X, K), F.conv2d(X[None], K)[0])


def test_multi_in_worked_example() -> None:
    X = torch.tensor([[[0.0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]])
    K = torch.tensor([[[0.0, 1], [2, 3]], [[1.0, 2], [3, 4]]])
    assert torch.equal(corr2d_multi_in(X, K), torch.tensor([[56.0, 72.0], [104.0, 120.0]]))
    out = corr2d_multi_in_out(X, torch.stack([K, K + 1, K + 2]))  # (3, 2, 2)
    assert out.shape == (3, 2, 2)
    assert torch.equal(out[0], corr2d_multi_in(X, K))


def test_accepts_lists_numpy_and_ints() -> None:
    X = np.arange(12).reshape(3, 4)  # int64 array
    Y = corr2d(X, [[1, 0], [0, -1]])
    assert Y.dtype == torch.get_default_dtype()
    assert torch.equal(Y, torch.full((2, 3), -5.0))  # X[i, j] - X[i+1, j+1] = -5


def test_keeps_float64() -> None:
    """A list next to a float64 tensor is read in float64 (it has no dtype of its own)."""
    Y = corr2d(torch.ones(3, 3, dtype=torch.float64), [[0.1, 0.1], [0.1, 0.1]])
    assert Y.dtype == torch.float64 and torch.equal(Y, torch.full((2, 2), 0.1 + 0.1 + 0.1 + 0.1, dtype=torch.float64))


_ALL_OPS = {  # op: how X (H, W) and K (k_h, k_w) become its arguments, and the F.conv2d result it should equal
    "corr2d": (corr2d, lambda X, K: (X, K), lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0]),
    "corr2d_naive": (corr2d_naive, lambda X, K: (X, K), lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0]),
    "corr2d_multi_in": (corr2d_multi_in, lambda X, K: (X[None], K[None]),
                        lambda X, K: F.conv2d(X[None, None], K[None, None])[0, 0]),
    "corr2d_multi_in_out": (corr2d_multi_in_out, lambda X, K: (X[None], K[None, None]),
                            lambda X, K: F.conv2d(X[None, None], K[None, None])[0]),
    "trans_conv_naive": (cl.trans_conv_naive, lambda X, K: (X, K),
                         lambda X, K: F.conv_transpose2d(X[None, None], K[None, None])[0, 0]),
}


@pytest.mark.parametrize("name", list(_ALL_OPS))
def test_integer_tensors_compute_exactly_as_f_conv2d(name: str) -> None:
    """An int64 tensor was cast to float32: 16777217 came back as 16777216. F.conv2d computes in int64."""
    op, args, torch_op = _ALL_OPS[name]
    X = torch.tensor([[16777217, 1, -3], [2, 2**40 + 1, 5]])  # (2, 3), int64; float32 holds neither big value
    K = torch.tensor([[1, 2], [-1, 3]])  # (2, 2)
    want = torch_op(X, K)
    got = op(*args(X, K))
    assert got.dtype == torch.int64 and torch.equal(got, want)


@pytest.mark.parametrize("name", list(_ALL_OPS))
def test_integer_lists_stay_floats_and_lists_take_the_tensors_dtype(name: str) -> None:
    op, args, _ = _ALL_OPS[name]
    X, K = [[0, 1, 2], [3, 4, 5]], [[0, 1], [2, 3]]
    assert op(*args(torch.tensor(X, dtype=torch.float32), torch.tensor(K, dtype=torch.float32))).dtype == torch.float32
    if name in ("corr2d", "corr2d_naive", "trans_conv_naive"):  # the 2-D ops take nested lists directly
        assert op(X, K).dtype == torch.get_default_dtype()
        assert op(torch.tensor(X), K).dtype == torch.int64  # the list is read as the tensor's int64
        assert op(torch.tensor(X, dtype=torch.float64), K).dtype == torch.float64
        with pytest.raises(ConvlibInputError, match=r"^K: expected numbers that X's integer dtype torch\.int64 holds "
                                                    r"exactly, got \[\[0\.5\]\]\. Fix: X = X\.float\(\)"):
            op(torch.tensor(X), [[0.5]])


@pytest.mark.parametrize("name", list(_ALL_OPS))
@pytest.mark.parametrize(("x_dtype", "k_dtype"), [(torch.float32, torch.float64), (torch.float64, torch.float32),
                                                  (torch.int64, torch.float32)])
def test_two_dtypes_raise_as_f_conv2d(name: str, x_dtype: torch.dtype, k_dtype: torch.dtype) -> None:
    """corr2d cast K to X's dtype (so argument order picked the result), trans_conv_naive promoted: now both raise."""
    op, args, torch_op = _ALL_OPS[name]
    X, K = torch.ones(3, 3, dtype=x_dtype), torch.ones(2, 2, dtype=k_dtype)
    with pytest.raises(RuntimeError):
        torch_op(X, K)
    with pytest.raises(ConvlibInputError, match=rf"^K: expected the dtype of X \({x_dtype}\), got {k_dtype}\. "
                                                r"Fix: K = K\.to\(X\.dtype\)"):
        op(*args(X, K))


@pytest.mark.parametrize("op", [corr2d, corr2d_naive, cl.trans_conv_naive])
@pytest.mark.parametrize(("X", "match"), [
    (None, r"^X: expected a tensor or a nested list of numbers, got None \(a NoneType\)\. Fix: pass numbers"),
    ("abc", r"^X: expected a tensor or a nested list of numbers, got 'abc' \(a str\)\. Fix: pass numbers"),
    ([[object()]], r"^X: expected a tensor or a nested list of numbers, got \[\[<object.*\(a list\), which torch cannot "
                   r"read as numbers"),
])
def test_what_is_not_numbers_says_so(op, X: object, match: str) -> None:
    """None gave torch's RuntimeError "Could not infer dtype of NoneType", a string a raw TypeError."""
    with pytest.raises(TypeError, match=match):
        op(X, [[1.0]])


@pytest.mark.parametrize("op", [corr2d, corr2d_naive])
def test_kernel_larger_than_input(op) -> None:
    with pytest.raises(ConvlibInputError, match=r"K: expected a window no larger than the padded input 2x3, got a 3x1 window\. Fix: "):
        op(torch.ones(2, 3), torch.ones(3, 1))


@pytest.mark.parametrize("op", [corr2d, corr2d_naive])
def test_not_a_matrix(op) -> None:
    with pytest.raises(ConvlibInputError, match=r"X: expected a 2-D matrix \(H, W\), got 3-D shape \(1, 3, 3\)\. Fix: .*convlib\.conv2d"):
        op(torch.ones(1, 3, 3), torch.ones(2, 2))
    with pytest.raises(ConvlibInputError, match=r"K: expected a 2-D matrix \(H, W\), got 1-D shape \(2,\)\. Fix: wrap it as a matrix, e\.g\. \[\[1\.0, -1\.0\]\]"):
        op(torch.ones(3, 3), [1.0, -1.0])


@pytest.mark.parametrize("op", [corr2d, corr2d_naive])
@pytest.mark.parametrize(
    ("X", "K", "match"),
    [
        ([[]], [[]], r"^X: expected at least one value along every axis of \(H, W\), got shape \(1, 0\)\. Fix: "),
        (torch.zeros(0, 3), [[1.0]], r"^X: expected at least one value along every axis of \(H, W\), got shape \(0, 3\)"),
        ([[]], [[1.0]], r"^X: .* got shape \(1, 0\)"),
        (torch.ones(3, 3), torch.zeros(0, 2), r"^K: expected at least one value along every axis of \(k_h, k_w\), got shape \(0, 2\)\. Fix: .*\[\[1\.0\]\]"),
        (torch.ones(3, 3), [[]], r"^K: .* got shape \(1, 0\)"),
    ],
)
def test_empty_input_or_kernel_is_an_error_as_in_f_conv2d(op, X, K, match: str) -> None:
    """corr2d([[]], [[]]) gave tensor([[0.]]) and an empty K a map of zeros; F.conv2d raises for both."""
    x4, k4 = torch.as_tensor(X, dtype=torch.float32)[None, None], torch.as_tensor(K, dtype=torch.float32)[None, None]
    with pytest.raises(RuntimeError):
        F.conv2d(x4, k4)
    with pytest.raises(ConvlibInputError, match=match):
        op(X, K)


def test_channel_ops_refuse_empty_kernels_and_images() -> None:
    with pytest.raises(ConvlibInputError, match=r"^K: .*\(k_h, k_w\), got shape \(0, 2\)"):
        corr2d_multi_in(torch.ones(1, 3, 3), torch.zeros(1, 0, 2))
    with pytest.raises(ConvlibInputError, match=r"^K: .*\(k_h, k_w\), got shape \(0, 2\)"):  # C_out = 0 too
        corr2d_multi_in_out(torch.ones(1, 3, 3), torch.zeros(0, 1, 0, 2))
    with pytest.raises(ConvlibInputError, match=r"^X: .*\(H, W\), got shape \(0, 3\)"):
        corr2d_multi_in_out(torch.ones(1, 0, 3), torch.zeros(0, 1, 1, 1))


def test_multi_in_errors() -> None:
    with pytest.raises(ConvlibInputError, match=r"^corr2d_multi_in: expected X \(C_in, H, W\), got X 2-D shape \(3, 3\)\. Fix: X\[None\] makes one channel"):
        corr2d_multi_in(torch.ones(3, 3), torch.ones(1, 2, 2))
    with pytest.raises(ConvlibInputError, match=r"got 2 input channels and 3 kernel channels\. Fix: give K shape \(2, k_h, k_w\)"):
        corr2d_multi_in(torch.ones(2, 3, 3), torch.ones(3, 2, 2))
    with pytest.raises(ConvlibInputError, match=r"^corr2d_multi_in: expected K \(C_in, k_h, k_w\) = \(2, k_h, k_w\), got K 2-D shape \(2, 2\)\. Fix: K\[None\]"):
        corr2d_multi_in(torch.ones(2, 3, 3), torch.ones(2, 2))
    with pytest.raises(ConvlibInputError, match=r"got K 4-D shape \(1, 2, 2, 2\)\. Fix: for several output channels use corr2d_multi_in_out"):
        corr2d_multi_in(torch.ones(2, 3, 3), torch.ones(1, 2, 2, 2))


@pytest.mark.parametrize("op", [corr2d_multi_in, corr2d_multi_in_out])
def test_no_input_channels_is_an_error_not_the_number_0(op) -> None:
    """sum() over no channels gave the Python int 0; now the message says C_in = 0."""
    K = torch.ones(0, 2, 2) if op is corr2d_multi_in else torch.ones(1, 0, 2, 2)
    with pytest.raises(ConvlibInputError, match=rf"^{op.__name__}: expected at least one input channel, got X shape \(0, 3, 3\) \(C_in = 0"):
        op(torch.ones(0, 3, 3), K)


@pytest.mark.parametrize(("X", "K", "match"), [
    # the kernel stacks' C_in does not match X: the message names K's full shape and the fix, not a slice of K
    ((2, 5, 5), (3, 3, 2, 2), r"expected K \(C_out, C_in, k_h, k_w\) with C_in = 2 \(X has shape \(2, 5, 5\)\), got K shape "
                               r"\(3, 3, 2, 2\) with C_in = 3\. Fix: give K shape \(3, 2, 2, 2\)"),
    ((2, 5, 5), (2, 2, 2), r"expected K \(C_out, C_in, k_h, k_w\) with C_in = 2, got K 3-D shape \(2, 2, 2\)\. Fix: K\[None\] makes one "
                           r"output channel .*torch\.stack"),
    ((5, 5), (3, 1, 2, 2), r"expected X \(C_in, H, W\), got X 2-D shape \(5, 5\)\. Fix: X\[None\] makes one channel"),
    ((1, 2, 5, 5), (3, 2, 2, 2), r"expected X \(C_in, H, W\), got X 4-D shape \(1, 2, 5, 5\)\. Fix: pass one image at a time, X\[0\] "
                                 r"\(for a batch \(N, C_in, H, W\) use convlib\.conv2d\)"),
    ((2, 5, 5), (0, 2, 6, 6), r"^K: expected a window no larger than the padded input 5x5, got a 6x6 window"),
])
def test_multi_in_out_errors_name_its_own_shapes(X: tuple, K: tuple, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=match if match.startswith("^") else "^corr2d_multi_in_out: " + match):
        corr2d_multi_in_out(torch.ones(X), torch.ones(K))


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64])
def test_no_output_channels_is_the_empty_stack(dtype: torch.dtype) -> None:
    """C_out = 0: shape (0, H_out, W_out) in the dtype one kernel's map has, as stacking zero maps would give."""
    X = torch.arange(2 * 5 * 6, dtype=dtype).reshape(2, 5, 6)
    out = corr2d_multi_in_out(X, torch.ones(0, 2, 3, 2, dtype=dtype))
    one = corr2d_multi_in_out(X, torch.ones(1, 2, 3, 2, dtype=dtype))
    assert out.shape == (0, 3, 5) and out.dtype == one.dtype
    assert out.shape == F.conv2d(one.new_zeros(1, 2, 5, 6), one.new_zeros(1, 2, 3, 2))[0, :0].shape


def test_naive_result_lives_on_the_input_device() -> None:
    """The loop's output buffer follows X (a CUDA or meta X must not get a CPU result)."""
    X, K = torch.zeros(3, 3, device="meta"), torch.zeros(2, 2, device="meta")
    assert cl.corr2d_naive(X, K).device.type == "meta"
