"""convlib.coverage: usage counts from fold agree with a direct count and with autograd."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
import pytest
import torch
import torch.nn.functional as F

from convlib.coverage import input_usage
from convlib.shapes import conv_output_size
from convlib.validate import ConvlibInputError


def direct_count(h, w, k, p, s, d):
    """Walk every window of the padded grid and add 1 under each tap."""
    counts = torch.zeros(h + 2 * p, w + 2 * p, dtype=torch.long)
    for r in range(conv_output_size(h, k, padding=p, stride=s, dilation=d)):
        for c in range(conv_output_size(w, k, padding=p, stride=s, dilation=d)):
            for a in range(k):
                for b in range(k):
                    counts[r * s + a * d, c * s + b * d] += 1
    return counts


@st.composite
def settings_(draw):
    k, d, p = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(0, 3))
    span = d * (k - 1) + 1
    h = draw(st.integers(max(1, span - 2 * p), 10))
    w = draw(st.integers(max(1, span - 2 * p), 10))
    return h, w, k, p, draw(st.integers(1, 4)), d


@settings(max_examples=60, deadline=None)
@given(settings_())
def test_matches_direct_count(cfg):
    h, w, k, p, s, d = cfg
    full = direct_count(h, w, k, p, s, d)
    assert torch.equal(input_usage((h, w), k, padding=p, stride=s, dilation=d, include_padding=True), full)
    assert torch.equal(input_usage((h, w), k, padding=p, stride=s, dilation=d), full[p:p + h, p:p + w])


@settings(max_examples=30, deadline=None)
@given(settings_())
def test_matches_autograd_of_an_all_ones_kernel(cfg):
    # d(sum of outputs)/d(x[i, j]) with all-ones weights = number of windows reading x[i, j].
    h, w, k, p, s, d = cfg
    x = torch.zeros(1, 1, h, w, dtype=torch.float64, requires_grad=True)
    F.conv2d(x, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, padding=p, dilation=d).sum().backward()
    assert torch.equal(input_usage((h, w), k, padding=p, stride=s, dilation=d), x.grad[0, 0].round().long())


def test_totals_and_seed_examples():
    counts = input_usage(7, 3, stride=2)
    assert counts.sum() == 3 * 3 * 9
    assert counts[0].tolist() == [1, 1, 2, 1, 2, 1, 1]
    same = input_usage(5, 3, padding=1)
    assert same[0, 0] == 4 and same[2, 2] == 9
    assert input_usage(5, 3)[0, 0] == 1


def test_rectangular_kernel_and_padding():
    counts = input_usage((8, 8), (3, 5), padding=(0, 1), stride=(3, 4), include_padding=True)
    assert counts.shape == (8, 10)
    assert counts.sum() == 2 * 2 * 15


def test_window_too_large():
    with pytest.raises(ConvlibInputError, match="expected .*got .*Fix"):
        input_usage(3, 5)
