"""Tests for convlib.models: output shapes, the blocks, cl.Conv2D as a drop-in, bad arguments."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import convlib as cl
from convlib import models as M


@pytest.mark.parametrize(
    ("build", "size", "channels"),
    [
        (lambda: M.lenet(), 28, 1),
        (lambda: M.lenet("relu", "max"), 28, 1),
        (lambda: M.lenet_modern(), 28, 1),
        (lambda: M.lenet(in_channels=3, num_classes=4), 28, 3),
        (lambda: M.alexnet(div=16), 224, 1),
        (lambda: M.alexnet(image_size=28, div=8, stem="small"), 28, 1),
        (lambda: M.alexnet(image_size=64, div=8, stem="small", in_channels=3, num_classes=4), 64, 3),
        (lambda: M.vgg(image_size=224, div=16), 224, 1),
        (lambda: M.vgg(((1, 64), (1, 128), (2, 256), (2, 512)), image_size=28, div=8), 28, 1),
        (lambda: M.vgg(((1, 8), (2, 16)), image_size=32, batch_norm=True, in_channels=3, num_classes=4), 32, 3),
        (lambda: M.nin(div=16), 224, 1),
        (lambda: M.nin(div=8, stem="small"), 28, 1),
        (lambda: M.googlenet(div=8), 96, 1),
        (lambda: M.googlenet(div=8, stem="small"), 28, 1),
        (lambda: M.googlenet(div=8, stem="small", in_channels=3, num_classes=4), 32, 3),
    ],
)
def test_output_shape(build: object, size: int, channels: int) -> None:
    net = build()  # type: ignore[operator]
    num_classes = net(torch.zeros(2, channels, size, size)).shape[1]
    out = net(torch.randn(3, channels, size, size))
    assert out.shape == (3, num_classes) and num_classes in (4, 10)
    assert torch.isfinite(out).all()


def test_lenet_is_the_classic_layout() -> None:
    net = M.lenet()
    convs = [m for m in net if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == [(6, (5, 5), (2, 2)), (16, (5, 5), (0, 0))]
    assert [m.out_features for m in net if isinstance(m, nn.Linear)] == [120, 84, 10]
    assert sum(isinstance(m, nn.Sigmoid) for m in net) == 4
    assert sum(isinstance(m, nn.AvgPool2d) for m in net) == 2
    modern = M.lenet_modern()
    assert sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in modern) == 4
    assert sum(isinstance(m, nn.MaxPool2d) for m in modern) == 2 and not any(isinstance(m, nn.Sigmoid) for m in modern)


def test_lenet_init_xavier_or_default() -> None:
    torch.manual_seed(0)
    net = M.lenet()  # Xavier: bound sqrt(6 / (fan_in + fan_out))
    conv1, dense1 = net[0], net[7]
    assert float(conv1.weight.detach().abs().max()) <= (6 / (25 + 150)) ** 0.5
    assert float(dense1.weight.detach().abs().max()) <= (6 / (400 + 120)) ** 0.5
    assert float(dense1.weight.detach().abs().max()) > (1 / 400) ** 0.5  # wider than PyTorch's 1/sqrt(fan_in)
    default = M.lenet(init="default")
    assert float(default[7].weight.detach().abs().max()) <= (1 / 400) ** 0.5
    bn = M.xavier_init(M.lenet_modern())
    assert all(torch.equal(m.weight, torch.ones_like(m.weight)) for m in bn if isinstance(m, nn.BatchNorm2d))


def test_nin_accepts_two_input_sizes_with_the_same_weights() -> None:
    net = M.nin(div=8, stem="small").eval()
    for size in (28, 64):
        assert net(torch.randn(2, 1, size, size)).shape == (2, 10)
    # switching data sets: only the first conv's in_channels and the last block's out_channels change
    a, b = M.nin(div=8, stem="small"), M.nin(div=8, stem="small", in_channels=3, num_classes=2)
    diff = [name for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()) if p.shape != q.shape]
    assert diff == ["0.0.weight", "7.0.weight", "7.0.bias", "7.2.weight", "7.2.bias", "7.4.weight", "7.4.bias"]


def test_inception_concatenates_four_branches() -> None:
    torch.manual_seed(0)
    block = M.Inception(8, 4, (3, 5), (2, 6), 7).eval()
    x = torch.randn(2, 8, 9, 9)
    out = block(x)
    assert out.shape == (2, 4 + 5 + 6 + 7, 9, 9) and block.out_channels == 22
    parts = [block.p1(x), block.p2(x), block.p3(x), block.p4(x)]
    assert [p.shape[1] for p in parts] == [4, 5, 6, 7]
    torch.testing.assert_close(out, torch.cat(parts, dim=1))


def test_inception_has_a_relu_after_every_conv_including_1x1() -> None:
    block = M.Inception(8, 4, (3, 5), (2, 6), 7)
    for branch in (block.p1, block.p2, block.p3, block.p4):
        layers = list(branch)
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.Conv2d):
                assert isinstance(layers[i + 1], nn.ReLU)
    assert sum(isinstance(m, nn.Conv2d) for m in block.modules()) == 6
    assert sum(isinstance(m, nn.ReLU) for m in block.modules()) == 6


def test_blocks_shapes() -> None:
    assert M.vgg_block(3, 4, 8)(torch.zeros(1, 4, 16, 16)).shape == (1, 8, 8, 8)
    assert sum(isinstance(m, nn.Conv2d) for m in M.vgg_block(3, 4, 8)) == 3
    block = M.nin_block(3, 8, 11, 4, 0)
    assert block(torch.zeros(1, 3, 224, 224)).shape == (1, 8, 54, 54)
    assert [m.kernel_size for m in block if isinstance(m, nn.Conv2d)] == [(11, 11), (1, 1), (1, 1)]


def test_nin_block_num_1x1_and_inner_kernel_size() -> None:
    x = torch.zeros(1, 4, 12, 12)
    for n in (0, 1, 2, 3):
        block = M.nin_block(4, 8, 3, 1, 1, num_1x1=n)
        assert block(x).shape == (1, 8, 12, 12)
        assert [m.kernel_size for m in block if isinstance(m, nn.Conv2d)] == [(3, 3)] + [(1, 1)] * n
        assert sum(isinstance(m, nn.ReLU) for m in block) == n + 1
        # each 1x1 conv adds C * C weights and C biases
        assert sum(p.numel() for p in block.parameters()) == 4 * 8 * 9 + 8 + n * (8 * 8 + 8)
    wide = M.nin_block(4, 8, 3, 1, 1, inner_kernel_size=3)
    assert wide(x).shape == (1, 8, 12, 12)  # padded: the size stays
    assert [m.kernel_size for m in wide if isinstance(m, nn.Conv2d)] == [(3, 3)] * 3
    assert sum(p.numel() for p in wide.parameters()) == 4 * 8 * 9 + 8 + 2 * (8 * 8 * 9 + 8)


def test_nin_default_is_unchanged_and_num_1x1_passes_through() -> None:
    torch.manual_seed(0)
    default = M.nin(div=8, stem="small")
    torch.manual_seed(0)
    explicit = M.nin(div=8, stem="small", num_1x1=2)
    assert [n for n, _ in default.named_parameters()] == [n for n, _ in explicit.named_parameters()]
    assert all(torch.equal(p, q) for p, q in zip(default.parameters(), explicit.parameters()))
    counts = {}
    for n in (1, 2, 3):
        net = M.nin(div=8, stem="small", num_1x1=n).eval()
        assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
        assert sum(isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1) for m in net.modules()) == 4 * n
        counts[n] = sum(p.numel() for p in net.parameters())
    # the four blocks' widths (12, 32, 48, 10 at div=8): each extra 1x1 conv per block adds c * c + c
    assert counts[3] - counts[2] == counts[2] - counts[1] == sum(c * c + c for c in (12, 32, 48, 10))


@pytest.mark.parametrize(
    "build",
    [
        lambda conv: M.lenet(conv=conv),
        lambda conv: M.alexnet(image_size=28, div=16, stem="small", conv=conv),
        lambda conv: M.vgg(((1, 16), (1, 32)), image_size=28, conv=conv),
        lambda conv: M.nin(div=16, stem="small", conv=conv),
        lambda conv: M.googlenet(div=16, stem="small", conv=conv),
    ],
)
def test_convlib_conv2d_is_a_drop_in(build: object) -> None:
    torch.manual_seed(0)
    ours, theirs = build(cl.Conv2D), build(nn.Conv2d)  # type: ignore[operator]
    ours.load_state_dict(theirs.state_dict())  # same parameter names and shapes
    ours.eval(), theirs.eval()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-4, rtol=1e-4)


def test_dropout_blocks_the_gradient_of_dropped_units() -> None:
    """The chapter's claim: a dropped unit's incoming weights get zero gradient that step."""
    torch.manual_seed(0)
    hidden, drop = nn.Linear(5, 12), nn.Dropout(0.5)
    x = torch.randn(1, 5)
    h = torch.relu(hidden(x))
    kept = drop(h)
    kept.sum().backward()
    dropped = (kept == 0) & (h > 0)
    assert dropped.any()
    assert (hidden.weight.grad[dropped[0]] == 0).all()
    alive = (kept != 0)[0]
    assert (hidden.weight.grad[alive] != 0).any()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.lenet("softplus"), "activation"),
        (lambda: M.lenet(pool="min"), "pool"),
        (lambda: M.lenet(init="he"), "init"),
        (lambda: M.alexnet(stem="tiny"), "stem"),
        (lambda: M.alexnet(image_size=28), "image_size"),
        (lambda: M.vgg(image_size=16), "image_size"),
        (lambda: M.vgg(()), "conv_arch"),
        (lambda: M.nin(div=0), "div"),
        (lambda: M.googlenet(in_channels=0), "in_channels"),
        (lambda: M.nin_block(3, 8, 3, 1, 1, num_1x1=-1), "num_1x1"),
        (lambda: M.nin_block(3, 8, 3, 1, 1, num_1x1=1.5), "num_1x1"),
        (lambda: M.nin_block(3, 8, 3, 1, 1, inner_kernel_size=2), "inner_kernel_size"),
        (lambda: M.nin_block(3, 8, 3, 1, 1, inner_kernel_size=0), "inner_kernel_size"),
        (lambda: M.nin(num_1x1=-2), "num_1x1"),
    ],
)
def test_bad_arguments(call: object, match: str) -> None:
    with pytest.raises(cl.ConvlibInputError, match=match):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("call", "match"),
    [  # each built a broken model (vgg_block(0, ...) gave in_channels maps, not out_channels) or raised a raw TypeError
        (lambda: M.vgg_block(0, 3, 8), r"^num_convs: expected an int >= 1, got 0\. Fix: "),
        (lambda: M.vgg_block(-1, 3, 8), r"^num_convs: expected an int >= 1, got -1\. Fix: "),
        (lambda: M.vgg_block(1, 3, 8.0), r"^out_channels: expected an int >= 1, got 8\.0 \(a float\)\. Fix: "),
        (lambda: M.nin_block(1, 8, 0, 1, 0), r"^kernel_size: expected values >= 1, got 0\. Fix: "),
        (lambda: M.nin_block(1, 8, 3, 0, 1), r"^stride: expected values >= 1, got 0\. Fix: "),
        (lambda: M.nin_block(1, 8, 3, 1, -1), r"^padding: expected values >= 0, got -1\. Fix: "),
        (lambda: M.nin_block(0, 8, 3, 1, 1), r"^in_channels: expected an int >= 1, got 0\. Fix: "),
        (lambda: M.Inception(0, 1, (1, 1), (1, 1), 1), r"^in_channels: expected an int >= 1, got 0\. Fix: "),
        (lambda: M.Inception(4, 1, 2, (1, 1), 1), r"^c2: expected a pair \(1x1 reduce channels, output channels\) of ints >= 1, "
                                                  r"got 2\. Fix: e\.g\. c2=\(96, 128\)"),
        (lambda: M.Inception(4, 1, (1, 1), (1, 0), 1), r"^c3: expected a pair .*, got \(1, 0\), which holds 0\. Fix: "),
        (lambda: M.vgg(image_size=224.0), r"^image_size: expected an int >= 1, got 224\.0 \(a float\)\. Fix: the side"),
        (lambda: M.vgg(image_size="224"), r"^image_size: expected an int >= 1, got '224' \(a str\)\. Fix: the side"),
        (lambda: M.alexnet(image_size=22.5), r"^image_size: expected an int >= 1, got 22\.5 \(a float\)"),
        (lambda: M.vgg((3, 8), image_size=28), r"^conv_arch: expected a non-empty sequence of \(num_convs, out_channels\) pairs "
                                               r"of ints >= 1, got \(3, 8\), whose block 0 is 3\. Fix: .*\(\(2, 64\),\), with the "
                                               r"trailing comma"),
        (lambda: M.vgg(((1.5, 8),), image_size=28), r"^conv_arch\[0\]: expected a pair \(num_convs, out_channels\) of ints >= 1, "
                                                    r"got \(1\.5, 8\), which holds 1\.5 \(a float\)"),
        (lambda: M.vgg(((1, 8), (1, 8, 2)), image_size=28), r"^conv_arch\[1\]: expected a pair"),
        (lambda: M.vgg("ab", image_size=28), r"^conv_arch: expected a non-empty sequence .* got 'ab' \(a str\)"),
        (lambda: M.vgg(((1, 8),), image_size=28, hidden=0), r"^hidden: expected an int >= 1, got 0"),
    ],
)
def test_builders_check_every_argument(call: object, match: str) -> None:
    with pytest.raises(cl.ConvlibInputError, match=match):
        call()  # type: ignore[operator]


def test_nin_block_still_takes_pairs_and_padding_strings() -> None:
    block = M.nin_block(1, 8, (3, 1), (1, 1), "same")
    assert block(torch.zeros(1, 1, 6, 6)).shape == (1, 8, 6, 6)


# d2l's printed shape tables (chapters 7 and 8, one 1-channel image) and the parameter counts of the same
# layers built directly in torch.nn: the builders at their default arguments are those architectures.
# Built on the meta device, so the published widths cost no memory or time.
@pytest.mark.parametrize(
    ("build", "size", "stages", "params"),
    [
        (M.lenet, 28, [(6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5), (400,),
                       (120,), (120,), (84,), (84,), (10,)], 61706),
        (M.alexnet, 224, [(96, 54, 54), (96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 26, 26), (256, 12, 12),
                          (384, 12, 12), (384, 12, 12), (384, 12, 12), (384, 12, 12), (256, 12, 12), (256, 12, 12),
                          (256, 5, 5), (6400,)] + [(4096,)] * 6 + [(10,)], 46764746),
        (M.vgg, 224, [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7), (25088,)]
                     + [(4096,)] * 6 + [(10,)], 128806154),
        (M.nin, 224, [(96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12), (384, 5, 5),
                      (384, 5, 5), (10, 5, 5), (10, 1, 1), (10,)], 1992166),
        (M.googlenet, 96, [(64, 24, 24), (192, 12, 12), (480, 6, 6), (832, 3, 3), (1024,), (10,)], 5977530),
    ],
)
def test_default_builders_are_the_d2l_architectures(build: object, size: int, stages: list, params: int) -> None:
    with torch.device("meta"):
        net = build()  # type: ignore[operator]
        x = torch.zeros(1, 1, size, size)
        shapes = []
        for layer in net:
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == stages
    assert sum(p.numel() for p in net.parameters()) == params


_EVERY_BUILDER = [
    lambda **kw: M.lenet(**kw),
    lambda **kw: M.lenet_modern(**kw),
    lambda **kw: M.alexnet(image_size=28, div=16, stem="small", **kw),
    lambda **kw: M.vgg(((1, 8),), image_size=28, **kw),
    lambda **kw: M.vgg_block(1, 1, 8, **kw),
    lambda **kw: M.nin(div=16, stem="small", **kw),
    lambda **kw: M.nin_block(1, 8, 3, 1, 1, **kw),
    lambda **kw: M.Inception(4, 1, (1, 1), (1, 1), 1, **kw),
    lambda **kw: M.googlenet(div=16, stem="small", **kw),
]


@pytest.mark.parametrize("build", _EVERY_BUILDER)
@pytest.mark.parametrize(
    ("conv", "got"),
    [("Conv2D", r"'Conv2D' \(a str\)"), (nn.Conv2d(1, 1, 1), r"Conv2d\(1, 1, .*\) \(a Conv2d\)"), (None, r"None \(a NoneType\)")],
)
def test_conv_must_be_a_layer_class(build: object, conv: object, got: str) -> None:
    # a name or a built layer raised a raw TypeError ("'str' object is not callable", "forward() got an
    # unexpected keyword argument 'kernel_size'") from inside the builder
    with pytest.raises(cl.ConvlibInputError, match=rf"^conv: expected a conv layer class.*, got {got}\. Fix: conv=torch"):
        build(conv=conv)  # type: ignore[operator]


@pytest.mark.parametrize(
    "build",
    [lambda d: M.alexnet(image_size=28, div=16, stem="small", dropout=d), lambda d: M.vgg(((1, 8),), image_size=28, dropout=d),
     lambda d: M.nin(div=16, stem="small", dropout=d)],
)
@pytest.mark.parametrize(("dropout", "got"), [(1.5, "1.5"), (-0.1, "-0.1"), (1, "1"), ("0.5", r"'0\.5' \(a str\)"),
                                              (True, r"True \(a bool\)"), (float("nan"), "nan")])
def test_dropout_is_a_rate_below_one(build: object, dropout: object, got: str) -> None:
    # torch's 'dropout probability has to be between 0 and 1' (or a raw TypeError for a str) came out
    # unexplained; True passed as p=1.0 and 1 was accepted: every unit dropped, the dense layers learn nothing
    with pytest.raises(cl.ConvlibInputError, match=rf"^dropout: expected a finite number >= 0 and < 1, got {got}\. Fix: "):
        build(dropout)  # type: ignore[operator]


def test_dropout_rate_reaches_every_dropout_layer() -> None:
    for net in (M.alexnet(image_size=28, div=16, stem="small", dropout=0.2), M.vgg(((1, 8),), image_size=28, dropout=0.2),
                M.nin(div=16, stem="small", dropout=0.2)):
        rates = [m.p for m in net.modules() if isinstance(m, nn.Dropout)]
        assert rates and all(p == 0.2 for p in rates)


@pytest.mark.parametrize(
    "call",
    [lambda: M.vgg(((1, 8),), image_size=28, batch_norm="no"), lambda: M.vgg_block(1, 1, 8, batch_norm="no"),
     lambda: M.vgg_block(1, 1, 8, batch_norm=1)],
)
def test_batch_norm_must_be_a_bool(call: object) -> None:
    # batch_norm="no" is truthy: it added BatchNorm layers without a word
    with pytest.raises(TypeError, match=r"^batch_norm: expected True or False, got .*\. Fix: batch_norm=True or batch_norm=False"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: M.lenet("softplus"), r"^activation: expected one of 'sigmoid', 'relu', 'tanh', got 'softplus' \(a str\)\. Fix: "),
        (lambda: M.lenet(["relu"]), r"^activation: expected one of .*, got \['relu'\] \(a list\)\. Fix: "),
        (lambda: M.lenet(pool="min"), r"^pool: expected one of 'avg', 'max', got 'min' \(a str\)\. Fix: pool='avg'"),
        (lambda: M.lenet(init="he"), r"^init: expected one of 'xavier', 'default', got 'he' \(a str\)\. Fix: init='xavier'"),
        (lambda: M.alexnet(stem="tiny"), r"^stem: expected one of 'imagenet', 'small', got 'tiny' \(a str\)\. Fix: stem="),
        (lambda: M.nin(stem=None), r"^stem: expected one of 'imagenet', 'small', got None \(a NoneType\)\. Fix: "),
        (lambda: M.googlenet(stem=["small"]), r"^stem: expected one of 'imagenet', 'small', got \['small'\]"),
    ],
)
def test_choice_errors_say_how_to_fix(call: object, match: str) -> None:
    # these said what was expected and what came, but not how to fix it; activation=["relu"] raised a raw
    # TypeError ("unhashable type: 'list'") from the lookup in the table of activations
    with pytest.raises(cl.ConvlibInputError, match=match):
        call()  # type: ignore[operator]
