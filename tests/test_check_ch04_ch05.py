"""Self-checks of chapters 4 (channels) and 5 (pooling): right, wrong and unanswered."""

from __future__ import annotations

import json
import re
from pathlib import Path

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
    (cl.check.doubling_factors, (4, 1156 / 1024), [(2, 1156 / 1024), (4, 2), (4, 4), (4, 34 / 32), (4, 1), 4]),
    (cl.check.stacked_linear_kernel, (7, 49), [(8, 64), (15, 225), (7, 34), (5, 25), 7]),
    (cl.check.grouped_params, (73856, 18560),
     [(73856, 18464), (73856, 4640), (73856, 4736), (73728, 18432), (73856, 73856), 18560]),
    (cl.check.separable_params, (8768, 73728),
     [(576, 73728), (36864 + 8192, 73728), (576 + 73728, 73728), (8960, 73856), (8768, 73856), 8768]),
    (cl.check.pool_reads, (1806336, 0),
     [(64 * 112 * 112 * 9, 0), (56 * 56 * 9, 0), (64 * 56 * 56 * 8, 0), (64 * 28 * 28 * 9, 0),
      (1806336, 1806336), 1806336]),
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


def test_separable_block_counts_from_real_layers():
    block = nn.Sequential(nn.Conv2d(64, 64, 3, groups=64, bias=False), nn.Conv2d(64, 128, 1, bias=False))
    assert sum(p.numel() for p in block.parameters()) == 8768
    assert sum(p.numel() for p in nn.Conv2d(64, 128, 3, bias=False).parameters()) == 73728
    assert "two layers" in cl.check.separable_params((576, 73728)).message
    assert "one channel" in cl.check.separable_params((36864 + 8192, 73728)).message
    assert "1x1" in cl.check.separable_params((576 + 73728, 73728)).message
    assert "weights only" in cl.check.separable_params((8960, 73856)).message


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


def test_new_hints_name_the_slip():
    assert "C_in and C_out" in cl.check.doubling_factors((2, 1156 / 1024)).message
    assert "padding changes neither" in cl.check.doubling_factors((4, 2)).message
    assert "square" in cl.check.doubling_factors((4, 34 / 32)).message
    assert "k1 + k2 - 1" in cl.check.stacked_linear_kernel((8, 64)).message
    assert "biases do not" in cl.check.grouped_params((73856, 18464)).message
    assert "one group" in cl.check.grouped_params((73856, 4640)).message
    assert "128 filters remain" in cl.check.grouped_params((73856, 4736)).message
    assert "56 x 56" in cl.check.pool_reads((64 * 112 * 112 * 9, 0)).message
    assert "0 MACs" in cl.check.pool_reads((1806336, 1806336)).message


def test_new_stored_answers_agree_with_torch():
    # Doubling the channels and the padding of nn.Conv2d(64, 64, 3, padding=1) on 32x32.
    def macs(c, p):
        out = nn.Conv2d(c, c, 3, padding=p)(torch.zeros(1, c, 32, 32))  # (1, C, H_out, W_out)
        return out[0].numel() * c * 9
    assert macs(128, 1) / macs(64, 1) == 4
    assert macs(64, 2) / macs(64, 1) == pytest.approx(1156 / 1024)
    # A 3x3 then a 5x5 convolution, nothing in between, is one 7x7 convolution.
    k1, k2 = torch.randn(1, 1, 3, 3, dtype=torch.float64), torch.randn(1, 1, 5, 5, dtype=torch.float64)
    x = torch.randn(1, 1, 12, 12, dtype=torch.float64)
    k = F.conv_transpose2d(k1, k2)  # (1, 1, 7, 7): the full convolution of the kernels
    assert k.shape == (1, 1, 7, 7)
    assert torch.allclose(F.conv2d(F.conv2d(x, k1), k2), F.conv2d(x, k))
    # Grouped convolution: parameters, and MACs divided by the groups.
    assert sum(p.numel() for p in nn.Conv2d(64, 128, 3).parameters()) == 73856
    assert sum(p.numel() for p in nn.Conv2d(64, 128, 3, groups=4).parameters()) == 18560
    dense, grouped = (cl.layer_summary(nn.Conv2d(64, 128, 3, groups=g), (64, 16, 16)).total_macs for g in (1, 4))
    assert dense == 4 * grouped == cl.conv_macs(64, 128, 3, 14, 14)
    # ResNet's stem pooling: 64 x 56 x 56 windows of 9 cells, and 0 MACs in the course's convention.
    out = nn.MaxPool2d(3, stride=2, padding=1)(torch.zeros(1, 64, 112, 112))
    assert out.shape == (1, 64, 56, 56) and out.numel() * 9 == 1806336
    assert cl.layer_summary(nn.MaxPool2d(3, stride=2, padding=1), (64, 112, 112)).total_macs == 0


