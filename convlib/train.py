"""Training utilities every chapter from LeNet on uses: ``fit``, ``evaluate``, ``predict``.

``fit`` is the classic loop, written once and tested: for each epoch, for each
mini-batch ``(X, y)``, compute the loss, zero the gradients, backpropagate and
take an optimizer step; then measure the test set. It returns a
:class:`History` of per-epoch numbers that :func:`convlib.plot.history` draws.

Data are any iterables of ``(X, y)`` batches with ``len()``:
:class:`convlib.data.Batches` or a ``torch.utils.data.DataLoader``.
``X`` is ``(B, C, H, W)`` (any shape the model takes), ``y`` int64 ``(B,)``.

Progress bars come from ``tqdm.auto``: a widget bar in a Jupyter or Colab
notebook, a text bar in a terminal, each removed when its epoch ends
(``leave=False``); ``verbose`` prints one line per epoch that stays. Where no
one watches, the bars are off: in a notebook executed by a program (the book
build, ``nbmake``, ``nbconvert``, ``papermill``: nbclient would store every
bar's widget state and the book would embed it in the page, as invisible
kilobytes) and when stderr is not a terminal (CI logs, where text bars leave a
trail of carriage-return frames). ``CONVLIB_PROGRESS=1`` (or ``0``) forces the
bars on (or off).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sized

import torch
from torch import nn

from convlib.validate import ConvlibInputError, check_float, check_int, check_optional_int, check_real

__all__ = ["History", "fit", "evaluate", "evaluation_mode", "predict", "select_device", "seed"]

Batch = tuple[torch.Tensor, torch.Tensor]
OPTIMIZERS = ("sgd", "adam", "adamw")


def _check_max_batches(max_batches: object) -> int | None:
    """``max_batches`` as fit and evaluate take it: ``None`` (every batch) or a whole number >= 1."""
    return check_optional_int(max_batches, "max_batches", none="every batch",
                              fix="max_batches=None for every batch, or e.g. max_batches=10 for a quick run")


# ----------------------------------------------------------------- devices


def _as_device(device: str | torch.device) -> torch.device:
    """``torch.device(device)``, with a message that names the usual choices when torch refuses it,
    or when the machine lacks it (``'cuda'`` without a GPU)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as error:  # torch: "Expected one of cpu, cuda, ... at start of device string: gpu"
        raise ConvlibInputError(
            f"device: expected a device such as 'cpu', 'cuda', 'cuda:0' or 'mps', or None (the best available), "
            f"got {device!r}. Fix: device='cuda' for an NVIDIA GPU, device='cpu', or leave it out."
        ) from error
    _check_available(dev)
    return dev


def _check_available(dev: torch.device) -> None:
    """Refuse a CUDA or MPS device this machine lacks, before torch fails deep inside ``.to()``
    (``Found no NVIDIA driver on your system``), naming the fix."""
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            have = "no CUDA GPU" if count == 0 else f"{count} CUDA GPU(s), cuda:0 to cuda:{count - 1}"
            raise ConvlibInputError(
                f"device: expected a device this machine has, got {str(dev)!r}, but it has {have}. "
                "Fix: leave device out (the best available is chosen) or pass device='cpu'; "
                "on Colab, Runtime > Change runtime type > GPU."
            )
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConvlibInputError(
                f"device: expected a device this machine has, got 'mps', but MPS (Apple GPUs) is not available. "
                "Fix: leave device out (the best available is chosen) or pass device='cpu'."
            )


def _model_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """``device`` as a torch.device, or the device of ``model``'s first parameter (the CPU if it has none)."""
    if device is not None:
        return _as_device(device)
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def _check_model(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model: expected a torch.nn.Module, got {type(model).__name__}. "
            "Fix: wrap the computation in an nn.Module (e.g. nn.Sequential(...)), whose parameters can be trained."
        )


