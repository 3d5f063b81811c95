"""The self-checks of chapters 6 (LeNet) and 7 (modern CNNs): a right and a wrong answer each,
and the expected answers recomputed with convlib."""

from __future__ import annotations

import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convlib as cl
from convlib import models as M
from convlib.validate import ConvlibInputError
from tests.exercise_checks import assert_right_wrong_none


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


@pytest.mark.parametrize(
    ("check", "right", "wrongs"),
    [
        (cl.check.equal_scores_loss, 2.3026, [0.1, -2.3026, 1.0, 3.3219, 0.0, 2.0, "2.3"]),
        (cl.check.vgg16_19_params, (138_357_544, 143_667_240),
         [(143_667_240, 138_357_544), (134_300_362, 139_610_058), (132_863_336, 138_357_544), 138_357_544]),
        (cl.check.nin_extra_1x1_params, 147_840, [147_456, 1_327_488, 384, (147_840,) * 2]),
        (cl.check.smallest_inputs, (15, 1), [(14, 1), (15, 15), (28, 28), (1, 15), 15]),
        (cl.check.alexnet_activation_mb, 683.1, [5.34, 170.8, 683.1e6, 286.6, 708.8, (683, 683), "683"]),
    ],
)
def test_new_checks_right_wrong_none(check: object, right: object, wrongs: list) -> None:
    assert_right_wrong_none(check, right, wrongs)  # type: ignore[arg-type]


def test_new_check_hints_name_the_slip() -> None:
    assert "-log p" in cl.check.equal_scores_loss(0.1).message
    assert "natural" in cl.check.equal_scores_loss(1.0).message
    assert "defaults" in cl.check.vgg16_19_params((134_300_362, 139_610_058)).message
    assert "bias" in cl.check.nin_extra_1x1_params(147_456).message
    assert "NiN" in cl.check.smallest_inputs((14, 1)).message
    assert "GoogLeNet" in cl.check.smallest_inputs((15, 15)).message
    assert "one image" in cl.check.alexnet_activation_mb(5.34).message
    assert "inference" in cl.check.alexnet_activation_mb(286.6).message
    assert cl.check.equal_scores_loss(2.30) and cl.check.alexnet_activation_mb(683)  # rounded answers pass


def _plain_vgg(conv_arch: tuple[tuple[int, int], ...]) -> nn.Sequential:
    """VGG written out with torch alone, as in the paper: 3 channels, 224x224, 4096-wide FC, 1,000 classes."""
    layers: list[nn.Module] = []
    c = 3
    for num_convs, out in conv_arch:
        for _ in range(num_convs):
            layers += [nn.Conv2d(c, out, 3, padding=1), nn.ReLU()]
            c = out
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * 7 * 7, 4096), nn.ReLU(),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))


def test_new_answers_agree_with_torch() -> None:
    # equal scores: any common value, any true class
    scores = torch.full((3, 10), 7.5)
    loss = F.cross_entropy(scores, torch.tensor([0, 4, 9]))
    assert math.isclose(float(loss), math.log(10), rel_tol=1e-6) and cl.check.equal_scores_loss(float(loss))
    # VGG-16 and VGG-19: torch alone, and the published counts (torchvision's vgg16/vgg19 have the same)
    with torch.device("meta"):
        counts = tuple(sum(p.numel() for p in _plain_vgg(arch).parameters()) for arch in (
            ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)), ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))))
        net = _plain_vgg(((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)))
        assert net(torch.zeros(1, 3, 224, 224, device="meta")).shape == (1, 1000)
    assert counts == (138_357_544, 143_667_240) and cl.check.vgg16_19_params(counts)
    # one more 1x1 conv on 384 channels
    assert cl.check.nin_extra_1x1_params(sum(p.numel() for p in nn.Conv2d(384, 384, 1).parameters()))
    # smallest inputs: NiN's unpadded 3x3/2 pools need 2n + 1 for an output n; GoogLeNet's padded ones never hit 0
    side = 1
    for _ in range(3):
        side = 2 * side + 1
    nin, goog = M.nin(div=8, stem="small").eval(), M.googlenet(div=8, stem="small").eval()
    with torch.no_grad():
        assert nin(torch.zeros(1, 1, side, side)).shape == (1, 10)
        with pytest.raises(RuntimeError):
            nin(torch.zeros(1, 1, side - 1, side - 1))
        assert goog(torch.zeros(1, 1, 1, 1)).shape == (1, 10)
    assert cl.check.smallest_inputs((side, 1))
    # AlexNet's activations: forward hooks on every leaf layer, independent of layer_summary
    with torch.device("meta"):
        alex = M.alexnet()
        values: list[int] = []
        hooks = [m.register_forward_hook(lambda m, i, o: values.append(o[0].numel()))
                 for m in alex.modules() if not list(m.children()) and not isinstance(m, nn.Flatten)]
        alex(torch.zeros(1, 1, 224, 224, device="meta"))
    for h in hooks:
        h.remove()
    assert cl.check.alexnet_activation_mb(128 * 4 * sum(values) / 1e6)


