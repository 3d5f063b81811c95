"""Tests for convlib.train: fit, evaluate, predict, History, seed, select_device."""

from __future__ import annotations

import math

import numpy as np

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import convlib as cl
from convlib import train as T


def blobs(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two well-separated Gaussian blobs in 4-D: a problem a linear model solves."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, 4, generator=g) * 0.5 + (y[:, None] * 2 - 1) * 2.0
    return X, y


def batches(X: torch.Tensor, y: torch.Tensor, size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(X[i : i + size], y[i : i + size]) for i in range(0, len(X), size)]


def tiny_cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Dropout(0.3), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(3 * 4 * 4, 3))


def run_seeded(n: int) -> cl.History:
    cl.seed(n)
    X = torch.randn(40, 1, 8, 8)
    y = torch.randint(0, 3, (40,))
    model = tiny_cnn()
    loader = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True)  # shuffles with torch's global RNG
    return cl.fit(model, loader, batches(X, y, 16), epochs=3, lr=0.1, momentum=0.9,
                  device="cpu", verbose=False, progress=False)


def test_seed_makes_two_fits_identical() -> None:
    a, b = run_seeded(0), run_seeded(0)
    for field in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert getattr(a, field) == getattr(b, field)  # exactly equal, not approximately
    c = run_seeded(1)
    assert c.train_loss != a.train_loss


def test_fit_learns_and_records_every_epoch() -> None:
    cl.seed(0)
    X, y = blobs()
    h = cl.fit(nn.Linear(4, 2), batches(X, y, 16), batches(X, y, 32), epochs=4, lr=0.1,
               device="cpu", verbose=False, progress=False)
    assert isinstance(h, cl.History)
    assert [len(v) for v in (h.train_loss, h.train_acc, h.test_loss, h.test_acc, h.seconds)] == [4] * 5
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.test_acc[-1] > 0.95
    assert all(s > 0 for s in h.seconds)
    assert h.device == "cpu"
    assert h.total_seconds == pytest.approx(sum(h.seconds))
    final = h.final()
    assert final["epochs"] == 4 and final["test_acc"] == h.test_acc[-1]
    assert final["seconds_per_epoch"] == pytest.approx(h.total_seconds / 4)
    assert repr(h).startswith("History(4 epochs on cpu: train loss")


def test_fit_steps_match_a_hand_written_loop() -> None:
    """Two SGD steps of fit == two manual steps with zero_grad: gradients do not pile up."""
    X, y = blobs(16)
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    manual = nn.Linear(4, 2)
    manual.load_state_dict(model.state_dict())
    cl.fit(model, batches(X, y, 8), epochs=1, lr=0.5, device="cpu", verbose=False, progress=False)
    for xb, yb in batches(X, y, 8):
        manual.zero_grad()
        nn.functional.cross_entropy(manual(xb), yb).backward()
        with torch.no_grad():
            for p in manual.parameters():
                p -= 0.5 * p.grad
    for p, q in zip(model.parameters(), manual.parameters()):
        torch.testing.assert_close(p, q)


def test_train_loss_is_the_size_weighted_mean_of_batch_losses() -> None:
    X, y = blobs(10)
    model = nn.Linear(4, 2)
    with torch.no_grad():
        logits = model(X)
    # lr so small the weights do not move: the epoch's loss is the loss over all 10 examples
    h = cl.fit(model, batches(X, y, 4), epochs=1, lr=1e-12, device="cpu", verbose=False, progress=False)
    assert h.train_loss[0] == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert h.train_acc[0] == pytest.approx((logits.argmax(1) == y).float().mean().item())


def test_evaluate_weights_uneven_batches_and_restores_mode() -> None:
    X, y = blobs(10)
    model = nn.Linear(4, 2)
    model.train()
    loss, acc = cl.evaluate(model, batches(X, y, 4), device="cpu")
    with torch.no_grad():
        logits = model(X)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert acc == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert model.training


def test_evaluate_uses_eval_mode() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.9), nn.Linear(8, 2))
    X, y = blobs(32)
    first = cl.evaluate(model, batches(X, y, 8), device="cpu")
    second = cl.evaluate(model, batches(X, y, 8), device="cpu")
    assert first == second  # dropout off: the same numbers twice


def test_evaluate_and_predict_reject_empty_counts() -> None:
    X, y = blobs(8)
    model = nn.Linear(4, 2)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_batches: expected None"):
            cl.evaluate(model, batches(X, y, 4), max_batches=bad)
        with pytest.raises(ValueError, match="batch_size: expected an int >= 1"):
            cl.predict(model, X, batch_size=bad)
    with pytest.raises(ValueError, match="only empty batches"):
        cl.evaluate(model, [(X[:0], y[:0])])


