"""The self-checks of chapters 6 (LeNet) and 7 (modern CNNs): a right and a wrong answer each,
and the expected answers recomputed with convlib."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import convlib as cl
from convlib import models as M


@pytest.mark.parametrize(
    ("check", "right", "wrong"),
    [
        (cl.check.lenet_flatten_size, 256, 400),
        (cl.check.lenet_conv2_params, 2416, 2400),
        (cl.check.lenet_first_conv_macs, 117_600, 94_080),
        (cl.check.zero_grad_resets, "gradients", "weights"),
        (cl.check.two_3x3_params, (73_728, 102_400), (73_728, 73_728)),
        (cl.check.inception_channels, 480, 256),
        (cl.check.nin_switch_dataset, (3, 2), (3, 10)),
        (cl.check.alexnet_receptive_field, 19, 11),
        (cl.check.dropout_scale, 2, 0.5),
    ],
)
def test_right_and_wrong(check: object, right: object, wrong: object) -> None:
    ok = check(right)  # type: ignore[operator]
    assert ok and repr(ok).startswith("✅")
    bad = check(wrong)  # type: ignore[operator]
    assert not bad and "Hint" in repr(bad)
    assert not check(None)  # type: ignore[operator]  # the stored answer in the notebook


def test_answers_agree_with_convlib() -> None:
    unpadded = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                             nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten())
    assert cl.check.lenet_flatten_size(unpadded(torch.zeros(1, 1, 28, 28)).shape[1])
    rows = cl.layer_summary(M.lenet(), (1, 28, 28))
    convs = [r for r in rows if r.kind == "Conv2d"]
    assert cl.check.lenet_conv2_params(convs[1].params)
    assert cl.check.lenet_first_conv_macs(convs[0].macs)
    two = sum(p.numel() for p in nn.Sequential(nn.Conv2d(64, 64, 3, bias=False), nn.Conv2d(64, 64, 3, bias=False)).parameters())
    one = nn.Conv2d(64, 64, 5, bias=False).weight.numel()
    assert cl.check.two_3x3_params((two, one))
    assert cl.check.inception_channels(M.Inception(256, 128, (128, 192), (32, 96), 64).out_channels)
    net = M.nin(div=8, stem="small", in_channels=3, num_classes=2)
    assert cl.check.nin_switch_dataset((net[0][0].in_channels, net[7][4].out_channels))
    assert cl.check.alexnet_receptive_field(cl.receptive_field([(11, 4), (3, 2)]).sizes[-1])
    drop = nn.Dropout(0.5).train()
    out = drop(torch.ones(1000))
    assert cl.check.dropout_scale(out[out > 0].unique().item())
