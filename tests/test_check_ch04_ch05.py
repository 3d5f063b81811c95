"""Self-checks of chapters 4 (channels) and 5 (pooling): right, wrong and unanswered."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convlib as cl
from convlib.check.pooling import HAND_X
from tests.exercise_checks import assert_right_wrong_none

CASES = [
    # (check, a right answer, wrong answers)
    (cl.check.kernel_tensor_shape, (10, 6, 5, 5), [(6, 10, 5, 5), (10, 5, 5), (10, 6, 4, 4), (10, 6, 5)]),
    (cl.check.second_layer_costs, (1510, 864000), [(1500, 864000), (1510, 1176000), (1510, 144000), 1510]),
    (cl.check.channel_mean_weight, [[1 / 3, 1 / 3, 1 / 3]], [[[1, 1, 1]], [[1 / 3, 1 / 3]], [[1 / 3], [1 / 3], [1 / 3]], "mean"]),
    (cl.check.params_for_sizes, (448, 448), [(432, 432), (448, 448 * 49), 448]),
    (cl.check.max_pool_by_hand, [[5, 2], [2, 8]], [[[3.25, 1], [1, 6]], [[5, 4, 2], [5, 6, 7], [2, 8, 8]], [[8]]]),
    (cl.check.pooled_shape, (6, 13, 13), [(1, 13, 13), (6, 14, 14), (6, 26, 26), (13, 13)]),
    (cl.check.padded_avg_corner, 4 / 9, [1.0, 0.5, 4]),
    (cl.check.downsampling_params, (0, 2320), [(0, 2304), (4, 2320), (0, 0), 2320]),
]


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=[c[0].__name__ for c in CASES])
def test_right_wrong_and_none(check, right, wrongs):
    assert_right_wrong_none(check, right, wrongs)


def test_channel_mean_accepts_the_conv2d_layout():
    assert cl.check.channel_mean_weight(torch.full((1, 3, 1, 1), 1 / 3)).ok


def test_stored_answers_agree_with_torch():
    # The right answers are what torch computes, not hand-typed numbers.
    layer = nn.Conv2d(6, 10, 5)
    assert tuple(layer.weight.shape) == (10, 6, 5, 5)
    assert layer(torch.zeros(1, 6, 28, 28)).shape == (1, 10, 24, 24)
    assert sum(p.numel() for p in layer.parameters()) == 1510
    assert 24 * 24 * 10 * F.unfold(torch.zeros(1, 6, 28, 28), 5).shape[1] == 864000
    assert sum(p.numel() for p in nn.Conv2d(3, 16, 3).parameters()) == 448
    assert nn.MaxPool2d(2, 2)(torch.tensor(HAND_X)[None]).squeeze(0).tolist() == [[5, 2], [2, 8]]
    assert nn.MaxPool2d(3, stride=2)(torch.zeros(6, 28, 28)).shape == (6, 13, 13)
    corner = nn.AvgPool2d(3, stride=1, padding=1)(torch.ones(1, 4, 4))[0, 0, 0].item()
    assert corner == pytest.approx(4 / 9)
    assert sum(p.numel() for p in nn.MaxPool2d(2).parameters()) == 0
    assert sum(p.numel() for p in nn.Conv2d(16, 16, 3, stride=2, padding=1).parameters()) == 2320


def test_specific_hints_for_common_slips():
    assert "C_out" in cl.check.kernel_tensor_shape((6, 10, 5, 5)).message
    assert "bias" in cl.check.second_layer_costs((1500, 864000)).message
    assert "divides" in cl.check.channel_mean_weight([[1, 1, 1]]).message
    assert "average" in cl.check.max_pool_by_hand([[3.25, 1], [1, 6]]).message
    assert "channel" in cl.check.pooled_shape((1, 13, 13)).message
    assert "padding" in cl.check.padded_avg_corner(1.0).message


def test_channel_mean_accepts_a_third_as_typed_but_not_rounded_away():
    assert cl.check.channel_mean_weight([[0.3333, 0.3333, 0.3333]]).ok
    assert cl.check.channel_mean_weight([[0.333, 0.333, 0.333]]).ok
    rounded = cl.check.channel_mean_weight([[0.33, 0.33, 0.33]])
    assert not rounded.ok and "1/3" in rounded.message
    assert not cl.check.channel_mean_weight([[0.5, 0.25, 0.25]]).ok  # a weighted mean, not the mean