def test_evaluation_mode_restores_a_mixed_model() -> None:
    net = nn.Sequential(nn.Dropout(), nn.Sequential(nn.BatchNorm1d(2), nn.Dropout()))
    net[1][0].eval()
    before = [m.training for m in net.modules()]
    with pytest.raises(RuntimeError), cl.evaluation_mode(net) as inside:  # restored even when the block fails
        assert inside is net and not any(m.training for m in net.modules())
        raise RuntimeError("boom")
    assert [m.training for m in net.modules()] == before


def test_predict_is_argmax_in_eval_mode() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    X = torch.randn(50, 4)
    labels = cl.predict(model, X, "cpu", batch_size=16)
    model.eval()
    with torch.no_grad():
        expected = model(X).argmax(1)
    assert labels.dtype == torch.int64 and labels.shape == (50,)
    assert torch.equal(labels, expected)
    with pytest.raises(TypeError, match="tensor batch"):
        cl.predict(model, [[0.0] * 4])


def test_fit_accepts_a_dataloader_and_prints_device_once(capsys: pytest.CaptureFixture[str]) -> None:
    X, y = blobs(48)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    cl.fit(nn.Linear(4, 2), loader, loader, epochs=2, lr=0.1, device="cpu", progress=False)
    out = capsys.readouterr().out
    assert out.count("training on cpu") == 1
    assert out.count("epoch ") == 2 and "test acc" in out


def test_max_batches_limits_each_epoch() -> None:
    calls = []

    class Counting(nn.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(self.training)
            return super().forward(x)

    X, y = blobs(80)
    cl.fit(Counting(4, 2), batches(X, y, 8), batches(X, y, 8), epochs=2, lr=0.1, max_batches=3,
           device="cpu", verbose=False, progress=False)
    assert calls.count(True) == 2 * 3  # training batches
    assert calls.count(False) == 2 * 3  # test batches


@pytest.mark.parametrize("optimizer", ["adam", "adamw", torch.optim.RMSprop,
                                       lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9)])
def test_optimizer_choices_train(optimizer: object) -> None:
    cl.seed(0)
    X, y = blobs()
    h = cl.fit(nn.Linear(4, 2), batches(X, y, 16), epochs=3, lr=0.01, optimizer=optimizer,
               device="cpu", verbose=False, progress=False)
    assert h.train_loss[-1] < h.train_loss[0]


def test_onecycle_scheduler_warms_up_then_anneals() -> None:
    used: list[float] = []

    class RecordingSGD(torch.optim.SGD):
        def step(self, closure=None):  # type: ignore[no-untyped-def]
            used.append(self.param_groups[0]["lr"])
            return super().step(closure)

    X, y = blobs(64)
    cl.fit(nn.Linear(4, 2), batches(X, y, 8), epochs=2, lr=0.1, optimizer=RecordingSGD, scheduler="onecycle",
           device="cpu", verbose=False, progress=False)
    assert len(used) == 16
    assert used[0] == pytest.approx(0.1 / 25)  # starts at max_lr / div_factor
    assert max(used) == pytest.approx(0.1, rel=0.05)  # peaks at lr
    assert used[-1] < 1e-5  # ends near zero


def test_label_smoothing_changes_the_loss() -> None:
    X, y = blobs(32)
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    plain = cl.fit(model, batches(X, y, 32), epochs=1, lr=1e-12, device="cpu", verbose=False, progress=False)
    smooth = cl.fit(model, batches(X, y, 32), epochs=1, lr=1e-12, label_smoothing=0.2,
                    device="cpu", verbose=False, progress=False)
    with torch.no_grad():
        expected = nn.CrossEntropyLoss(label_smoothing=0.2)(model(X), y).item()
    assert smooth.train_loss[0] == pytest.approx(expected, rel=1e-5)
    assert smooth.train_loss[0] != pytest.approx(plain.train_loss[0])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(epochs=0, lr=0.1), ValueError, "epochs"),
        (dict(epochs=1, lr=-1.0), ValueError, "lr"),
        (dict(epochs=1, lr=0.1, optimizer="lbfgs"), ValueError, "optimizer"),
        (dict(epochs=1, lr=0.1, optimizer=lambda p: None), TypeError, "Optimizer"),
        (dict(epochs=1, lr=0.1, scheduler="cosine"), ValueError, "scheduler"),
        (dict(epochs=1, lr=0.1, max_batches=0), ValueError, "max_batches"),
        (dict(epochs=1, lr=0.1, loss_fn=nn.CrossEntropyLoss(), label_smoothing=0.1), ValueError, "label_smoothing"),
    ],
)
def test_bad_arguments_say_what_to_do(kwargs: dict, error: type, match: str) -> None:
    X, y = blobs(8)
    with pytest.raises(error, match=match):
        cl.fit(nn.Linear(4, 2), batches(X, y, 4), device="cpu", verbose=False, progress=False, **kwargs)


