"""convlib.shapes: conv_output_size against the size F.conv2d actually produces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings, strategies as st

import convlib as cl
from convlib.shapes import conv_output_size


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 20), k=st.integers(1, 7), p=st.integers(0, 4), s=st.integers(1, 4),
       d=st.integers(1, 3))
def test_matches_conv2d(n: int, k: int, p: int, s: int, d: int) -> None:
    assume(d * (k - 1) + 1 <= n + 2 * p)
    x = torch.zeros(1, 1, n, 1)
    w = torch.zeros(1, 1, k, 1)
    got = F.conv2d(x, w, stride=(s, 1), padding=(p, 0), dilation=(d, 1)).shape[2]
    assert conv_output_size(n, k, padding=p, stride=s, dilation=d) == got


@pytest.mark.parametrize(
    ("n", "k", "kw", "want"),
    [
        (7, 3, {}, 5),
        (7, 3, {"stride": 2}, 3),
        (7, 3, {"padding": 1}, 7),
        (8, 3, {"padding": 1, "stride": 2}, 4),
        (32, 5, {"padding": 2}, 32),
        (32, 5, {}, 28),
        (224, 5, {}, 220),
    ],
)
def test_lesson_cases(n: int, k: int, kw: dict, want: int) -> None:
    assert conv_output_size(n, k, **kw) == want
    # The lesson's formula floor((n - k + 2p + s) / s) agrees when dilation is 1.
    p, s = kw.get("padding", 0), kw.get("stride", 1)
    assert (n - k + 2 * p + s) // s == want
    assert cl.conv_output_size is conv_output_size


def test_8x8_with_padding_1_stride_2_is_4x4() -> None:
    y = cl.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), padding=1, stride=2)
    assert y.shape[2:] == (4, 4) == (conv_output_size(8, 3, padding=1, stride=2),) * 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n=0, k=3), r"expected n to be an int >= 1, got 0\. Fix: pass n=1 or larger"),
        (dict(n=7, k=0), r"expected k to be an int >= 1, got 0\. Fix: pass k=1"),
        (dict(n=7, k=3, stride=0), r"expected stride to be an int >= 1, got 0\. Fix: pass stride=1"),
        (dict(n=7, k=3, dilation=0), r"expected dilation to be an int >= 1, got 0\. Fix: pass dilation=1"),
        (dict(n=7, k=3, padding=-1), r"expected padding to be an int >= 0, got -1\. Fix: pass padding=0 or larger"),
        (dict(n=7.0, k=3), r"expected n to be an int >= 1, got 7\.0"),
        (dict(n=7, k=True), r"expected k to be an int >= 1, got True"),
        (dict(n=4, k=5), r"expected the window \(span 5\) to fit the padded input \(4 \+ 2\*0 = 4\), got a larger window\. Fix: .*more padding"),
        (dict(n=4, k=3, dilation=2), r"expected the window \(span 5\) to fit"),
    ],
)
def test_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        conv_output_size(**kwargs)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 6), p=st.integers(0, 3), s=st.integers(1, 4),
       d=st.integers(1, 3), op=st.integers(0, 3))
def test_transpose_size_matches_conv_transpose2d(n: int, k: int, p: int, s: int, d: int, op: int) -> None:
    assume(op < max(s, d) and (n - 1) * s - 2 * p + d * (k - 1) + 1 + op >= 1)
    x, w = torch.zeros(1, 1, n, 1), torch.zeros(1, 1, k, 1)
    got = F.conv_transpose2d(x, w, stride=(s, 1), padding=(p, 0), output_padding=(op, 0), dilation=(d, 1)).shape[2]
    size = cl.conv_transpose_output_size(n, k, padding=p, stride=s, dilation=d, output_padding=op)
    assert size == got
    # ... and a convolution with the same settings maps it back to n (output_padding < stride
    # chooses among the sizes a stride-s convolution merges; a larger one, allowed when d > s, overshoots).
    if op < s:
        assert conv_output_size(size, k, padding=p, stride=s, dilation=d) == n


def test_transpose_size_rejects_what_torch_rejects() -> None:
    with pytest.raises(ValueError, match="output_padding smaller than the stride"):
        cl.conv_transpose_output_size(4, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="leaves at least one cell"):
        cl.conv_transpose_output_size(1, 1, padding=1)
    with pytest.raises(ValueError, match="expected k to be an int >= 1"):
        cl.conv_transpose_output_size(4, 0)
