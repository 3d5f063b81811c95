"""The package itself: ``import convlib as cl`` is cheap, changes nothing, and lists what it offers."""

from __future__ import annotations

import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import convlib as cl

PROBE = """
import json, sys
import torch
state = (torch.get_num_threads(), torch.random.get_rng_state().sum().item(), torch.get_default_dtype())
import convlib as cl
after = (torch.get_num_threads(), torch.random.get_rng_state().sum().item(), torch.get_default_dtype())
heavy = sorted(m for m in ("matplotlib", "anywidget", "ipywidgets", "torchvision",
                           "convlib.widgets", "convlib.data", "convlib.plot") if m in sys.modules)
print(json.dumps({"same": state == after, "heavy": heavy}))
"""


def test_import_has_no_side_effects() -> None:
    """A fresh interpreter: importing convlib leaves torch's threads, seed and dtype alone and loads nothing heavy."""
    out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True, timeout=120)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"same": True, "heavy": []}


def test_lazy_modules_load_on_first_use() -> None:
    assert cl.check.__name__ == "convlib.check"
    assert cl.plot is sys.modules["convlib.plot"]


def test_unknown_attribute_says_so() -> None:
    with pytest.raises(AttributeError, match="module 'convlib' has no attribute 'conv3d'"):
        cl.conv3d  # noqa: B018


def test_dir_lists_the_public_names_not_the_imports() -> None:
    names = dir(cl)
    assert set(cl.__all__) <= set(names)
    assert {"__version__", "conv", "corr", "pool"} <= set(names)  # loaded modules, e.g. cl.conv.conv2d_loop
    assert not {"Any", "annotations", "importlib", "sys"} & set(names)
    assert names == sorted(names)


def test_api_page_documents_every_public_name() -> None:
    """book/api.md lists every public op, layer, widget and loader, so the page grows with the package."""
    page = (Path(__file__).resolve().parents[1] / "book" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"\.\. auto(?:function|class|exception):: ([\w.]+)", page))
    for block in re.findall(r"\.\. automodule:: ([\w.]+)\n\s+:members:([^\n`]*(?:\n\s{13}[^\n`]*)*)", page):
        module, members = block
        documented |= {f"{module}.{m.strip()}" for m in members.split(",") if m.strip()}
    short = {name.rsplit(".", 1)[1] for name in documented}
    public = {name for name in cl.__all__ if name not in cl._LAZY_MODULES}
    for module in ("widgets", "data", "models", "train", "conv", "pool", "transposed", "summary", "params", "shapes",
                   "counts", "corr", "dense", "coverage", "pointwise", "gemm", "speedrun"):
        mod = importlib.import_module(f"convlib.{module}")
        public |= {name for name in mod.__all__  # constants and submodules (speedrun.cli) are not entries
                   if not name.isupper() and not name.endswith("_CLASSES") and not inspect.ismodule(getattr(mod, name))}
    missing = sorted(public - short)
    assert not missing, f"book/api.md: add an autodoc entry for {missing}"
    for name in documented:  # and every entry names something real
        module, attr = name.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), attr), name


#: Rules written once, each in its home module; a module that writes its own copy drifts from it.
SHARED_HELPERS = {
    "a model's device (its first parameter's)": ("train.py", "_model_device", re.compile(r"\bp\.device for p in\b")),
    "whether x is one image (C, H, W), run as a batch of one": (
        "_torchlike.py", "is_image", re.compile(r"=\s*x\.ndim == 3\b")),
}


@pytest.mark.parametrize("rule", SHARED_HELPERS, ids=lambda rule: SHARED_HELPERS[rule][1])
def test_shared_rules_have_one_home(rule: str) -> None:
    """summary.py found the model's device itself and pointwise.py wrote ``single = x.ndim == 3``
    (transposed.py did too, earlier) beside the helpers every other module imports."""
    home, helper, twin = SHARED_HELPERS[rule]
    package = Path(cl.__file__).parent
    copies = []
    for path in sorted(package.rglob("*.py")):
        if path.name != home:
            lines = path.read_text(encoding="utf-8").splitlines()
            copies += [f"{path.relative_to(package)}:{n}" for n, line in enumerate(lines, 1) if twin.search(line)]
    assert not copies, f"{rule}: written again at {copies}; import {helper} from convlib.{home[:-3]} instead"