def test_bad_data_is_explained() -> None:
    X, y = blobs(8)
    with pytest.raises(TypeError, match="DataLoader"):
        cl.fit(nn.Linear(4, 2), (b for b in batches(X, y, 4)), epochs=1, lr=0.1, device="cpu")
    with pytest.raises(TypeError, match=r"pair \(X, y\)"):
        cl.fit(nn.Linear(4, 2), [X], epochs=1, lr=0.1, device="cpu", verbose=False, progress=False)
    with pytest.raises(ValueError, match="at least one batch"):
        cl.fit(nn.Linear(4, 2), [], epochs=1, lr=0.1, device="cpu")


def test_empty_training_batches_are_explained() -> None:
    """Only empty batches used to end in ZeroDivisionError (the loss over 0 examples)."""
    X, y = blobs(8)
    model = nn.Linear(4, 2)
    with pytest.raises(ValueError, match=r"^train_data: .*\(batch 1 of epoch 1\): the training data gave no examples\. Fix"):
        cl.fit(model, [(X[:0], y[:0])] * 2, epochs=1, lr=0.1, device="cpu", verbose=False, progress=False)
    with pytest.raises(ValueError, match=r"empty batch \(batch 2 of epoch 1\)\. Fix"):  # one among others
        cl.fit(model, [(X[:4], y[:4]), (X[:0], y[:0])], epochs=1, lr=0.1, device="cpu", verbose=False, progress=False)
    model = nn.Linear(4, 2)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match="empty batch"):
        cl.fit(model, [(X[:0], y[:0])], epochs=1, lr=0.1, device="cpu", verbose=False, progress=False)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # no nan step taken


def test_divergence_is_reported() -> None:
    X, y = blobs(32)
    model = nn.Linear(4, 2)
    nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)  # a random start may already separate the blobs: loss 0, no step
    with pytest.raises(FloatingPointError, match="smaller lr"):
        cl.fit(model, batches(X * 1e20, y, 8), epochs=1, lr=1e30, device="cpu",
               verbose=False, progress=False)


def test_select_device_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    assert cl.train.select_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cl.train.select_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cl.train.select_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cl.train.select_device() == torch.device("cuda")


def test_seed_rejects_non_int() -> None:
    with pytest.raises(TypeError, match="int"):
        cl.seed(1.5)  # type: ignore[arg-type]


def test_progress_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVLIB_PROGRESS", "0")
    assert not T._show_progress(True)
    monkeypatch.setenv("CONVLIB_PROGRESS", "1")
    assert T._show_progress(True) and not T._show_progress(False)
    monkeypatch.delenv("CONVLIB_PROGRESS")
    assert not T._show_progress(False)
    # outside a notebook kernel, under pytest stderr is captured, not a terminal: no bars in CI logs
    import sys

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not T._show_progress(True)


def test_progress_bars_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONVLIB_PROGRESS", "1")
    X, y = blobs(32)
    h = cl.fit(nn.Linear(4, 2), batches(X, y, 8), epochs=2, lr=0.1, device="cpu", verbose=False)
    assert h.epochs == 2
    assert "epoch 2/2" in capsys.readouterr().err  # tqdm's text bar, on stderr


def test_history_without_test_data() -> None:
    h = cl.History([1.0], [0.5], [], [], [2.0])
    assert h.final()["test_acc"] is None
    assert "test acc" not in repr(h) and "1 epoch on cpu" in repr(h)
    assert repr(cl.History()) == "History(0 epochs on cpu)"
    assert math.isclose(h.total_seconds, 2.0)


