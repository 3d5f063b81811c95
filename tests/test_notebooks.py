"""Every chapter notebook: stored clean, set-up cell current, in the table of contents,
with exercises and a summary.

Whether the notebooks *run* is checked by nbmake (``make test``) and, for a
fresh Colab-like environment, by tests/test_colab_setup.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def _nbtool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("convlib_nbtool", ROOT / "tools" / "nbtool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NBTOOL = _nbtool()


def _toc_files(node: object) -> set[str]:
    """Every ``file:`` entry in a (nested) _toc.yml structure."""
    if isinstance(node, dict):
        found = {str(node["file"])} if "file" in node else set()
        return found.union(*(_toc_files(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_toc_files(v) for v in node))
    return set()


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, "no notebooks/*.ipynb found"
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+", p.stem) for p in NOTEBOOKS), IDS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_clean_with_current_setup_cell(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    want = NBTOOL.dump(NBTOOL.clean(json.loads(text)))
    assert text == want, f"{path.name} carries outputs or an out-of-date set-up cell. Fix: python tools/nbtool.py sync"
    cells = _cells(path)
    assert cells[0] == NBTOOL.setup_cell()
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_nbtool_check_passes() -> None:
    assert NBTOOL.main(["nbtool.py", "check"]) == 0


def test_nbtool_check_catches_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above can fail: a notebook with an output is reported."""
    monkeypatch.setattr(NBTOOL, "ROOT", tmp_path)
    monkeypatch.setattr(NBTOOL, "repo_url", lambda: "https://example.invalid/convlib")
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "99_copy.ipynb"
    nb = NBTOOL.clean(json.loads(NOTEBOOKS[0].read_text(encoding="utf-8")))
    path.write_text(NBTOOL.dump(nb), encoding="utf-8")
    assert NBTOOL.main(["nbtool.py", "check"]) == 0
    code = next(c for c in nb["cells"][1:] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    code["execution_count"] = 3
    path.write_text(NBTOOL.dump(nb), encoding="utf-8")
    assert NBTOOL.main(["nbtool.py", "check"]) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_listed_in_toc(path: Path) -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    entry = f"notebooks/{path.stem}"
    assert entry in _toc_files(toc), f"{entry} is missing from _toc.yml. Fix: add `- file: {entry}` to its part."


def test_toc_entries_exist() -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    for entry in _toc_files(toc) | {toc["root"]}:
        assert any((ROOT / f"{entry}{ext}").exists() for ext in (".ipynb", ".md")), entry


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_exercises_with_checks(path: Path) -> None:
    calls = [m for c in _cells(path) if c["cell_type"] == "code"
             for m in re.findall(r"\bcl\.check\.(\w+)\(", _source(c))]
    assert len(calls) >= 3, f"{path.name}: expected at least 3 cl.check.<name>(...) calls, found {calls}"
    import convlib.check

    missing = [name for name in calls if not hasattr(convlib.check, name)]
    assert not missing, f"{path.name} calls checks that convlib.check does not export: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_has_summary_heading(path: Path) -> None:
    headings = [line for c in _cells(path) if c["cell_type"] == "markdown"
                for line in _source(c).splitlines() if re.match(r"#{1,6} ", line)]
    assert any(re.fullmatch(r"#{1,6} Summary\b.*", h) for h in headings), (
        f"{path.name}: no 'Summary' heading; headings are {headings}"
    )



# The book shows about 77 characters of a code line at a 1280-pixel-wide window, 85 at
# 1366 and 89 from 1440 up (measured in Chromium); a longer line hides behind a scroll
# bar, and what it hides is usually the shape comment at its end. 79 is PEP 8's limit.
CODE_WIDTH = 79


def _long_code_lines(cells: list[dict]) -> list[tuple[int, str]]:
    """``(cell index, line)`` of every line over ``CODE_WIDTH``: code cells, and fenced code in the prose."""
    found = []
    for i, cell in enumerate(cells):
        lines = _source(cell).splitlines()
        if cell["cell_type"] == "markdown":  # only the lines inside ``` fences that name a language or none
            fenced, fences = [], []  # the open fences: (number of backticks, "code" or "directive")
            for line in lines:
                ticks = len(line) - len(line.lstrip("`"))
                if ticks >= 3 and fences and ticks >= fences[-1][0] and not line.strip("`").strip():
                    fences.pop()  # a closing fence
                elif ticks >= 3:
                    fences.append((ticks, "directive" if line[ticks:].startswith("{") else "code"))
                elif fences and fences[-1][1] == "code":
                    fenced.append(line)
            lines = fenced
        found += [(i, line) for line in lines if len(line) > CODE_WIDTH]
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_code_lines_fit_the_book(path: Path) -> None:
    long = _long_code_lines(_cells(path))
    assert not long, (
        f"{path.name}: code lines over {CODE_WIDTH} characters (cell index, line): {long}. Fix: break the "
        "call inside its brackets, or move the comment onto its own line above"
    )


def test_long_code_lines_are_found() -> None:
    """The check above can fail: a long code line, and a long line of fenced code in prose, are reported;
    prose itself and MyST directives (```{note}) are not."""
    code = {"cell_type": "code", "source": "x = 1  # " + "a" * 80}
    prose = {"cell_type": "markdown", "source": "word " * 30 + "\n```{note}\n" + "b" * 90 + "\n```\n"}
    fenced = {"cell_type": "markdown", "source": ("```bash\n" + "c" * 80 + "\n```\nafter\n") * 2}
    answer = {"cell_type": "markdown", "source": "````{admonition} Answer\n```python\n" + "d" * 80 + "\n```\n"
              + "e" * 90 + "\n````\n"}
    assert [i for i, _ in _long_code_lines([code, prose, fenced, answer])] == [0, 2, 2, 3]
    assert _long_code_lines([{"cell_type": "code", "source": "y" * CODE_WIDTH}]) == []


def test_library_code_the_chapters_print_fits_the_book() -> None:
    """Four chapters print convlib's own code (``inspect.getsource``), shown in the book like a code cell.
    Each such cell is run here as it stands (it only imports ``inspect`` and prints) and its output measured."""
    import contextlib
    import io

    import convlib

    cells = [(path.name, _source(c)) for path in NOTEBOOKS for c in _cells(path)
             if c["cell_type"] == "code" and "inspect.getsource(" in _source(c)]
    assert len(cells) >= 4, cells
    for name, source in cells:
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(source, {"cl": convlib})
        long = [line for line in printed.getvalue().splitlines() if len(line) > CODE_WIDTH]
        assert printed.getvalue().strip() and not long, (
            f"{name} prints library code with lines over {CODE_WIDTH} characters: {long}. "
            "Fix: wrap them in convlib's source"
        )


# A dict's repr in prose is a figure that was pasted with `%`-formatting gone wrong
# ("10% accuracy" read as the "%a" conversion once); prose quotes numbers, not reprs.
LEAKED_REPR = re.compile(r"\{'\w+': |\bTensor\(|<[\w.]+ object at 0x")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_prose_has_no_leaked_python_reprs(path: Path) -> None:
    leaks = [m.group(0) for c in _cells(path) if c["cell_type"] == "markdown"
             for m in LEAKED_REPR.finditer(_source(c))]
    assert not leaks, f"{path.name}: Python reprs in the prose: {leaks}"


def test_leak_pattern_catches_the_known_slip() -> None:
    assert LEAKED_REPR.search("stay near 10{'provisional': False, 'orig_epochs': 5}ccuracy")
    assert not LEAKED_REPR.search("stay near 10% accuracy, with sets such as {1, 2} and ``{'key'}``")
