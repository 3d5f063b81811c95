"""Input checks shared by every op, with messages that say what was expected,
what came, and how to fix it.

All functions raise :class:`ConvlibInputError` (a ``ValueError``) or
``TypeError`` and return normalised values on success.
"""

from __future__ import annotations

import argparse
import math
import numbers
import operator
from typing import Sequence

import torch

__all__ = [
    "ConvlibInputError",
    "as_pair",
    "check_int",
    "check_optional_int",
    "check_ints",
    "check_bool",
    "check_seed",
    "nonempty",
    "as_tensor_2d",
    "as_tensor_pair",
    "INTEGER_DTYPES",
    "check_float",
    "integer_kernels",
    "check_real",
    "check_pixels",
    "check_batch",
    "check_fits",
    "check_weight_and_bias",
    "check_bias",
    "check_groups",
    "resolve_padding",
    "symmetric_padding",
]

IntPair = tuple[int, int]

#: The integer dtypes the ops take besides floating point, as torch's CPU kernels do
#: (pooling in :func:`convlib.pool2d`, exact integer convolutions in :func:`convlib.conv2d`).
INTEGER_DTYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


class ConvlibInputError(ValueError):
    """Bad input to a convlib op; the message says expected / got / fix."""


def _fail(what: str, expected: str, got: str, fix: str) -> ConvlibInputError:
    return ConvlibInputError(f"{what}: expected {expected}, got {got}. Fix: {fix}")


def _as_index(value: object) -> int | None:
    """``value`` as a plain int when it is a whole number, else ``None``.

    Whole numbers are what ``operator.index`` takes: ``int``, NumPy integers,
    integer tensors of one element, any object with ``__index__``. Never a bool
    (``True`` is not a size), nor a bool tensor.
    """
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except (TypeError, RuntimeError):  # RuntimeError: a tensor on the meta device has no value to read
        return None


def _got(value: object) -> str:
    """How a message shows a value that came: its repr, with its type when that is not a whole number.

    >>> _got(2), _got(2.5), _got(True)
    ('2', '2.5 (a float)', 'True (a bool)')
    """
    if _as_index(value) is not None:  # an out-of-range number: its repr says enough (np.int64(0))
        return repr(value)
    kind = type(value).__name__
    return f"{value!r} ({'an' if kind[:1] in 'aeiou' else 'a'} {kind})"


def check_int(
    value: object,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    expected: str | None = None,
    fix: str | None = None,
    error: type[Exception] = ConvlibInputError,
) -> int:
    """``value`` as a plain int when it is a whole number from ``minimum`` to ``maximum``; else ``error``.

    A whole number is an ``int``, a NumPy integer (``np.int64(3)``) or anything
    else with ``__index__``, as PyTorch takes them; a bool never is. The message
    says what was expected (``expected`` replaces the default wording, e.g.
    ``"an int >= 1"``), what came (with its type when it is not an int) and
    ``fix`` (default: a value in range). ``error`` is the exception class to
    raise (``ConvlibInputError``, a ``ValueError``, unless a caller's contract
    says otherwise, such as a widget's ``TraitError``).

    >>> check_int(3, "epochs", minimum=1)
    3
    >>> import numpy as np; check_int(np.int64(2), "stride", minimum=1)
    2
    >>> check_int(True, "epochs", minimum=1)
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: epochs: expected an int >= 1, got True (a bool). Fix: pass a whole number, e.g. epochs=1
    """
    n = _as_index(value)
    if n is not None and (minimum is None or n >= minimum) and (maximum is None or n <= maximum):
        return n
    if expected is None:
        if minimum is not None and maximum is not None:
            expected = f"an int from {minimum} to {maximum}"
        elif minimum is not None:
            expected = f"an int >= {minimum}"
        elif maximum is not None:
            expected = f"an int <= {maximum}"
        else:
            expected = "an int"
    if fix is None:
        example = minimum if minimum is not None else maximum if maximum is not None else 0
        if n is None:
            fix = f"pass a whole number, e.g. {name}={example}"
        elif minimum is not None and n < minimum:
            fix = f"use {name}={minimum} or larger" if maximum is None else f"pick {name} from {minimum} to {maximum}"
        else:
            fix = f"use {name}={maximum} or smaller" if minimum is None else f"pick {name} from {minimum} to {maximum}"
    raise error(f"{name}: expected {expected}, got {_got(value)}. Fix: {fix}")