def test_history_folds_where_a_notebook_is_narrow() -> None:
    """A notebook shows ``_repr_pretty_``: the repr, its figures folded where it passes 79 characters."""
    pretty = pytest.importorskip("IPython.lib.pretty").pretty
    h = cl.History([0.9, 0.5], [0.6, 0.8], [0.7, 0.6], [0.7, 0.75], [2.0, 3.0], "cuda:0")
    assert len(repr(h)) > 79 and "\n" not in repr(h)
    lines = pretty(h).splitlines()
    assert lines == ["History(2 epochs on cuda:0: train loss 0.500, train acc 0.800, test acc 0.750,",
                     "        2.5 s/epoch)"]
    assert " ".join(line.strip() for line in lines) == repr(h)
    short = cl.History([1.0], [0.5], [], [], [2.0])
    assert pretty(short) == repr(short) and pretty(cl.History()) == "History(0 epochs on cpu)"


@pytest.mark.parametrize(
    ("argv", "headless"),
    [
        (["/venv/bin/python", "/venv/bin/jupyter-book", "build", "."], True),
        (["/venv/bin/python", "/venv/bin/jb", "build", "."], True),
        (["/venv/bin/python", "-m", "pytest", "--nbmake", "nb.ipynb"], True),
        (["/usr/bin/python3", "/usr/local/bin/jupyter-nbconvert", "--execute", "nb.ipynb"], True),
        (["python", "-m", "papermill", "in.ipynb", "out.ipynb"], True),
        (["/venv/bin/python", "/venv/bin/jupyter-lab"], False),
        (["/usr/bin/python3", "-m", "colab_kernel_launcher"], False),
    ],
)
def test_notebooks_run_by_programs_get_no_bars(argv: list[str], headless: bool) -> None:
    assert T._run_by_a_program("\0".join(argv).encode() + b"\0") is headless


def test_bars_in_a_watched_kernel_only(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    monkeypatch.delenv("CONVLIB_PROGRESS", raising=False)
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(T, "_run_by_a_program", lambda: False)
    assert T._show_progress(True)
    monkeypatch.setattr(T, "_run_by_a_program", lambda: True)
    assert not T._show_progress(True)


def test_numpy_integers_count_as_ints() -> None:
    """epochs, max_batches and batch_size taken as NumPy integers too (as a notebook's np.arange hands them out)."""
    X, y = blobs(16)
    model = nn.Linear(4, 2)
    h = cl.fit(model, batches(X, y, 4), epochs=np.int64(2), lr=0.1, max_batches=np.int32(1), device="cpu",
               verbose=False, progress=False)
    assert h.epochs == 2 and type(h.epochs) is int
    assert cl.evaluate(model, batches(X, y, 4), device="cpu", max_batches=np.int64(1)) == cl.evaluate(
        model, batches(X, y, 4), device="cpu", max_batches=1)
    assert torch.equal(cl.predict(model, X, "cpu", batch_size=np.int64(5)), cl.predict(model, X, "cpu"))
    cl.seed(np.int64(0))


@pytest.mark.parametrize("bad", [True, 1.0, "2"])
def test_fit_refuses_non_integers_naming_their_type(bad: object) -> None:
    X, y = blobs(8)
    kind = type(bad).__name__
    with pytest.raises(ValueError, match=rf"^max_batches: expected None \(every batch\) or an int >= 1, got .* \(a {kind}\)\. Fix: "):
        cl.fit(nn.Linear(4, 2), batches(X, y, 4), epochs=1, lr=0.1, max_batches=bad, verbose=False, progress=False)
    with pytest.raises(ValueError, match=rf"^epochs: expected an int >= 1, got .* \(a {kind}\)\. Fix: e\.g\. epochs=10"):
        cl.fit(nn.Linear(4, 2), batches(X, y, 4), epochs=bad, lr=0.1, verbose=False, progress=False)


def test_test_loss_is_plain_cross_entropy_with_label_smoothing() -> None:
    """History.test_loss agrees with cl.evaluate, whatever smoothing the training used (comparable curves)."""
    X, y = blobs(32)
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    h = cl.fit(model, batches(X, y, 16), batches(X, y, 16), epochs=1, lr=0.1, label_smoothing=0.2,
               device="cpu", verbose=False, progress=False)
    assert h.test_loss[-1] == pytest.approx(cl.evaluate(model, batches(X, y, 16), device="cpu")[0], rel=1e-6)


def test_test_loss_is_plain_cross_entropy_with_a_custom_loss_too() -> None:
    """The same rule with ``loss_fn``: smoothing given as nn.CrossEntropyLoss(label_smoothing=0.2) (what
    fit's own error message advises) used to report the smoothed test loss, and label_smoothing=0.2 the plain one."""
    X, y = blobs(32)
    histories, plain = {}, {}
    for name, kwargs in [("label_smoothing", dict(label_smoothing=0.2)),
                         ("loss_fn", dict(loss_fn=nn.CrossEntropyLoss(label_smoothing=0.2))),
                         ("doubled", dict(loss_fn=lambda logits, y: 2 * nn.functional.cross_entropy(logits, y)))]:
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        histories[name] = cl.fit(model, batches(X, y, 16), batches(X, y, 16), epochs=1, lr=1e-12, device="cpu",
                                 verbose=False, progress=False, **kwargs)
        plain[name] = cl.evaluate(model, batches(X, y, 16), device="cpu")[0]
    for name, h in histories.items():
        assert h.test_loss[-1] == pytest.approx(plain[name], rel=1e-6), name
    # the training loss stays the one minimised: the custom loss's own numbers
    assert histories["doubled"].train_loss[0] == pytest.approx(2 * histories["label_smoothing"].test_loss[0], rel=1e-4)
    assert histories["loss_fn"].train_loss[0] == pytest.approx(histories["label_smoothing"].train_loss[0], rel=1e-6)


def test_fit_keeps_a_frozen_batchnorm_frozen() -> None:
    """A BatchNorm put in .eval() inside a model in training mode keeps its running statistics;
    a model in evaluation mode is put in training mode as a whole."""
    X, y = blobs(32)
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.2), nn.Linear(4, 2))
    model[1].eval()
    mean, var = model[1].running_mean.clone(), model[1].running_var.clone()
    cl.fit(model, batches(X, y, 8), batches(X, y, 8), epochs=2, lr=0.1, device="cpu", verbose=False, progress=False)
    assert torch.equal(model[1].running_mean, mean) and torch.equal(model[1].running_var, var)
    assert [m.training for m in model] == [True, False, True, True]
    model.eval()
    cl.fit(model, batches(X, y, 8), epochs=1, lr=0.1, device="cpu", verbose=False, progress=False)
    assert all(m.training for m in model.modules())
    assert not torch.equal(model[1].running_mean, mean)