def test_composed_kernel_of_multichannel_layers():
    # The notebook's composition: W = conv_transpose2d(W1^T, W2^T)^T, so conv_b(conv_a(x)) == conv2d(x, W).
    torch.manual_seed(0)
    conv_a, conv_b = nn.Conv2d(3, 4, 3, bias=False), nn.Conv2d(4, 2, 5, bias=False)
    W = cl.conv_transpose2d(conv_a.weight.transpose(0, 1), conv_b.weight.transpose(0, 1)).transpose(0, 1)
    assert W.shape == (2, 3, 7, 7)
    x = torch.randn(1, 3, 16, 16)
    assert torch.allclose(conv_b(conv_a(x)), F.conv2d(x, W), atol=1e-5)


def test_grouped_1x1_weight_is_block_diagonal():
    grouped = nn.Conv2d(6, 6, kernel_size=1, groups=2, bias=False)
    dense = torch.block_diag(*grouped.weight.reshape(2, 3, 3))  # (C_out, C_in)
    assert (dense[:3, 3:] == 0).all() and (dense[3:, :3] == 0).all()
    x = torch.randn(1, 6, 5, 5)
    assert torch.allclose(grouped(x), cl.conv1x1(x, dense), atol=1e-6)


def _chapter5_answers() -> dict:
    """The answers in chapter 5's dropdowns, run from the notebook itself: ``max_pool_2x2`` (its
    ```python block) and ``min_pool`` (the inline lambda)."""
    cells = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "05_pooling.ipynb").read_text("utf-8"))["cells"]
    prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    namespace = {"torch": torch, "F": F, "nn": nn, "cl": cl}
    exec(re.search(r"```python\n(def max_pool_2x2.*?)```", prose, re.S).group(1), namespace)
    namespace["min_pool"] = eval(re.search(r"`min_pool = (lambda x: [^`]+)`", prose).group(1), namespace)
    return namespace


def _slices_max_pool(x):
    m = x[..., 0::2] + F.relu(x[..., 1::2] - x[..., 0::2])
    return m[..., 0::2, :] + F.relu(m[..., 1::2, :] - m[..., 0::2, :])


def _hints(check, wrongs: dict) -> dict[str, str]:
    """Each wrong answer fails with a hint; the hints by name."""
    messages = {}
    for name, wrong in wrongs.items():
        result = check(wrong)
        assert not result.ok and result.message.startswith("Hint:"), name
        messages[name] = result.message
    return messages