def check_optional_int(
    value: object, name: str, *, none: str, minimum: int = 1, fix: str | None = None,
    error: type[Exception] = ConvlibInputError,
) -> int | None:
    """``None`` when ``value`` is None (``none`` says what None means), else :func:`check_int`'s int ``>= minimum``.

    >>> check_optional_int(None, "limit", none="every example") is None
    True
    >>> check_optional_int(0, "limit", none="every example")
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: limit: expected None (every example) or an int >= 1, got 0. Fix: use limit=1 or larger
    """
    if value is None:
        return None
    return check_int(value, name, minimum=minimum, expected=f"None ({none}) or an int >= {minimum}", fix=fix,
                     error=error)


def check_ints(
    values: object, name: str, *, minimum: int = 1, length: int | None = None, expected: str | None = None,
    fix: str,
) -> tuple[int, ...]:
    """``values`` (a list, tuple, array...) as a tuple of plain ints, each a whole number ``>= minimum``
    (see :func:`check_int`); ``length`` of them when given, else at least one.

    >>> check_ints([32, 64], "widths", fix="widths=(32, 64)")
    (32, 64)
    >>> check_ints((8, True), "widths", fix="widths=(8, 16)")
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: widths: expected a non-empty sequence of ints >= 1, got (8, True), which holds True (a bool). Fix: widths=(8, 16)
    """
    if expected is None:
        count = "a non-empty sequence" if length is None else f"{length} values, a sequence"
        expected = f"{count} of ints >= {minimum}"
    try:
        seq = [] if isinstance(values, (str, bytes)) else list(values)  # type: ignore[call-overload]
    except TypeError:
        seq = []
    if not seq and not (isinstance(values, Sequence) and not isinstance(values, (str, bytes))):
        raise ConvlibInputError(f"{name}: expected {expected}, got {_got(values)}. Fix: {fix}")
    items = [_as_index(v) for v in seq]
    bad = [v for v, i in zip(seq, items) if i is None or i < minimum]
    if bad or (len(seq) != length if length is not None else not seq):
        which = f", which holds {_got(bad[0])}" if bad else ""
        raise ConvlibInputError(f"{name}: expected {expected}, got {values!r}{which}. Fix: {fix}")
    return tuple(items)  # type: ignore[arg-type]


def check_bool(value: object, name: str, *, error: type[Exception] = TypeError) -> bool:
    """``value`` when it is ``True`` or ``False``; else a ``TypeError`` (or ``error``, as in
    :func:`check_int`), as torch's pooling raises for ``ceil_mode="yes"`` or ``ceil_mode=1``.

    >>> check_bool(True, "ceil_mode")
    True
    >>> check_bool("yes", "ceil_mode")
    Traceback (most recent call last):
    ...
    TypeError: ceil_mode: expected True or False, got 'yes' (a str). Fix: ceil_mode=True or ceil_mode=False
    """
    if isinstance(value, bool):
        return value
    raise error(f"{name}: expected True or False, got {_got(value)}. Fix: {name}=True or {name}=False")