def select_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on: ``prefer`` if given, else CUDA, then MPS, then CPU.

    >>> select_device("cpu")
    device(type='cpu')
    """
    if prefer is not None:
        return _as_device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed(n: int) -> None:
    """Seed Python's ``random``, NumPy and torch so a CPU run repeats its numbers exactly.

    Also asks cuDNN for deterministic kernels (cheap). :class:`convlib.data.Batches`
    does not read this seed: it shuffles with its own generator, seeded by its
    ``seed=`` argument (default 0), so a newly made ``Batches`` repeats its order;
    pass another ``seed=`` to change it.

    >>> seed(0); a = torch.rand(2)
    >>> seed(0); torch.equal(a, torch.rand(2))
    True
    """
    n = check_int(n, "seed", expected="an int such as 0", fix="seed(0)", error=TypeError)
    random.seed(n)
    torch.manual_seed(n)  # seeds CPU and every CUDA device
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with the course
        pass
    else:
        np.random.seed(n % 2**32)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":  # pragma: no cover - no MPS on the course machines
        torch.mps.synchronize()


# ----------------------------------------------------------------- history


@dataclass
class History:
    """Per-epoch numbers of one :func:`fit` run.

    ``train_loss``/``train_acc``: mean loss and accuracy over each epoch's
    training batches (measured on the fly, in training mode; the loss is the one
    minimised: smoothed with ``label_smoothing``, or ``fit``'s ``loss_fn``).
    ``test_loss``/``test_acc``: after each epoch, in evaluation mode (empty
    without test data), as :func:`evaluate` measures them by default: the test
    loss is always plain cross-entropy, so it compares across every run.
    ``seconds``: training time of each epoch, evaluation excluded.

    >>> h = History([0.9, 0.5], [0.6, 0.8], [0.7, 0.6], [0.7, 0.75],
    ...             [2.0, 3.0], "cpu")
    >>> h  # doctest: +NORMALIZE_WHITESPACE
    History(2 epochs on cpu: train loss 0.500, train acc 0.800, test acc 0.750,
            2.5 s/epoch)
    >>> h.final()["test_acc"], h.total_seconds
    (0.75, 5.0)
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    device: str = "cpu"

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    @property
    def total_seconds(self) -> float:
        """Training seconds over all epochs (evaluation excluded)."""
        return float(sum(self.seconds))

    def final(self) -> dict[str, Any]:
        """The last epoch's numbers, plus the mean seconds per epoch."""
        def last(values: list[float]) -> float | None:
            return values[-1] if values else None

        return {
            "epochs": self.epochs,
            "train_loss": last(self.train_loss),
            "train_acc": last(self.train_acc),
            "test_loss": last(self.test_loss),
            "test_acc": last(self.test_acc),
            "seconds_per_epoch": self.total_seconds / self.epochs if self.epochs else None,
            "device": self.device,
        }

    def _summary(self) -> tuple[str, list[str]]:
        """``"2 epochs on cpu"`` and the last epoch's figures, as :meth:`__repr__` lists them."""
        f = self.final()
        unit = "epoch" if self.epochs == 1 else "epochs"
        if not self.epochs:
            return f"0 epochs on {self.device}", []
        parts = [f"train loss {f['train_loss']:.3f}", f"train acc {f['train_acc']:.3f}"]
        if f["test_acc"] is not None:
            parts.append(f"test acc {f['test_acc']:.3f}")
        parts.append(f"{f['seconds_per_epoch']:.1f} s/epoch")
        return f"{self.epochs} {unit} on {self.device}", parts

    def __repr__(self) -> str:
        head, parts = self._summary()
        return f"History({head}: {', '.join(parts)})" if parts else f"History({head})"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """What a notebook shows: :meth:`__repr__`, its figures folded onto a second line
        where it is wider than IPython's width (79 characters, about a page's), as a
        3-digit epoch count or a ``cuda:0`` device make it."""
        head, parts = self._summary()
        line = f"History({head}" + (":" if parts else "")
        indent = len("History(")
        for n, part in enumerate(parts):
            part += "," if n < len(parts) - 1 else ")"
            if len(line) + 1 + len(part) > p.max_width:
                p.text(line)
                p.break_()
                line = " " * indent + part
            else:
                line += " " + part
        p.text(line if parts else line + ")")


# ------------------------------------------------------------- evaluation


def _check_data(data: object, name: str) -> None:
    if not isinstance(data, Iterable) or not isinstance(data, Sized):
        raise TypeError(
            f"{name}: expected an iterable of (X, y) batches with len() (convlib.data.Batches "
            f"or a torch DataLoader), got {type(data).__name__}. "
            "Fix: cl.data.load_fashion_mnist(...) returns such batches, or wrap tensors "
            "in torch.utils.data.DataLoader(TensorDataset(X, y), batch_size=...)."
        )
    if len(data) == 0:
        raise ValueError(f"{name}: expected at least one batch, got an empty iterable.")


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in evaluation mode inside the ``with`` block; afterwards every
    submodule is back in the mode it had, not only the model itself.

    ``model.train(was_training)`` would set every submodule alike, and so undo
    a deliberate mix (a BatchNorm frozen with ``.eval()`` inside a model that trains).

    >>> net = nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2).eval())
    >>> with evaluation_mode(net):
    ...     net.training
    False
    >>> [m.training for m in net.modules()]
    [True, True, False]
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def _unpack(batch: object, name: str) -> Batch:
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"{name}: expected each batch to be a pair (X, y), got {type(batch).__name__}. "
            "Fix: yield (images, labels) pairs."
        )
    for part, value in (("X", batch[0]), ("y", batch[1])):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"{name}: expected each batch's {part} to be a tensor, got {type(value).__name__}. "
                f"Fix: torch.as_tensor({part}"
                + (", dtype=torch.float32)" if part == "X" else ") (labels: int64 class indices)")
                + ", or a torch DataLoader, which makes tensors."
            )
    return batch[0], batch[1]


