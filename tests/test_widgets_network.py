"""NetworkView: the network as page data reproduces the model, stage by stage, in torch and in the page's JS."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
import traitlets
from torch import nn

import convlib as cl
from convlib.pool import adaptive_window
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
    "nin": lambda: cl.models.nin(div=8, stem="small"),
    # Every layer setting the page runs beyond LeNet's, ending as NiN does (class maps, global average pooling).
    "nin_like": lambda: nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, padding_mode="reflect"), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, padding_mode="replicate"), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, ceil_mode=True),                                  # 28 -> 14: a last, partial window
        cl.Conv2D(8, 12, 3, padding=1, padding_mode="circular", groups=2), nn.ReLU(),
        nn.MaxPool2d(2, stride=1, padding=1, dilation=2),
        nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),  # 14 -> 8
        nn.AvgPool2d(2, divisor_override=3),                                        # 8 -> 4
        nn.AdaptiveMaxPool2d((3, None)),                                            # 4x4 -> 3x4, overlapping rows
        nn.AdaptiveAvgPool2d((5, 3)),                                               # 3x4 -> 5x3: rows repeat
        nn.Conv2d(12, 10, 1), nn.ReLU(),                                            # one class map per class
        nn.AdaptiveAvgPool2d(1), nn.Flatten()),
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
    (nn.LPPool2d(2, 2), r"LPPool2d \(not one of them\)"),
    (nn.Upsample(scale_factor=2), r"Upsample \(not one of them\)"),
    (nn.MaxPool2d(2, return_indices=True), "return_indices=True, which returns a pair"),
    (nn.AdaptiveMaxPool2d(1, return_indices=True), "return_indices=True"),
    (nn.Flatten(0), "flatten"),
    (nn.BatchNorm2d(2, track_running_stats=False), "running statistics"),
])
def test_layers_the_page_cannot_run_are_named(module: nn.Module, match: str) -> None:
    with pytest.raises(ConvlibInputError, match=f"NetworkView: expected layers the page can run \\(.*AdaptiveAvgPool2d"
                                                f".*\\), got .*{match}.*Fix: show a plain sequential network"):
        network_layers(nn.Sequential(module))


def test_new_layer_settings_travel_to_the_page_and_name_their_rows() -> None:
    images = torch.rand(2, 1, 28, 28)
    view = NetworkView(trained_like(MODELS["nin_like"](), images), images, [3, 4], CLASSES)
    assert [s["label"] for s in view.stages] == [
        "conv 3×3, padding 1, reflect padding · ReLU",
        "conv 3×3, padding 2, dilation 2, replicate padding, groups 4 · BatchNorm · ReLU",
        "max pool 3×3, stride 2, ceil_mode", "conv 3×3, padding 1, circular padding, groups 2 · ReLU",
        "max pool 2×2, stride 1, padding 1, dilation 2", "avg pool 3×3, stride 2, padding 1, ceil_mode, padding not counted",
        "avg pool 2×2, divisor 3", "adaptive max pool to 3×W", "adaptive avg pool to 5×3", "conv 1×1 · ReLU",
        "global avg pool · flatten"]
    assert [tuple(a.shape) for a in view.activations()] == [
        (8, 28, 28), (8, 28, 28), (8, 14, 14), (12, 14, 14), (12, 14, 14), (12, 8, 8), (12, 4, 4), (12, 3, 4),
        (12, 5, 3), (10, 5, 3), (10,)]
    pools = [layer for layer in view.layers if "pool" in layer["kind"]]
    assert pools[0] == {"kind": "maxpool", "kernel": [3, 3], "stride": [2, 2], "padding": [0, 0], "ceil_mode": True,
                        "dilation": [1, 1]}
    assert pools[2]["count_include_pad"] is False and pools[3]["divisor"] == 3
    assert pools[4] == {"kind": "adaptive_maxpool", "output": [3, None]} and pools[-1]["output"] == [1, 1]
    json.dumps(view.static_state())  # None travels as null
    # A grouped convolution's kernels read only their group's input channels.
    assert view.input_channels(1, 5) == [4, 5] and view.input_channels(3, 7) == [4, 5, 6, 7]
    assert view.input_channels(0, 7) == [0] and tuple(view.kernels(3, 7).shape) == (4, 3, 3)


def test_class_maps_are_the_last_maps_before_global_average_pooling() -> None:
    """NiN: the last block's maps, one per class; each class's score is its map's mean."""
    images = torch.rand(3, 1, 28, 28)
    for name in ("nin", "nin_like"):
        view = NetworkView(trained_like(MODELS[name](), images), images, None, CLASSES)
        s = view.class_map_stage()
        assert s == len(view.stages) - 2
        for k in range(3):
            maps, scores = view.activations(k)[s], view.activations(k)[-1]  # (10, h, w), (10,)
            torch.testing.assert_close(maps.mean((1, 2)), scores)
        assert view.class_map_stage(every_layer=True) == len(view.layer_stages) - 2  # the ReLU's row
    view = NetworkView(trained_like(MODELS["lenet_modern"](), images), images, None, CLASSES)
    assert view.class_map_stage() is None  # ends in a dense layer
    max_head = nn.Sequential(nn.Conv2d(1, 10, 3), nn.AdaptiveMaxPool2d(1), nn.Flatten()).eval()
    assert NetworkView(max_head, images, None, CLASSES).class_map_stage() is None  # not an average
    three = nn.Sequential(nn.Conv2d(1, 3, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    assert NetworkView(three, images, None, CLASSES[:3]).class_map_stage() == 0
    two_by_two = nn.Sequential(nn.Conv2d(1, 3, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(12, 3)).eval()
    assert NetworkView(two_by_two, images, None, CLASSES[:3]).class_map_stage() is None  # not global


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


def test_labels_must_name_a_class() -> None:
    """A label past the class names (or below -1, "no label") would show an undefined name in the page."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).eval()
    x = torch.rand(3, 1, 4, 4)
    for labels, bad in (([0, 10, 2], "got 10 for image 1"), (torch.tensor([1, 2, -2]), "got -2 for image 2")):
        with pytest.raises(ConvlibInputError, match=rf"^labels: expected class indices 0 to 9 .*{bad}\. Fix: .*labels=None"):
            NetworkView(net, x, labels, CLASSES)
    view = NetworkView(net, x, [9, -1, 0], CLASSES)  # -1: an image with no label
    with pytest.raises(traitlets.TraitError, match="got 10 for image 0"):
        view.labels = [10, 0, 0]
    assert view.labels == [9, -1, 0]


def test_classes_set_later_must_match_the_model_outputs() -> None:
    """A shorter class list set after construction left label 9 without a name (undefined in the page)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).eval()
    view = NetworkView(net, torch.rand(3, 1, 4, 4), [9, -1, 0], CLASSES)
    with pytest.raises(traitlets.TraitError, match=r"^classes: expected 10 class names \(one per output of the model\), got 5\. Fix: "):
        view.classes = CLASSES[:5]
    assert view.classes == list(CLASSES)
    renamed = [c.upper() for c in CLASSES]
    view.classes = renamed  # the same count: fine
    assert view.classes == renamed
    view.labels = [-1, -1, -1]
    with pytest.raises(traitlets.TraitError, match="expected 10 class names"):  # the model still has 10 outputs
        view.classes = CLASSES[:1]


def test_float64_model_runs_in_its_own_dtype() -> None:
    """A float64 model gets float64 images for the check (a float32 image failed in its first conv)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 10)).double().eval()
    x = torch.rand(2, 1, 4, 4, dtype=torch.float64)
    view = NetworkView(net, x, [1, 2], CLASSES, normalize=([0.5], [0.25]))
    with torch.no_grad():
        want = net((x - 0.5) / 0.25)  # (2, 10)
    for i in range(2):
        torch.testing.assert_close(view.activations(i)[-1].double(), want[i], rtol=1e-4, atol=1e-5)


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
    harness = ("const cases = " + json.dumps({n: {"layers": v.layers, "stages": v.stages, "layer_stages": v.layer_stages,
                                                  "images": v.images} for n, v in cases.items()}) + ";\n"
               "const out = {};\n"
               "for (const [name, c] of Object.entries(cases)) {\n"
               "  const layers = nvDecodeLayers(c.layers);\n"
               "  out[name] = c.images.map((p) => { const outs = nvForward(layers, nvUnpack(p));\n"
               "    return { stages: c.stages.map((s) => Array.from(outs[s.end].data)),\n"
               "             probs: nvSoftmax(outs[c.stages[c.stages.length - 1].end].data),\n"
               "             classMaps: [c.stages, c.layer_stages].map((st) => nvClassMapStage(layers, st, outs, 10)) }; });\n"
               "}\nconsole.log(JSON.stringify(out));\n")
    shown = run_esm("network", harness, tmp_path)
    assert shown["nin"][0]["classMaps"] == [len(cases["nin"].stages) - 2, len(cases["nin"].layer_stages) - 2]
    for name, view in cases.items():
        # The page finds the class maps (NiN's last block) where Python does, or none (LeNet, CIFAR).
        want = [view.class_map_stage(), view.class_map_stage(every_layer=True)]
        assert shown[name][0]["classMaps"] == [-1 if s is None else s for s in want], name
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


def _padded_cells(x: torch.Tensor, rows: list[int], cols: list[int]) -> list[float | None]:
    """``x (H, W)`` at every (row, column) pair, ``None`` off the input (padding, or past it)."""
    h, w = x.shape
    return [float(x[r, q]) if 0 <= r < h and 0 <= q < w else None for r in rows for q in cols]


def run_layers_in_page(tmp_path, x: torch.Tensor, layers: dict[str, dict], body: str) -> dict:
    """For each named layer (page data), run the JS ``body`` in Node with ``layer`` (decoded) and the map
    ``x (C, H, W)``; ``body`` stores its result in ``out[name]``. Returns ``out``."""
    harness = ("const x = { shape: " + json.dumps(list(x.shape)) + ", data: Float64Array.from("
               + json.dumps(x.flatten().tolist()) + ") };\nconst layers = " + json.dumps(layers) + ";\nconst out = {};\n"
               "for (const [name, packed] of Object.entries(layers)) {\n"
               "  const layer = nvDecodeLayers([packed])[0];\n" + body + "\n}\nconsole.log(JSON.stringify(out));\n")
    return run_esm("network", harness, tmp_path)  # type: ignore[return-value]


@needs_node
def test_page_explains_new_pooling_settings_as_torch_computes_them(tmp_path) -> None:
    """nvPoolNeuron under ceil_mode, dilation, count_include_pad=False, divisor_override and adaptive windows:
    the window's input rows and columns, its values, the divisor and the result, each against torch."""
    x = torch.randn(2, 7, 6, dtype=torch.float64)  # (C, H, W): what the pooling reads
    pools = {
        "ceil_max": nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        "dilated_max": nn.MaxPool2d(2, stride=1, padding=1, dilation=2),
        "ceil_avg_no_pad": nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        "ceil_avg_pad": nn.AvgPool2d(2, stride=2, padding=1, ceil_mode=True),
        "divisor": nn.AvgPool2d(2, stride=2, divisor_override=3),
        "adaptive_avg": nn.AdaptiveAvgPool2d((3, 4)),
        "adaptive_max": nn.AdaptiveMaxPool2d((4, None)),
        "global_avg": nn.AdaptiveAvgPool2d(1),
    }
    layers = {name: network_layers(nn.Sequential(pool))[0] for name, pool in pools.items()}
    shown = run_layers_in_page(tmp_path, x, layers, (
        "  const [Ho, Wo] = nvPoolSize(layer, 7, 6), picks = [];\n"
        "  for (let c = 0; c < 2; c++) for (let i = 0; i < Ho; i++) for (let j = 0; j < Wo; j++)\n"
        "    picks.push({ c, i, j, ...nvPoolNeuron(layer, x, c, [i, j], []) });\n"
        "  out[name] = { size: [Ho, Wo], picks };"))
    for name, pool in pools.items():
        y = pool(x[None])[0]  # (C, H_out, W_out)
        layer, page = layers[name], shown[name]
        assert page["size"] == list(y.shape[1:]), name
        for got in page["picks"]:
            c, i, j = got["c"], got["i"], got["j"]
            if layer["kind"].startswith("adaptive"):
                (oh, ow), (h, w) = y.shape[1:], x.shape[1:]
                rows, cols = range(*adaptive_window(h, oh, i)), range(*adaptive_window(w, ow, j))
            else:
                (kh, kw), (sh, sw), (ph, pw) = layer["kernel"], layer["stride"], layer["padding"]
                dh, dw = layer.get("dilation", [1, 1])
                rows, cols = [i * sh + a * dh - ph for a in range(kh)], [j * sw + e * dw - pw for e in range(kw)]
            assert got["rows"] == list(rows) and got["cols"] == list(cols), (name, i, j)
            want = _padded_cells(x[c], list(rows), list(cols))
            assert got["window"] == pytest.approx(want), (name, i, j)
            assert got["z"] == pytest.approx(float(y[c, i, j])), (name, c, i, j)
            real = [v for v in want if v is not None]
            if "max" in name:
                assert want[got["pick"]] == max(real) and got["divisor"] is None
            else:  # the divisor torch used: the sum of the real cells over it gives torch's value
                assert sum(real) / got["divisor"] == pytest.approx(float(y[c, i, j]))
    # Real cells per window, rows {2, 3} x columns {2, 3, 1}: the last column's ceil window holds one real cell.
    assert {p["divisor"] for p in shown["ceil_avg_no_pad"]["picks"]} == {2, 3, 4, 6, 9}
    assert {p["divisor"] for p in shown["divisor"]["picks"]} == {3}
    assert [len(p["window"]) for p in shown["global_avg"]["picks"]] == [42, 42]


@needs_node
def test_page_explains_a_dilated_grouped_padded_convolution(tmp_path) -> None:
    """nvNeuron: each kernel's window (cells dilation apart; beyond the edge the cells the padding mode copies),
    only the input channels of the output's group, and the sums that give torch's output."""
    torch.manual_seed(0)
    x = torch.randn(4, 6, 5)  # (C_in, H, W)
    convs = {mode: nn.Conv2d(4, 6, 3, stride=(1, 2), padding=2, dilation=(2, 1), groups=2, padding_mode=mode)
             for mode in ("zeros", "reflect", "replicate", "circular")}
    layers = {mode: network_layers(nn.Sequential(conv))[0] for mode, conv in convs.items()}
    shown = run_layers_in_page(tmp_path, x, layers, (
        "  const y = nvApply(layer, x), picks = [];\n"
        "  for (const o of [0, 2, 3, 5]) for (const [i, j] of [[0, 0], [1, 2], [5, 2], [3, 1]]) {\n"
        "    const neuron = nvNeuron(layer, x, o, [i, j], []);\n"
        "    picks.push({ o, i, j, ...neuron, windows: neuron.windows.map((w) => Array.from(w.data)) });\n"
        "  }\n"
        "  out[name] = { shape: y.shape, y: Array.from(y.data), picks };"))
    for mode, conv in convs.items():
        with torch.no_grad():
            y = conv(x[None])[0]  # (6, 6, 3)
        page = shown[mode]
        assert page["shape"] == list(y.shape)
        torch.testing.assert_close(torch.tensor(page["y"]).reshape(y.shape), y, rtol=1e-5, atol=1e-5)
        padded = F.pad(x[None], (2, 2, 2, 2), mode="constant" if mode == "zeros" else mode)[0]  # (4, 10, 9)
        for got in page["picks"]:
            o, i, j = got["o"], got["i"], got["j"]
            group = o // 3
            assert got["channels"] == [2 * group, 2 * group + 1]
            windows = padded[got["channels"], i : i + 5 : 2, 2 * j : 2 * j + 3]  # (2, 3, 3): rows 2 apart (dilation)
            torch.testing.assert_close(torch.tensor(got["windows"]), windows.flatten(1), rtol=0, atol=1e-6)
            torch.testing.assert_close(torch.tensor(got["partials"]), (windows * conv.weight[o].detach()).sum((1, 2)),
                                       rtol=1e-5, atol=1e-5)
            assert got["z"] == pytest.approx(float(y[o, i, j]), abs=1e-5)


def test_view_restores_each_submodule_mode() -> None:
    """A BatchNorm frozen with .eval() inside a training model stays frozen after the view checks the model."""
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    net.train()
    net[1].eval()
    NetworkView(net, torch.rand(2, 1, 6, 6), [0, 1], ["a", "b", "c"])
    assert [m.training for m in net] == [True, False, True, True, True]


def test_images_the_model_cannot_take_or_not_finite_are_refused_with_a_fix() -> None:
    """3-channel images into a 1-channel network raised torch's conv error from deep inside; a NaN image
    was blamed on "a custom forward" (NaN != NaN in the reproduction check) and would carry NaN into the page."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    with pytest.raises(ConvlibInputError, match=r"images: expected images the model takes, got shape \(2, 3, 4, 4\).*"
                                                r"to have 1 channels.*Fix: pass images of the channels"):
        NetworkView(model, torch.rand(2, 3, 4, 4), None, ["a", "b", "c"])
    x = torch.rand(3, 1, 4, 4)
    x[1, 0, 2, 2] = float("nan")
    with pytest.raises(ConvlibInputError, match=r"expected finite pixel values, got NaN or infinity in image 1\. Fix:"):
        NetworkView(model, x, None, ["a", "b", "c"])
    x[1, 0, 2, 2] = float("inf")
    with pytest.raises(ConvlibInputError, match=r"in image 1\. Fix:"):
        NetworkView(model, x, None, ["a", "b", "c"])
    x[1, 0, 2, 2] = 0.5
    json.dumps(NetworkView(model, x, None, ["a", "b", "c"]).static_state(), allow_nan=False)  # finite: plain JSON


def test_meta_tensors_and_values_past_float32_say_what_to_do() -> None:
    """A meta model or meta images raised torch's bare 'Cannot copy out of meta tensor'; finite float64
    images past float32's range (the page computes in float32) were blamed as 'NaN or infinity'."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).eval()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ConvlibInputError, match=r"1.weight is on the 'meta' device.*to_empty"):
        NetworkView(net.to("meta"), x, None, CLASSES)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).eval()
    with pytest.raises(ConvlibInputError, match=r"images: .*'meta' device.*torch.randn\(2, 1, 4, 4\)"):
        NetworkView(net, x.to("meta"), None, CLASSES)
    with pytest.raises(ConvlibInputError, match=r"float32's range.*got 1e\+300 in image 2"):
        NetworkView(net.double(), torch.cat([x.double(), torch.full((1, 1, 4, 4), 1e300, dtype=torch.float64)]), None, CLASSES)
    NetworkView(net.double(), x.double(), None, CLASSES)  # float64 within range: fine


def test_labels_must_be_whole_numbers_and_meta_settings_say_so() -> None:
    """labels=[0.5, 1] became [0, 1] through int() without a word; meta labels, normalize and a meta
    position raised torch's bare 'Tensor.item() cannot be called on meta tensors'."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 10)).eval()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ConvlibInputError, match=r"labels: expected an int, got 0.5 \(a float\)"):
        NetworkView(net, x, [0.5, 1], CLASSES)
    with pytest.raises(ConvlibInputError, match=r"labels: expected an int, got tensor\(\.\.\., device='meta'"):
        NetworkView(net, x, torch.zeros(2, dtype=torch.long, device="meta"), CLASSES)
    with pytest.raises(ConvlibInputError, match=r"normalize: .*'meta' device"):
        NetworkView(net, x, None, CLASSES, normalize=(torch.zeros(1, device="meta"), torch.ones(1, device="meta")))
    assert NetworkView(net, x, torch.tensor([0, 9]), CLASSES).labels == [0, 9]
    with pytest.raises(traitlets.TraitError, match=r"position: expected an int, got tensor\(\.\.\., device='meta'"):
        cl.widgets.KernelSlider(torch.ones(3, 3), torch.ones(2, 2), position=torch.tensor(1, device="meta"))
