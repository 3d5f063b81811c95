"""README.md against the code: the commands it quotes exist, and its benchmark tables are what the code prints.

A learner follows the README literally; a renamed flag or a changed table layout
would leave it quoting commands that fail and output that no run shows.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from convlib import bench, cifar
from convlib.bench import BenchReport, Timing, spread_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
TEXT_BLOCKS = re.findall(r"```text\n(.*?)\n```", README, flags=re.S)
COMMAND_LINES = {"convlib.bench": bench.main, "convlib.cifar": cifar.main}
ROW = re.compile(r"^(.{13}) (.{28}) (\S+)\s+(.*)$")


def _quoted_commands() -> list[tuple[str, list[str]]]:
    """Every ``python -m convlib.<module> ...`` the README quotes: (module, its arguments)."""
    found = []
    for match in re.finditer(r"python -m (convlib\.\w+)((?: +--?[\w-]+(?: +[\w./-]+)?)*)", README):
        found.append((match.group(1), match.group(2).split()))
    return found


def test_the_readme_quotes_the_command_lines() -> None:
    modules = {module for module, _ in _quoted_commands()}
    assert modules == set(COMMAND_LINES), modules


@pytest.mark.parametrize(("module", "args"), _quoted_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_every_quoted_flag_is_one_the_command_knows(module: str, args: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        COMMAND_LINES[module](["--help"])
    assert info.value.code == 0
    known = set(re.findall(r"--[\w-]+", capsys.readouterr().out))
    flags = [a for a in args if a.startswith("-")]
    assert set(flags) <= known, f"python -m {module}: README quotes {sorted(set(flags) - known)}, --help lists {sorted(known)}"


def _single_process_report(block: str) -> BenchReport:
    """Rebuild the report behind the README's one-process table from its own numbers."""
    lines = block.splitlines()
    torch_version, threads, cpu = re.fullmatch(r"torch (\S+), (\d+) threads, CPU: (.*)", lines[0]).groups()
    repeats = int(re.fullmatch(r"median of (\d+) interleaved repeats", lines[1]).group(1))
    before, after = map(float, re.fullmatch(r"load average \(1 min\) before ([\d.]+), after ([\d.]+)", lines[2]).groups())
    report = BenchReport(torch_version, int(threads), cpu, repeats, False, (before, 0.0, 0.0), (after, 0.0, 0.0))
    measured_on = dict(re.findall(r"^  ([^:]+): (.+)$", block, flags=re.M))
    for line in lines[6:]:
        if not line.strip():
            break
        case, label, impl, rest = ROW.match(line).groups()
        numbers = rest.split()
        fwd, fb, fwd_ratio, fb_ratio = (float(v) for v in numbers[:4])
        faults = float(numbers[4].replace(",", "")) if len(numbers) > 4 else None
        case, label = case.strip(), label.strip()
        if not report.results or report.results[-1]["case"] != case:
            report.results.append({"case": case, "label": label, "n": int(label.split("x")[0]), "timings": []})
        star = impl.endswith("*")
        report.results[-1]["timings"].append(Timing(
            impl.rstrip("*"), fwd, fb, star, measured_on.get(case, "") if star else "", fwd_ratio, fb_ratio, faults))
    return report


def test_the_one_process_table_is_what_bench_prints() -> None:
    block = TEXT_BLOCKS[0]
    assert _single_process_report(block).table() == block


def test_the_five_process_table_is_what_bench_prints() -> None:
    block = TEXT_BLOCKS[1]
    lines = block.splitlines()
    processes = int(re.match(r"(\d+) fresh processes", lines[1]).group(1))
    base = _single_process_report(TEXT_BLOCKS[0]).to_dict()  # same cases, layers and implementations
    base["repeats"] = int(re.search(r"median of (\d+)", lines[1]).group(1))
    reports = [copy.deepcopy(base) for _ in range(processes)]
    table = lines[6:lines.index("", 6)] if "" in lines[6:] else lines[6:]  # the rows, up to the notes below them
    rows = [ROW.match(line).groups() for line in table]
    for n, entry in enumerate(base["results"]):
        for m, t in enumerate(entry["timings"]):
            if t["impl"] == "torch":
                continue
            case, label, impl, rest = rows.pop(0)
            assert (case.strip(), label.strip(), impl) == (entry["case"], entry["label"], t["impl"] + "*" * t["extrapolated"])
            cells = re.findall(r"([\d.]+) \(([\d.]+)-([\d.]+)\)", rest)
            for key, (median, low, high) in zip(("forward_ratio", "forward_backward_ratio"), cells):
                values = [float(low)] + [float(median)] * (processes - 2) + [float(high)]
                for report, value in zip(reports, values):
                    report["results"][n]["timings"][m][key] = value
    assert not rows
    assert spread_table(reports) == block