def positive_int_arg(text: str) -> int:
    """argparse type: an int >= 1 (argparse turns the error into a usage message and exit code 2).

    Shared by the command lines (``python -m convlib.bench``, ``python -m convlib.cifar``);
    not in ``__all__``: it is plumbing, not an op.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}")
    return value


def positive_float_arg(text: str) -> float:
    """argparse type: a finite number > 0, such as a learning rate (``nan``, ``inf``, 0 and below give
    a usage message and exit code 2)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def check_real(
    value: object,
    name: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    below: float | None = None,
    fix: str,
) -> float:
    """``value`` as a Python float when it is a finite real number in range; else ``ConvlibInputError``.

    A real number is an ``int``, a ``float``, a NumPy scalar (``np.float32(0.1)``) or a
    one-element tensor (``torch.tensor(0.1)``); never a bool (``True`` is not a rate),
    nor NaN or infinity. The range: ``>= minimum``, ``> above``, ``< below`` (each when given).

    >>> check_real(0.1, "lr", above=0, fix="e.g. lr=0.1")
    0.1
    >>> check_real(True, "lr", above=0, fix="e.g. lr=0.1")
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: lr: expected a finite number > 0, got True (a bool). Fix: e.g. lr=0.1
    """
    parts = [f">= {minimum}" if minimum is not None else "", f"> {above}" if above is not None else "",
             f"< {below}" if below is not None else ""]
    expected = "a finite number " + " and ".join(p for p in parts if p) if any(parts) else "a finite number"
    number: float | None = None
    if isinstance(value, torch.Tensor):
        if value.numel() == 1 and value.dtype != torch.bool and not value.is_complex():
            number = float(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
    if number is None:
        raise ConvlibInputError(f"{name}: expected {expected}, got {_got(value)}. Fix: {fix}")
    if not (math.isfinite(number) and (minimum is None or number >= minimum)
            and (above is None or number > above) and (below is None or number < below)):
        raise ConvlibInputError(f"{name}: expected {expected}, got {value!r}. Fix: {fix}")
    return number


def check_seed(value: object, name: str = "seed") -> int:
    """``value`` as a plain int for a random generator's seed (any whole number, not a bool)."""
    return check_int(value, name, expected="an int such as 0", fix=f"e.g. {name}=0")


def as_pair(value: int | Sequence[int], name: str, *, minimum: int = 1, single: bool = True) -> IntPair:
    """Normalise a whole number or a pair of them to ``(h, w)``, each ``>= minimum``.

    Whole numbers as :func:`check_int` takes them (NumPy integers too, never a
    bool). As in ``F.conv2d`` and ``F.max_pool2d``, a 1-tuple ``(3,)`` means
    ``(3, 3)``; ``single=False`` refuses it, for a layer's ``kernel_size``, from
    which ``nn.Conv2d`` would make a 3-D weight that fails at the first call.

    >>> as_pair(3, "kernel_size")
    (3, 3)
    >>> as_pair((1, 2), "kernel_size")
    (1, 2)
    >>> as_pair((2,), "stride")
    (2, 2)
    """
    expected = "an int or a pair of ints such as (3, 3)"
    n = _as_index(value)
    if n is not None:
        pair = (n, n)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        items = [_as_index(v) for v in value]
        if len(value) == 1 and not single:
            raise TypeError(
                f"{name}: expected {expected}, got the 1-tuple {value!r}. Fix: {name}={value[0]!r} or "
                f"{name}=({value[0]!r}, {value[0]!r}) (torch.nn.Conv2d makes a 3-D weight from {value!r}, "
                "which fails at the first call)."
            )
        if len(value) not in (1, 2):
            raise TypeError(
                f"{name}: expected {expected}, got {len(value)} values {value!r}. "
                f"Fix: one value per spatial axis, (height, width)."
            )
        bad = [v for v, i in zip(value, items) if i is None]
        if bad:
            raise TypeError(
                f"{name}: expected {expected}, got {value!r}, which holds {_got(bad[0])}. "
                f"Fix: whole numbers only, e.g. {name}=(3, 3)."
            )
        pair = (items[0], items[-1])  # type: ignore[assignment]
    else:
        raise TypeError(
            f"{name}: expected {expected}, got {_got(value)}. Fix: whole numbers only, e.g. {name}=3 or {name}=(3, 3)."
        )
    if min(pair) < minimum:
        raise _fail(
            name,
            f"values >= {minimum}",
            f"{value!r}",
            f"use {name}={minimum} or larger"
            + (" (0 means no padding)" if minimum == 0 else ""),
        )
    return pair


def resolve_padding(
    padding: int | Sequence[int] | str,
    kernel: Sequence[int],
    *,
    stride: IntPair = (1, 1),
    dilation: IntPair = (1, 1),
) -> tuple[IntPair, IntPair]:
    """Zeros added ``(before, after)`` each axis, as two ``(h, w)`` pairs.

    An int or pair pads both sides alike. ``"valid"`` means no padding;
    ``"same"`` keeps ``H`` and ``W`` at stride 1: a window spanning
    ``d * (k - 1) + 1`` cells needs ``d * (k - 1)`` zeros per axis, and when
    that count is odd the extra zero goes after (bottom, right), as in PyTorch.

    >>> resolve_padding(1, (3, 3))
    ((1, 1), (1, 1))
    >>> resolve_padding("same", (4, 3))   # a 4-tall kernel: 1 zero above, 2 below
    ((1, 1), (2, 1))
    """
    if not isinstance(padding, str):
        pair = as_pair(padding, "padding", minimum=0)
        return pair, pair
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding != "same":
        raise _fail("padding", "an int, a pair of ints, 'same' or 'valid'", repr(padding),
                    "padding='same' keeps the size at stride 1; padding='valid' (or 0) adds none")
    if tuple(stride) != (1, 1):
        raise _fail("padding='same'", "stride 1 (only then does the output keep the input's size)",
                    f"stride {tuple(stride)}",
                    "use stride=1, or give the padding as numbers, e.g. padding=(k - 1) // 2")
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]  # zeros per axis
    before = (total[0] // 2, total[1] // 2)
    return before, (total[0] - before[0], total[1] - before[1])


def symmetric_padding(
    padding: int | Sequence[int] | str,
    kernel: Sequence[int],
    *,
    stride: IntPair = (1, 1),
    dilation: IntPair = (1, 1),
    name: str = "padding",
) -> IntPair:
    """:func:`resolve_padding` for code that needs the same zeros on both sides: one ``(h, w)`` pair.

    >>> symmetric_padding("same", (5, 5), dilation=(2, 2))
    (4, 4)
    """
    before, after = resolve_padding(padding, kernel, stride=stride, dilation=dilation)
    if before != after:
        raise _fail(
            name,
            "the same padding on both sides",
            f"padding={padding!r} with a {kernel[0]}x{kernel[1]} kernel: {before} before, {after} after",
            "use an odd kernel size, where 'same' pads both sides alike",
        )
    return before


def _nested_tensor(x: object, name: str, dtype: torch.dtype | None = None,
                   device: torch.device | None = None) -> torch.Tensor:
    """``x`` itself when it is a tensor, else ``torch.as_tensor(x, dtype=dtype, device=device)``; ragged
    nested lists (rows of different lengths) and things that hold no numbers (``None``, a string)
    get an expected / got / fix message."""
    if isinstance(x, torch.Tensor):
        return x
    expected = "a tensor or a nested list of numbers"
    fix = f"pass numbers, e.g. {name}=[[1.0, 2.0], [3.0, 4.0]] or a torch.tensor"
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(f"{name}: expected {expected}, got {_got(x)}. Fix: {fix}")
    try:
        return torch.as_tensor(x, dtype=dtype, device=device)
    except ValueError as error:  # torch: "expected sequence of length 3 at dim 1 (got 2)"
        raise _fail(name, "a rectangular array (every row as long as the others)", f"ragged nested lists ({error})",
                    "give every row the same number of values") from error
    except (TypeError, RuntimeError) as error:  # torch: "Could not infer dtype of NoneType", "new(): invalid data type"
        raise TypeError(f"{name}: expected {expected}, got {_got(x)}, which torch cannot read as numbers "
                        f"({error}). Fix: {fix}") from error


def _exact_int(t: torch.Tensor) -> bool:
    """Whether ``t`` holds integers (not bools): the dtypes ``F.conv2d`` computes exactly in on the CPU."""
    return not (t.is_floating_point() or t.is_complex() or t.dtype == torch.bool)


def as_tensor_2d(x: object, name: str, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Turn a nested list, NumPy array or tensor into a 2-D tensor ``(H, W)``.

    Without ``dtype`` a tensor keeps its dtype, an integer one too (the
    teaching ops then compute exactly in it, as ``F.conv2d`` does with integer
    tensors), except a bool tensor, which gets the default float dtype; anything
    else keeps a floating dtype and otherwise gets the default one, as
    ``torch.tensor([[0., 1.]])`` gives it, so ``[[0, 1], [2, 3]]`` is a float
    matrix. With ``dtype`` the numbers are read straight into that dtype (Python
    floats into ``torch.float64`` survive exactly, with no float32 rounding on the way).

    >>> as_tensor_2d([[0, 1], [2, 3]], "X").dtype
    torch.float32
    >>> as_tensor_2d(torch.tensor([[0, 1], [2, 3]]), "X").dtype
    torch.int64
    >>> as_tensor_2d([[0.1]], "X", dtype=torch.float64).item()
    0.1
    """
    t = _nested_tensor(x, name, dtype)
    if t.ndim != 2:
        fix = (
            "pass one 2-D matrix; for batches with channels use convlib.conv2d"
            if t.ndim > 2
            else "wrap it as a matrix, e.g. [[1.0, -1.0]]"
        )
        raise _fail(name, "a 2-D matrix (H, W)", f"{t.ndim}-D shape {tuple(t.shape)}", fix)
    if dtype is not None:
        return t.to(dtype)
    return _compute_dtype(t, isinstance(x, torch.Tensor))


def _compute_dtype(t: torch.Tensor, given_as_tensor: bool) -> torch.Tensor:
    """``t`` in the dtype a teaching op computes in: see :func:`as_tensor_pair`."""
    if t.dtype == torch.bool or (not given_as_tensor and _exact_int(t)):
        return t.to(torch.get_default_dtype())
    return t


def as_tensor_pair(X: object, K: object, names: tuple[str, str] = ("X", "K")) -> tuple[torch.Tensor, torch.Tensor]:
    """``X`` and ``K`` (tensors, nested lists, NumPy arrays) as two tensors of one dtype, the one the op computes in.

    The rule of the teaching ops (:func:`convlib.corr2d` and its relatives,
    :func:`convlib.trans_conv_naive`), as ``F.conv2d``'s:

    * a tensor keeps its dtype; an integer tensor too, so the op computes exactly
      in it (``F.conv2d`` does so on the CPU); a bool tensor gets the default float dtype;
    * a nested list or array has no dtype of its own: next to a tensor it is read
      in that tensor's dtype and on its device; next to another list it is read as
      :func:`as_tensor_2d` reads it (whole numbers as the default float dtype);
    * two tensors of different dtypes raise, naming both, as ``F.conv2d`` raises for
      float32 and float64: nothing is cast behind the caller's back.

    No shape checks: the caller's own (2-D, 3-D, 4-D) follow.

    >>> X, K = as_tensor_pair(torch.tensor([[1, 2], [3, 4]]), [[1, 0]])
    >>> X.dtype, K.dtype
    (torch.int64, torch.int64)
    >>> [t.dtype for t in as_tensor_pair([[1, 2]], [[1]])]
    [torch.float32, torch.float32]
    """
    raw = (X, K)
    given = [isinstance(v, torch.Tensor) for v in raw]
    ts = [_compute_dtype(_nested_tensor(v, n), g) for v, n, g in zip(raw, names, given)]
    if all(given):
        if ts[0].dtype != ts[1].dtype:
            a, b = names
            raise ConvlibInputError(
                f"{b}: expected the dtype of {a} ({ts[0].dtype}), got {ts[1].dtype}. "
                f"Fix: {b} = {b}.to({a}.dtype) (convlib's teaching ops, like F.conv2d, compute in one dtype "
                "and cast nothing)."
            )
        return ts[0], ts[1]
    if not any(given):
        common = torch.promote_types(ts[0].dtype, ts[1].dtype)
        return ts[0].to(common), ts[1].to(common)
    i = given.index(True)  # the tensor; the other is read in its dtype
    t, j = ts[i], 1 - i
    if not _exact_int(t):
        ts[j] = _nested_tensor(raw[j], names[j], t.dtype, t.device)
    else:
        natural = _nested_tensor(raw[j], names[j]).to(t.device)
        read = natural.to(t.dtype)
        if not (_exact_int(natural) or natural.dtype == torch.bool) or not torch.equal(read.to(natural.dtype), natural):
            raise ConvlibInputError(
                f"{names[j]}: expected numbers that {names[i]}'s integer dtype {t.dtype} holds exactly, got "
                f"{raw[j]!r}. Fix: {names[i]} = {names[i]}.float() to compute in floating point."
            )
        ts[j] = read
    return ts[0], ts[1]


def nonempty(x: torch.Tensor, name: str, layout: str) -> torch.Tensor:
    """``x`` when every axis holds at least one value; otherwise a ``ConvlibInputError``
    (an empty grid has no cells to draw and no window to slide; torch's convolutions refuse
    an empty kernel and an image with no rows or columns too).

    >>> nonempty(torch.zeros(2, 0), "X", "(H, W)")
    Traceback (most recent call last):
    ...
    convlib.validate.ConvlibInputError: X: expected at least one value along every axis of (H, W), got shape (2, 0). Fix: give every axis one value or more, e.g. [[1.0]].
    """
    if x.numel() == 0:
        raise ConvlibInputError(
            f"{name}: expected at least one value along every axis of {layout}, got shape {tuple(x.shape)}. "
            "Fix: give every axis one value or more, e.g. " + "[" * x.ndim + "1.0" + "]" * x.ndim + "."
        )
    return x


def check_pixels(x: torch.Tensor, name: str = "x") -> None:
    """Require at least one row and one column in ``x (..., H, W)``: torch's convolutions refuse an image
    without pixels, padding or not (an empty batch, ``N = 0``, is fine)."""
    if x.shape[-2] == 0 or x.shape[-1] == 0:
        raise ConvlibInputError(
            f"{name}: expected at least one row and one column (H, W >= 1), got shape {tuple(x.shape)}. "
            "Fix: pass an image with pixels; an empty batch (N = 0) is fine."
        )


def check_float(t: torch.Tensor, name: str, *, integers: tuple[torch.dtype, ...] = ()) -> None:
    """Require a floating-point tensor (ints cannot carry gradients), or one of the dtypes ``integers``
    where the op takes those too (pooling; convolutions of integer tensors by integer kernels)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor, got {type(t).__name__}. "
            f"Fix: torch.as_tensor({name}, dtype=torch.float32)."
        )
    if t.is_floating_point() or t.dtype in integers:
        return
    if integers:
        raise TypeError(
            f"{name}: expected a floating-point or integer tensor, got dtype {t.dtype}. "
            f"Fix: {name}.float() (a bool mask becomes 0s and 1s)."
        )
    raise TypeError(
        f"{name}: expected a floating-point tensor, got dtype {t.dtype}. "
        f"Fix: {name}.float() (images stored as uint8 also want / 255)."
    )


def integer_kernels(x: object, weight: object) -> tuple[torch.dtype, ...]:
    """The integer dtypes a convolution of ``x`` with ``weight`` may take: :data:`INTEGER_DTYPES` when
    both are integer tensors (an exact integer convolution, as ``F.conv2d`` computes one on the CPU), else none.

    A float kernel over a uint8 image is the common slip, and its fix is ``x.float() / 255``,
    not ``x.to(weight.dtype)``: so an integer tensor beside a float one gets
    :func:`check_float`'s message, with that fix.

    >>> integer_kernels(torch.zeros(1, dtype=torch.uint8),
    ...                 torch.zeros(1, dtype=torch.uint8))[0]
    torch.uint8
    >>> integer_kernels(torch.zeros(1, dtype=torch.uint8), torch.zeros(1))
    ()
    """
    both = all(isinstance(t, torch.Tensor) and t.dtype in INTEGER_DTYPES for t in (x, weight))
    return INTEGER_DTYPES if both else ()


def check_batch(
    x: torch.Tensor,
    name: str = "x",
    *,
    channels: int | None = None,
    channels_from: str = "the weight's C_in",
    image: bool = False,
    integers: tuple[torch.dtype, ...] = (),
) -> None:
    """Require a float batch ``(N, C, H, W)`` (or one of the dtypes ``integers``, see :func:`check_float`);
    spot channels-last images.

    ``image=True`` also takes one image ``(C, H, W)``, as PyTorch's convolutions
    and pooling do (the op adds the batch axis, runs, and removes it).
    ``channels`` (if given) is the channel count the op expects, and
    ``channels_from`` says where that number comes from (for the message).
    """
    check_float(x, name, integers=integers)
    if x.ndim != 4 and not (image and x.ndim == 3):
        if image:
            expected = "a 4-D batch (N, C, H, W) or one 3-D image (C, H, W)"
            fixes = {2: f"{name}[None] makes a one-channel image (1, H, W)",
                     5: f"merge the extra axis into the batch, e.g. {name}.flatten(0, 1)"}
        else:
            expected = "a 4-D batch (N, C, H, W)"
            fixes = {
                2: f"{name}[None, None] makes a (1, 1, H, W) batch",
                3: f"{name}.unsqueeze(0) adds the batch dimension: (1, C, H, W)",
            }
        raise _fail(
            name,
            expected,
            f"{x.ndim}-D shape {tuple(x.shape)}",
            fixes.get(x.ndim, "reshape to (N, C, H, W)"),
        )
    c, w = x.shape[-3], x.shape[-1]
    looks_channels_last = w in (1, 3, 4) and c > 4 and w != c
    if channels is not None and c != channels:
        if looks_channels_last and w == channels:
            layout, order = ("(N, C, H, W)", "(N, H, W, C)") if x.ndim == 4 else ("(C, H, W)", "(H, W, C)")
            raise _fail(
                name,
                f"channels first {layout} with C={channels}",
                f"shape {tuple(x.shape)}, which looks channels-last {order}",
                f"{name}.permute(0, 3, 1, 2)" if x.ndim == 4 else f"{name}.permute(2, 0, 1)",
            )
        raise _fail(
            name,
            f"{channels} input channels ({channels_from})",
            f"{c} channels in shape {tuple(x.shape)}",
            "make the layer's in_channels match the data, or check the previous layer's out_channels",
        )


def check_groups(
    groups: object, count: int | None = None, name: str = "groups", *, of: str = "C_out", fix: str | None = None
) -> int:
    """Require ``groups``, an int >= 1 that divides the weight's first size ``count`` (if given); return it.

    That is ``C_out`` for a convolution's weight ``(C_out, C_in/groups, k_h, k_w)``
    and ``C_in`` for a transposed convolution's ``(C_in, C_out/groups, k_h, k_w)``
    (``of`` names it); the other channel count is then a multiple by construction.
    ``fix`` replaces the default advice (pick a divisor) when the shapes already fix ``groups``.

    >>> check_groups(2, 8)
    2
    """
    groups = check_int(groups, name, minimum=1, fix=f"{name}=1 is an ordinary convolution")
    if count is not None and count % groups:
        raise _fail(
            name,
            f"a divisor of the weight's {of} = {count} (each group has {of}/groups channels)",
            str(groups),
            fix or f"pick groups from {[g for g in range(1, count + 1) if count % g == 0]}",
        )
    return groups


def check_fits(
    size: IntPair, window: IntPair, padding: IntPair, name: str = "kernel"
) -> None:
    """Require the (dilated) window to fit inside the padded input."""
    ph = size[0] + 2 * padding[0]
    pw = size[1] + 2 * padding[1]
    if window[0] > ph or window[1] > pw:
        raise _fail(
            name,
            f"a window no larger than the padded input {ph}x{pw}",
            f"a {window[0]}x{window[1]} window",
            "use a smaller kernel, more padding, or a larger input",
        )


def check_weight_and_bias(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, c_out: int) -> None:
    """Require ``weight`` and a ``bias`` tensor in ``x``'s dtype, and ``bias`` of shape ``(C_out,)``."""
    if bias is not None and not isinstance(bias, torch.Tensor):  # (the ops' check_float has checked weight)
        raise TypeError(
            f"bias: expected a tensor of shape ({c_out},) (one number per output channel) or None, got a "
            f"{type(bias).__name__}. Fix: bias = torch.tensor(bias, dtype=x.dtype), or None for no bias."
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise ConvlibInputError(
                f"{name}: expected the dtype of x ({x.dtype}), got {t.dtype}. "
                f"Fix: x = x.to({name}.dtype) (or layer.to(x.dtype) for a layer)."
            )
    check_bias(bias, c_out)


def check_bias(bias: torch.Tensor | None, c_out: int) -> None:
    """Require ``bias`` (when given) of shape ``(C_out,)``: one number per output channel."""
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise ConvlibInputError(
            f"bias: expected shape ({c_out},) (one per output channel), got "
            f"{tuple(bias.shape)}. Fix: bias = torch.zeros({c_out})."
        )
