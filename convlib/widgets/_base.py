"""The widget pattern: an anywidget class plus one ESM file, which also renders
in a static page with no kernel.

Live (JupyterLab, classic notebook, Colab) the ESM runs inside anywidget's
front end. For the static HTML book, ``_repr_mimebundle_`` adds a ``text/html``
entry: the widget's state as JSON and a ``<script type="module">`` that loads
the *same* ESM source through a Blob URL and hands it a tiny stand-in for the
widget model (``get``, ``set``, ``on``, ``off``, ``save_changes``, ``send``).
Nothing is fetched from the network. The book's ``_config.yml`` makes Sphinx
prefer ``text/html`` and adds no widget-manager script; Jupyter front ends
prefer the widget view, so one file serves both places.
"""

from __future__ import annotations

import json
import uuid
from importlib import resources
from typing import Any, ClassVar

import anywidget
import traitlets as t

import torch

from convlib.validate import ConvlibInputError, check_bool, check_int, nonempty

__all__ = ["StaticWidget", "StrictBool", "WholeNumber", "WindowWidget", "check_values", "esm_source", "int_in_range", "nonempty"]


def check_values(x: torch.Tensor, name: str, layout: str) -> torch.Tensor:
    """``x`` when it holds values a page can draw: not empty and not on the ``meta`` device
    (a meta tensor has a shape but no numbers; torch's copy out of it raises a bare
    ``NotImplementedError``). A tensor on a GPU is fine: its values are copied to the host.

    >>> check_values(torch.zeros(2, 2, device="meta"), "X", "(H, W)")
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: X: expected a tensor (H, W) with values to draw, got one on the 'meta' device (shape (2, 2), no values). Fix: pass a tensor that holds numbers, e.g. torch.randn(2, 2) (.to('cpu') cannot help: a meta tensor has none).
    """
    if x.is_meta:
        shape = tuple(x.shape)
        raise ConvlibInputError(
            f"{name}: expected a tensor {layout} with values to draw, got one on the 'meta' device "
            f"(shape {shape}, no values). Fix: pass a tensor that holds numbers, e.g. torch.randn{shape} "
            "(.to('cpu') cannot help: a meta tensor has none)."
        )
    return nonempty(x, name, layout)


def esm_source(name: str) -> str:
    """The ESM of widget ``name``: the shared helpers, then ``static/<name>.js``."""
    static = resources.files("convlib.widgets") / "static"
    return (static / "_common.js").read_text("utf-8") + "\n" + (static / f"{name}.js").read_text("utf-8")


def int_in_range(name: str, value: object, low: int, high: int, *, why: str = "", fix: str) -> int:
    """``value`` when it is an int from ``low`` to ``high``; otherwise a ``TraitError``
    that says what was expected (and ``why``), what came, and ``fix``.

    >>> int_in_range("stride", 2, 1, 3, fix="pick 1 to 3.")
    2
    """
    because = f" ({why})" if why else ""
    return check_int(value, name, minimum=low, maximum=high, expected=f"an int from {low} to {high}{because}",
                     fix=fix, error=t.TraitError)


class WholeNumber(t.Int):  # type: ignore[type-arg]
    """An ``Int`` trait that takes every whole number :func:`convlib.validate.check_int` takes
    (``np.int64(2)``, a 0-d int tensor ``torch.tensor(2)``: anything with ``__index__``, as PyTorch
    does) as a plain int, and answers anything else (a float, a bool, a string) with expected/got/fix,
    not traitlets' ``The 'stride' trait of a ... instance expected an int, not the Tensor``.

    >>> class Demo(t.HasTraits):
    ...     stride = WholeNumber(1)
    >>> import numpy as np; Demo(stride=np.int64(2)).stride
    2
    >>> Demo(stride=1.5)
    Traceback (most recent call last):
    ...
    traitlets.traitlets.TraitError: stride: expected an int, got 1.5 (a float). Fix: pass a whole number, e.g. stride=1
    """

    def validate(self, obj: Any, value: Any) -> int:
        name = self.name or "value"
        value = check_int(value, name, fix=f"pass a whole number, e.g. {name}={self.default_value}", error=t.TraitError)
        return super().validate(obj, value)


