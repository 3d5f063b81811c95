"""What every self-check shares: comparing an answer, and saying right or wrong."""

from __future__ import annotations

from dataclasses import dataclass
import functools
import html
import math
import re
import warnings
from numbers import Real
from typing import Any, Callable

import numpy as np
import torch

__all__ = [
    "CheckResult", "verdict", "same_values", "host_float64", "drop_leading_ones", "numbers", "real_number",
    "text_number_hint", "swapped_hint", "wants_a_number", "answer_check",
]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise check: truthy when right, with a message.

    >>> CheckResult(True, "5 x 5.")
    ✅ Right: 5 x 5.
    >>> bool(CheckResult(False, "Count the rows."))
    False
    """

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return f"{'✅ Right' if self.ok else '❌ Not yet'}: {self.message}"

    def _repr_html_(self) -> str:
        color = "#2b8a3e" if self.ok else "#c92a2a"
        head = "✅ Right" if self.ok else "❌ Not yet"
        return f'<div style="color:{color}"><strong>{head}:</strong> {html.escape(self.message)}</div>'


def verdict(ok: bool, right: str, hint: str) -> CheckResult:
    """``right`` explains the answer when ``ok``; ``hint`` nudges otherwise."""
    return CheckResult(bool(ok), right if ok else f"Hint: {hint}")


def host_float64(answer: Any) -> torch.Tensor | None:
    """``answer`` as a float64 tensor on the CPU, or ``None`` when it holds no real numbers
    (text, ``None``, ragged lists, an int past float64's range, a tensor on the ``meta`` device,
    which has a shape but no values). A tensor on a GPU is copied to the CPU, so an answer
    computed there compares with the expected CPU values.

    >>> host_float64([[1, 2]]), host_float64(10**400), host_float64(torch.zeros(2, device="meta"))
    (tensor([[1., 2.]], dtype=torch.float64), None, None)
    """
    try:
        # Python floats read straight into float64: 1e-7 must not pass through float32 on the way.
        # A tuple of results that still carry gradients, (loss_a, loss_b), reads as its values: torch's
        # "Converting a tensor with requires_grad=True to a scalar" warning would only puzzle a learner here.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True", category=UserWarning)
            t = answer if isinstance(answer, torch.Tensor) else torch.as_tensor(answer, dtype=torch.float64)
        if t.is_meta or t.is_complex():
            return None
        return t.detach().to("cpu", torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None


def drop_leading_ones(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """``t`` without leading axes of size 1 beyond ``ndim`` axes (``ndim >= 1``); otherwise ``t`` as it is.

    >>> drop_leading_ones(torch.zeros(1, 1, 2, 3), 2).shape, drop_leading_ones(torch.zeros(2, 1, 3), 2).shape
    (torch.Size([2, 3]), torch.Size([2, 1, 3]))
    """
    while ndim >= 1 and t.ndim > ndim and t.shape[0] == 1:
        t = t[0]
    return t


def same_values(answer: Any, expected: Any, *, atol: float = 1e-4) -> bool:
    """True when ``answer`` has ``expected``'s shape and values (to ``atol``).

    Accepts numbers, nested lists, tuples, NumPy arrays and tensors. A tensor's or array's leading
    axes of size 1 in front of an expected array are let go: ``F.max_pool2d(X[None, None], 2)`` is a
    learner's way to the right matrix, with the batch and channel axes torch's ops want. Typed lists
    keep their brackets: ``[[1, 2]]`` is not ``[1, 2]``.

    >>> same_values([[1, 2]], torch.tensor([[1., 2.]]))
    True
    >>> same_values((6, 7), (7, 6))
    False
    >>> same_values(torch.tensor([[[[1., 2.]]]]), [[1, 2]]), same_values([[[1, 2]]], [[1, 2]])
    (True, False)
    """
    a, e = host_float64(answer), host_float64(expected)
    if a is None or e is None:
        return False
    if isinstance(answer, (torch.Tensor, np.ndarray)):
        a = drop_leading_ones(a, e.ndim)
    return a.shape == e.shape and bool(torch.allclose(a, e, atol=atol, rtol=0))


def numbers(answer: Any) -> list[float]:
    """Every number in ``answer``, flattened; ``[]`` when it is not numeric (``None``, text).

    Checks use it to recognise the shape of a common wrong answer before giving its hint.

    >>> numbers([[1, 2], [3, 4]]), numbers((6, 13, 13)), numbers(None)
    ([1.0, 2.0, 3.0, 4.0], [6.0, 13.0, 13.0], [])
    """
    t = host_float64(answer)
    return [] if t is None else t.flatten().tolist()


def real_number(answer: Any) -> float | None:
    """``answer`` as a float when it is one real number, else ``None``.

    Python ints and floats, NumPy scalars and 0-d tensors or arrays all count;
    text, booleans, ``None`` and sequences do not.

    >>> real_number(57.1), real_number(torch.tensor(57)), real_number("57"), real_number(True)
    (57.1, 57.0, None, None)
    """
    if answer is None or isinstance(answer, (str, bytes, bool)):
        return None
    if isinstance(answer, Real):  # int, float and the NumPy scalars
        try:
            return float(answer)
        except OverflowError:  # an int past float64's range: a number, just never a right one
            return math.inf if answer > 0 else -math.inf
    try:
        t = torch.as_tensor(answer)
    except (TypeError, ValueError, RuntimeError, OverflowError):
        return None
    if t.ndim != 0 or t.dtype == torch.bool or t.is_complex() or t.is_meta:
        return None
    return float(t)


#: "1,792" or "-12,345.5": commas that group thousands, not commas between numbers.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")


def _numbers_in_text(text: str) -> list[str] | None:
    """The numbers of a text such as ``"16,36"`` or ``"(4, 1.129)"``, when there are two or more and nothing else."""
    inner = text.strip().removeprefix("(").removeprefix("[").removesuffix(")").removesuffix("]")
    parts = [part for part in re.split(r"[,;\s]+", inner) if part]
    if len(parts) < 2:
        return None
    try:
        [float(part) for part in parts]
    except ValueError:
        return None
    return parts


def text_number_hint(answer: Any) -> CheckResult | None:
    """A hint when ``answer`` is a number, or several, typed as text (``"1792"``, ``"16, 36"``), else ``None``.

    Checks refuse text answers but say why, instead of a hint about the content.

    >>> text_number_hint("1792")
    ❌ Not yet: Hint: give a number, not text (e.g. 1792, not "1792").
    >>> text_number_hint("57.1%"), text_number_hint("1,792")
    (❌ Not yet: Hint: give a number, not text (e.g. 57.1, not "57.1%")., ❌ Not yet: Hint: give a number, not text (e.g. 1792, not "1,792").)
    >>> text_number_hint("16,36"), text_number_hint("(4, 1.129)")
    (❌ Not yet: Hint: give numbers, not text (e.g. (16, 36), not "16,36")., ❌ Not yet: Hint: give numbers, not text (e.g. (4, 1.129), not "(4, 1.129)").)
    >>> text_number_hint(1792) is None, text_number_hint("a lot") is None
    (True, True)
    """
    if not isinstance(answer, str):
        return None
    text = answer.strip()
    number = text.replace("_", "").removesuffix("%").strip()  # "57.1 %"
    if _THOUSANDS.fullmatch(number):
        number = number.replace(",", "")
    try:
        float(number)
    except ValueError:
        parts = _numbers_in_text(text)
        if parts is None:
            return None
        return verdict(False, "", f'give numbers, not text (e.g. ({", ".join(parts)}), not "{text}").')
    return verdict(False, "", f'give a number, not text (e.g. {number}, not "{text}").')


def swapped_hint(answer: Any, expected: tuple[Any, Any], order: str) -> str | None:
    """The hint for a pair answered the wrong way round, else ``None``: ``order`` names the right one.

    >>> swapped_hint((36, 16), (16, 36), "(rows, columns)")
    'right numbers, swapped: answer (rows, columns).'
    >>> swapped_hint((16, 36), (16, 36), "(rows, columns)") is None
    True
    """
    if not same_values(expected[0], expected[1]) and same_values(answer, (expected[1], expected[0])):
        return f"right numbers, swapped: answer {order}."
    return None


def answer_check(check: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
    """Decorator for every check: the stored ``None`` (the exercise cell not filled in yet) is
    told so first, then gets the check's own hint, so a learner who runs the cell as it comes
    sees what to do rather than a verdict on ``None``.

    >>> @answer_check
    ... def answer_is_four(answer):
    ...     return verdict(answer == 4, "2 + 2.", "add again.")
    >>> answer_is_four(None)
    ❌ Not yet: Hint: fill in your answer: it is still None; put yours in place of the None and run the cell again. To work it out: add again.
    >>> answer_is_four(4)
    ✅ Right: 2 + 2.
    """
    @functools.wraps(check)
    def checked(answer: Any, *args: Any, **kwargs: Any) -> CheckResult:
        result = check(answer, *args, **kwargs)
        if answer is None and not result.ok:
            hint = result.message.removeprefix("Hint: ")
            return verdict(False, "", f"{FILL_IN} To work it out: {hint}")
        return result

    return checked


FILL_IN = "fill in your answer: it is still None; put yours in place of the None and run the cell again."


def wants_a_number(check: Callable[[Any], CheckResult]) -> Callable[[Any], CheckResult]:
    """Decorator for a check whose answer is numeric: a number typed as text gets
    :func:`text_number_hint`'s hint, the same in every check, before the check itself runs.

    ``functools.wraps`` keeps the check's name, docstring and ``__module__`` (and
    ``__wrapped__``), so ``cl.check.<name>?`` shows the check's own help and doctest,
    which finds a function's module by its ``__module__``, still runs its examples.

    >>> @wants_a_number
    ... def answer_is_four(answer):
    ...     return verdict(answer == 4, "2 + 2.", "add again.")
    >>> answer_is_four(" 4 ")
    ❌ Not yet: Hint: give a number, not text (e.g. 4, not "4").
    >>> answer_is_four(4), answer_is_four.__name__
    (✅ Right: 2 + 2., 'answer_is_four')

    A right number in a one-element list or tensor counts, with a word on the form:

    >>> answer_is_four([4])
    ✅ Right: 2 + 2. (The answer is the number itself: 4, not [4].)
    """
    @answer_check
    @functools.wraps(check)
    def checked(answer: Any) -> CheckResult:
        if (text := text_number_hint(answer)) is not None:
            return text
        result = check(answer)
        values = host_float64(answer) if not result.ok and real_number(answer) is None else None
        if values is not None and values.numel() == 1:  # [2048] or tensor([2048]): the number in a box
            number = values.item()
            inner = check(int(number) if number.is_integer() else number)
            if inner.ok:
                return CheckResult(True, f"{inner.message} (The answer is the number itself: {number:g}, not {answer!r}.)")
        return result

    return checked
