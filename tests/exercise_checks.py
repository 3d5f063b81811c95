"""The contract every exercise check honours, asserted in one place."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch


def assert_right_wrong_none(check: Callable[[Any], Any], right: Any, wrongs: Sequence[Any]) -> None:
    """``right`` (also as a tensor) passes; each wrong answer and ``None`` get a hint."""
    result = check(right)
    assert result.ok and "Right" in repr(result)
    assert check(torch.tensor(right)).ok  # tensors work as answers too
    for wrong in wrongs:
        result = check(wrong)
        assert not result.ok and result.message.startswith("Hint:"), wrong
    unanswered = check(None)
    assert not unanswered.ok and unanswered.message.startswith("Hint:")
    assert "Not yet" in unanswered._repr_html_()
