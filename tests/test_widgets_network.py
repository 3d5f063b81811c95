"""NetworkView: the network as page data reproduces the model, stage by stage, in torch and in the page's JS."""

from __future__ import annotations

import json

import pytest
import torch
import traitlets
from torch import nn

import convlib as cl
from convlib.validate import ConvlibInputError
from convlib.widgets import NetworkView
from convlib.widgets.network import network_layers, pack, unpack
from tests.node_pages import needs_node, run_esm

CLASSES = [f"class {i}" for i in range(10)]


def trained_like(model: nn.Sequential, images: torch.Tensor) -> nn.Sequential:
    """Give BatchNorm non-trivial statistics and affine parameters, then switch to evaluation mode."""
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(images + 0.1 * torch.randn_like(images))
    return model.eval()


def stage_outputs(model: nn.Sequential, view: NetworkView, x: torch.Tensor) -> list[torch.Tensor]:
    """The model's own outputs at each stage's last layer (Dropout skipped, as the view does)."""
    layers = [m for m in model.modules() if not isinstance(m, (nn.Sequential, nn.Dropout, nn.Dropout2d, nn.Identity))]
    outs, h = [], x[None]
    with torch.no_grad():
        for m in layers:
            h = m(h)
            outs.append(h[0])
    return [outs[s["end"]] for s in view.stages]


MODELS = {
    "lenet_modern": lambda: cl.models.lenet_modern(),
    "lenet_sigmoid_avg": lambda: cl.models.lenet(),
    "lenet_tanh_convlib": lambda: cl.models.lenet("tanh", "max", conv=cl.Conv2D),
    "padded_pools": lambda: nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5), nn.Dropout2d(0.2),
        nn.Identity(),
        nn.AvgPool2d(3, stride=2, padding=1), nn.MaxPool2d(2, padding=1), nn.Flatten(), nn.Linear(64, 10)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_stage_matches_the_model(name: str) -> None:
    images = torch.rand(4, 1, 28, 28)
    model = trained_like(MODELS[name](), images)
    view = NetworkView(model, images, [0, 1, 2, 3], CLASSES)
    for k in range(4):
        got = view.activations(k)
        want = stage_outputs(model, view, images[k])
        assert [tuple(g.shape) for g in got] == [tuple(w.shape) for w in want]
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(view.probabilities(k), torch.softmax(want[-1], 0), rtol=1e-4, atol=1e-6)
    assert not model.training


def test_lenet_stages_and_state() -> None:
    model = trained_like(cl.models.lenet_modern(), torch.rand(8, 1, 28, 28))
    model.train()  # the view uses evaluation mode and leaves the model as it was
    view = NetworkView(model, torch.rand(3, 28, 28), None, CLASSES, image=2, title="LeNet")
    assert model.training and view.image == 2 and view.labels == [-1, -1, -1]
    assert [s["label"] for s in view.stages] == [
        "conv 5×5, padding 2 · BatchNorm · ReLU", "max pool 2×2", "conv 5×5 · BatchNorm · ReLU", "max pool 2×2",
        "flatten · dense 400→120 · BatchNorm · ReLU", "dense 120→84 · BatchNorm · ReLU", "dense 84→10"]
    assert [tuple(a.shape) for a in view.activations()] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5),
                                                            (120,), (84,), (10,)]
    state = view.static_state()
    assert set(state) == {"classes", "image", "images", "labels", "layers", "layer_stages", "stages", "title"}
    assert len(json.dumps(state)) < 400_000  # 61,706 float32 weights in base 64, and three images
    with pytest.raises(traitlets.TraitError, match="image: expected an int from 0 to 2.*Fix"):
        view.image = 3
    # Clicking a map shows the kernels that make it: the conv layer's weights for that channel.
    torch.testing.assert_close(view.kernels(0, 4), model[0].weight[4].detach())
    torch.testing.assert_close(view.kernels(2, 11), model[4].weight[11].detach())
    with pytest.raises(ConvlibInputError, match=r"starts with a convolution.*Fix: pick one of \[0, 2\]"):
        view.kernels(1, 0)


def test_pack_round_trip_is_exact() -> None:
    x = torch.randn(3, 4, 5)
    assert torch.equal(unpack(pack(x)), x)
    assert unpack(json.loads(json.dumps(pack(x.double()))).copy()).dtype == torch.float32