def _trained_like_nin() -> tuple[nn.Sequential, torch.Tensor]:
    """A course-scale NiN with class maps that are not all zero (a positive bias on its last conv), in
    training mode (its Dropout is on), and three images."""
    torch.manual_seed(0)
    net = M.xavier_init(M.nin(div=8, stem="small"))
    nn.init.constant_(net[7][4].bias, 0.2)  # the last block's last conv: the class maps before their ReLU
    return net.train(), torch.rand(3, 1, 28, 28)


def test_nin_class_map_values_right_wrong_none() -> None:
    net, x = _trained_like_nin()
    with torch.no_grad():
        net.eval()
        maps = net[:-2](x)  # (3, 10, 2, 2): the class maps
        right = F.adaptive_avg_pool2d(maps, 1).flatten(1)  # (3, 10), torch's own global average pooling
        torch.testing.assert_close(right, net(x))  # the scores are the maps' means
        net.train()
        dropped = net(x)  # Dropout on: other values
    wrongs = [maps, maps.amax((2, 3)), maps.sum((2, 3)), torch.softmax(right, 1), right.T, right[:, :5], dropped,
              maps.mean((1, 2))]
    check = functools.partial(cl.check.nin_class_map_values, model=net, images=x)
    assert_right_wrong_none(check, right.tolist(), wrongs)
    assert net.training and all(m.training for m in net.modules())  # the check leaves the modes as they were
    hints = {name: check(wrong).message for name, wrong in zip(
        ("maps", "max", "sum", "softmax", "swapped", "shape", "dropout"), wrongs)}
    assert "class maps themselves" in hints["maps"] and "global max pooling" in hints["max"]
    assert "divides the sum by 4" in hints["sum"] and "softmax" in hints["softmax"]
    assert "swapped" in hints["swapped"] and "shape (3, 10), got shape (3, 5)" in hints["shape"]
    assert "evaluation mode" in hints["dropout"]
    assert "2 x 2 cells" in check(right).message


def test_nin_class_map_values_needs_a_nin() -> None:
    net, x = _trained_like_nin()
    with pytest.raises(ConvlibInputError, match=r"^model: expected a NiN.*got Sequential ending in Linear\. Fix: pass"):
        cl.check.nin_class_map_values(None, M.lenet(), x)
    with pytest.raises(ConvlibInputError, match=r"^images: expected a batch \(N, C, H, W\), got shape \(1, 28, 28\)"):
        cl.check.nin_class_map_values(None, net, x[0])
    with pytest.raises(ConvlibInputError, match=r"^images: expected float images, got torch.uint8\. Fix"):
        cl.check.nin_class_map_values(None, net, (x * 255).to(torch.uint8))
    with pytest.raises(ConvlibInputError, match=r"^images: expected 1 channel \(what .*got shape \(3, 3, 28, 28\)"):
        cl.check.nin_class_map_values(None, net, x.expand(3, 3, 28, 28))
    with pytest.raises(ConvlibInputError, match=r"^images: the NiN could not run on shape \(3, 1, 8, 8\)") as info:
        cl.check.nin_class_map_values(None, net, x[:, :, :8, :8])
    assert isinstance(info.value.__cause__, RuntimeError)
    assert net.training  # the failed run left the modes as they were
    assert cl.check.nin_class_map_values(net.eval()[:-2](x.double().float()).mean((2, 3)), net, x.double()).ok  # float64 in


def test_zero_grad_resets_reads_the_ways_to_say_gradients() -> None:
    for right in ("gradients.", "the gradients", ".grad", "gradient buffers", "The Grads", " grad! "):
        assert cl.check.zero_grad_resets(right).ok, right
    for wrong in ("weights", "both", "gradients and weights", "the weights.", None, 3):
        assert not cl.check.zero_grad_resets(wrong).ok, wrong
