"""NetworkView: a trained network's feature maps, computed in the page, on images you can paint on.

The network travels to the page as data: each layer of an ``nn.Sequential``
becomes a small dict (its kind, its settings, its weights as base-64 float32),
BatchNorm folded into a per-channel scale and shift, as it acts in evaluation
mode. The page runs the forward pass itself in plain JavaScript, so the static
book needs no kernel: pick a test image, paint on it, and every feature map and
the class probabilities follow. The same data runs here through torch ops
(:meth:`NetworkView.activations`), and the constructor checks that it
reproduces the model's own output.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F
import traitlets as t
from torch import nn

from convlib.conv import PADDING_MODES, Conv2D, layer_padding
from convlib.train import evaluation_mode
from convlib.validate import ConvlibInputError, check_int
from convlib.widgets._base import StaticWidget, WholeNumber, check_values, esm_source, int_in_range

__all__ = ["NetworkView", "network_layers", "run_layers", "MAX_IMAGES"]

#: Most images one view carries (each is drawn as a thumbnail).
MAX_IMAGES = 12

_SUPPORTED = ("nn.Conv2d / cl.Conv2D, nn.BatchNorm1d / 2d, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.MaxPool2d, "
              "nn.AvgPool2d, nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d, nn.Flatten, nn.Dropout / Dropout2d / Identity, "
              "nn.Linear, inside nn.Sequential")
_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_NAMES = {"normalize": "normalize", "affine": "BatchNorm", "relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh", "flatten": "flatten"}


def pack(x: torch.Tensor) -> dict[str, Any]:
    """A tensor as ``{"shape": [...], "b64": <little-endian float32 bytes, base 64>}``."""
    data = x.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
    return {"shape": list(x.shape), "b64": base64.b64encode(data).decode("ascii")}


def unpack(packed: dict[str, Any]) -> torch.Tensor:
    """The tensor :func:`pack` stored."""
    raw = bytearray(base64.b64decode(packed["b64"]))
    return torch.frombuffer(raw, dtype=torch.float32).reshape(packed["shape"]).clone()


def _leaves(model: nn.Module) -> Iterator[nn.Module]:
    if isinstance(model, nn.Sequential):
        for child in model:
            yield from _leaves(child)
    else:
        yield model


def _unsupported(module: nn.Module, why: str) -> ConvlibInputError:
    return ConvlibInputError(
        f"NetworkView: expected layers the page can run ({_SUPPORTED}), got {type(module).__name__} "
        f"({why}). Fix: show a plain sequential network, or leave this layer out."
    )


def _pair(v: int | Sequence[int]) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


def _layer(m: nn.Module) -> dict[str, Any] | None:
    """One module as page data; ``None`` for layers that do nothing in evaluation mode."""
    if isinstance(m, (nn.Conv2d, Conv2D)):
        mode = getattr(m, "padding_mode", "zeros")
        if mode not in PADDING_MODES:
            raise _unsupported(m, f"padding_mode {mode!r}, not one of {list(PADDING_MODES)}")
        bias = m.bias if m.bias is not None else torch.zeros(m.weight.shape[0])
        return {"kind": "conv", "weight": pack(m.weight), "bias": pack(bias), "stride": _pair(m.stride),
                "padding": list(layer_padding(m)), "dilation": _pair(m.dilation), "groups": int(m.groups),
                "padding_mode": mode}
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if m.running_mean is None or m.running_var is None:
            raise _unsupported(m, "no running statistics")
        scale = torch.rsqrt(m.running_var + m.eps)
        if m.weight is not None:
            scale = scale * m.weight
        shift = -m.running_mean * scale + (m.bias if m.bias is not None else 0)
        return {"kind": "affine", "scale": pack(scale), "shift": pack(shift)}
    if type(m) in _ACTIVATIONS:
        return {"kind": _ACTIVATIONS[type(m)]}
    if getattr(m, "return_indices", False):  # max pooling that returns (values, indices)
        raise _unsupported(m, "return_indices=True, which returns a pair, not one map")
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
        stride = m.stride if m.stride not in (None, []) else m.kernel_size  # torch stores "no stride" as []
        geometry = {"kernel": _pair(m.kernel_size), "stride": _pair(stride), "padding": _pair(m.padding),
                    "ceil_mode": bool(m.ceil_mode)}
        if isinstance(m, nn.MaxPool2d):
            return {"kind": "maxpool", **geometry, "dilation": _pair(m.dilation)}
        divisor = None if m.divisor_override is None else int(m.divisor_override)
        return {"kind": "avgpool", **geometry, "count_include_pad": bool(m.count_include_pad), "divisor": divisor}
    if isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size, m.output_size)
        output = [None if v is None else int(v) for v in size]  # None: that side keeps the input's size
        return {"kind": "adaptive_avgpool" if isinstance(m, nn.AdaptiveAvgPool2d) else "adaptive_maxpool",
                "output": output}
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise _unsupported(m, "a flatten other than all but the batch axis")
        return {"kind": "flatten"}
    if isinstance(m, nn.Linear):
        bias = m.bias if m.bias is not None else torch.zeros(m.weight.shape[0])
        return {"kind": "linear", "weight": pack(m.weight), "bias": pack(bias)}
    if isinstance(m, (nn.Dropout, nn.Dropout2d, nn.Identity)):  # nothing to do in evaluation mode
        return None
    raise _unsupported(m, "not one of them")


def network_layers(model: nn.Module) -> list[dict[str, Any]]:
    """``model``'s layers as the page's data, in order (BatchNorm as its evaluation-mode affine map)."""
    with torch.no_grad():
        layers = [d for d in (_layer(m) for m in _leaves(model)) if d is not None]
    if not layers:
        raise ConvlibInputError("NetworkView: expected a network with at least one layer, got none.")
    return layers


def run_layers(layers: list[dict[str, Any]], x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output for one image ``x (C, H, W)``: what the page computes, with torch ops."""
    outs = []
    h = x[None].float()  # (1, C, H, W)
    for layer in layers:
        kind = layer["kind"]
        if kind == "conv":
            padding = layer["padding"]
            if layer["padding_mode"] != "zeros":  # copied cells around the input, as nn.Conv2d pads them
                (ph, pw), padding = padding, [0, 0]
                h = F.pad(h, (pw, pw, ph, ph), mode=layer["padding_mode"])
            h = F.conv2d(h, unpack(layer["weight"]), unpack(layer["bias"]), stride=layer["stride"], padding=padding,
                         dilation=layer["dilation"], groups=layer["groups"])  # (1, C_out, H_out, W_out)
        elif kind in ("affine", "normalize"):
            shape = (1, -1) + (1,) * (h.ndim - 2)  # per channel (or per unit after flatten)
            h = h * unpack(layer["scale"]).reshape(shape) + unpack(layer["shift"]).reshape(shape)
        elif kind in ("relu", "sigmoid", "tanh"):
            h = getattr(torch, kind)(h)
        elif kind == "maxpool":
            h = F.max_pool2d(h, layer["kernel"], layer["stride"], layer["padding"], dilation=layer["dilation"],
                             ceil_mode=layer["ceil_mode"])
        elif kind == "avgpool":
            h = F.avg_pool2d(h, layer["kernel"], layer["stride"], layer["padding"], ceil_mode=layer["ceil_mode"],
                             count_include_pad=layer["count_include_pad"], divisor_override=layer["divisor"])
        elif kind == "adaptive_avgpool":
            h = F.adaptive_avg_pool2d(h, tuple(layer["output"]))  # (1, C, out_h, out_w)
        elif kind == "adaptive_maxpool":
            h = F.adaptive_max_pool2d(h, tuple(layer["output"]))
        elif kind == "flatten":
            h = h.flatten(1)  # (1, C*H*W)
        else:  # linear
            h = F.linear(h, unpack(layer["weight"]), unpack(layer["bias"]))  # (1, n_out)
        outs.append(h[0])
    return outs


