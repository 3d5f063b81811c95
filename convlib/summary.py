"""What a network does to its input, layer by layer: shapes, parameters, cost, receptive fields.

:func:`layer_summary` pushes one dummy input through a model and records, for
every layer, the output shape, its learnable parameters and its
multiply-accumulates (MACs, 乘加运算): ``C_out * H_out * W_out * C_in/groups *
k_h * k_w`` for a convolution (1-D and 3-D alike), ``C_in * H_in * W_in * C_out/groups * k_h * k_w``
for a transposed one (every input value times one kernel slice), ``in_features * out_features`` for a linear
layer. Pooling, activations, BatchNorm and dropout count 0 MACs here: their
work is a comparison or one multiply per value, small next to the
convolutions.

:func:`receptive_field` follows a chain of conv/pool layers and gives each
layer's receptive field (感受野) size ``r`` and jump ``j`` (the stride product:
how far apart, in input pixels, neighbouring outputs look):
``r_out = r_in + (k - 1) * d * j_in`` and ``j_out = j_in * s``, starting from
``r = j = 1`` at the input. :func:`measure_receptive_field` measures the same
with autograd, as the region of input pixels that move one output.
"""

from __future__ import annotations

import copy
import html
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import nn

from convlib.conv import Conv2D, layer_padding
from convlib.pool import pool_geometry
from convlib.train import _model_device, _param_dtype, evaluation_mode
from convlib.validate import ConvlibInputError, _as_index, as_pair, check_int, check_ints, check_optional_int

__all__ = [
    "LayerRow",
    "LayerSummary",
    "layer_summary",
    "RFRow",
    "ReceptiveFields",
    "receptive_field",
    "measure_receptive_field",
]

MACS_NOTE = (
    "MACs (multiply-adds) per image are counted for convolutions and linear layers; "
    "pooling, activations, BatchNorm and dropout count 0 (their work is small next to the convolutions)."
)

CONV_TYPES = (nn.Conv2d, Conv2D)
POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d)
GLOBAL_POOL_TYPES = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
#: Layers that pad a map: they keep the receptive field and the jump, and grow the map.
PAD_TYPES = tuple(getattr(nn, kind) for kind in ("ZeroPad2d", "ConstantPad2d", "ReflectionPad2d", "ReplicationPad2d",
                                                 "CircularPad2d") if hasattr(nn, kind))
#: Layers that move or resample windows in ways receptive_field does not follow.
RESAMPLING_TYPES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Conv1d, nn.Conv3d, nn.Upsample,
                    nn.PixelShuffle, nn.PixelUnshuffle, nn.Fold, nn.Unfold, nn.MaxPool1d, nn.MaxPool3d,
                    nn.AvgPool1d, nn.AvgPool3d, nn.LPPool2d, nn.FractionalMaxPool2d)


# ------------------------------------------------------------ layer summary


@dataclass(frozen=True)
class LayerRow:
    """One layer in a :class:`LayerSummary`: output shape, parameters and MACs per image."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


def _fmt_shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


class LayerSummary(list):
    """Rows of :class:`LayerRow`, one per layer call, shown as a table with totals.

    Each parameter is counted once, in the first row that holds it (a layer
    called twice, weights tied between layers), so the total is the model's.
    """

    def __init__(self, rows: Iterable[LayerRow], input_shape: tuple[int, ...], model_name: str,
                 output_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(rows)
        self.input_shape = input_shape
        self.model_name = model_name
        self._output_shape = output_shape

    @property
    def total_params(self) -> int:
        """Learnable parameters of the model (each shared layer or tied weight counted once)."""
        return sum(r.params for r in self)

    @property
    def total_macs(self) -> int:
        """Multiply-accumulates for one image."""
        return sum(r.macs for r in self)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The model's output shape (else the last row's that ran, else the input's)."""
        if self._output_shape is not None:
            return self._output_shape
        ran = [r.output_shape for r in self if r.output_shape != ()]
        return ran[-1] if ran else self.input_shape

    def _table(self) -> list[tuple[str, str, str, str, str]]:
        rows = [("input", "", _fmt_shape(self.input_shape), "", "")]
        rows += [(r.name, r.kind, _fmt_shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in self]
        rows.append(("total", "", "", f"{self.total_params:,}", f"{self.total_macs:,}"))
        return rows

    def __repr__(self) -> str:
        head = ("layer", "type", "output shape", "params", "MACs")
        rows = self._table()
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(5)]
        def line(r: Sequence[str]) -> str:
            return "  ".join(
                str(c).rjust(w) if i >= 3 else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))
            ).rstrip()
        rule = "-" * len(line(head))
        return "\n".join([f"{self.model_name}", line(head), rule, *map(line, rows[:-1]), rule, line(rows[-1]), MACS_NOTE])

    def _repr_html_(self) -> str:
        rows = self._table()
        body = "".join(
            "<tr>" + "".join(
                f'<td style="text-align:{"right" if i >= 3 else "left"}">{html.escape(c)}</td>' for i, c in enumerate(r)
            ) + "</tr>"
            for r in rows[:-1]
        )
        total = rows[-1]
        foot = (f'<tr style="font-weight:bold"><td colspan="3">total</td>'
                f'<td style="text-align:right">{total[3]}</td><td style="text-align:right">{total[4]}</td></tr>')
        return (
            f'<table class="cl-layer-summary"><caption>{html.escape(self.model_name)}</caption>'
            "<thead><tr><th>layer</th><th>type</th><th>output shape</th><th>params</th><th>MACs</th></tr></thead>"
            f"<tbody>{body}{foot}</tbody></table><p><small>{html.escape(MACS_NOTE)}</small></p>"
        )