@pytest.mark.parametrize("lr", [np.float32(0.1), np.float64(0.1), torch.tensor(0.1), 1])
def test_fit_takes_any_real_learning_rate(lr: object) -> None:
    X, y = blobs(8)
    h = cl.fit(nn.Linear(4, 2), batches(X, y, 4), epochs=1, lr=lr, momentum=np.float32(0.9),
               weight_decay=torch.tensor(1e-4), device="cpu", verbose=False, progress=False)
    assert h.epochs == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lr=True), r"^lr: expected a finite number > 0, got True \(a bool\)\. Fix: "),
        (dict(lr=float("nan")), r"^lr: expected a finite number > 0, got nan\. Fix: "),
        (dict(lr=float("inf")), r"^lr: expected a finite number > 0, got inf\. Fix: "),
        (dict(lr=0), r"^lr: expected a finite number > 0, got 0\. Fix: "),
        (dict(lr="0.1"), r"^lr: expected a finite number > 0, got '0.1' \(a str\)\. Fix: "),
        (dict(lr=torch.tensor([0.1, 0.2])), r"^lr: expected a finite number > 0, got tensor"),
        (dict(momentum=-0.5), r"^momentum: expected a finite number >= 0, got -0.5\. Fix: "),
        (dict(momentum=float("nan")), r"^momentum: expected a finite number >= 0, got nan\. Fix: "),
        (dict(weight_decay=-1e-4), r"^weight_decay: expected a finite number >= 0, got -0.0001\. Fix: "),
        (dict(label_smoothing=1.0), r"^label_smoothing: expected a finite number >= 0 and < 1, got 1.0\. Fix: "),
        (dict(label_smoothing=-0.1), r"^label_smoothing: expected a finite number >= 0 and < 1, got -0.1\. Fix: "),
        (dict(device="gpu"), r"^device: expected a device such as 'cpu', 'cuda'.*got 'gpu'\. Fix: device='cuda'"),
    ],
)
def test_fit_refuses_bad_numbers_and_devices(kwargs: dict, match: str) -> None:
    X, y = blobs(8)
    args = dict(epochs=1, lr=0.1, device="cpu") | kwargs
    with pytest.raises(cl.validate.ConvlibInputError, match=match):
        cl.fit(nn.Linear(4, 2), batches(X, y, 4), verbose=False, progress=False, **args)