def _settings(layer: dict[str, Any], plain: dict[str, list[int]]) -> str:
    """``", padding 1, stride 2"``: the layer's pair-valued settings that differ from ``plain``."""
    shown = ((name, layer[name]) for name, usual in plain.items() if layer.get(name, usual) != usual)
    return "".join(f", {name} {v[0] if v[0] == v[1] else tuple(v)}" for name, v in shown)


def _describe(layer: dict[str, Any]) -> str:
    kind = layer["kind"]
    if kind == "conv":
        c_out, _, kh, kw = layer["weight"]["shape"]
        extra = _settings(layer, {"padding": [0, 0], "stride": [1, 1], "dilation": [1, 1]})
        if layer["padding_mode"] != "zeros":
            extra += f", {layer['padding_mode']} padding"
        if layer["groups"] != 1:
            extra += f", groups {layer['groups']}"
        return f"conv {kh}×{kw}{extra}"
    if kind in ("maxpool", "avgpool"):
        kh, kw = layer["kernel"]
        extra = _settings(layer, {"stride": layer["kernel"], "padding": [0, 0], "dilation": [1, 1]})
        extra += ", ceil_mode" if layer["ceil_mode"] else ""
        if kind == "avgpool" and not layer["count_include_pad"]:
            extra += ", padding not counted"
        if kind == "avgpool" and layer["divisor"] is not None:
            extra += f", divisor {layer['divisor']}"
        return f"{kind[:3]} pool {kh}×{kw}{extra}"
    if kind in ("adaptive_avgpool", "adaptive_maxpool"):
        what = kind[len("adaptive_"):][:3]
        if layer["output"] == [1, 1]:
            return f"global {what} pool"
        oh, ow = ("H" if v is None and i == 0 else "W" if v is None else v for i, v in enumerate(layer["output"]))
        return f"adaptive {what} pool to {oh}×{ow}"
    if kind == "linear":
        return f"dense {layer['weight']['shape'][1]}→{layer['weight']['shape'][0]}"
    return _NAMES[kind]


