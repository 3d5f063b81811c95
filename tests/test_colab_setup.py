"""A Colab-like run: a fresh Python without convlib runs a chapter notebook.

The notebook's first cell (written by tools/nbtool.py) must notice that convlib
is missing and pip-install it, here from this checkout via ``CONVLIB_SOURCE``.
The fresh venv sees the main environment's third-party packages (torch,
ipykernel, nbclient, ...) through a ``.pth`` file, like Colab's preinstalled
stack, but not convlib: the main venv's editable-install finder is only
activated by a ``.pth`` inside a real site directory, and a path listed in a
``.pth`` is not one. Everything runs offline: no index, no build isolation
(setuptools comes from the main environment too), and setuptools' build and
egg-info folders go to tmp_path, so the checkout is left untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02_cross_correlation.ipynb"

# Run by the fresh python: execute the notebook, then ask the same kernel which
# python it is and where convlib came from.
RUNNER = textwrap.dedent('''
    import json, sys
    import nbformat
    from nbclient import NotebookClient

    src, dst, cwd, report = sys.argv[1:5]
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(nb, timeout=150, kernel_name="python3",
                            resources={"metadata": {"path": cwd}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        probe = nbformat.v4.new_code_cell(
            "import json, sys, convlib\\n"
            "print(json.dumps({'executable': sys.executable, 'convlib': convlib.__file__}))"
        )
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
    nb.cells.pop()  # the written notebook holds only the chapter's own cells
    nbformat.write(nb, dst)
    kernel = json.loads(probe.outputs[0]["text"])
    json.dump({"runner": sys.executable, **kernel}, open(report, "w"))
''')


def _run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd[:4]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.mark.slow
def test_fresh_environment_installs_convlib_and_runs_a_chapter(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True, timeout=120)
    python = fresh / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env.update(
        PATH=f"{fresh / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        PYTHONNOUSERSITE="1",
        CONVLIB_SOURCE=str(ROOT),
        CONVLIB_QUICK="1",
        PIP_NO_INDEX="1",              # offline: every dependency is already visible
        PIP_NO_BUILD_ISOLATION="0",    # pip's quirk: "0" here means --no-build-isolation
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        DIST_EXTRA_CONFIG=str(tmp_path / "setuptools.cfg"),
        MPLBACKEND="Agg",
    )
    (tmp_path / "setuptools.cfg").write_text(
        f"[build]\nbuild_base = {tmp_path / 'build'}\n[egg_info]\negg_base = {tmp_path}\n"
    )
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     env, tmp_path, 60).stdout.strip())
    assert site.is_relative_to(fresh)
    (site / "main_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    # Before: third-party packages are there, convlib is not.
    before = _run([str(python), "-c",
                   "import importlib.util, json; print(json.dumps([importlib.util.find_spec(m) is None "
                   "for m in ('convlib', 'torch', 'ipykernel', 'nbclient', 'pip', 'setuptools')]))"],
                  env, tmp_path, 60)
    assert json.loads(before.stdout) == [True, False, False, False, False, False], (
        "convlib must be missing from the fresh env (is the main env's convlib a non-editable install?) "
        "and torch, ipykernel, nbclient, pip, setuptools visible"
    )

    out, report = tmp_path / "executed.ipynb", tmp_path / "report.json"
    (tmp_path / "runner.py").write_text(RUNNER)
    _run([str(python), str(tmp_path / "runner.py"), str(NOTEBOOK), str(out), str(NOTEBOOK.parent), str(report)],
         env, tmp_path, 240)

    # The kernel was the fresh python, and it imported the convlib the set-up cell installed.
    kernel = json.loads(report.read_text())
    assert Path(kernel["executable"]) == python == Path(kernel["runner"])
    assert Path(kernel["convlib"]).resolve() == (site / "convlib" / "__init__.py").resolve()
    dist = site / "convlib-0.1.0.dist-info"
    direct_url = json.loads((dist / "direct_url.json").read_text())
    assert direct_url["url"] == ROOT.as_uri()  # installed from CONVLIB_SOURCE, the checkout
    assert (dist / "INSTALLER").read_text().strip() == "pip"
    # ... including the widget's static files (package data).
    assert (site / "convlib" / "widgets" / "static" / "kernel_slider.js").is_file()

    # Every cell ran; only cells tagged raises-exception may hold an error.
    import nbformat

    nb = nbformat.read(out, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors, (cell.source[:200], errors)

    # After: the fresh env has its own convlib; the checkout gained no build folders.
    after = _run([str(python), "-c", "import convlib; print(convlib.__file__)"], env, tmp_path, 60)
    assert Path(after.stdout.strip()).is_relative_to(site)
    assert not (ROOT / "build").exists()