#: Convolutions whose every output value is one kernel ``(C_in/groups, k...)`` dotted with one window.
MAC_CONV_TYPES = (*CONV_TYPES, nn.Conv1d, nn.Conv3d)
#: Transposed convolutions: every input value is multiplied into one ``(C_out/groups, k...)`` kernel slice.
MAC_TRANSPOSED_TYPES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _layer_macs(module: nn.Module, inputs: tuple[object, ...], out: torch.Tensor, batch: int) -> int:
    if isinstance(module, MAC_CONV_TYPES):
        return out.numel() // batch * module.weight[0].numel()
    if isinstance(module, MAC_TRANSPOSED_TYPES) and inputs and isinstance(inputs[0], torch.Tensor):
        return inputs[0].numel() // batch * module.weight[0].numel()
    if isinstance(module, nn.Linear):
        return out.numel() // batch * module.in_features
    return 0


def layer_summary(model: nn.Module, input_shape: Sequence[int], *, depth: int | None = None) -> LayerSummary:
    """Output shape, parameters and MACs of every layer for an input of ``input_shape``.

    ``input_shape`` is ``(C, H, W)`` or ``(N, C, H, W)``; MACs are per image.
    The model runs once on zeros, in evaluation mode and without gradients;
    every submodule's mode is restored. Layers are the modules without children, in call order;
    with ``depth=d``, every block ``d`` levels down (e.g. ``depth=1``: the
    model's direct children) is one row, its parameters and MACs summed.
    A parameter is counted once, in the first row that holds it; a module with
    children and parameters of its own gets a row "(own parameters)", and one the
    forward pass never calls a row "(not called)", so ``total_params`` is the
    number of parameters the model has.
    The model may live on the ``meta`` device: shapes and counts need no memory.
    A forward pass that fails raises :class:`~convlib.ConvlibInputError` naming the
    input shape and the innermost layer that failed, the original error chained.

    >>> net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(),
    ...                     nn.MaxPool2d(2))
    >>> s = layer_summary(net, (1, 28, 28))
    >>> [r.output_shape for r in s]
    [(1, 6, 28, 28), (1, 6, 28, 28), (1, 6, 14, 14)]
    >>> s.total_params, s.total_macs           # 6*25 + 6; 6*28*28*25
    (156, 117600)
    >>> blocks = nn.Sequential(net, nn.Flatten())
    >>> [(r.name, r.output_shape, r.macs)
    ...  for r in layer_summary(blocks, (1, 28, 28), depth=1)]
    [('0', (1, 6, 14, 14), 117600), ('1', (1, 1176), 0)]
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model: expected a torch.nn.Module (its layers are what the summary lists), got a {type(model).__name__}. "
            "Fix: pass the network, e.g. convlib.models.lenet(), or wrap the layers in nn.Sequential(...)."
        )
    depth = check_optional_int(depth, "depth", none="every layer", fix="depth=1 gives one row per child of the model")
    shape = check_ints(input_shape, "input_shape", expected="(C, H, W) or (N, C, H, W) with positive whole sizes",
                       fix="e.g. (1, 28, 28) for one Fashion-MNIST image")
    if len(shape) == 3:
        shape = (1, *shape)
    if len(shape) != 4:
        raise ConvlibInputError(
            f"input_shape: expected (C, H, W) or (N, C, H, W) with positive whole sizes, got {tuple(input_shape)}. "
            "Fix: e.g. (1, 28, 28) for one Fashion-MNIST image."
        )
    names = {m: name for name, m in model.named_modules()}
    rows: list[LayerRow] = []
    counted: set[int] = set()  # parameters already in a row: shared layers and tied weights count once
    # with depth: the blocks that become one row each, and the MACs of their layers so far
    groups = {name for name, m in model.named_modules()
              if depth is not None and name and name.count(".") + 1 == depth and list(m.children())}
    pending: dict[str, int] = {}

    def group_of(name: str) -> str | None:
        prefix = ".".join(name.split(".")[:depth]) if depth is not None else None
        return prefix if prefix in groups and name != prefix else None

    def new_params(params: Iterable[nn.Parameter]) -> int:
        found = [p for p in params if id(p) not in counted]
        counted.update(id(p) for p in found)
        return sum(p.numel() for p in found)

    # a module with children and parameters of its own (a learnable scale, say) outside every
    # block: a row of its own, after its children's
    owners = {m for name, m in model.named_modules()
              if list(m.children()) and name not in groups and group_of(name) is None
              and next(m.parameters(recurse=False), None) is not None}

    def hook(module: nn.Module, inputs: tuple[object, ...], out: object) -> None:
        name = names[module]
        tensor = out if isinstance(out, torch.Tensor) else None
        macs = _layer_macs(module, inputs, tensor, shape[0]) if tensor is not None else 0
        group = group_of(name)
        if group is not None:  # a layer inside a block: its block's row adds it up
            pending[group] = pending.get(group, 0) + macs
            return
        if name in groups:
            macs = pending.pop(name, 0)
        kind = type(module).__name__
        if module in owners:
            kind, params = kind + " (own parameters)", new_params(module.parameters(recurse=False))
        else:  # a layer, or a block with all its layers
            params = new_params(module.parameters())
        rows.append(LayerRow(name or type(module).__name__, kind,
                             tuple(tensor.shape) if tensor is not None else (), params, macs))

    hooked = [m for name, m in model.named_modules() if not list(m.children()) or name in groups or m in owners]
    handles = [m.register_forward_hook(hook) for m in hooked]
    device = _model_device(model, None)  # the first parameter's (the CPU if it has none)
    dtype = _param_dtype(model) or torch.float32  # the first floating-point parameter's
    running: list[nn.Module] = []  # the modules whose forward pass has begun and not ended, outermost first
    handles += [m.register_forward_pre_hook(lambda m, _i: running.append(m)) for m in names]
    handles += [m.register_forward_hook(lambda m, _i, _o: running.remove(m)) for m in names]
    try:
        with evaluation_mode(model), torch.no_grad():
            out = model(torch.zeros(shape, device=device, dtype=dtype))
    except Exception as err:
        where = (f" in layer '{names[running[-1]]}' ({type(running[-1]).__name__})"
                 if running and running[-1] is not model else "")
        raise ConvlibInputError(
            f"input_shape: expected a shape the model runs on, got {shape}: the forward pass on zeros of that shape "
            f"failed{where} with {type(err).__name__}: {err}. Fix: give the (C, H, W) the model was built for "
            "(its first layer's in_channels, the image size its dense layers expect)."
        ) from err
    finally:
        for h in handles:
            h.remove()
    # layers the forward pass never called still hold parameters of the model: listed, so the total is the model's
    for name, module in model.named_modules():
        unused = new_params(module.parameters(recurse=False))
        if unused:
            rows.append(LayerRow(name or type(module).__name__, type(module).__name__ + " (not called)", (), unused, 0))
    return LayerSummary(rows, shape, type(model).__name__, tuple(out.shape) if isinstance(out, torch.Tensor) else None)


# ---------------------------------------------------------- receptive field


@dataclass(frozen=True)
class RFRow:
    """One conv/pool layer: its kernel, stride, padding, dilation, and after it
    the receptive field size ``rf`` and jump (stride product) ``jump``;
    ``out_size`` is the feature map's side when an input size was given."""

    name: str
    kind: str
    kernel: int
    stride: int
    padding: int
    dilation: int
    rf: int
    jump: int
    out_size: int | None = None


