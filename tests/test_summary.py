"""Tests for convlib.summary: layer_summary (shapes, parameters, MACs) and receptive fields."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

import convlib as cl
from convlib import models as M
from convlib.summary import measure_receptive_field
from convlib.validate import ConvlibInputError


def brute_force_conv_macs(c_in: int, c_out: int, k: int, n: int, stride: int, padding: int, groups: int) -> int:
    """Count every multiply of a direct convolution, one loop level per index."""
    count = 0
    out = (n + 2 * padding - k) // stride + 1
    per_group_in = c_in // groups
    for _co in range(c_out):
        for _i in range(out):
            for _j in range(out):
                for _ci in range(per_group_in):  # a kernel only sees its group's channels
                    for _a in range(k):
                        for _b in range(k):
                            count += 1
    return count


@pytest.mark.parametrize(
    ("c_in", "c_out", "k", "n", "stride", "padding", "groups"),
    [(1, 1, 3, 5, 1, 0, 1), (2, 3, 3, 6, 2, 1, 1), (4, 6, 2, 5, 1, 0, 2), (3, 2, 5, 7, 1, 2, 1)],
)
def test_conv_macs_match_a_brute_force_count(c_in: int, c_out: int, k: int, n: int, stride: int,
                                             padding: int, groups: int) -> None:
    layer = nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding, groups=groups)
    (row,) = cl.layer_summary(layer, (c_in, n, n))
    assert row.macs == brute_force_conv_macs(c_in, c_out, k, n, stride, padding, groups)
    if groups == 1:  # cl.Conv2D has no groups
        ours = cl.Conv2D(c_in, c_out, k, stride=stride, padding=padding)
        assert cl.layer_summary(ours, (c_in, n, n))[0].macs == row.macs


def test_linear_macs_and_zero_for_pool_and_activations() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(2), nn.Dropout(),
                        nn.Flatten(), nn.Linear(2 * 3 * 3, 5))
    s = cl.layer_summary(net, (2, 1, 8, 8))  # a batch of 2: MACs stay per image
    macs = {r.kind: r.macs for r in s}
    assert macs["Linear"] == 18 * 5
    assert macs["Conv2d"] == 2 * 6 * 6 * 9
    assert all(macs[k] == 0 for k in ("ReLU", "MaxPool2d", "BatchNorm2d", "Dropout", "Flatten"))
    assert s[0].output_shape == (2, 2, 6, 6)


@pytest.mark.parametrize(
    ("name", "build", "shape"),
    [
        ("lenet", lambda: M.lenet(), (1, 28, 28)),
        ("lenet_modern", lambda: M.lenet_modern(), (1, 28, 28)),
        ("alexnet", lambda: M.alexnet(image_size=28, div=8, stem="small"), (1, 28, 28)),
        ("vgg", lambda: M.vgg(((1, 64), (1, 128), (2, 256)), image_size=32, div=8), (1, 32, 32)),
        ("nin", lambda: M.nin(div=8, stem="small"), (1, 28, 28)),
        ("googlenet", lambda: M.googlenet(div=8, stem="small"), (1, 28, 28)),
        ("cl.Conv2D lenet", lambda: M.lenet(conv=cl.Conv2D), (1, 28, 28)),
    ],
)
def test_parameter_totals_match_numel(name: str, build: object, shape: tuple[int, ...]) -> None:
    net = build()  # type: ignore[operator]
    s = cl.layer_summary(net, shape)
    assert s.total_params == sum(p.numel() for p in net.parameters())
    assert s.output_shape == (1, 10)


def test_lenet_shapes_and_counts_layer_by_layer() -> None:
    s = cl.layer_summary(M.lenet(), (1, 28, 28))
    shapes = [r.output_shape for r in s if r.kind in ("Conv2d", "AvgPool2d", "Linear")]
    assert shapes == [(1, 6, 28, 28), (1, 6, 14, 14), (1, 16, 10, 10), (1, 16, 5, 5),
                      (1, 120), (1, 84), (1, 10)]
    assert s.total_params == 61_706
    assert s.total_macs == 6 * 28 * 28 * 25 + 16 * 10 * 10 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10


def test_summary_shapes_equal_a_real_forward_pass() -> None:
    net = M.alexnet(image_size=28, div=8, stem="small")
    s = cl.layer_summary(net, (1, 28, 28))
    x = torch.randn(1, 1, 28, 28)
    net.eval()
    for layer, row in zip(net, s):
        x = layer(x)
        assert tuple(x.shape) == row.output_shape


def test_a_shared_layer_counts_its_parameters_once() -> None:
    conv = nn.Conv2d(2, 2, 3, padding=1)
    net = nn.Sequential(conv, nn.ReLU(), conv)
    s = cl.layer_summary(net, (2, 5, 5))
    assert [r.params for r in s] == [conv.weight.numel() + 2, 0, 0]
    assert s.total_macs == 2 * (2 * 5 * 5 * 2 * 9)
    assert s.total_params == sum(p.numel() for p in net.parameters())


def test_summary_restores_training_mode_and_shows_a_table() -> None:
    net = M.lenet_modern()
    net.train()
    s = cl.layer_summary(net, (1, 1, 28, 28))
    assert net.training
    text = repr(s)
    assert "output shape" in text and f"{s.total_params:,}" in text and "count 0" in text
    page = s._repr_html_()
    assert page.startswith("<table") and "BatchNorm2d" in page and f"{s.total_macs:,}" in page


class ScaledBlock(nn.Module):
    """A block with a layer inside and a learnable scale of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.scale = nn.Parameter(torch.ones(3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * self.scale


@pytest.mark.parametrize("depth", [None, 1, 2])
def test_totals_count_every_parameter_once(depth: int | None) -> None:
    """Own parameters of a block, weights tied between two layers, a layer never called: the total is
    the model's own count at every depth, and every row that ran has the shape it produced."""
    first, second = nn.Linear(8, 8), nn.Linear(8, 8)
    second.weight = first.weight  # tied

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Sequential(ScaledBlock(), nn.Flatten(start_dim=2)), nn.Sequential(first, second))
            self.spare = nn.Linear(4, 4)  # registered, never called

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    net = Net()
    s = cl.layer_summary(net, (2, 1, 8), depth=depth)
    assert s.total_params == sum(p.numel() for p in net.parameters())
    assert [r.name for r in s if r.output_shape == ()] == ["spare"]
    assert s.output_shape == (1, 3, 8)


def test_own_parameters_get_a_row_after_their_layers() -> None:
    s = cl.layer_summary(ScaledBlock(), (2, 4, 4))
    assert [(r.name, r.kind, r.output_shape, r.params) for r in s] == [
        ("conv", "Conv2d", (1, 3, 4, 4), 2 * 3 * 9 + 3), ("ScaledBlock", "ScaledBlock (own parameters)", (1, 3, 4, 4), 3)]


def test_summary_restores_each_submodule_mode() -> None:
    """A BatchNorm frozen with .eval() inside a training model stays frozen after a summary, evaluate or predict."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    net.train()
    net[1].eval()
    X, y = torch.randn(4, 1, 6, 6), torch.tensor([0, 1, 2, 0])
    for run in (lambda: cl.layer_summary(net, (1, 6, 6)), lambda: cl.evaluate(net, [(X, y)]), lambda: cl.predict(net, X)):
        run()
        assert [m.training for m in net] == [True, False, True, True]


def test_bad_input_shape_is_explained() -> None:
    with pytest.raises(cl.ConvlibInputError, match=r"\(C, H, W\)"):
        cl.layer_summary(M.lenet(), (28, 28))


@pytest.mark.parametrize(
    "call, message",
    [
        # depth=True summarised at depth 1, (1, 28.9, 28) ran on 28x28, (True, 28, 28) on one channel,
        # a (3, True) window counted as stride 1, input_size=2.5 gave fractional sides
        (lambda: cl.layer_summary(M.lenet(), (1, 28, 28), depth=True),
         r"^depth: expected None \(every layer\) or an int >= 1, got True \(a bool\)\. Fix: "),
        (lambda: cl.layer_summary(M.lenet(), (1, 28, 28), depth=0), r"^depth: expected None \(every layer\) or an int >= 1, got 0\."),
        (lambda: cl.layer_summary(M.lenet(), (1, 28.9, 28)), r"^input_shape: expected .* positive whole sizes, got \(1, 28\.9, 28\), which holds 28\.9 \(a float\)"),
        (lambda: cl.layer_summary(M.lenet(), (True, 28, 28)), r"^input_shape: .*which holds True \(a bool\)"),
        (lambda: cl.receptive_field([(3, True)]), r"^layers\[0\]: expected \(kernel, stride\) or \(kernel, stride, padding\) ints, got \(3, True\)"),
        (lambda: cl.receptive_field([(3, 1)], input_size=2.5), r"^input_size: expected None \(no feature-map sizes\) or an int >= 1, got 2\.5 \(a float\)"),
        (lambda: cl.receptive_field([(3, 1)], input_size=True), r"^input_size: .* got True \(a bool\)"),
        (lambda: measure_receptive_field(nn.Conv2d(1, 1, 3), True), r"^input_size: expected an int >= 1, got True \(a bool\)"),
        (lambda: measure_receptive_field(nn.Conv2d(1, 1, 3), 9, in_channels=0), r"^in_channels: expected an int >= 1, got 0\."),
    ],
)
def test_bad_whole_numbers_are_explained(call, message) -> None:
    with pytest.raises(ConvlibInputError, match=message):
        call()


def test_whole_numbers_taken_as_numpy_ints() -> None:
    import numpy as np

    s = cl.layer_summary(M.lenet(), np.array([1, 28, 28]), depth=np.int64(1))
    assert s.output_shape == (1, 10)
    assert cl.receptive_field([(np.int64(3), np.int32(1))], input_size=np.int64(8)).sizes == [3]


# ----------------------------------------------------------- receptive field


@pytest.mark.parametrize(
    ("layers", "sizes", "jumps"),
    [
        ([(3, 1)], [3], [1]),
        ([(3, 1), (3, 1)], [3, 5], [1, 1]),
        ([(5, 1)], [5], [1]),
        ([(3, 1), (2, 2), (3, 1)], [3, 4, 8], [1, 2, 2]),
        ([(11, 4), (3, 2)], [11, 19], [4, 8]),
    ],
)
def test_receptive_field_by_hand(layers: list, sizes: list[int], jumps: list[int]) -> None:
    rf = cl.receptive_field(layers)
    assert rf.sizes == sizes and rf.jumps == jumps


def test_measure_receptive_field_on_known_cases() -> None:
    assert measure_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3)), 9) == 3
    assert measure_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), 11) == 5
    assert measure_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 5, padding=2)), 15) == 5
    assert measure_receptive_field([nn.Conv2d(1, 1, 3), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3)], 20) == 8


def _chain(spec: list[tuple[str, int, int, int]]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for kind, k, s, d in spec:
        if kind == "conv":
            layers += [nn.Conv2d(2, 2, k, stride=s, padding=k // 2, dilation=d), nn.ReLU()]
        elif kind == "max":
            layers.append(nn.MaxPool2d(k, s))
        else:
            layers.append(nn.AvgPool2d(k, s))
    return nn.Sequential(nn.Conv2d(1, 2, 1), *layers)


layer_spec = st.one_of(
    st.tuples(st.just("conv"), st.integers(1, 5), st.integers(1, 2), st.integers(1, 2)),
    st.tuples(st.sampled_from(["max", "avg"]), st.integers(2, 3), st.integers(1, 2), st.just(1)),
)


@settings(max_examples=40)
@given(st.lists(layer_spec, min_size=1, max_size=5))
def test_formula_matches_autograd_on_random_chains(spec: list[tuple[str, int, int, int]]) -> None:
    net = _chain(spec).double()
    computed = cl.receptive_field(net)
    r, j = computed.sizes[-1], computed.jumps[-1]
    n = 2 * r + 4 * j + 8  # the central output's field lies well inside the image
    assert measure_receptive_field(net, n) == r


@pytest.mark.parametrize(
    "build",
    [
        lambda: M.vgg(((1, 64), (1, 128), (2, 256), (2, 512)), image_size=28, div=8),
        lambda: M.alexnet(image_size=28, div=8, stem="small"),
        lambda: M.lenet(),
        lambda: M.nin(div=16, stem="small"),
    ],
)
def test_model_receptive_fields_match_autograd(build: object) -> None:
    net = build()  # type: ignore[operator]
    rf = cl.receptive_field(net)
    n = 2 * rf.sizes[-1] + 4 * rf.jumps[-1] + 8
    assert measure_receptive_field(net, n) == rf.sizes[-1]


def test_feature_map_sizes_follow_layer_summary() -> None:
    net = M.alexnet(image_size=28, div=8, stem="small")
    rf = cl.receptive_field(net, input_size=28)
    spatial = {r.name: r.output_shape[-1] for r in cl.layer_summary(net, (1, 28, 28))}
    assert all(row.out_size == spatial[row.name] for row in rf)
    assert "jump" in repr(rf)


def test_receptive_field_refuses_parallel_branches_and_bad_layers() -> None:
    with pytest.raises(cl.ConvlibInputError, match="parallel branches"):
        cl.receptive_field(M.Inception(4, 1, (1, 1), (1, 1), 1))
    with pytest.raises(cl.ConvlibInputError, match="square"):
        cl.receptive_field(nn.Sequential(nn.Conv2d(1, 1, (1, 3))))
    with pytest.raises(cl.ConvlibInputError, match="vanished"):
        cl.receptive_field([(5, 1), (5, 1)], input_size=6)
    with pytest.raises(TypeError, match="nn.Module"):
        cl.receptive_field(["conv"])
    with pytest.raises(cl.ConvlibInputError, match="kernel, stride"):
        cl.receptive_field([(3,)])


def test_receptive_field_reads_padding_strings() -> None:
    """``padding="same"`` counts as (k - 1) / 2 zeros a side; an even "same" window has no single padding."""
    rf = cl.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 5, padding="same"), cl.Conv2D(1, 1, 3, padding="same")),
                            input_size=12)
    assert [r.padding for r in rf] == [2, 1] and rf.sizes == [5, 7] and rf[-1].out_size == 12
    with pytest.raises(cl.ConvlibInputError, match="same padding on both sides"):
        cl.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 4, padding="same")))


def test_receptive_field_refuses_layers_it_cannot_follow() -> None:
    resampling = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ConvTranspose2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3))
    with pytest.raises(ConvlibInputError, match=r"^layers\[1\]: expected conv and pooling layers .* got ConvTranspose2d"
                                                r".*Fix: pass the chain up to that layer"):
        cl.receptive_field(resampling)
    assert cl.receptive_field(resampling[:1]).sizes == [3]
    not_global = nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d((7, 7)))
    with pytest.raises(ConvlibInputError, match=r"expected adaptive pooling to 1x1 \(global\), got output_size=\(7, 7\)"):
        cl.receptive_field(not_global)
    assert cl.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveMaxPool2d(1), nn.Conv2d(1, 1, 3))).sizes == [3]


@pytest.mark.parametrize("pad", [nn.ZeroPad2d(2), nn.ReflectionPad2d(2), nn.ReplicationPad2d(2), nn.ConstantPad2d(2, 0.5)],
                         ids=lambda m: type(m).__name__)
def test_padding_layers_grow_the_map_and_keep_the_field(pad: nn.Module) -> None:
    net = nn.Sequential(pad, nn.Conv2d(1, 1, 5), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    rf = cl.receptive_field(net, input_size=10)
    assert [r.out_size for r in rf] == [14, 10, 5, 3] == [net[: i + 1](torch.zeros(1, 1, 10, 10)).shape[-1] for i in range(4)]
    assert rf.sizes == [1, 5, 6, 10] and rf.jumps == [1, 1, 2, 2]
    assert measure_receptive_field(net, 21) == rf.sizes[-1]
    with pytest.raises(ConvlibInputError, match="same padding on every side"):
        cl.receptive_field(nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(1, 1, 2)))


def test_receptive_field_sizes_follow_ceil_mode() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(1, 1, 3))
    rf = cl.receptive_field(net, input_size=7)
    assert [r.out_size for r in rf] == [5, 3, 1] == [net[: i + 1](torch.zeros(1, 1, 7, 7)).shape[-1] for i in range(3)]
    assert cl.receptive_field(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), input_size=5)[-1].out_size == 3


def test_summary_wants_a_module() -> None:
    """layer_summary(lambda t: t, ...) raised AttributeError: 'function' object has no attribute 'named_modules'."""
    with pytest.raises(TypeError, match=r"^model: expected a torch\.nn\.Module .*got a function\. Fix: pass the network"):
        cl.layer_summary(lambda t: t, (1, 28, 28))


@pytest.mark.parametrize(("model", "shape", "where", "cause"), [
    (lambda: M.lenet(), (3, 28, 28), r"'0' \(Conv2d\)", "to have 1 channels, but got 3"),      # channels do not match
    (lambda: M.lenet(), (1, 32, 32), r"'7' \(Linear\)", "cannot be multiplied"),               # dense layer's size
    (lambda: nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(3, 1, 1))), (1, 8, 8), r"'0\.1' \(Conv2d\)", "channels"),
])
def test_a_failing_forward_pass_names_the_shape_and_the_layer(model, shape: tuple, where: str, cause: str) -> None:
    """A channel mismatch came out as torch's raw RuntimeError, with no word of the shape tried or the layer."""
    net = model()
    with pytest.raises(ConvlibInputError, match=rf"^input_shape: expected a shape the model runs on, got \(1, {shape[0]}, "
                                                rf"{shape[1]}, {shape[2]}\): the forward pass .* failed in layer {where} with "
                                                rf"RuntimeError: .*{cause}.*Fix: give the \(C, H, W\)") as info:
        cl.layer_summary(net, shape)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not net._forward_hooks and not net._forward_pre_hooks  # every hook removed, the model reusable
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def brute_force_transposed_macs(c_in: int, c_out: int, k: int, n: int, groups: int) -> int:
    """Count every multiply of a direct transposed convolution: each input value times its group's kernels."""
    count = 0
    for _ci in range(c_in):
        for _i in range(n):
            for _j in range(n):
                for _co in range(c_out // groups):  # an input channel writes only its group's outputs
                    count += k * k  # X[ci, i, j] * K[ci, co]: one patch of k x k products
    return count


@pytest.mark.parametrize(("c_in", "c_out", "k", "n", "stride", "padding", "groups"),
                         [(1, 1, 3, 4, 1, 0, 1), (2, 3, 3, 5, 2, 1, 1), (4, 6, 2, 3, 2, 0, 2)])
def test_transposed_and_1d_3d_conv_macs_are_counted(c_in: int, c_out: int, k: int, n: int, stride: int,
                                                     padding: int, groups: int) -> None:
    """A ConvTranspose2d (and Conv1d / Conv3d) counted 0 MACs, though MACS_NOTE counts convolutions."""
    layer = nn.ConvTranspose2d(c_in, c_out, k, stride=stride, padding=padding, groups=groups)
    (row,) = cl.layer_summary(layer, (c_in, n, n))
    assert row.macs == brute_force_transposed_macs(c_in, c_out, k, n, groups) > 0
    flat = nn.Sequential(nn.Flatten(2), nn.Conv1d(c_in, c_out, k, stride=stride, padding=padding, groups=groups))
    out = flat(torch.zeros(1, c_in, n, n))  # (1, C_out, L_out)
    assert cl.layer_summary(flat, (c_in, n, n)).total_macs == out.numel() * (c_in // groups) * k > 0
    deep = nn.Sequential(nn.Unflatten(1, (c_in, 1)), nn.Conv3d(c_in, c_out, (1, k, k), padding=(0, padding, padding),
                                                               groups=groups))
    out = deep(torch.zeros(1, c_in, n, n))  # (1, C_out, 1, H_out, W_out)
    assert cl.layer_summary(deep, (c_in, n, n)).total_macs == out.numel() * (c_in // groups) * k * k > 0
