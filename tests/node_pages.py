"""Run a widget's page code (its ESM file) in Node.js, for tests that compare it with the Python side."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from convlib.widgets._base import esm_source

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the page's code")


def run_esm(name: str, harness: str, tmp_path, *, timeout: int = 120) -> object:
    """Run widget ``name``'s ESM plus ``harness`` (which prints JSON) in Node; return the JSON."""
    path = tmp_path / f"{name}.mjs"
    path.write_text(esm_source(name) + "\n" + harness, encoding="utf-8")
    result = subprocess.run(["node", str(path)], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)