class ReceptiveFields(list):
    """Rows of :class:`RFRow` along a chain of layers, shown as a table."""

    def __init__(self, rows: Iterable[RFRow], input_size: int | None) -> None:
        super().__init__(rows)
        self.input_size = input_size

    @property
    def sizes(self) -> list[int]:
        """Receptive field side after each layer."""
        return [r.rf for r in self]

    @property
    def jumps(self) -> list[int]:
        return [r.jump for r in self]

    def __repr__(self) -> str:
        head = ("layer", "type", "k", "s", "p", "rf", "jump", "output")
        rows = [(r.name, r.kind, r.kernel, r.stride, r.padding, r.rf, r.jump, "" if r.out_size is None else r.out_size)
                for r in self]
        widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
        fmt = lambda x: "  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(x, widths)))
        return "\n".join([fmt(head).rstrip(), *(fmt(x).rstrip() for x in rows)])


def _square(value: int | Sequence[int], what: str, name: str, minimum: int = 1) -> int:
    a, b = as_pair(tuple(value) if not isinstance(value, int) else value, what, minimum=minimum)
    if a != b:
        raise ConvlibInputError(
            f"{name}: expected a square {what} (the same along height and width), got {(a, b)}. "
            "Fix: receptive_field follows one axis; give square layers."
        )
    return a