def test_model_must_be_a_module() -> None:
    X, y = blobs(8)
    for call in (lambda m: cl.fit(m, batches(X, y, 4), epochs=1, lr=0.1, device="cpu", verbose=False, progress=False),
                 lambda m: cl.evaluate(m, batches(X, y, 4)), lambda m: cl.predict(m, X)):
        with pytest.raises(TypeError, match=r"^model: expected a torch.nn.Module, got function\. Fix: "):
            call(lambda x: x)
    with pytest.raises(cl.validate.ConvlibInputError, match="^device: "):
        cl.evaluate(nn.Linear(4, 2), batches(X, y, 4), device="gpu")


def test_predict_explains_one_image_and_uint8() -> None:
    """One image (C, H, W) and uint8 pixels failed deep inside the model; predict and evaluate say what to pass."""
    torch.manual_seed(0)
    model, X = tiny_cnn(), torch.randn(4, 1, 8, 8)
    with pytest.raises(cl.validate.ConvlibInputError,
                       match=r"^X: expected a float batch \(N, C, H, W\), got 3-D shape \(1, 8, 8\).*Fix: .*X\[None\]"):
        cl.predict(model, X[0])
    assert cl.predict(model, X[0][None]).shape == (1,)
    pixels = (X * 50 + 128).clamp(0, 255).to(torch.uint8)
    with pytest.raises(TypeError, match=r"^X: expected a floating-point tensor, got dtype torch.uint8\. Fix: X\.float\(\).* / 255"):
        cl.predict(model, pixels)
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"^data's X: expected a floating-point tensor, got dtype torch.uint8"):
        cl.evaluate(model, [(pixels, y)])
    with pytest.raises(cl.validate.ConvlibInputError, match=r"^data's X: expected a float batch .*Fix: .*X\[None\]"):
        cl.evaluate(model, [(X[0], y[:1])])


def test_a_device_the_machine_lacks_is_refused_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    """device='cuda' on a machine without CUDA failed deep in torch ("Found no NVIDIA driver")."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    X, y = torch.randn(4, 2), torch.tensor([0, 1, 0, 1])
    for call in (
        lambda: T.evaluate(nn.Linear(2, 2), [(X, y)], device="cuda"),
        lambda: T.predict(nn.Linear(2, 2), X, "cuda:0"),
        lambda: T.fit(nn.Linear(2, 2), [(X, y)], epochs=1, lr=0.1, device="cuda", verbose=False, progress=False),
    ):
        with pytest.raises(cl.ConvlibInputError, match=r"got 'cuda(:0)?', but it has no CUDA GPU.*device='cpu'"):
            call()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(cl.ConvlibInputError, match=r"got 'cuda:1', but it has 1 CUDA GPU\(s\), cuda:0 to cuda:0"):
        T.select_device("cuda:1")


def test_a_batch_of_another_float_dtype_than_the_model_names_the_cast() -> None:
    """float64 images into a float32 model failed inside the first layer
    ("Input type (double) and bias type (float) should be the same")."""
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 2))
    X, y = torch.randn(4, 1, 3, 3, dtype=torch.float64), torch.tensor([0, 1, 0, 1])
    with pytest.raises(cl.ConvlibInputError, match=r"X: expected dtype torch.float32 .* got torch.float64\. Fix: X\.float\(\)"):
        T.predict(model, X, "cpu")
    with pytest.raises(cl.ConvlibInputError, match=r"data's X: expected dtype torch.float32 .*Fix: X\.float\(\)"):
        T.evaluate(model, [(X, y)], device="cpu")
    with pytest.raises(cl.ConvlibInputError, match=r"train_data's X: expected dtype torch.float32"):
        T.fit(model, [(X, y)], epochs=1, lr=0.1, device="cpu", verbose=False, progress=False)
    assert T.predict(model.double(), X, "cpu").shape == (4,)  # matching dtypes work


def test_predict_on_batches_and_non_tensor_labels_say_what_to_do() -> None:
    X, y = torch.randn(6, 2), torch.tensor([0, 1, 0, 1, 1, 0])
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    with pytest.raises(TypeError, match=r"got DataLoader\. Fix: .*torch\.cat\(\[predict\(model, X\) for X, _ in data\]\)"):
        T.predict(nn.Linear(2, 2), loader)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got list\. Fix: torch\.stack\(images\) .*torch\.as_tensor\(X, dtype=torch\.float32\)"):
        T.predict(nn.Linear(2, 2), [[1.0, 2.0]])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"data: expected each batch's y to be a tensor, got list"):
        T.evaluate(nn.Linear(2, 2), [(X, y.tolist())], device="cpu")
