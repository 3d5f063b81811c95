"""Self-checks of chapters 1 (FC to conv), 2 (cross-correlation, the later ones) and 3 (padding and stride):
right, wrong and unanswered."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convlib as cl
from tests.exercise_checks import assert_right_wrong_none

CASES = [
    # (check, a right answer, wrong answers)
    (cl.check.mlp_photo_weights, 10**9, [10**6, 1000, 10**9 + 1000, "a lot"]),
    (cl.check.conv_layer_params, 1792, [1728, 64, 1792 * 224 * 224]),
    (cl.check.dense_matrix_shape, (16, 36), [(36, 16), (9, 36), 576]),
    (cl.check.dense_matrix_nonzeros, 144, [576, 9, 36]),
    (cl.check.text_conv_params, 90_100, [90_000, 400, 300, 270_100, 1_000, "90,100"]),
    (cl.check.diagonal_edges, (6, 5, 5), [(6, 0, 0), (6, 0, 5), (6, 6, 6), (5, 5, 6), 16, (6, 5), "6, 5, 5"]),
    (cl.check.third_derivative_kernel, [1, -3, 3, -1],
     [[1, -2, 1], [-1, 2, -1], [1, -1], [1, -4, 6, -4, 1], [1, -3, 3, -1, 0], [1, -1, 1, -1], [0, 0, 0, 0],
      [], "1, -3, 3, -1", [float("nan")] * 4, list(range(20))]),
    (cl.check.padded_output_size, 16, [32, 14, 15.5, (16, 16, 1)]),
    (cl.check.same_padding, 3, [6, 1, 3.5]),
    (cl.check.corner_usage, (1, 4), [(1, 9), (4, 1), 4]),
    (cl.check.dilated_output_size, 6, [8, 5, 10]),
    (cl.check.transposed_output_size, 8, [7, 10, 2, 9]),
    (cl.check.trans_conv_by_hand, [[1, 3, 2], [4, 10, 6], [3, 7, 4]],
     [[[10]], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], [[1, 2], [3, 4]]]),
    (cl.check.reflect_padding, [3, 2, 1, 2, 3, 4, 3, 2],
     [[1, 1, 1, 2, 3, 4, 4, 4], [2, 1, 1, 2, 3, 4, 4, 3], [3, 4, 1, 2, 3, 4, 1, 2], [0, 0, 1, 2, 3, 4, 0, 0],
      [1, 2, 3, 4], [[3, 2, 1, 2, 3, 4, 3, 2]]]),
]


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=[c[0].__name__ for c in CASES])
def test_right_wrong_and_none(check, right, wrongs):
    assert_right_wrong_none(check, right, wrongs)


def test_stored_answers_agree_with_torch_and_convlib():
    # The right answers are what torch and convlib compute, not hand-typed numbers.
    assert nn.Linear(1000 * 1000, 1, bias=False).weight.numel() * 1000 == 10**9
    assert sum(p.numel() for p in nn.Conv2d(3, 64, 3).parameters()) == 1792
    M = cl.conv_as_matrix(torch.randn(3, 3), 6)
    assert tuple(M.shape) == (16, 36) and int((M != 0).sum()) == 144
    assert torch.nn.functional.conv2d(torch.zeros(1, 1, 32, 32), torch.zeros(1, 1, 5, 5),
                                      padding=2, stride=2).shape[-1] == 16
    assert torch.nn.functional.conv2d(torch.zeros(1, 1, 20, 20), torch.zeros(1, 1, 7, 7), padding=3).shape[-1] == 20
    assert torch.nn.functional.conv2d(torch.zeros(1, 1, 10, 10), torch.zeros(1, 1, 3, 3), dilation=2).shape[-1] == 6
    assert torch.nn.functional.conv_transpose2d(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 3, 3), stride=2,
                                                padding=1, output_padding=1).shape[-1] == 8
    X = torch.tensor([[[[1.0, 2], [3, 4]]]])
    assert torch.equal(torch.nn.functional.conv_transpose2d(X, torch.ones(1, 1, 2, 2))[0, 0],
                       torch.tensor([[1.0, 3, 2], [4, 10, 6], [3, 7, 4]]))


def test_new_answers_agree_with_torch_and_numpy():
    # Chapter 1: a text convolution's parameters, from PyTorch's Conv1d.
    assert sum(p.numel() for p in nn.Conv1d(300, 100, 3).parameters()) == 90_100
    # Chapter 2: the diagonal edge, with F.conv2d instead of convlib's corr2d.
    X = torch.tril(torch.ones(6, 8))[None, None]                       # (1, 1, 6, 8)
    K = torch.tensor([[[[1.0, -1.0]]]])                                # (1, 1, 1, 2)
    outs = [F.conv2d(X, K), F.conv2d(X.transpose(2, 3), K), F.conv2d(X, K.transpose(2, 3))]
    assert [int((y != 0).sum()) for y in outs] == [6, 5, 5]
    assert torch.equal(outs[2], outs[1].transpose(2, 3))               # transposing image or kernel: same map
    # The third difference: [1, -1] three times; 0 on quadratics, -3! on t**3.
    k3 = np.convolve(np.convolve([1.0, -1.0], [1.0, -1.0]), [1.0, -1.0])
    assert k3.tolist() == [1.0, -3.0, 3.0, -1.0]
    k3 = torch.tensor(k3, dtype=torch.float32)[None, None]              # (1, 1, 4)
    t = torch.arange(10.0)[None, None]
    assert F.conv1d(t**2, k3).abs().max() == 0 and torch.all(F.conv1d(t**3, k3) == -6)
    # Chapter 3: reflection, as NumPy defines it.
    assert np.pad([1, 2, 3, 4], 2, mode="reflect").tolist() == [3, 2, 1, 2, 3, 4, 3, 2]


def test_specific_hints_for_common_slips():
    assert "bias" in cl.check.conv_layer_params(1728).message
    assert "swap" in cl.check.dense_matrix_shape((36, 16)).message
    assert "stride 2" in cl.check.padded_output_size(32).message
    assert "each side" in cl.check.same_padding(6).message
    assert "undilated" in cl.check.dilated_output_size(8).message
    assert "output_padding" in cl.check.transposed_output_size(7).message
    assert "subtract 2p" in cl.check.transposed_output_size(10).message
    assert "ordinary convolution" in cl.check.transposed_output_size(2).message
    assert "stride 2" in cl.check.trans_conv_by_hand([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]).message
    assert "ordinary convolution" in cl.check.trans_conv_by_hand([[10]]).message
    assert "bias" in cl.check.text_conv_params(90_000).message
    assert "C_in" in cl.check.text_conv_params(400).message
    assert "3x3" in cl.check.text_conv_params(270_100).message
    assert "does not vanish" in cl.check.diagonal_edges((6, 0, 0)).message
    assert "X.t()" in cl.check.diagonal_edges((6, 6, 6)).message
    assert "second difference" in cl.check.third_derivative_kernel([1, -2, 1]).message
    assert "also gives 0" in cl.check.third_derivative_kernel([1, -4, 6, -4, 1]).message
    assert "not the smallest" in cl.check.third_derivative_kernel([1, -3, 3, -1, 0]).message
    assert "d + 1 = 4" in cl.check.third_derivative_kernel([1, -1]).message
    assert "-6" in cl.check.third_derivative_kernel([1, -3, 3, -1]).message
    assert "6" in cl.check.third_derivative_kernel([-1, 3, -3, 1]).message
    assert cl.check.third_derivative_kernel([[2, -6, 6, -2]]).ok          # any nonzero scale, a (1, 4) row too
    assert "replicate" in cl.check.reflect_padding([1, 1, 1, 2, 3, 4, 4, 4]).message
    assert "symmetric" in cl.check.reflect_padding([2, 1, 1, 2, 3, 4, 4, 3]).message
    assert "circular" in cl.check.reflect_padding([3, 4, 1, 2, 3, 4, 1, 2]).message
    assert "zero padding" in cl.check.reflect_padding([0, 0, 1, 2, 3, 4, 0, 0]).message