def test_relu_max_pool_right_wrong_and_none():
    for right in (_chapter5_answers()["max_pool_2x2"], _slices_max_pool):
        result = cl.check.relu_max_pool(right)
        assert result.ok and "Right" in repr(result)
    wrongs = {
        "max": lambda x: F.max_pool2d(x, 2),
        "pool2d": lambda x: cl.pool2d(x, 2),
        "amax": lambda x: x.unfold(2, 2, 2).unfold(3, 2, 2).amax(dim=(-2, -1)),
        "average": lambda x: F.avg_pool2d(x, 2),
        "first stage": lambda x: x[..., 0::2] + F.relu(x[..., 1::2] - x[..., 0::2]),
        "minimum": lambda x: -_slices_max_pool(-x),
        "shape": lambda x: x,
        "raises": lambda x: x.nope(),
        "not a tensor": lambda x: 3,
        "not a function": torch.zeros(1, 1, 2, 2),
    }
    messages = _hints(cl.check.relu_max_pool, wrongs)
    assert "without any max" in messages["max"] and "without any max" in messages["amax"]
    assert "without any max" in messages["pool2d"]
    assert "average" in messages["average"] and "first stage" in messages["first stage"]
    assert "minimum" in messages["minimum"] and "AttributeError" in messages["raises"]
    unanswered = cl.check.relu_max_pool(None)
    assert not unanswered.ok and "Not yet" in unanswered._repr_html_()


def test_relu_max_pool_as_a_plain_conv_relu_stack():
    # The answer's count: conv (C -> 3C, 1x2, stride (1, 2)), ReLU, conv (3C -> 3C, 2x1, stride (2, 1)), ReLU,
    # conv 1x1 (3C -> C) computes 2x2 max pooling; a passes a ReLU as relu(a) - relu(-a).
    C = 3
    eye = torch.eye(C)[:, :, None, None]  # (C, C, 1, 1)
    first = torch.cat([torch.kron(eye, torch.tensor(k).reshape(1, 1, 1, 2))
                       for k in ([1.0, 0.0], [-1.0, 0.0], [-1.0, 1.0])])  # (3C, C, 1, 2): a, -a, b - a
    pick = torch.tensor([1.0, -1.0, 1.0])  # m = relu(a) - relu(-a) + relu(b - a)
    def rows_of(top, bottom):  # (C, 3C, 2, 1): top * m(row 2i) + bottom * m(row 2i + 1)
        w = torch.zeros(C, 3 * C, 2, 1)
        for c in range(C):
            w[c, c::C, 0, 0], w[c, c::C, 1, 0] = top * pick, bottom * pick
        return w
    second = torch.cat([rows_of(1.0, 0.0), rows_of(-1.0, 0.0), rows_of(-1.0, 1.0)])  # (3C, 3C, 2, 1)
    third = torch.cat([p * torch.eye(C) for p in pick], dim=1)[:, :, None, None]    # (C, 3C, 1, 1)
    x = torch.randn(2, C, 6, 8)
    h = F.relu(F.conv2d(x, first, stride=(1, 2)))   # (2, 3C, 6, 4)
    h = F.relu(F.conv2d(h, second, stride=(2, 1)))  # (2, 3C, 3, 4)
    y = F.conv2d(h, third)                          # (2, C, 3, 4)
    assert torch.allclose(y, cl.pool2d(x, 2), atol=1e-5)


def test_min_pool_from_max_right_wrong_and_none():
    for right in (lambda x: -cl.pool2d(-x, 2), lambda x: -F.max_pool2d(-x, 2), lambda x: -nn.MaxPool2d(2)(-x)):
        result = cl.check.min_pool_from_max(right)
        assert result.ok and "Right" in repr(result)
    wrongs = {
        "max": lambda x: -cl.pool2d(x, 2),
        "outer": lambda x: cl.pool2d(-x, 2),
        "min": lambda x: cl.pool2d(x, 2, mode=lambda w: w.min(dim=-1).values),
        "amin": lambda x: x.unfold(2, 2, 2).unfold(3, 2, 2).amin(dim=(-2, -1)),
        "shape": lambda x: -cl.pool2d(-x, 2, stride=1),
        "not a function": 3,
    }
    messages = _hints(cl.check.min_pool_from_max, wrongs)
    assert "minus the maximum" in messages["max"] and "negate the result" in messages["outer"]
    assert "max pooling only" in messages["min"] and "max pooling only" in messages["amin"]
    assert "expected shape" in messages["shape"]
    unanswered = cl.check.min_pool_from_max(None)
    assert not unanswered.ok and "Not yet" in unanswered._repr_html_()