def network_stages(layers: list[dict[str, Any]], *, group: bool = True) -> list[dict[str, Any]]:
    """Groups the page draws as one row: a conv or dense layer with the BatchNorm and
    activation after it, a pooling layer, ...; flatten and input normalisation join the next group.
    ``group=False``: one row per layer (flatten and normalisation still join the next).
    Each is ``{"main": index of its conv, pool or dense layer, "end": index of its last layer,
    "label": "conv 5×5, padding 2 · BatchNorm · ReLU"}``."""
    stages, names, main = [], [], None
    followers = {"affine", "relu", "sigmoid", "tanh"}
    for i, layer in enumerate(layers):
        names.append(_describe(layer))
        passing = layer["kind"] in ("flatten", "normalize")  # they only pass the input on
        if main is None and not passing:
            main = i
        nxt = layers[i + 1]["kind"] if i + 1 < len(layers) else None
        if not passing and (not group or nxt not in followers):
            stages.append({"main": main, "end": i, "label": " · ".join(names)})
            names, main = [], None
    if names and stages:  # a flatten at the very end (NiN: global pooling, then flatten) joins the last stage
        stages[-1] = {**stages[-1], "end": len(layers) - 1, "label": " · ".join([stages[-1]["label"], *names])}
    return stages


def _check_labels(labels: Sequence[int], n_classes: int) -> None:
    """Every label names one of the ``n_classes`` classes, or is -1 (an image with no label)."""
    bad = [(i, v) for i, v in enumerate(labels) if not -1 <= v < n_classes]
    if bad:
        i, v = bad[0]
        raise ConvlibInputError(
            f"labels: expected class indices 0 to {n_classes - 1} (one per class name; -1 for an image with "
            f"no label), got {v} for image {i}. Fix: pass the class names that go with the labels "
            "(classes=cl.data.FASHION_MNIST_CLASSES or the like), or labels=None."
        )


