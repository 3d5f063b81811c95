"""convlib.dense: the dense matrix of a convolution equals the convolution."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest
import torch
import torch.nn.functional as F

from convlib.conv import conv2d
from convlib.dense import conv_as_matrix, conv_weight_ids
from convlib.shapes import conv_output_size
from convlib.validate import ConvlibInputError


@st.composite
def conv_settings(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 7))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 7))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return dict(kh=kh, kw=kw, h=h, w=w, c_in=c_in, c_out=c_out,
                stride=s, padding=(ph, pw), dilation=(dh, dw))


@settings(max_examples=40, deadline=None)
@given(conv_settings(), st.integers(0, 2**31 - 1))
def test_matrix_times_input_equals_f_conv2d(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(cfg["c_out"], cfg["c_in"], cfg["kh"], cfg["kw"], generator=g, dtype=torch.float64)
    x = torch.randn(2, cfg["c_in"], cfg["h"], cfg["w"], generator=g, dtype=torch.float64)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    M = conv_as_matrix(weight, (cfg["h"], cfg["w"]), **kw)
    expected = F.conv2d(x, weight, **kw)  # (N, C_out, H_out, W_out)
    assert M.shape == (expected[0].numel(), x[0].numel())
    assert torch.allclose(x.flatten(1) @ M.T, expected.flatten(1), atol=1e-10)


def test_course_example_4x4_input_2x2_kernel_is_9_by_16():
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    M = conv_as_matrix(K, 4)
    assert M.shape == (9, 16)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal((M @ x.flatten()).reshape(3, 3), conv2d(x, K[None, None])[0, 0])
    # Each row holds the 4 kernel weights once, nothing else (locality + sharing).
    assert ((M != 0).sum(dim=1) == 4).all()
    for row in M:
        assert sorted(row[row != 0].tolist()) == [1.0, 2.0, 3.0, 4.0]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2), st.integers(1, 3), st.integers(1, 2), st.integers(3, 7))
def test_weight_ids_match_a_direct_window_walk(k, p, s, d, n):
    span = d * (k - 1) + 1
    if span > n + 2 * p:
        return
    ids = conv_weight_ids(k, n, stride=s, padding=p, dilation=d)
    n_out = conv_output_size(n, k, padding=p, stride=s, dilation=d)
    expected = torch.full((n_out * n_out, n * n), -1, dtype=torch.long)
    for r in range(n_out):
        for c in range(n_out):
            for a in range(k):
                for b in range(k):
                    i, j = r * s + a * d - p, c * s + b * d - p  # input coordinates of tap (a, b)
                    if 0 <= i < n and 0 <= j < n:
                        expected[r * n_out + c, i * n + j] = a * k + b
    assert torch.equal(ids, expected)


def test_weight_ids_pattern_equals_dense_nonzeros():
    weight = torch.rand(1, 1, 3, 3, dtype=torch.float64) + 0.5  # no zero weights
    M = conv_as_matrix(weight, 5, padding=1, stride=2)
    ids = conv_weight_ids(3, 5, padding=1, stride=2)
    assert torch.equal(M != 0, ids >= 0)
    assert torch.equal(M[ids >= 0], weight.flatten()[ids[ids >= 0]])


def test_bad_inputs():
    with pytest.raises(ConvlibInputError, match="at most .*Fix"):
        conv_as_matrix(torch.ones(3, 3), 100)
    with pytest.raises(ConvlibInputError, match="expected .*got .*Fix"):
        conv_as_matrix(torch.ones(3, 3, 3), 5)
    with pytest.raises(ConvlibInputError, match="larger input"):
        conv_as_matrix(torch.ones(5, 5), 3)
    with pytest.raises(TypeError, match="floating-point"):
        conv_as_matrix(torch.ones(2, 2, dtype=torch.long), 3)


@settings(max_examples=40, deadline=None)
@given(conv_settings(), st.sampled_from(["same", "valid", None]), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_string_padding_and_groups_as_f_conv2d(cfg, padding, groups, seed):
    """padding="same" / "valid" (which conv2d takes) raised a TypeError, and groups was no keyword."""
    padding = cfg["padding"] if padding is None else padding
    stride = 1 if padding == "same" else cfg["stride"]
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(cfg["c_out"] * groups, cfg["c_in"], cfg["kh"], cfg["kw"], generator=g, dtype=torch.float64)
    x = torch.randn(2, cfg["c_in"] * groups, cfg["h"], cfg["w"], generator=g, dtype=torch.float64)
    kw = dict(stride=stride, padding=padding, dilation=cfg["dilation"], groups=groups)
    try:
        ref = F.conv2d(x, weight, **kw)
    except RuntimeError:  # the window does not fit the (unpadded) input: torch refuses, so does convlib
        with pytest.raises(ConvlibInputError, match="larger input"):
            conv_as_matrix(weight, (cfg["h"], cfg["w"]), **kw)
        return
    M = conv_as_matrix(weight, (cfg["h"], cfg["w"]), **kw)
    torch.testing.assert_close(x.flatten(1) @ M.T, ref.flatten(1), rtol=1e-10, atol=1e-10)


def test_groups_must_divide_the_kernels():
    with pytest.raises(ConvlibInputError, match=r"^groups: expected a divisor of the weight's C_out = 3.*Fix"):
        conv_as_matrix(torch.ones(3, 1, 2, 2), 4, groups=2)
