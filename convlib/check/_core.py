"""What every self-check shares: comparing an answer, and saying right or wrong."""

from __future__ import annotations

from dataclasses import dataclass
import functools
import html
from numbers import Real
from typing import Any, Callable

import torch

__all__ = ["CheckResult", "verdict", "same_values", "numbers", "real_number", "text_number_hint", "wants_a_number"]


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


def same_values(answer: Any, expected: Any, *, atol: float = 1e-4) -> bool:
    """True when ``answer`` has ``expected``'s shape and values (to ``atol``).

    Accepts numbers, nested lists, tuples, NumPy arrays and tensors.

    >>> same_values([[1, 2]], torch.tensor([[1., 2.]]))
    True
    >>> same_values((6, 7), (7, 6))
    False
    """
    try:
        a = torch.as_tensor(answer, dtype=torch.float64)
        e = torch.as_tensor(expected, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    return a.shape == e.shape and bool(torch.allclose(a, e, atol=atol, rtol=0))


def numbers(answer: Any) -> list[float]:
    """Every number in ``answer``, flattened; ``[]`` when it is not numeric (``None``, text).

    Checks use it to recognise the shape of a common wrong answer before giving its hint.

    >>> numbers([[1, 2], [3, 4]]), numbers((6, 13, 13)), numbers(None)
    ([1.0, 2.0, 3.0, 4.0], [6.0, 13.0, 13.0], [])
    """
    try:
        return [float(v) for v in torch.as_tensor(answer, dtype=torch.float64).flatten()]
    except (TypeError, ValueError, RuntimeError):
        return []


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
        return float(answer)
    try:
        t = torch.as_tensor(answer)
    except (TypeError, ValueError, RuntimeError):
        return None
    if t.ndim != 0 or t.dtype == torch.bool or t.is_complex():
        return None
    return float(t)


def text_number_hint(answer: Any) -> CheckResult | None:
    """A hint when ``answer`` is a number typed as text (``"1792"``), else ``None``.

    Checks refuse text answers but say why, instead of a hint about the content.

    >>> text_number_hint("1792")
    ❌ Not yet: Hint: give a number, not text (e.g. 1792, not "1792").
    >>> text_number_hint(1792) is None, text_number_hint("a lot") is None
    (True, True)
    """
    if not isinstance(answer, str):
        return None
    text = answer.strip()
    try:
        float(text.replace("_", ""))
    except ValueError:
        return None
    return verdict(False, "", f'give a number, not text (e.g. {text}, not "{text}").')


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
    """
    @functools.wraps(check)
    def checked(answer: Any) -> CheckResult:
        if (text := text_number_hint(answer)) is not None:
            return text
        return check(answer)

    return checked