class NetworkView(StaticWidget):
    """A trained ``nn.Sequential`` on up to ``MAX_IMAGES`` (12) images: every stage's
    feature maps and the class probabilities, recomputed in the page as you paint.

    ``images``: ``(N, C, H, W)`` or ``(N, H, W)`` (C = 1 or 3) with values in
    ``[0, 1]``; ``labels``: each image's class index (or ``None``); ``classes``: the
    class names, one per output of the last layer. ``normalize=(mean, std)`` (one
    number per channel) when the model was trained on standardised images: the
    page then shows and paints the plain image and standardises it as its first step.
    In the page a reader can also open an image file of their own ("Your image…":
    its central square, scaled to ``H x W``, grey for ``C = 1``) and invert it, and
    click a map of a convolution or pooling stage, then a pixel of its enlarged
    copy, to see how that output is computed (windows times kernels plus bias,
    then BatchNorm and activation; or the pooling window and its max or mean).
    Convolutions may be dilated, grouped and padded in any ``padding_mode``;
    pooling may use ``ceil_mode``, dilation, ``count_include_pad=False``,
    ``divisor_override``, or be adaptive (``nn.AdaptiveAvgPool2d`` /
    ``nn.AdaptiveMaxPool2d``). A network that ends in global average pooling over
    one map per class (NiN) has its last row shown as **class maps**, each named
    after its class, with the mean that becomes the class's score
    (``class_map_stage()``).

    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2),
    ...                     nn.Flatten(), nn.Linear(8, 3))
    >>> view = NetworkView(net, torch.rand(2, 1, 6, 6), [0, 2], ["a", "b", "c"])
    >>> [s["label"] for s in view.stages]
    ['conv 3×3 · ReLU', 'max pool 2×2', 'flatten · dense 8→3']
    >>> [tuple(a.shape) for a in view.activations()]
    [(2, 4, 4), (2, 2, 2), (3,)]
    >>> round(float(view.probabilities().sum()), 6)
    1.0
    >>> nin_like = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(),
    ...                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
    >>> view = NetworkView(nin_like, torch.rand(1, 1, 6, 6), None,
    ...                    ["a", "b", "c"])
    >>> [s["label"] for s in view.stages], view.class_map_stage()
    (['conv 3×3 · ReLU', 'global avg pool · flatten'], 0)
    """

    _esm = esm_source("network")

    layers = t.List(t.Dict()).tag(sync=True)
    stages = t.List(t.Dict()).tag(sync=True)
    layer_stages = t.List(t.Dict()).tag(sync=True)
    images = t.List(t.Dict()).tag(sync=True)
    labels = t.List(WholeNumber()).tag(sync=True)
    classes = t.List(t.Unicode()).tag(sync=True)
    image = WholeNumber(0).tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    _outputs: int | None = None  # the model's scores per image, set once the constructor has checked them

    def __init__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        labels: Sequence[int] | torch.Tensor | None,
        classes: Sequence[str],
        *,
        normalize: tuple[Sequence[float], Sequence[float]] | None = None,
        image: int = 0,
        title: str = "",
    ) -> None:
        x = self._checked_images(images)
        tensors = itertools.chain(model.named_parameters(), model.named_buffers()) if isinstance(model, nn.Module) else ()
        meta = next((name for name, p in tensors if p.is_meta), None)
        if meta is not None:  # network_layers answers a model that is no nn.Module
            raise ConvlibInputError(
                f"model: expected a model with weights to show, got one whose {meta} is on the 'meta' device "
                "(a shape, no values). Fix: pass a trained model, or build it on the CPU; .to('cpu') cannot help: "
                "a meta tensor has no values to copy (model.to_empty(device='cpu') gives uninitialised ones)."
            )
        layers = network_layers(model)
        if normalize is not None:
            layers = [self._normalize_layer(normalize, x.shape[1]), *layers]
        n = x.shape[0]
        labels = [-1] * n if labels is None else [
            check_int(v, "labels", fix=f"pass one class index per image, e.g. labels=y[:{n}] (ints, not floats)")
            for v in labels
        ]
        if len(labels) != n:
            raise ConvlibInputError(f"labels: expected one per image ({n}), got {len(labels)}. Fix: labels=y[:{n}].")
        _check_labels(labels, len(classes))
        super().__init__(layers=layers, stages=network_stages(layers), layer_stages=network_stages(layers, group=False),
                         images=[pack(img) for img in x],
                         labels=labels, classes=[str(c) for c in classes], title=title)
        self.image = image
        self._check_reproduces(model, x)

    @staticmethod
    def _normalize_layer(normalize: tuple[Sequence[float], Sequence[float]], channels: int) -> dict[str, Any]:
        """``(x - mean) / std`` per channel, as a first layer: scale ``1/std``, shift ``-mean/std``."""
        mean, std = (torch.as_tensor(v, dtype=torch.float32).flatten() for v in normalize)
        if mean.is_meta or std.is_meta:
            raise ConvlibInputError(
                "normalize: expected (mean, std) with values, got a tensor on the 'meta' device (a shape, no values). "
                "Fix: normalize=(cl.data.CIFAR10_MEAN, cl.data.CIFAR10_STD)."
            )
        if mean.numel() != channels or std.numel() != channels or bool((std <= 0).any()):
            raise ConvlibInputError(
                f"normalize: expected (mean, std) with {channels} numbers each (std > 0), got "
                f"{mean.tolist()} and {std.tolist()}. Fix: normalize=(cl.data.CIFAR10_MEAN, cl.data.CIFAR10_STD)."
            )
        return {"kind": "normalize", "scale": pack(1 / std), "shift": pack(-mean / std)}

    @staticmethod
    def _checked_images(images: torch.Tensor) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.ndim not in (3, 4):
            got = f"{images.ndim}-D shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ConvlibInputError(
                f"images: expected a tensor (N, C, H, W) or (N, H, W), got {got}. Fix: X_test[:8]."
            )
        x = images[:, None] if images.ndim == 3 else images  # (N, C, H, W)
        if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
            raise ConvlibInputError(
                f"images: expected channels first (N, C, H, W), got shape {tuple(x.shape)}, which looks "
                "channels-last. Fix: images.permute(0, 3, 1, 2)."
            )
        if x.shape[1] not in (1, 3) or not 1 <= x.shape[0] <= MAX_IMAGES:
            raise ConvlibInputError(
                f"images: expected 1 to {MAX_IMAGES} images with 1 or 3 channels, got shape {tuple(x.shape)}. "
                f"Fix: pass X[:{MAX_IMAGES}] of gray or RGB images."
            )
        check_values(x, "images", "(N, C, H, W)")
        x = x.detach().cpu()
        bad = ~torch.isfinite(x).flatten(1).all(dim=1)  # (N,): images holding NaN or +-inf
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise ConvlibInputError(
                f"images: expected finite pixel values, got NaN or infinity in image {i}. "
                f"Fix: pass the images as the model sees them (e.g. X_test[:8]); torch.nan_to_num(images) to clean them."
            )
        x32 = x.float()  # the page computes in float32 (Float32Array), so the images travel as float32
        huge = ~torch.isfinite(x32).flatten(1).all(dim=1)  # (N,): finite values past float32's range
        if bool(huge.any()):
            i = int(huge.nonzero()[0])
            raise ConvlibInputError(
                f"images: expected pixel values within float32's range (about +-3.4e38; the page computes in "
                f"float32), got {float(x[i].abs().max()):.3g} in image {i}. "
                "Fix: pass the images as the model sees them (e.g. X_test[:8]), scaled to a usual range."
            )
        return x32

    def _check_reproduces(self, model: nn.Module, x: torch.Tensor) -> None:
        """The page's layer data must compute what ``model`` computes (in evaluation mode)."""
        weight = next((p for p in itertools.chain(model.parameters(), model.buffers()) if p.is_floating_point()), None)
        device = weight.device if weight is not None else torch.device("cpu")  # trained on a GPU: stays there
        dtype = weight.dtype if weight is not None else torch.float32  # a float64 model gets float64 images
        with evaluation_mode(model), torch.no_grad():  # every submodule's own mode comes back afterwards
            first = run_layers(self.layers[:1], x[0])[0] if self.layers[0]["kind"] == "normalize" else x[0]
            try:
                want = model(first[None].to(device, dtype))[0].cpu().float()  # (classes,): the page's float32
            except (RuntimeError, ValueError) as error:  # e.g. 3-channel images into a 1-channel network
                first_line = str(error).splitlines()[0] if str(error) else ""
                raise ConvlibInputError(
                    f"images: expected images the model takes, got shape {tuple(x.shape)} (N, C, H, W), on which "
                    f"the model failed ({type(error).__name__}: {first_line}). Fix: pass images of the channels "
                    "and size the model was built for, e.g. X_test[:8] of its own data set."
                ) from error
        got = self.activations(0)[-1]
        if got.shape != want.shape or want.ndim != 1 or len(self.classes) != want.numel():
            raise ConvlibInputError(
                f"NetworkView: expected a model that maps an image to one score per class "
                f"({len(self.classes)} classes), got output shape {tuple(want.shape)}. Fix: pass the class names "
                "that go with the model's last layer."
            )
        self._outputs = want.numel()
        if not torch.allclose(got, want, rtol=1e-4, atol=1e-4):
            raise ConvlibInputError(
                "NetworkView: the layers as the page runs them do not reproduce the model's output "
                f"(largest difference {float((got - want).abs().max()):.3g}). Fix: the model may do more than "
                "its layers in order (a custom forward); show a plain nn.Sequential."
            )

    @t.validate("labels")
    def _valid_labels(self, proposal: t.Bunch) -> list[int]:
        try:
            _check_labels(proposal["value"], len(self.classes))
        except ConvlibInputError as error:  # a TraitError lets traitlets roll back a batch of changes
            raise t.TraitError(str(error)) from error
        return proposal["value"]

    @t.validate("classes")
    def _valid_classes(self, proposal: t.Bunch) -> list[str]:
        """One name per output of the model, as the constructor requires (so every label keeps its name)."""
        classes = proposal["value"]
        if self._outputs is not None and len(classes) != self._outputs:  # None: still being built
            raise t.TraitError(
                f"classes: expected {self._outputs} class names (one per output of the model), got {len(classes)}. "
                "Fix: set the class names that go with the model's last layer."
            )
        return classes

    @t.validate("image")
    def _valid_image(self, proposal: t.Bunch) -> int:
        return int_in_range("image", proposal["value"], 0, len(self.images) - 1,
                            why="the index of one of the view's images", fix="image = 0 for the first.")

    def pixels(self, index: int | None = None) -> torch.Tensor:
        """Image ``index`` (default: the selected one) as stored for the page: ``(C, H, W)``."""
        return unpack(self.images[self.image if index is None else index])

    def activations(
        self, index: int | None = None, *, pixels: torch.Tensor | None = None, every_layer: bool = False
    ) -> list[torch.Tensor]:
        """Each stage's output for image ``index`` (or for ``pixels (C, H, W)``), as the page shows them
        (``every_layer``: each layer's, as with the page's "Every layer" button)."""
        with torch.no_grad():
            outs = run_layers(self.layers, self.pixels(index) if pixels is None else pixels)
        return [outs[s["end"]] for s in (self.layer_stages if every_layer else self.stages)]

    def kernels(self, stage: int, channel: int) -> torch.Tensor:
        """The kernels ``(C_in / groups, k_h, k_w)`` behind output ``channel`` of ``stage``, which must
        start with a convolution: what the page shows when you click that map (one kernel per input
        channel it reads: :meth:`input_channels`)."""
        layer = self.layers[self.stages[stage]["main"]]
        if layer["kind"] != "conv":
            convs = [k for k, st in enumerate(self.stages) if self.layers[st["main"]]["kind"] == "conv"]
            raise ConvlibInputError(
                f"stage: expected a stage that starts with a convolution, got stage {stage} "
                f"({self.stages[stage]['label']}). Fix: pick one of {convs}."
            )
        return unpack(layer["weight"])[channel]

    def input_channels(self, stage: int, channel: int) -> list[int]:
        """The input channels that output ``channel`` of ``stage`` (a convolution) reads, one per kernel of
        :meth:`kernels`: all of them, or with ``groups=g`` only those of its group."""
        kernels = self.kernels(stage, channel)  # (C_in / groups, k_h, k_w); refuses a stage that is no convolution
        layer = self.layers[self.stages[stage]["main"]]
        per_group = layer["weight"]["shape"][0] // layer["groups"]
        first = channel // per_group * kernels.shape[0]
        return list(range(first, first + kernels.shape[0]))

    def class_map_stage(self, *, every_layer: bool = False) -> int | None:
        """The stage whose maps the page shows as class maps, or ``None``.

        That is the stage before the last when the last stage is global average pooling
        (``nn.AdaptiveAvgPool2d(1)``, then at most a flatten) over one map per class, as in NiN:
        each class's score is then the mean of its map. ``every_layer``: among the rows of the
        page's "Every layer" view."""
        stages = self.layer_stages if every_layer else self.stages
        last = stages[-1]
        pool, after = self.layers[last["main"]], self.layers[last["main"] + 1 : last["end"] + 1]
        if len(stages) < 2 or pool["kind"] != "adaptive_avgpool" or pool["output"] != [1, 1] or any(
            layer["kind"] != "flatten" for layer in after
        ):
            return None
        maps = self.activations(0, every_layer=every_layer)[-2]
        return len(stages) - 2 if maps.ndim == 3 and maps.shape[0] == len(self.classes) else None

    def probabilities(self, index: int | None = None, *, pixels: torch.Tensor | None = None) -> torch.Tensor:
        """Softmax of the last stage: ``(classes,)``."""
        return torch.softmax(self.activations(index, pixels=pixels)[-1], dim=0)