def _geometry(module: nn.Module, name: str) -> tuple[int, int, int, int, bool] | None:
    """``(kernel, stride, padding, dilation, ceil_mode)`` of a conv/pool layer, None for a layer that keeps the field."""
    if isinstance(module, (nn.Conv2d, Conv2D)):
        return (_square(tuple(module.weight.shape[2:]), "kernel_size", name), _square(module.stride, "stride", name),
                _square(layer_padding(module), "padding", name, 0), _square(module.dilation, "dilation", name), False)
    if isinstance(module, PAD_TYPES):  # padding (left, right, top, bottom): a 1x1 window over a padded map
        left, right, top, bottom = module.padding
        if not left == right == top == bottom:
            raise ConvlibInputError(
                f"{name}: expected the same padding on every side, got (left, right, top, bottom) = "
                f"{tuple(module.padding)}. Fix: receptive_field follows square, centred maps; give a symmetric padding."
            )
        return 1, 1, left, 1, False
    if isinstance(module, POOL_TYPES):
        k = _square(module.kernel_size, "kernel_size", name)
        s = _square(module.stride if module.stride is not None else k, "stride", name)
        d = _square(getattr(module, "dilation", 1), "dilation", name)
        return k, s, _square(module.padding, "padding", name, 0), d, bool(module.ceil_mode)
    return None


def _ends_chain(module: nn.Module, name: str) -> bool:
    """Whether ``module`` makes every output see the whole input (flatten, linear, global pooling).

    An adaptive pooling to more than 1x1 is not global, and its windows depend on
    the input size: refused.
    """
    if isinstance(module, GLOBAL_POOL_TYPES):
        size = module.output_size
        if size not in (1, (1, 1), [1, 1]):
            raise ConvlibInputError(
                f"layers[{name}]: expected adaptive pooling to 1x1 (global), got output_size={size!r}, whose "
                "windows depend on the input size. Fix: pass the chain up to that layer."
            )
        return True
    return isinstance(module, (nn.Flatten, nn.Linear))


def _chain(layers: nn.Module | Sequence[object]) -> list[tuple[str, object]]:
    if isinstance(layers, nn.Module):
        out = []
        for name, m in layers.named_modules():
            if getattr(m, "parallel_branches", False):
                raise ConvlibInputError(
                    f"layers: expected a chain of layers, got {type(m).__name__} ({name}) with parallel branches. "
                    "Fix: follow one branch, e.g. receptive_field([...its layers...]), or stop before the block."
                )
            if not list(m.children()):
                out.append((name or type(m).__name__, m))
        return out
    return [(f"{i}", item) for i, item in enumerate(layers)]