def _param_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of ``model``'s first floating-point parameter (None if it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def _check_dtype(X: torch.Tensor, dtype: torch.dtype | None, name: str) -> None:
    """Refuse a float ``X`` of another dtype than the model's weights, which torch reports from deep
    inside the first layer (``Input type (double) and bias type (float) should be the same``)."""
    if dtype is not None and X.is_floating_point() and X.dtype != dtype:
        cast = {torch.float32: ".float()", torch.float64: ".double()", torch.float16: ".half()",
                torch.bfloat16: ".bfloat16()"}.get(dtype, f".to({dtype})")
        raise ConvlibInputError(
            f"{name}: expected dtype {dtype} (that of the model's weights), got {X.dtype}. "
            f"Fix: {name.split()[-1]}{cast} (or convert the model to {X.dtype})."
        )


def _accuracy_count(logits: torch.Tensor, y: torch.Tensor) -> int:
    return int((logits.argmax(dim=1) == y).sum())


def _forward(model: nn.Module, X: torch.Tensor, name: str) -> torch.Tensor:
    """``model(X)``; when that fails on a 3-D ``X``, which is one image ``(C, H, W)`` rather than a batch,
    an error that says so (the model's own error, from deep inside, is chained)."""
    try:
        return model(X)
    except (RuntimeError, ValueError) as error:
        if X.ndim != 3:
            raise
        raise ConvlibInputError(
            f"{name}: expected a float batch (N, C, H, W), got 3-D shape {tuple(X.shape)}, on which the model "
            f"failed ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            f"Fix: for one image (C, H, W) pass {name.split()[-1]}[None], a batch of one: (1, C, H, W)."
        ) from error


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Iterable[Batch],
    *,
    device: str | torch.device | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    max_batches: int | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``data``, in evaluation mode.

    ``loss_fn(logits, y)`` must return the batch's *mean* loss (default:
    cross-entropy); the result weights batches by their size. ``max_batches``
    (an int >= 1) stops after that many batches. The model's and every
    submodule's training/evaluation mode is restored afterwards (:func:`evaluation_mode`).

    >>> model = nn.Linear(2, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.eye(2)); _ = model.bias.zero_()
    >>> X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> y = torch.tensor([0, 1, 1])
    >>> loss, acc = evaluate(model, [(X, y)], device="cpu")
    >>> round(acc, 3)
    0.667
    """
    _check_data(data, "data")
    _check_model(model)
    dev = _model_device(model, device)
    max_batches = _check_max_batches(max_batches)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    total_loss, correct, count = 0.0, 0, 0
    dtype = _param_dtype(model)
    with evaluation_mode(model.to(dev)):
        for i, batch in enumerate(data):
            if max_batches is not None and i >= max_batches:
                break
            X, y = _unpack(batch, "data")
            check_float(X, "data's X")
            _check_dtype(X, dtype, "data's X")
            X, y = X.to(dev), y.to(dev)
            logits = _forward(model, X, "data's X")  # (B, num_classes)
            total_loss += float(loss_fn(logits, y)) * len(y)
            correct += _accuracy_count(logits, y)
            count += len(y)
    if count == 0:
        raise ValueError("data: expected at least one example, got only empty batches. "
                         "Fix: check the data set and its batch size.")
    return total_loss / count, correct / count


@torch.no_grad()
def predict(
    model: nn.Module, X: torch.Tensor, device: str | torch.device | None = None, *, batch_size: int = 1024
) -> torch.Tensor:
    """Predicted labels ``(N,)`` (int64, on the CPU) for a batch ``X (N, C, H, W)``.

    Runs in evaluation mode (dropout off, BatchNorm on its running statistics)
    in chunks of ``batch_size``; every submodule's mode is restored afterwards.

    >>> model = nn.Linear(3, 3)
    >>> predict(model, torch.zeros(5, 3), "cpu").shape
    torch.Size([5])
    """
    if not isinstance(X, torch.Tensor):
        if isinstance(X, (list, tuple)):
            fix = "torch.stack(images) for a list of image tensors, torch.as_tensor(X, dtype=torch.float32) for numbers."
        elif isinstance(X, Iterable) and not isinstance(X, (str, bytes)):  # a DataLoader or Batches
            fix = "for batches of (X, y), torch.cat([predict(model, X) for X, _ in data])."
        else:
            fix = "torch.as_tensor(X, dtype=torch.float32)."
        raise TypeError(f"X: expected a tensor batch (N, C, H, W), got {type(X).__name__}. Fix: {fix}")
    check_float(X, "X")
    _check_model(model)
    _check_dtype(X, _param_dtype(model), "X")
    dev = _model_device(model, device)
    batch_size = check_int(batch_size, "batch_size", minimum=1, fix="e.g. batch_size=256")
    with evaluation_mode(model.to(dev)):
        labels = [_forward(model, X[i : i + batch_size].to(dev), "X").argmax(dim=1).cpu()
                  for i in range(0, len(X), batch_size)]
    return torch.cat(labels) if labels else torch.empty(0, dtype=torch.int64)


# ----------------------------------------------------------------- training


def _make_optimizer(
    optimizer: str | Callable[..., torch.optim.Optimizer],
    params: list[nn.Parameter],
    lr: float,
    momentum: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        if name == "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        if name == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        raise ValueError(
            f"optimizer: expected one of {OPTIMIZERS} or a callable, got {optimizer!r}. "
            "Fix: optimizer='sgd' (with momentum=0.9 for momentum SGD) or optimizer='adam'."
        )
    if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
        return optimizer(params, lr=lr, weight_decay=weight_decay)
    if callable(optimizer):
        opt = optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(
                f"optimizer: the callable must return a torch.optim.Optimizer, got {type(opt).__name__}. "
                "Fix: optimizer=lambda params: torch.optim.SGD(params, lr=0.1)."
            )
        return opt
    raise TypeError(f"optimizer: expected a name such as 'sgd' or a callable, got {type(optimizer).__name__}.")


def _show_progress(progress: bool) -> bool:
    """Bars in a notebook kernel (widgets, closed after each epoch) or a terminal; never in CI logs."""
    forced = os.environ.get("CONVLIB_PROGRESS", "").strip().lower()
    if forced in {"0", "1", "true", "false", "yes", "no", "on", "off"}:
        return progress and forced in {"1", "true", "yes", "on"}
    if not progress:
        return False
    if "ipykernel" in sys.modules:
        return not _run_by_a_program()
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


# Programs that execute notebooks with no one watching: their kernels' parent process.
_EXECUTORS = frozenset({
    "jupyter-book", "jb", "sphinx-build", "pytest", "py.test", "jupyter-nbconvert", "jupyter-execute",
    "papermill", "jcache",
})


def _run_by_a_program(cmdline: bytes | None = None) -> bool:
    """True when this kernel was started by a book build, nbmake, nbconvert or papermill.

    Their widget bars would never be seen, yet nbclient stores every bar's widget
    state in the executed notebook and the book embeds it in the page.
    ``cmdline`` (for tests) is the parent's ``/proc/<pid>/cmdline``.

    >>> _run_by_a_program(
    ...     b"/venv/bin/python\\0/venv/bin/jupyter-book\\0build\\0.")
    True
    >>> _run_by_a_program(b"/venv/bin/python\\0/venv/bin/jupyter-lab")
    False
    """
    if cmdline is None:
        try:
            cmdline = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
        except OSError:  # not Linux, or no access: assume a person is watching
            return False
    args = [a.decode(errors="replace") for a in cmdline.split(b"\0") if a]
    return any(
        Path(a).name.lower() in _EXECUTORS or any(k in a.lower() for k in ("nbclient", "nbmake", "papermill"))
        for a in args[:3]
    )


def fit(
    model: nn.Module,
    train_data: Iterable[Batch],
    test_data: Iterable[Batch] | None = None,
    *,
    epochs: int,
    lr: float,
    optimizer: str | Callable[..., torch.optim.Optimizer] = "sgd",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    scheduler: str | None = None,
    label_smoothing: float = 0.0,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_batches: int | None = None,
    verbose: bool = True,
) -> History:
    """Train ``model`` on ``train_data`` for ``epochs`` epochs; return a :class:`History`.

    Each step: ``logits = model(X)`` ``(B, num_classes)``, ``loss = loss_fn(logits, y)``,
    ``zero_grad``, ``backward``, ``step``. ``zero_grad`` clears the gradients
    (``backward`` adds into them), never the learned parameters.

    * ``optimizer``: ``"sgd"`` (with ``momentum``), ``"adam"``, ``"adamw"``; a
      ``torch.optim.Optimizer`` class (given ``lr`` and ``weight_decay``); or a
      callable ``f(params) -> Optimizer``.
    * ``scheduler``: ``None`` (constant ``lr``) or ``"onecycle"`` (``lr`` is the
      peak of a one-cycle schedule stepped every batch; as PyTorch's ``OneCycleLR``
      does by default, it also cycles SGD's momentum, or Adam's first beta, from
      0.95 down to 0.85 at the peak and back, overriding ``momentum``).
    * ``loss_fn``: default cross-entropy with ``label_smoothing``; a custom one
      must return the batch's mean loss (give ``label_smoothing`` to it, not here).
      It is what training minimises and ``History.train_loss`` reports. The test
      loss (``History.test_loss``) is always plain cross-entropy, the number
      ``evaluate(model, test_data)`` returns, whatever the training loss: so test
      curves compare across runs with and without label smoothing or a loss of
      one's own, and ``label_smoothing=0.1`` and
      ``loss_fn=nn.CrossEntropyLoss(label_smoothing=0.1)`` report the same test
      loss. For the test loss in a custom loss, call
      ``evaluate(model, test_data, loss_fn=loss_fn)``.
    * ``device``: default :func:`~convlib.train.select_device` (CUDA, then MPS, then CPU);
      ``verbose`` prints it once and a line per epoch.
    * ``max_batches``: stop each training epoch (and each test pass) after
      this many batches: for quick runs.

    Training mode: a model already in training mode trains as it is, so a
    submodule deliberately put in evaluation mode (a BatchNorm frozen with
    ``.eval()``) stays so; a model in evaluation mode gets ``model.train()``
    (every submodule trains). After ``fit`` the modes are those it trained with
    (the test passes run in :func:`evaluation_mode`, which restores them).

    An empty training batch raises ``ValueError`` before its step (the mean
    loss over no examples is nan).

    >>> seed(0)
    >>> X, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    >>> h = fit(nn.Linear(2, 2), [(X[:32], y[:32]), (X[32:], y[32:])],
    ...         epochs=2, lr=0.1, device="cpu", verbose=False, progress=False)
    >>> h.epochs, len(h.seconds), h.test_acc
    (2, 2, [])
    """
    _check_model(model)
    _check_data(train_data, "train_data")
    if test_data is not None:
        _check_data(test_data, "test_data")
    epochs = check_int(epochs, "epochs", minimum=1, fix="e.g. epochs=10")
    lr = check_real(lr, "lr", above=0, fix="a learning rate such as lr=0.1")
    momentum = check_real(momentum, "momentum", minimum=0, fix="momentum=0 (plain SGD) or e.g. momentum=0.9")
    weight_decay = check_real(weight_decay, "weight_decay", minimum=0, fix="weight_decay=0 (none) or e.g. 5e-4")
    label_smoothing = check_real(label_smoothing, "label_smoothing", minimum=0, below=1,
                                 fix="label_smoothing=0 (none) or e.g. 0.1")
    max_batches = _check_max_batches(max_batches)
    if loss_fn is not None and label_smoothing:
        raise ValueError(
            "label_smoothing: expected 0 with a custom loss_fn, got "
            f"{label_smoothing}. Fix: nn.CrossEntropyLoss(label_smoothing=...) as loss_fn."
        )
    if scheduler not in (None, "onecycle"):
        raise ValueError(f"scheduler: expected None or 'onecycle', got {scheduler!r}.")

    dev = select_device(device)
    if verbose:
        print(f"training on {dev}")
    model.to(dev)
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = _make_optimizer(optimizer, params, lr, momentum, weight_decay)
    steps = len(train_data) if max_batches is None else min(len(train_data), max_batches)
    sched = (
        torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
        if scheduler == "onecycle"
        else None
    )
    bars = _show_progress(progress)
    if bars:
        from tqdm.auto import tqdm

    history = History(device=str(dev))
    dtype = _param_dtype(model)
    if not model.training:  # a model in training mode keeps its submodules' modes (a frozen BatchNorm stays frozen)
        model.train()
    for epoch in range(epochs):
        total_loss, correct, count = 0.0, 0, 0
        batches: Iterable[Any] = train_data
        bar = None
        if bars:
            bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", leave=False, unit="batch")
        _sync(dev)
        start = time.perf_counter()
        for i, batch in enumerate(batches):
            if i >= steps:
                break
            X, y = _unpack(batch, "train_data")
            _check_dtype(X, dtype, "train_data's X")
            if len(y) == 0:  # its mean loss is nan: refuse before a step spoils the weights
                none_yet = count == 0 and not history.train_loss
                raise ValueError(
                    f"train_data: expected at least one example in every batch, got an empty batch "
                    f"(batch {i + 1} of epoch {epoch + 1})"
                    + (": the training data gave no examples" if none_yet else "")
                    + ". Fix: check the data set (is it empty?) and its batch size."
                )
            X, y = X.to(dev), y.to(dev)
            logits = model(X)  # (B, num_classes)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            with torch.no_grad():
                total_loss += float(loss) * len(y)
                correct += _accuracy_count(logits, y)
                count += len(y)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{total_loss / count:.3f}", refresh=False)
        _sync(dev)
        history.seconds.append(time.perf_counter() - start)
        if bar is not None:
            bar.close()
        if not math.isfinite(total_loss):
            raise FloatingPointError(
                f"fit: the training loss became {total_loss / count} in epoch {epoch + 1}: the run "
                f"diverged. Fix: a smaller lr (now {lr})."
            )
        history.train_loss.append(total_loss / count)
        history.train_acc.append(correct / count)
        line = (f"epoch {epoch + 1:2d}/{epochs}: train loss {history.train_loss[-1]:.3f}, "
                f"train acc {history.train_acc[-1]:.3f}")
        if test_data is not None:
            # plain cross-entropy, whatever loss trains (see the docstring): comparable test curves
            test_loss, test_acc = evaluate(model, test_data, device=dev, max_batches=max_batches)
            history.test_loss.append(test_loss)
            history.test_acc.append(test_acc)
            line += f", test loss {test_loss:.3f}, test acc {test_acc:.3f}"
        if verbose:
            print(f"{line}, {history.seconds[-1]:.1f} s")
    return history
