"""convlib.cifar: the network builder, per-image augmentation and the error counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch import nn

import convlib as cl
from convlib import bench
from convlib.cifar import (
    batch_throughput,
    cifar_net,
    confusion_matrix,
    conv_cases,
    curve_stats,
    epoch_seconds,
    make_batches,
    misclassified,
    per_class_accuracy,
    per_image,
    random_crop_flip,
)


# --------------------------------------------------------------- the network


@pytest.mark.parametrize("conv", [nn.Conv2d, cl.Conv2D])
def test_cifar_net_layers_and_shapes(conv) -> None:
    net = cifar_net(conv, widths=(8, 16, 32))
    kinds = [type(m).__name__ for m in net]
    block = [conv.__name__, "BatchNorm2d", "ReLU", "MaxPool2d"]
    assert kinds == block * 3 + ["Flatten", "Linear"]
    assert net[-1].in_features == 32 * 4 * 4
    assert all(m.bias is None for m in net if isinstance(m, conv))  # BatchNorm supplies the shift
    assert net(torch.randn(4, 3, 32, 32)).shape == (4, 10)


def test_cifar_net_options() -> None:
    net = cifar_net(widths=(8, 16), convs_per_block=2, batchnorm=False, hidden=20, num_classes=5)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"] * 2 + ["Flatten", "Linear", "ReLU", "Linear"]
    assert all(m.bias is not None for m in net if isinstance(m, nn.Conv2d))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    assert cifar_net(widths=(4,), in_channels=1, image_size=28)(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_same_parameters_same_outputs_for_both_convs() -> None:
    """The two variants differ only in the convolution code: copy the weights, get the same logits."""
    torch.manual_seed(0)
    ours, ref = cifar_net(cl.Conv2D, widths=(8, 16)), cifar_net(nn.Conv2d, widths=(8, 16))
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)
    ours(x).sum().backward()
    ref(x).sum().backward()
    torch.testing.assert_close(ours[0].weight.grad, ref[0].weight.grad, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(widths=()), r"widths: expected a non-empty sequence of ints >= 1, got \(\)"),
        (dict(widths=(8, 0)), r"widths: expected a non-empty sequence"),
        (dict(widths=(4,) * 6), r"widths: expected at most 5 blocks for 32x32 images \(each halves the side\), got 6"),
        (dict(convs_per_block=0), r"convs_per_block: expected an int >= 1, got 0"),
        (dict(widths=(8, True)), r"^widths: expected a non-empty sequence of ints >= 1, got \(8, True\), which holds True \(a bool\)\. Fix: "),
        (dict(widths=(8, 16.0)), r"^widths: .*which holds 16\.0 \(a float\)"),
        (dict(widths=8), r"^widths: expected a non-empty sequence of ints >= 1, got 8\. Fix: "),
        (dict(convs_per_block=True), r"^convs_per_block: expected an int >= 1, got True \(a bool\)\. Fix: "),
        (dict(hidden=-1), r"^hidden: expected an int >= 0, got -1\. Fix: "),
        (dict(hidden=True), r"^hidden: expected an int >= 0, got True \(a bool\)"),
        (dict(num_classes=0), r"^num_classes: expected an int >= 1, got 0\. Fix: "),
        (dict(in_channels=3.0), r"^in_channels: expected an int >= 1, got 3\.0 \(a float\)"),
        (dict(image_size=True), r"^image_size: expected an int >= 1, got True \(a bool\)"),
    ],
)
def test_cifar_net_bad_arguments(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        cifar_net(**kwargs)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [  # a name or a built layer as conv raised a raw TypeError; batchnorm="no" (truthy) added BatchNorm and dropped
       # the conv biases without a word; too many widths raised a plain ValueError, not convlib's input error
        (lambda: cifar_net("Conv2D"), cl.ConvlibInputError, r"^conv: expected a conv layer class.*, got 'Conv2D' \(a str\)\. Fix: "),
        (lambda: cifar_net(nn.Conv2d(3, 8, 3)), cl.ConvlibInputError, r"^conv: expected .*\(a Conv2d\)\. Fix: "),
        (lambda: cifar_net(batchnorm="no"), TypeError, r"^batchnorm: expected True or False, got 'no' \(a str\)\. Fix: "),
        (lambda: cifar_net(batchnorm=0), TypeError, r"^batchnorm: expected True or False, got 0\. Fix: "),
        (lambda: cifar_net(widths=(4,) * 6), cl.ConvlibInputError, r"^widths: expected at most 5 blocks .* Fix: "),
    ],
)
def test_cifar_net_checks_conv_and_batchnorm(call, error, match) -> None:
    with pytest.raises(error, match=match):
        call()


def test_conv_cases() -> None:
    cases = conv_cases(cifar_net(widths=(32, 64, 128)), 128)
    assert [c.label for c in cases] == [
        "128x3x32x32 -> 32, 3x3 p1",
        "128x32x16x16 -> 64, 3x3 p1",
        "128x64x8x8 -> 128, 3x3 p1",
    ]
    assert [c.label for c in conv_cases(cifar_net(cl.Conv2D, widths=(4,)), 2)] == ["2x3x32x32 -> 4, 3x3 p1"]
    with pytest.raises(ValueError, match="square stride-1"):
        conv_cases(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2)), 1)


# --------------------------------------------------------------- augmentation


def _offset_of(crop: torch.Tensor, padded: torch.Tensor) -> list[tuple[int, int]]:
    """Every (dy, dx) where ``crop (C, H, W)`` equals a window of ``padded (C, H+2p, W+2p)``."""
    h, w = crop.shape[1:]
    span = padded.shape[1] - h + 1
    return [(dy, dx) for dy in range(span) for dx in range(span) if torch.equal(padded[:, dy:dy + h, dx:dx + w], crop)]


def test_random_crop_flip_takes_a_crop_of_each_padded_image() -> None:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(64, 3, 8, 8) + 1  # no zeros, so every crop is unique
    Y = random_crop_flip(X, padding=2, generator=g)
    padded = torch.nn.functional.pad(X, (2, 2, 2, 2))
    offsets, flips = [], []
    for x, y, p in zip(X, Y, padded):
        plain, mirrored = _offset_of(y, p), _offset_of(y.flip(2), p)
        assert len(plain) + len(mirrored) == 1, "each output must be exactly one crop, flipped or not"
        offsets.append((plain or mirrored)[0])
        flips.append(bool(mirrored))
    assert len(set(offsets)) > 10, "offsets are drawn per image"
    assert 10 < sum(flips) < 54, "about half the images are mirrored"
    assert {dy for dy, _ in offsets} == set(range(5)) and {dx for _, dx in offsets} == set(range(5))


def test_random_crop_flip_is_seeded_and_keeps_identity_when_off() -> None:
    X = torch.rand(10, 3, 6, 6)
    a = random_crop_flip(X, generator=torch.Generator().manual_seed(3))
    b = random_crop_flip(X, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert torch.equal(random_crop_flip(X, padding=0, flip=False), X)
    flipped_only = random_crop_flip(X, padding=0, generator=torch.Generator().manual_seed(0))
    for x, y in zip(X, flipped_only):
        assert torch.equal(y, x) or torch.equal(y, x.flip(2))
    with pytest.raises(ValueError, match=r"X: expected a batch \(N, C, H, W\), got shape \(3, 6, 6\)"):
        random_crop_flip(X[0])
    with pytest.raises(ValueError, match="padding: expected an int >= 0, got -1"):
        random_crop_flip(X, padding=-1)


def test_torchvision_v2_on_a_batch_uses_one_crop_and_per_image_fixes_it() -> None:
    """The reason per_image exists: v2 draws one set of parameters per call."""
    from torchvision.transforms import v2

    crop = v2.RandomCrop(8, padding=2)
    X = torch.rand(16, 3, 8, 8) + 1
    padded = torch.nn.functional.pad(X, (2, 2, 2, 2))
    torch.manual_seed(0)
    batch_offsets = {_offset_of(y, p)[0] for y, p in zip(crop(X), padded)}
    assert len(batch_offsets) == 1  # the whole batch shares one crop
    torch.manual_seed(0)
    each = per_image(crop)(X)
    assert each.shape == X.shape
    image_offsets = {_offset_of(y, p)[0] for y, p in zip(each, padded)}
    assert len(image_offsets) > 4  # now each image has its own


# --------------------------------------------------------------- error counts


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))))
def test_confusion_matrix_matches_a_direct_count(case) -> None:
    n, pairs = case
    true = torch.tensor([t for t, _ in pairs], dtype=torch.int64)
    pred = torch.tensor([p for _, p in pairs], dtype=torch.int64)
    cm = confusion_matrix(pred, true, n)
    direct = torch.zeros(n, n, dtype=torch.int64)
    for t, p in pairs:
        direct[t, p] += 1
    assert torch.equal(cm, direct)
    assert int(cm.sum()) == len(pairs)
    assert int(cm.diagonal().sum()) == sum(t == p for t, p in pairs)


def test_confusion_matrix_bad_input() -> None:
    with pytest.raises(ValueError, match="expected the same length, got 2 and 3"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0, 1, 1]), 2)
    with pytest.raises(ValueError, match=r"expected class indices in \[0, 1\]"):
        confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), 2)


def test_per_class_accuracy_and_misclassified() -> None:
    cm = torch.tensor([[8, 2, 0], [1, 1, 0], [0, 0, 0]])
    acc = per_class_accuracy(cm)
    torch.testing.assert_close(acc[:2], torch.tensor([0.8, 0.5]))
    assert torch.isnan(acc[2])  # no examples of class 2
    pred, true = torch.tensor([1, 1, 0, 2, 2]), torch.tensor([1, 0, 0, 1, 2])
    assert sorted(misclassified(pred, true).tolist()) == [1, 3]
    assert misclassified(true, true).tolist() == []


def test_misclassified_takes_every_class_in_turn_from_a_sorted_test_set() -> None:
    """The offline test set is sorted by label: the first 12 errors would all be airplanes."""
    true = torch.arange(10).repeat_interleave(100)  # (1000,) sorted by class
    pred = (true + 1) % 10  # every prediction wrong
    picked = misclassified(pred, true, 12)
    assert true[picked].tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert picked[:2].tolist() == [0, 100]  # each class's first mistake, in test-set order
    assert (pred[picked] != true[picked]).all()
    assert misclassified(pred, true, 3000).numel() == 1000 and len(set(misclassified(pred, true, 3000).tolist())) == 1000


# --------------------------------------------------------------- figures and helpers


def test_confusion_matrix_figure_shows_row_fractions() -> None:
    cm = torch.tensor([[6, 2, 2], [0, 5, 0], [1, 0, 3]])
    fig = cl.plot.confusion_matrix(cm, ["a", "b", "c"])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[:3] == ["0.60", "0.20", "0.20"] and texts[4] == "1.00" and texts[8] == "0.75"
    raw = cl.plot.confusion_matrix(cm, ["a", "b", "c"], normalize=False)
    assert [t.get_text() for t in raw.axes[0].texts][:3] == ["6", "2", "2"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b", "c"]


def test_conv_timings_and_step_losses_figures() -> None:
    fig = cl.plot.conv_timings(["c1", "c2"], {"loop": [1e6, 2e6], "torch": [3.0, 4.0]}, hatched=["loop"])
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.patches) == 4
    assert [p.get_hatch() for p in ax.patches] == ["//", "//", None, None]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loop (extrapolated)", "torch"]
    fig = cl.plot.step_losses({"a": ([2.0, 1.0, 1.5, 0.5], 2), "b": ([2.0, 1.0], 1)})
    xs = [list(line.get_xdata()) for line in fig.axes[0].lines]
    assert xs == [[0.5, 1.0, 1.5, 2.0], [1.0, 2.0]]  # steps as fractions of an epoch
    fig = cl.plot.step_losses({"a": ([2.0, 1e6], 1)}, ylim=(0, 3))
    assert fig.axes[0].get_ylim() == (0.0, 3.0)


def test_curve_stats() -> None:
    s = cl.cifar.curve_stats([4.0, 3.0, 3.5, 2.0, 2.5, 1.0], window=2)
    assert s == pytest.approx({"jitter": (1 + 0.5 + 1.5 + 0.5 + 1.5) / 5, "start": 3.5, "end": 1.75, "drop": 1.75})
    with pytest.raises(ValueError, match="at least 2 steps, got 1"):
        cl.cifar.curve_stats([1.0])


def test_step_losses_records_training_steps_only() -> None:
    rec = cl.cifar.StepLosses()
    X, y = torch.randn(32, 3, 8, 8), torch.randint(0, 10, (32,))
    data = [(X[:16], y[:16]), (X[16:], y[16:])]
    net = cifar_net(widths=(4,), image_size=8)
    cl.fit(net, data, data, epochs=2, lr=0.01, loss_fn=rec, device="cpu", progress=False, verbose=False)
    assert len(rec.losses) == 4  # 2 epochs x 2 training batches; the test passes are not recorded


def test_epoch_seconds_scales_batches_to_an_epoch() -> None:
    report = cl.bench.run([cl.bench.BenchCase("c", 4, 1, 6, 2, 3)], repeats=1, impls=("convlib", "torch"))
    per_epoch = cl.cifar.epoch_seconds(report, images=400)
    t = report.timing("c", "torch")
    assert per_epoch["torch"] == pytest.approx(t.forward_backward_ms / 1e3 * 100)
    assert cl.cifar.epoch_seconds(report, images=400, kind="forward")["convlib"] == pytest.approx(
        report.timing("c", "convlib").forward_ms / 1e3 * 100)
    with pytest.raises(ValueError, match="kind: expected"):
        cl.cifar.epoch_seconds(report, kind="backward")


def test_make_batches_and_train_on_tiny_data() -> None:
    """The recipe end to end on 64 random images: batches are normalized, training runs."""
    from convlib.data import ImageData

    g = torch.Generator().manual_seed(0)
    fake = ImageData(torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (64,), generator=g), cl.data.CIFAR10_CLASSES, "random")
    train_b, test_b = cl.cifar.make_batches(fake, fake, 16, limit=32)
    assert len(train_b) == 2 and len(test_b) == 2
    X, _ = next(iter(test_b))
    assert X.shape == (16, 3, 32, 32) and abs(float(X.mean())) < 0.5
    model, h = cl.cifar.train(nn.Conv2d, sets=(fake, fake), widths=(4, 8), epochs=2, batch_size=16,
                              progress=False, verbose=False)
    assert h.epochs == 2 and len(h.test_acc) == 2 and isinstance(model, nn.Sequential)


def test_batch_throughput_times_steps_and_counts_activations() -> None:
    from convlib.data import ImageData

    g = torch.Generator().manual_seed(0)
    fake = ImageData(torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=g),
                     torch.randint(0, 10, (12,), generator=g), cl.data.CIFAR10_CLASSES, "random")
    rows = cl.cifar.batch_throughput(fake, (2, 4), widths=(4, 8), steps=2)
    assert [r["batch_size"] for r in rows] == [2, 4]
    # Per image, every layer's output: conv, BN, ReLU at 4x32x32, pool 4x16x16, conv, BN, ReLU at
    # 8x16x16, pool 8x8x8, flatten 512, linear 10.
    per_image = 3 * 4 * 32 * 32 + 4 * 16 * 16 + 3 * 8 * 16 * 16 + 512 + 512 + 10
    assert [r["activation_mb"] for r in rows] == [round(b * per_image * 4 / 1e6, 2) for b in (2, 4)]
    for r in rows:
        assert r["ms_per_step"] > 0 and r["images_per_s"] == pytest.approx(r["batch_size"] / r["ms_per_step"] * 1e3, rel=1e-2)
    with pytest.raises(cl.ConvlibInputError, match=r"at least 15 images \(\(steps \+ 1\) batches of 5\), got 12"):
        cl.cifar.batch_throughput(fake, (5,), steps=2)


def _shared_data():
    import os
    from pathlib import Path

    value = os.environ.get("CONVLIB_DATA", "").strip()
    return Path(value) if value else Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (_shared_data() / "cifar10-jpeg.tar.gz").is_file(),
                    reason="offline CIFAR-10 archive not found (set CONVLIB_DATA)")
def test_command_line_on_real_data(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("CONVLIB_DATA", str(_shared_data()))
    assert cl.cifar.main(["--limit", "256", "--epochs", "1", "--conv", "convlib", "--batch-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "conv=convlib epochs=1 lr=0.1 batch=64 limit=256 augment=True" in out
    accuracy = float(out.split("test accuracy ")[1].split(";")[0])
    assert 0.0 <= accuracy <= 1.0 and "s/epoch" in out and "CPU" in out


def _toy_cifar(n: int):
    from convlib.data import ImageData

    return ImageData(torch.zeros(n, 3, 32, 32, dtype=torch.uint8), torch.arange(n) % 10, cl.data.CIFAR10_CLASSES, "toy")


def test_cifar_net_takes_numpy_ints() -> None:
    net = cifar_net(widths=np.array([4, 8]), convs_per_block=np.int64(1), num_classes=np.int32(3), image_size=np.int64(8))
    assert net(torch.zeros(2, 3, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize(
    "call, message",
    [
        # each of these ran before: padding=True cropped by 1, n=True counted 1 class, k=-1 dropped the last
        # mistake, window=0 became 1, steps=0 failed on an empty list, images=0 gave 0 s per epoch
        (lambda: random_crop_flip(torch.zeros(1, 1, 4, 4), padding=True), r"^padding: expected an int >= 0, got True \(a bool\)"),
        (lambda: confusion_matrix(torch.tensor([0]), torch.tensor([0]), True), r"^n: expected an int >= 1, got True \(a bool\)"),
        (lambda: misclassified(torch.tensor([1, 0]), torch.tensor([0, 1]), k=-1), r"^k: expected an int >= 0, got -1\. Fix: "),
        (lambda: curve_stats([1.0, 2.0], window=0), r"^window: expected an int >= 1, got 0\. Fix: "),
        (lambda: conv_cases(cifar_net(widths=(4,)), 2.5), r"^batch_size: expected an int >= 1, got 2\.5 \(a float\)"),
        (lambda: epoch_seconds(bench.BenchReport("x", 1, "cpu", 1, False, None), images=0), r"^images: expected an int >= 1, got 0\."),
        (lambda: batch_throughput(_toy_cifar(40), [4], steps=0), r"^steps: expected an int >= 1, got 0\. Fix: "),
        (lambda: batch_throughput(_toy_cifar(40), [4, True]), r"^batch_sizes: .*which holds True \(a bool\)"),
        (lambda: make_batches(_toy_cifar(8), _toy_cifar(8), 4, limit=True), r"^limit: expected None \(every example\) or an int >= 1, got True \(a bool\)"),
        (lambda: make_batches(_toy_cifar(8), _toy_cifar(8), 4, seed=0.5), r"^seed: expected an int such as 0, got 0\.5 \(a float\)"),
    ],
)
def test_bad_whole_numbers_are_refused(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [("--epochs", "0", "an int >= 1"), ("--limit", "0", "an int >= 1"), ("--batch-size", "0", "an int >= 1"),
     ("--threads", "0", "an int >= 1"), ("--epochs", "two", "an int >= 1"),
     ("--lr", "-1", "a finite number > 0"), ("--lr", "nan", "a finite number > 0"),
     ("--lr", "inf", "a finite number > 0"), ("--lr", "0", "a finite number > 0")],
)
def test_command_line_rejects_bad_numbers(flag: str, value: str, expected: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A usage error (exit code 2) before any training, not a traceback from deep inside the run."""
    with pytest.raises(SystemExit) as info:
        cl.cifar.main([flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python -m convlib.cifar")
    assert f"argument {flag}: expected {expected}, got {value!r}" in err


def test_command_line_reports_missing_data_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A learner's CONVLIB_DATA typo: one line saying what is missing and how to fix it, exit code 1."""
    monkeypatch.setenv("CONVLIB_DATA", str(tmp_path / "no-such-folder"))
    monkeypatch.setenv("CONVLIB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SystemExit) as info:
        cl.cifar.main(["--epochs", "1", "--limit", "64"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m convlib.cifar: error: CONVLIB_DATA=")
    assert "no such folder" in err and "cifar10-jpeg.tar.gz" in err and "Traceback" not in err