def test_function_checks_start_from_the_exercise_hint():
    # The stored answers (None, or the stub that returns None) get the exercise's own hint.
    def stub(x):
        return None
    assert "a + relu(b - a)" in cl.check.relu_max_pool(stub).message
    assert "a + relu(b - a)" in cl.check.relu_max_pool(None).message
    assert "max pool a changed copy" in cl.check.min_pool_from_max(None).message
    assert "without parentheses" in cl.check.min_pool_from_max(3).message


def test_the_notebook_answers_pass_their_checks():
    # The code in chapter 5's answer dropdowns is what the checks accept.
    answers = _chapter5_answers()
    assert cl.check.relu_max_pool(answers["max_pool_2x2"]).ok
    assert cl.check.min_pool_from_max(answers["min_pool"]).ok


def test_pool_exercises_refuse_modules_and_partials():
    """The no-max (no-min) rule reads a plain function's code; a module or a partial hides a max pooling."""
    import functools

    for fn in (nn.MaxPool2d(2), functools.partial(F.max_pool2d, kernel_size=2)):
        result = cl.check.relu_max_pool(fn)
        assert not result.ok and "plain function (a lambda or a def)" in result.message, fn
        assert "F.relu" in result.message
    hidden_min = functools.partial(lambda x, k: -F.max_pool2d(-x, k), k=2)
    result = cl.check.min_pool_from_max(hidden_min)
    assert not result.ok and "plain function" in result.message
    assert cl.check.min_pool_from_max(lambda x: -F.max_pool2d(-x, 2)).ok


def test_near_miss_hints_name_the_order() -> None:
    assert "(C, H, W)" in cl.check.pooled_shape((13, 13, 6)).message
    assert "channel count does not change" in cl.check.pooled_shape((1, 13, 13)).message
    swapped = cl.check.doubling_factors((1.129, 4))
    assert not swapped.ok and "swapped" in swapped.message
    assert cl.check.doubling_factors((4, 1.129)).ok


@pytest.mark.parametrize("cheat", [
    lambda x: torch.clamp(x[..., 0::2], min=x[..., 1::2]),  # an element-wise max in disguise
    lambda x: F.unfold(x.flatten(0, 1)[:, None], 2, stride=2).kthvalue(4, dim=1).values,
    lambda x: F.unfold(x.flatten(0, 1)[:, None], 2, stride=2).median(dim=1).values,
])
def test_relu_max_pool_refuses_clamp_and_order_statistics(cheat):
    result = cl.check.relu_max_pool(cheat)
    assert not result and "nor clamp, sort, median or kthvalue" in result.message


@pytest.mark.parametrize("cheat", [
    lambda x: torch.clamp(x, max=0),
    lambda x: F.unfold(x.flatten(0, 1)[:, None], 2, stride=2).kthvalue(1, dim=1).values,
])
def test_min_pool_from_max_refuses_clamp_and_order_statistics(cheat):
    result = cl.check.min_pool_from_max(cheat)
    assert not result and "nor clamp, sort, median or kthvalue" in result.message


def test_three_decimal_answers_are_held_to_three_decimals():
    assert cl.check.padded_avg_corner(0.444) and cl.check.padded_avg_corner(0.443)
    assert "to three decimals" in cl.check.padded_avg_corner(0.44).message
    assert cl.check.doubling_factors((4, 1.129)) and cl.check.doubling_factors((4, 1.13))
    assert not cl.check.doubling_factors((4, 1.127))


@pytest.mark.parametrize("check, right", [
    (cl.check.second_layer_costs, (1510, 864000)),
    (cl.check.grouped_params, (73856, 18560)),
    (cl.check.separable_params, (8768, 73728)),
    (cl.check.two_3x3_params, (73_728, 102_400)),
])
def test_pairs_the_wrong_way_round_are_told_so(check, right):
    result = check(tuple(reversed(right)))
    assert not result and "right numbers, swapped" in result.message


def test_alexnet_activations_in_mib_are_told_so():
    result = cl.check.alexnet_activation_mb(683e6 / 2**20)
    assert not result and "MiB" in result.message
