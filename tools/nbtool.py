"""Keep the stored notebooks clean and their Colab set-up cell in sync.

    python tools/nbtool.py sync    # strip outputs, (re)write every set-up cell
    python tools/nbtool.py check   # exit 1 if any notebook is not clean/synced

The set-up cell is each notebook's first cell. It installs ``convlib`` when it
is missing (Colab, a fresh environment) from the repository URL in
``_config.yml`` (``repository.url``, the one place it is set) or from
``$CONVLIB_SOURCE`` when that points elsewhere (tests use a local checkout),
and turns on Colab's widget manager. The book hides it (tag ``hide-cell``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "colab-setup"

SETUP_TEMPLATE = '''\
# Set-up: installs convlib where it is missing (Colab, a fresh environment).
import importlib, importlib.util, os, subprocess, sys
if importlib.util.find_spec("convlib") is None:
    default = "git+{url}"
    source = os.environ.get("CONVLIB_SOURCE", default)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", source]
    subprocess.run(pip, check=True)
    importlib.invalidate_caches()
if "google.colab" in sys.modules:
    from google.colab import output
    output.enable_custom_widget_manager()'''

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def repo_url() -> str:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def setup_cell() -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": "colab-setup",
        "metadata": {"tags": ["hide-cell", SETUP_TAG]},
        "outputs": [],
        "source": SETUP_TEMPLATE.format(url=repo_url()).splitlines(keepends=True),
    }


def notebooks() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("*.ipynb"))


def clean(nb: dict) -> dict:
    """Outputs stripped, set-up cell first, kernelspec fixed."""
    cells = [c for c in nb["cells"] if SETUP_TAG not in c.get("metadata", {}).get("tags", [])]
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in ("execution", "collapsed", "scrolled", "jupyter"):
            cell.get("metadata", {}).pop(key, None)
    nb["cells"] = [setup_cell(), *cells]
    nb["metadata"] = {
        "kernelspec": KERNELSPEC,
        "language_info": {"name": "python"},
        **({"colab": nb["metadata"]["colab"]} if "colab" in nb.get("metadata", {}) else {}),
    }
    nb["nbformat"], nb["nbformat_minor"] = 4, 5
    return nb


def dump(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    bad = []
    for path in notebooks():
        text = path.read_text(encoding="utf-8")
        want = dump(clean(json.loads(text)))
        if text != want:
            if command == "sync":
                path.write_text(want, encoding="utf-8")
                print(f"synced {path.relative_to(ROOT)}")
            else:
                bad.append(path.relative_to(ROOT))
    if bad:
        print("These notebooks carry outputs or an out-of-date set-up cell:")
        print("\n".join(f"  {p}" for p in bad))
        print("Fix: python tools/nbtool.py sync")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
