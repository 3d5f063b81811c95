"""convlib.bench: the report's structure (not its timings, which depend on the machine)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import convlib
from convlib import bench, gemm

IMPLS = ["loop", "unfold", "convlib", "convlib-mm", "matmuls", "torch"]


def test_cases_cover_cifar_and_lenet() -> None:
    labels = [c.label for c in bench.cases()]
    assert labels == [
        "128x3x32x32 -> 32, 3x3 p1",
        "128x32x16x16 -> 64, 3x3 p1",
        "256x1x28x28 -> 6, 5x5 p2",
        "256x6x14x14 -> 16, 5x5",
    ]
    quick = bench.cases(quick=True)
    assert [c.n for c in quick] == [8] * 4
    assert [(c.c_in, c.c_out, c.k) for c in quick] == [(c.c_in, c.c_out, c.k) for c in bench.cases()]


def test_run_structure_and_ratios() -> None:
    tiny = [bench.BenchCase("a", 2, 3, 6, 4, 3, padding=1), bench.BenchCase("b", 1, 1, 5, 1, 2, stride=2)]
    report = bench.run(tiny, repeats=2)
    assert [r["case"] for r in report.results] == ["a", "b"]
    for entry in report.results:
        timings = entry["timings"]
        assert [t.impl for t in timings] == IMPLS
        assert all(t.forward_ms > 0 and t.forward_backward_ms > 0 for t in timings)
        ref = timings[-1]
        assert ref.forward_ratio == 1.0 and ref.forward_backward_ratio == 1.0
        for t in timings:
            assert t.forward_ratio == pytest.approx(t.forward_ms / ref.forward_ms)
            assert t.extrapolated == (t.impl == "loop")
            if t.impl == "loop" or sys.platform == "win32":
                assert t.faults_per_pass is None  # the loop's small case; Windows counts none
            else:
                assert t.faults_per_pass >= 0
    loop = report.timing("a", "loop")
    # case a: 2 images x 3 x 4 channel pairs, measured on 1 image x 2 x 2
    assert loop.measured_on == "1 image, 2 in / 2 out channels, x6"
    assert report.timing("b", "loop").measured_on == "1 image, 1 in / 1 out channels, x1"
    with pytest.raises(KeyError):
        report.timing("a", "cudnn")


def test_run_rejects_unknown_impl() -> None:
    with pytest.raises(ValueError, match=r"impls: expected names from \['loop', 'unfold', 'convlib', 'convlib-mm', 'matmuls', 'torch', 'winograd'\], got \['fast'\]"):
        bench.run(bench.cases(quick=True)[:1], impls=["fast"])


def test_table_and_dict() -> None:
    report = bench.run([bench.BenchCase("a", 1, 1, 5, 2, 3)], repeats=1, impls=["loop", "convlib", "torch"])
    table = report.table()
    threads = "1 thread," if report.threads == 1 else f"{report.threads} threads,"
    assert threads in table and report.cpu in table
    assert "loop*" in table and "* extrapolated" in table
    assert "  a: 1 image, 1 in / 2 out channels, x1" in table
    assert "fwd x torch" in table and "faults/pass" in table
    data = json.loads(json.dumps(report.to_dict()))
    assert data["results"][0]["timings"][0]["impl"] == "loop"


def test_command_line_quick_json() -> None:
    """``python -m convlib.bench --quick --json`` prints one JSON document with every case."""
    out = subprocess.run(
        [sys.executable, "-m", "convlib.bench", "--quick", "--json", "--repeats", "1"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    data = json.loads(out)
    assert set(data) >= {"torch_version", "threads", "cpu", "repeats", "quick", "results"}
    assert data["quick"] is True and data["repeats"] == 1
    assert [r["case"] for r in data["results"]] == ["CIFAR conv 1", "CIFAR conv 2", "LeNet C1", "LeNet C3"]
    for entry in data["results"]:
        assert [t["impl"] for t in entry["timings"]] == IMPLS
        for t in entry["timings"]:
            assert t["forward_ms"] > 0 and t["forward_backward_ms"] > 0
            assert t["forward_ratio"] > 0 and t["forward_backward_ratio"] > 0
            assert t["extrapolated"] == (t["impl"] == "loop")
            assert "faults_per_pass" in t


def test_minor_faults_count_first_writes() -> None:
    """Writing fresh memory the allocator just took from the OS shows up as page faults."""
    if bench._minor_faults() is None:
        pytest.skip("no page-fault counts on this OS")
    before = bench._minor_faults()
    block = torch.empty(64 << 20, dtype=torch.uint8)  # 64 MB: beyond any malloc threshold, so fresh pages
    block.fill_(1)
    assert bench._minor_faults() - before >= 16  # 16,384 pages of 4 KB, or about 32 of 2 MB with huge pages


def test_command_line_table_without_loop() -> None:
    assert bench.main(["--quick", "--repeats", "1", "--no-loop"]) == 0


@pytest.mark.parametrize("flag", ["--repeats", "--threads", "--processes"])
@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_command_line_rejects_counts_below_one(flag: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A usage error (exit code 2), not a traceback from deep inside the run."""
    with pytest.raises(SystemExit) as info:
        bench.main([flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m convlib.bench")
    assert f"argument {flag}: expected an int >= 1, got {value!r}" in err


def test_matmuls_only_has_the_conv_shapes() -> None:
    x = torch.randn(3, 2, 6, 7, requires_grad=True)  # (N, C_in, H, W)
    for c_out in (4, 16):  # both layouts of the weight-gradient product
        w = torch.randn(c_out, 2, 3, 3, requires_grad=True)
        b = torch.randn(c_out, requires_grad=True)
        y = bench.matmuls_only(x, w, b, padding=1, stride=(2, 1))
        assert y.shape == F.conv2d(x, w, b, padding=1, stride=(2, 1)).shape
        y.backward(torch.ones_like(y))
        assert x.grad is None  # no col2im: the input gradient is never scattered back
        assert w.grad.shape == w.shape and torch.equal(w.grad, torch.zeros_like(w))  # placeholder im2col is zeros
        torch.testing.assert_close(b.grad, torch.full((c_out,), float(y[0, 0].numel() * 3)))
    with pytest.raises(ValueError, match="input channels"):
        bench.matmuls_only(torch.randn(1, 3, 5, 5), torch.randn(2, 2, 3, 3))


@pytest.mark.parametrize("library", ["torch", "onednn"])
def test_matmuls_only_runs_the_arrangement_conv2d_runs(library: str) -> None:
    # a floor for conv2d's products only if they are conv2d's products: image by image where
    # torch.mm multiplies, one product per slice on oneDNN, even though x and w require grad
    if library == "onednn" and not gemm.onednn_available():
        pytest.skip("oneDNN's product operator does not work here")
    x = torch.randn(2, 4, 8, 8, requires_grad=True)  # (N, C_in, H, W): 64 output positions per image
    for c_out in (8, 64):  # 64 kernels: folded, the input gradient one product per kernel row
        w = torch.randn(c_out, 4, 3, 3, requires_grad=True)
        with gemm.use(library):
            want = convlib.conv2d(x, w, padding=1).grad_fn.plan  # the autograd node is the function's ctx
            y = bench.matmuls_only(x, w, padding=1)
            y.backward(torch.ones_like(y))  # the backward pass's products, on placeholders of their shapes
        assert (want is None) == (library == "onednn")
        assert y.grad_fn.plan == want
        assert want is None or want.folded == (c_out == 64)
        assert w.grad.shape == w.shape
        w.grad = None


def _fake_report(ratio: float) -> dict:
    timing = lambda impl, r, ext=False: dict(  # noqa: E731
        impl=impl, forward_ms=1.0, forward_backward_ms=1.0, extrapolated=ext,
        measured_on="", forward_ratio=r, forward_backward_ratio=2 * r,
    )
    return dict(
        torch_version="t", threads=2, cpu="cpu", repeats=5, quick=False, load_before=None,
        results=[{"case": "c", "label": "1x1x5x5 -> 1, 3x3", "n": 1,
                  "timings": [timing("loop", 100 * ratio, True), timing("convlib", ratio), timing("torch", 1.0)]}],
    )


def test_spread_table_medians_and_ranges() -> None:
    table = bench.spread_table([_fake_report(r) for r in (1.2, 1.4, 1.3)])
    assert "3 fresh processes, each the median of 5 interleaved repeats" in table
    rows = {line.split()[5]: line for line in table.splitlines() if line.startswith("c ")}
    assert set(rows) == {"loop*", "convlib"}  # torch's own row (always 1.00) is left out
    assert rows["convlib"].split()[6:] == ["1.30", "(1.20-1.40)", "2.60", "(2.40-2.80)"]
    assert rows["loop*"].split()[6:8] == ["130", "(120-140)"]  # no decimals on huge ratios
    assert "* extrapolated" in table
    same = bench.spread_table([_fake_report(1.0)] * 2)
    assert same.splitlines()[-3].split()[6:] == ["1.00", "2.00"]  # no range when every process agrees


def _targeted_report(ratio: float, floor: float = 1.1) -> dict:
    """A fake report on the two full-size CIFAR layers that have a target, convlib at ``ratio`` x torch."""
    report = _fake_report(ratio / 2)  # _fake_report's forward+backward ratio is twice its argument
    entry = report["results"][0]
    floor_timing = {**entry["timings"][1], "impl": "matmuls", "forward_backward_ratio": floor}
    report["results"] = [
        {**entry, "case": "CIFAR conv 1", "label": "128x3x32x32 -> 32, 3x3 p1", "timings": [*entry["timings"], floor_timing]},
        {**entry, "case": "CIFAR conv 2", "label": "128x32x16x16 -> 64, 3x3 p1", "timings": [*entry["timings"], floor_timing]},
        {**entry, "case": "LeNet C1", "label": "256x1x28x28 -> 6, 5x5 p2"},  # no target: not judged
    ]
    return report


def test_targets_are_judged_by_median_over_processes() -> None:
    assert set(bench.TARGETS) == {c.label for c in bench.cases()[:2]}  # the two CIFAR layers, full size
    table = bench.spread_table([_targeted_report(r) for r in (1.2, 1.5, 1.25)])
    verdicts = table.split("targets: ")[1].splitlines()[1:]
    assert [line.split()[:2] for line in verdicts] == [["CIFAR", "conv"]] * 2  # LeNet C1 has no target
    assert verdicts[0].endswith("limit 1.30x  convlib 1.25x (1.20-1.50)  met")  # the median decides
    missed = bench.spread_table([_targeted_report(1.4, floor=f) for f in (1.0, 1.2)]).splitlines()[-1]
    assert missed.endswith("convlib 1.40x  NOT met (its matrix products alone: 1.10x (1.00-1.20))")


def test_one_report_judges_its_targets_in_table_and_json() -> None:
    def timing(impl: str, ms: float) -> bench.Timing:
        return bench.Timing(impl, ms, ms, forward_ratio=ms / 10, forward_backward_ratio=ms / 10)

    report = bench.BenchReport("t", 2, "cpu", 3, False, None)
    for case in bench.cases()[:2]:
        ms = 12.0 if case.name.endswith("1") else 14.0
        report.results.append({"case": case.name, "label": case.label, "n": case.n,
                               "timings": [timing("convlib", ms), timing("torch", 10.0)]})
    assert report.table().splitlines()[-2:] == [
        "CIFAR conv 1  128x3x32x32 -> 32, 3x3 p1    limit 1.30x  convlib 1.20x  met",
        "CIFAR conv 2  128x32x16x16 -> 64, 3x3 p1   limit 1.30x  convlib 1.40x  NOT met",  # no matmuls row to cite
    ]
    assert [(t["case"], t["ratio"], t["met"]) for t in report.to_dict()["targets"]] == [
        ("CIFAR conv 1", 1.2, True), ("CIFAR conv 2", 1.4, False)]
    quick = bench.BenchReport("t", 2, "cpu", 3, True, None,
                              results=[{**report.results[0], "label": bench.cases(quick=True)[0].label}])
    assert "targets" not in quick.table() and quick.to_dict()["targets"] == []  # small batches: not judged


def test_html_holds_the_table_in_row_groups() -> None:
    """What a notebook shows: one row group per case, the table's cells, notes and verdicts, escaped."""
    def timing(impl: str, ms: float, **kw: Any) -> bench.Timing:
        return bench.Timing(impl, ms, 3 * ms, forward_ratio=ms / 10, forward_backward_ratio=ms / 10, **kw)

    report = bench.BenchReport("t", 2, "<cpu & co>", 3, False, (0.5, 0.4, 0.3))
    for case in bench.cases()[:2]:
        report.results.append({"case": case.name, "label": case.label, "n": case.n, "timings": [
            timing("loop", 2e4, extrapolated=True, measured_on="1 image, 2 in / 2 out channels, x6"),
            timing("convlib", 14.0, faults_per_pass=1234.0), timing("matmuls", 12.5), timing("torch", 10.0)]})
    page = report.html()
    assert "&lt;cpu &amp; co&gt;" in page and "<cpu" not in page
    assert page.count("<tbody") == 2 and page.count('<th scope="rowgroup" colspan="6"') == 2
    plain = re.sub(r' style="[^"]*"', "", page)
    assert '<th scope="rowgroup" colspan="6">CIFAR conv 2: 128x32x16x16 -&gt; 64, 3x3 p1</th>' in plain
    rows = [line[43:].split() for line in report.table().splitlines() if line.startswith("CIFAR") and "limit" not in line]
    assert len(rows) == 8
    for cells in rows:  # every cell of the text table's rows, in the same order
        assert "".join(f"<td>{c}</td>" for c in cells) in plain
    assert "<br>CIFAR conv 2: 1 image, 2 in / 2 out channels, x6</p>" in page
    assert ("<li>CIFAR conv 2, 128x32x16x16 -&gt; 64, 3x3 p1: limit 1.30x, convlib 1.40x, "
            "NOT met (its matrix products alone: 1.25x)</li>") in page
    assert report._repr_mimebundle_() == {"text/plain": report.table(), "text/html": page}


@pytest.mark.parametrize("bad, got", [(0, "0"), (True, r"True \(a bool\)"), (2.0, r"2\.0 \(a float\)")])
def test_run_processes_rejects_bad_count(bad: object, got: str) -> None:
    """count=True used to start one process."""
    with pytest.raises(ValueError, match=rf"^count: expected an int >= 1, got {got}\. Fix: "):
        bench.run_processes(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(repeats=0), r"^repeats: expected an int >= 1, got 0\. Fix: "),  # was a StatisticsError (median of nothing)
        (dict(repeats=True), r"^repeats: expected an int >= 1, got True \(a bool\)"),
        (dict(loop_repeats=0), r"^loop_repeats: expected an int >= 1, got 0\. Fix: "),
        (dict(loop_repeats=1.5), r"^loop_repeats: expected an int >= 1, got 1\.5 \(a float\)"),
    ],
)
def test_run_rejects_bad_repeats_before_timing(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bench.run([bench.BenchCase("tiny", 1, 1, 4, 1, 3)], impls=("loop", "torch"), **kwargs)


@pytest.mark.parametrize(
    "args, message",
    [
        (("c", 0, 1, 4, 1, 3), r"^BenchCase\.n: expected an int >= 1, got 0\. Fix: pass n=1 or larger"),
        (("c", True, 1, 4, 1, 3), r"^BenchCase\.n: expected an int >= 1, got True \(a bool\)"),
        (("c", 1, 1, 4, 1, 2.5), r"^BenchCase\.k: expected an int >= 1, got 2\.5 \(a float\)"),
        (("c", 1, 1, 4, 1, 3, -1), r"^BenchCase\.padding: expected an int >= 0, got -1\."),
    ],
)
def test_bench_case_checks_its_sizes(args: tuple, message: str) -> None:
    """A bad case used to fail later, inside a timed run, with torch's message about a tensor shape."""
    with pytest.raises(ValueError, match=message):
        bench.BenchCase(*args)


def test_bench_case_takes_numpy_ints() -> None:
    import numpy as np

    case = bench.BenchCase("c", np.int64(2), 1, np.int32(6), 2, 3)
    assert case.label == "2x1x6x6 -> 2, 3x3" and type(case.n) is int


def test_command_line_processes_json() -> None:
    """``--processes 2 --json``: two full reports, each from its own process."""
    out = subprocess.run(
        [sys.executable, "-m", "convlib.bench", "--quick", "--json", "--repeats", "1", "--no-loop", "--processes", "2"],
        check=True, capture_output=True, text=True, timeout=600,
    ).stdout
    reports = json.loads(out)["processes"]
    assert len(reports) == 2
    for report in reports:
        assert report["quick"] is True and report["repeats"] == 1
        assert [t["impl"] for t in report["results"][0]["timings"]] == IMPLS[1:]  # --no-loop was passed on
    table = bench.spread_table(reports)
    assert "2 fresh processes" in table and "convlib" in table and "loop" not in table