@pytest.mark.parametrize(("module", "match"), [
    (nn.Conv2d(1, 2, 3, groups=1, dilation=2), "dilation"),
    (nn.Conv2d(2, 2, 3, groups=2), "groups"),
    (cl.Conv2D(2, 2, 3, groups=2), "groups"),
    (cl.Conv2D(2, 2, 3, padding=1, padding_mode="reflect"), "padding mode"),
    (nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d"),
    (nn.MaxPool2d(2, ceil_mode=True), "ceil_mode"),
    (nn.AvgPool2d(2, count_include_pad=False), "padded zeros"),
    (nn.Flatten(0), "flatten"),
    (nn.BatchNorm2d(2, track_running_stats=False), "running statistics"),
])
def test_layers_the_page_cannot_run_are_named(module: nn.Module, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=f"NetworkView: expected layers.*{match}.*Fix"):
        network_layers(nn.Sequential(module))


class Doubler(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * x


def test_bad_inputs_say_what_to_do() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).eval()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ConvlibInputError, match=r"permute\(0, 3, 1, 2\)"):
        NetworkView(net, x.permute(0, 2, 3, 1).expand(2, 4, 4, 3), None, CLASSES)
    with pytest.raises(ConvlibInputError, match="1 to 12 images"):
        NetworkView(net, torch.rand(13, 1, 4, 4), None, CLASSES)
    with pytest.raises(ConvlibInputError, match="labels: expected one per image"):
        NetworkView(net, x, [1], CLASSES)
    with pytest.raises(ConvlibInputError, match="one score per class"):
        NetworkView(net, x, None, CLASSES[:3])
    with pytest.raises(ConvlibInputError, match="Doubler"):
        NetworkView(nn.Sequential(Doubler(), net), x, None, CLASSES)
    with pytest.raises(ConvlibInputError, match="a tensor"):
        NetworkView(net, [[0.0]], None, CLASSES)


