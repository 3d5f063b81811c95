"""convlib.params: parameter memory, with the course's photo and parameter-sharing numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from convlib.counts import conv_params, linear_params
from convlib.params import bytes_float32, human_bytes
from convlib.validate import ConvlibInputError


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_bytes_match_torch_storage():
    layer = nn.Conv2d(3, 10, 5)
    stored = sum(p.numel() * p.element_size() for p in layer.parameters())
    assert layer.weight.dtype == torch.float32
    assert bytes_float32(n_params(layer)) == stored == 3040


def test_course_numbers():
    # 12 MP RGB photo into 100 hidden units: 3.6 billion weights, 14.4 GB of float32.
    weights = linear_params(12_000_000 * 3, 100, bias=False)
    assert weights == 3_600_000_000
    assert bytes_float32(weights) == 14_400_000_000
    assert human_bytes(bytes_float32(weights)) == "14.4 GB"
    # Ten 5x5x3 filters: 760 parameters (3.04 kB) whatever the image size.
    assert human_bytes(bytes_float32(conv_params(3, 10, 5))) == "3.04 kB"


@pytest.mark.parametrize("n, shown", [(0, "0 B"), (999, "999 B"), (1000, "1 kB"), (2_500_000, "2.5 MB"),
                                      (125_829_120, "126 MB"), (3 * 10**12, "3 TB")])
def test_human_bytes(n, shown):
    assert human_bytes(n) == shown


@pytest.mark.parametrize("call", [
    lambda: bytes_float32(-4),
    lambda: bytes_float32(2.5),
    lambda: bytes_float32(True),
    lambda: human_bytes(-1),
])
def test_bad_input_says_expected_got_fix(call):
    with pytest.raises(ConvlibInputError, match=r"expected .*got .*Fix"):
        call()


def test_locally_connected_equals_nonzeros_of_the_dense_conv_matrix():
    # Without padding, every nonzero of the conv's dense matrix is a weight the unshared
    # layer would store separately.
    from convlib.dense import conv_as_matrix
    from convlib.params import locally_connected_params

    for c_in, c_out, k, n in [(1, 1, 2, 4), (3, 10, 5, 8), (2, 4, 3, 6), (3, 2, (2, 3), 5)]:
        kh, kw = (k, k) if isinstance(k, int) else k
        weight = torch.rand(c_out, c_in, kh, kw, dtype=torch.float64) + 0.5  # no zero weights
        M = conv_as_matrix(weight, n)
        out = (n - kh + 1, n - kw + 1)
        assert int((M != 0).sum()) == locally_connected_params(c_in, c_out, k, out, bias=False)
        assert locally_connected_params(c_in, c_out, k, out) == M.numel() // (c_in * n * n) * (c_in * kh * kw + 1)


def test_locally_connected_course_numbers_and_errors():
    from convlib.params import locally_connected_params

    # 32x32x3 -> 32x32x10 with 5x5 windows: 768,000 weights (+10,240 biases) unshared, 750 (+10) shared.
    assert locally_connected_params(3, 10, 5, 32, bias=False) == 768_000
    assert conv_params(3, 10, 5, bias=False) == 750
    with pytest.raises(ConvlibInputError, match="expected .*got .*Fix"):
        locally_connected_params(0, 10, 5, 32)


def test_human_bytes_rounds_into_the_next_unit() -> None:
    assert [human_bytes(n) for n in (999, 1000, 999_499, 999_500, 999_999, 999_600_000)] == [
        "999 B", "1 kB", "999 kB", "1 MB", "1 MB", "1 GB"]
    assert human_bytes(10**15) == "1,000 TB" and human_bytes(123_456_789_000_000) == "123 TB"