def receptive_field(layers: nn.Module | Sequence[object], *, input_size: int | None = None) -> ReceptiveFields:
    """Receptive field size and jump after each conv/pool layer of a chain.

    ``layers``: a model (its layers in registration order, which for
    ``nn.Sequential`` is the order they run), or a list of layers and
    ``(kernel, stride)`` / ``(kernel, stride, padding)`` tuples. It follows
    ``nn.Conv2d`` / :class:`~convlib.Conv2D`, ``nn.MaxPool2d`` / ``nn.AvgPool2d`` and
    padding layers (``nn.ZeroPad2d``, ``nn.ReflectionPad2d``...: a 1x1 window that grows the map);
    other layers are skipped as keeping the field (right for ReLU, BatchNorm,
    dropout), except those known to resample it (transposed convolutions,
    upsampling, 1-D/3-D layers...), which raise :class:`~convlib.ConvlibInputError`.
    The walk stops at the first flatten, linear or global pooling layer (an
    adaptive pooling to 1x1), after which every output sees the whole input.
    ``input_size`` (a side length) adds each feature map's side,
    ``(n + 2p - d(k-1) - 1) // s + 1`` (rounded up instead for a pooling layer
    with ``ceil_mode=True``, as PyTorch does).

    >>> receptive_field([(3, 1), (3, 1)]).sizes          # two 3x3 convs see 5x5
    [3, 5]
    >>> rf = receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.MaxPool2d(2),
    ...                                    nn.Conv2d(1, 1, 3)))
    >>> rf.sizes, rf.jumps
    ([3, 4, 8], [1, 2, 2])
    """
    input_size = check_optional_int(input_size, "input_size", none="no feature-map sizes", fix="e.g. input_size=32")
    rows: list[RFRow] = []
    r, j, n = 1, 1, input_size
    for name, item in _chain(layers):
        if isinstance(item, tuple):
            whole = [_as_index(v) for v in item]
            if len(item) not in (2, 3) or None in whole:
                raise ConvlibInputError(
                    f"layers[{name}]: expected (kernel, stride) or (kernel, stride, padding) ints, got {item!r}. "
                    "Fix: whole numbers, e.g. (3, 1) or (3, 1, 1)."
                )
            k, s, p, d, ceil = whole[0], whole[1], (whole[2] if len(item) == 3 else 0), 1, False
            kind = "window"
            if k < 1 or s < 1 or p < 0:
                raise ConvlibInputError(f"layers[{name}]: expected kernel, stride >= 1 and padding >= 0, got {item!r}.")
        elif isinstance(item, nn.Module):
            if _ends_chain(item, name):
                break
            if isinstance(item, RESAMPLING_TYPES):
                raise ConvlibInputError(
                    f"layers[{name}]: expected conv and pooling layers (and layers that keep the field, such as "
                    f"ReLU or BatchNorm), got {type(item).__name__}, which resamples the map in a way "
                    "receptive_field does not follow. Fix: pass the chain up to that layer."
                )
            geometry = _geometry(item, name)
            if geometry is None:
                continue
            k, s, p, d, ceil = geometry
            kind = type(item).__name__
        else:
            raise TypeError(f"layers[{name}]: expected an nn.Module or a (kernel, stride) tuple, got {type(item).__name__}.")
        r = r + (k - 1) * d * j  # each new window adds (k - 1) steps of the current jump
        j = j * s
        if n is not None:  # the feature map's side: floor, or PyTorch's ceil_mode rule for a pooling layer
            n = pool_geometry((n, n), (k, k), (s, s), (p, p), (d, d), ceil)[0][0]
            if n < 1:
                raise ConvlibInputError(
                    f"layers[{name}]: the feature map vanished (side {n}) for input_size={input_size}. "
                    "Fix: a larger input or fewer downsampling layers."
                )
        rows.append(RFRow(name, kind, k, s, p, d, r, j, n))
    return ReceptiveFields(rows, input_size)


def measure_receptive_field(
    layers: nn.Module | Sequence[nn.Module], input_size: int, *, in_channels: int = 1
) -> int:
    """The receptive field of the chain's central output, measured with autograd.

    A copy of the chain (up to the first flatten/linear/global pooling layer)
    gets positive weights, so no contributions cancel, and average instead of
    max pooling (max pooling passes gradient to one pixel per window; the
    window, which defines the field, is the same). The gradient of the
    central output of channel 0 with respect to a ``(1, C, n, n)`` input is
    then nonzero exactly on the pixels that output depends on; the function
    returns the height of that region. ``input_size`` must leave the field
    clear of the border.

    >>> measure_receptive_field(
    ...     nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), 11)
    5
    """
    input_size = check_int(input_size, "input_size", minimum=1, fix="e.g. input_size=32")
    in_channels = check_int(in_channels, "in_channels", minimum=1, fix="e.g. in_channels=3")
    chain = []
    for name, m in _chain(layers if isinstance(layers, nn.Module) else nn.Sequential(*layers)):
        if _ends_chain(m, name):
            break
        m = copy.deepcopy(m).double()
        if isinstance(m, CONV_TYPES):
            with torch.no_grad():
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.MaxPool2d):
            if m.dilation not in (1, (1, 1)):
                raise ConvlibInputError(f"layers[{name}]: dilated max pooling is not supported here.")
            m = nn.AvgPool2d(m.kernel_size, m.stride, m.padding, ceil_mode=m.ceil_mode)
        chain.append(m)
    net = nn.Sequential(*chain).eval()
    x = torch.ones(1, in_channels, input_size, input_size, dtype=torch.float64, requires_grad=True)
    out = net(x)  # (1, C_out, H_out, W_out)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad[0].abs().sum(dim=(0, 2)) > 0).nonzero()  # input rows the output depends on
    return int(rows.max() - rows.min() + 1)