def test_rgb_images_work() -> None:
    net = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 8 * 8, 10)).eval()
    x = torch.rand(2, 3, 8, 8)
    view = NetworkView(net, x, [3, 4], CLASSES)
    torch.testing.assert_close(view.activations(1)[-1], net(x[1:2])[0].detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(view.pixels(1), x[1])


def test_static_html_carries_the_widget() -> None:
    view = NetworkView(nn.Sequential(nn.Flatten(), nn.Linear(4, 10)).eval(), torch.rand(1, 1, 2, 2), [0], CLASSES)
    html = view.static_html()
    assert 'data-widget="NetworkView"' in html and "nvForward" in html and "http" not in html.split("<script")[0]


@needs_node
def test_page_forward_pass_matches_torch(tmp_path) -> None:
    images = torch.rand(3, 1, 28, 28)
    cases = {name: NetworkView(trained_like(MODELS[name](), images), images, None, CLASSES) for name in sorted(MODELS)}
    rgb = torch.rand(2, 3, 32, 32)
    cases["cifar_normalized"] = NetworkView(trained_like(cl.cifar.cifar_net(widths=(4, 8)), rgb), rgb, None, CLASSES,
                                            normalize=((0.49, 0.48, 0.45), (0.25, 0.24, 0.26)))
    harness = ("const cases = " + json.dumps({n: {"layers": v.layers, "stages": v.stages, "images": v.images}
                                              for n, v in cases.items()}) + ";\n"
               "const out = {};\n"
               "for (const [name, c] of Object.entries(cases)) {\n"
               "  const layers = nvDecodeLayers(c.layers);\n"
               "  out[name] = c.images.map((p) => { const outs = nvForward(layers, nvUnpack(p));\n"
               "    return { stages: c.stages.map((s) => Array.from(outs[s.end].data)),\n"
               "             probs: nvSoftmax(outs[c.stages[c.stages.length - 1].end].data) }; });\n"
               "}\nconsole.log(JSON.stringify(out));\n")
    shown = run_esm("network", harness, tmp_path)
    for name, view in cases.items():
        for k, page in enumerate(shown[name]):
            for got, want in zip(page["stages"], view.activations(k)):
                torch.testing.assert_close(torch.tensor(got, dtype=torch.float32), want.flatten(), rtol=1e-4, atol=1e-4)
            torch.testing.assert_close(torch.tensor(page["probs"], dtype=torch.float32), view.probabilities(k),
                                       rtol=1e-4, atol=1e-6)


def test_normalize_standardises_inside_the_page() -> None:
    mean, std = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
    images = torch.rand(3, 3, 32, 32)
    model = trained_like(cl.cifar.cifar_net(widths=(8, 16)), (images - torch.tensor(mean)[:, None, None])
                         / torch.tensor(std)[:, None, None])
    view = NetworkView(model, images, [1, 2, 3], CLASSES, normalize=(mean, std))
    assert view.stages[0]["label"] == "normalize · conv 3×3, padding 1 · BatchNorm · ReLU"
    standardised = (images - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    with torch.no_grad():
        want = model(standardised)
    for k in range(3):
        torch.testing.assert_close(view.activations(k)[-1], want[k], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(view.pixels(2), images[2])  # the page keeps (and paints) the plain image
    torch.testing.assert_close(view.kernels(0, 3), model[0].weight[3].detach())
    with pytest.raises(ConvlibInputError, match=r"Fix: pick one of \[0, 2\]"):  # normalize joins stage 0
        view.kernels(1, 0)
    with pytest.raises(ConvlibInputError, match=r"normalize: expected \(mean, std\) with 3 numbers"):
        NetworkView(model, images, None, CLASSES, normalize=((0.5,), (0.2,)))


def test_every_layer_rows_split_conv_batchnorm_and_activation() -> None:
    model = trained_like(cl.models.lenet_modern(), torch.rand(8, 1, 28, 28))
    view = NetworkView(model, torch.rand(2, 28, 28), None, CLASSES)
    labels = [s["label"] for s in view.layer_stages]
    assert labels[:5] == ["conv 5×5, padding 2", "BatchNorm", "ReLU", "max pool 2×2", "conv 5×5"]
    assert "flatten · dense 400→120" in labels and labels[-1] == "dense 84→10"
    rows = view.activations(every_layer=True)
    assert len(rows) == len(view.layer_stages) == len(view.layers) - 1  # flatten joins the dense layer after it
    assert bool((rows[0] < 0).any())  # a convolution's raw output has negative values ...
    torch.testing.assert_close(rows[2], rows[1].clamp(min=0))  # ... which the ReLU row sets to 0
    torch.testing.assert_close(rows[-1], view.activations()[-1])  # the same scores either way


@needs_node
def test_page_explains_a_pooled_output_as_torch_computes_it(tmp_path) -> None:
    """nvPoolNeuron, behind a clicked pixel of a pooling map: window (None on padding), max or mean, layers after."""
    x = torch.randn(2, 5, 6, dtype=torch.float64)  # (C, H, W): what the pooling reads
    pools = {"maxpool": nn.MaxPool2d(3, stride=2, padding=1), "avgpool": nn.AvgPool2d(3, stride=2, padding=1)}
    picks = [(c, i, j) for c in range(2) for i in range(3) for j in range(3)]
    harness = ("const x = { shape: [2, 5, 6], data: Float64Array.from(" + json.dumps(x.flatten().tolist()) + ") };\n"
               "const relu = { kind: 'relu' };\n"
               "const out = {};\n"
               "for (const kind of ['maxpool', 'avgpool']) {\n"
               "  const pool = { kind, kernel: [3, 3], stride: [2, 2], padding: [1, 1] };\n"
               "  out[kind] = " + json.dumps(picks) + ".map(([c, i, j]) => nvPoolNeuron(pool, x, c, [i, j], [relu]));\n"
               "}\nconsole.log(JSON.stringify(out));\n")
    shown = run_esm("network", harness, tmp_path)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), value=float("nan"))  # NaN marks padding
    for kind, pool in pools.items():
        y = pool(x[None])[0]  # (C, 3, 3)
        for (c, i, j), got in zip(picks, shown[kind]):
            window = padded[c, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].flatten().tolist()
            assert got["window"] == pytest.approx([None if v != v else v for v in window])
            assert got["z"] == pytest.approx(float(y[c, i, j])) and got["value"] == pytest.approx(max(0.0, float(y[c, i, j])))
            assert got["steps"][0]["name"].startswith("ReLU")
            if kind == "maxpool":
                assert got["window"][got["pick"]] == pytest.approx(float(y[c, i, j]))
            else:
                assert got["pick"] is None