class StrictBool(t.Bool):  # type: ignore[type-arg]
    """A ``Bool`` trait that takes only ``True`` and ``False``, as torch's pooling does with
    :func:`convlib.validate.check_bool` (traitlets' ``Bool`` quietly reads ``1`` as ``True``).

    >>> class Demo(t.HasTraits):
    ...     ceil_mode = StrictBool(False)
    >>> Demo(ceil_mode=1)
    Traceback (most recent call last):
    ...
    traitlets.traitlets.TraitError: ceil_mode: expected True or False, got 1. Fix: ceil_mode=True or ceil_mode=False
    """

    def validate(self, obj: Any, value: Any) -> bool:
        # a TraitError lets traitlets roll back a batch of changes
        return check_bool(value, self.name or "value", error=t.TraitError)


def _script_safe(text: str) -> str:
    """Make text safe to inline in a <script> element (no early ``</script>``)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


_HOST_JS = """
const el = document.getElementById(%(id)s);
const state = %(state)s;
const listeners = new Map();
const fire = (name, value) => (listeners.get(name) || []).slice().forEach((cb) => cb(value));
const model = {
  get: (key) => state[key],
  set: (key, value) => { state[key] = value; fire("change:" + key, value); fire("change"); },
  on: (name, cb) => { for (const n of name.split(" ")) listeners.set(n, [...(listeners.get(n) || []), cb]); },
  off: (name, cb) => {
    if (!name) { listeners.clear(); return; }
    for (const n of name.split(" ")) listeners.set(n, cb ? (listeners.get(n) || []).filter((f) => f !== cb) : []);
  },
  save_changes: () => {},
  send: () => {},
};
const url = URL.createObjectURL(new Blob([%(esm)s], { type: "text/javascript" }));
const mod = await import(url);
URL.revokeObjectURL(url);
const widget = typeof mod.default === "function" ? await mod.default() : (mod.default || mod);
if (widget.initialize) await widget.initialize({ model });
el.dataset.convlibReady = "false";
await widget.render({ model, el });
el.dataset.convlibReady = "true";
"""


class StaticWidget(anywidget.AnyWidget):
    """Base class: subclasses set ``_esm = esm_source("<name>")`` and their traits."""

    #: Traits of the base classes, never part of a widget's own state.
    _BASE_TRAITS: ClassVar[frozenset[str]] = frozenset(anywidget.AnyWidget.class_trait_names())

    def static_state(self) -> dict[str, Any]:
        """The widget's own synced traits, JSON-ready (what the page starts from)."""
        names = [n for n in self.trait_names(sync=True) if n not in self._BASE_TRAITS and not n.startswith("_")]
        return {n: self.get_state(n)[n] for n in sorted(names)}

    def static_html(self) -> str:
        """Self-contained HTML that renders this widget with no kernel."""
        dom_id = f"convlib-{type(self).__name__.lower()}-{uuid.uuid4().hex[:12]}"
        script = _HOST_JS % {
            "id": json.dumps(dom_id),
            "state": json.dumps(self.static_state()),
            "esm": json.dumps(str(self._esm)),
        }
        return (
            f'<div id="{dom_id}" class="convlib-widget" data-widget="{type(self).__name__}"></div>\n'
            f'<script type="module">{_script_safe(script)}</script>'
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        data = {**data, "text/html": self.static_html()}
        return data, metadata


class WindowWidget(StaticWidget):
    """A widget whose window walks the output cells in reading order.

    ``position`` runs from 0 to ``H_out * W_out - 1``; subclasses define
    :attr:`out_shape` and call :meth:`_clamp_position` when their geometry
    changes, so the window never falls off a shrunken grid.
    """

    position = WholeNumber(0).tag(sync=True)

    @property
    def out_shape(self) -> tuple[int, int]:
        """``(H_out, W_out)``: the output cells the window visits."""
        raise NotImplementedError

    @t.validate("position")
    def _valid_position(self, proposal: t.Bunch) -> int:
        p = proposal["value"]
        h, w = self.out_shape
        if isinstance(p, bool) or not 0 <= p < h * w:
            raise t.TraitError(
                f"position: expected 0 <= position < {h * w} (the {h}x{w} output cells in "
                f"reading order), got {p}. Fix: position = row * {w} + column."
            )
        return p

    def _clamp_position(self) -> None:
        h, w = self.out_shape
        if self.position >= h * w:
            self.position = h * w - 1

    def cell(self, position: int | None = None) -> tuple[int, int]:
        """Output cell ``(row, col)`` of ``position`` (default: the current one)."""
        return divmod(self.position if position is None else position, self.out_shape[1])
