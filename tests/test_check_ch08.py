"""Self-checks of chapter 8 (CIFAR-10): right, wrong and unanswered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convlib as cl
from convlib.check.cifar10 import CAT_ROW, TEST_LOSSES
from convlib.cifar import cifar_net
from tests.exercise_checks import assert_right_wrong_none

CASES = [
    # (check, a right answer, wrong answers)
    (cl.check.cifar_flatten_size, 2048, [128, 8192, 512, (128, 4, 4)]),
    (cl.check.loop_epoch_hours, 5.21, [5.4, 0.087, 18768, 312.8]),
    (cl.check.cat_accuracy, 0.571, [0.208, 571, 0.5, 0.429]),
    (cl.check.overfit_epoch, 5, [4, 6, 9, 0.91]),
]


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=[c[0].__name__ for c in CASES])
def test_right_wrong_and_none(check, right, wrongs):
    assert_right_wrong_none(check, right, wrongs)


def test_smoother_curve_takes_a_letter():
    """A multiple-choice answer: a string, so not also tried as a tensor."""
    assert cl.check.smoother_curve("c").ok and "Right" in repr(cl.check.smoother_curve("c"))
    for wrong in ["a", "b", "larger learning rate", 3]:
        result = cl.check.smoother_curve(wrong)
        assert not result.ok and result.message.startswith("Hint:"), wrong
    unanswered = cl.check.smoother_curve(None)
    assert not unanswered.ok and "Not yet" in unanswered._repr_html_()


def test_numeric_answers_accept_tensors_and_variants():
    assert cl.check.cifar_flatten_size(torch.tensor(2048)).ok
    assert cl.check.loop_epoch_hours(48 * 391 / 3600).ok
    assert cl.check.cat_accuracy(torch.tensor(571 / 1000)).ok
    assert cl.check.cat_accuracy(57.1).ok and cl.check.cat_accuracy(0.57).ok  # a percentage; two decimals
    assert not cl.check.cat_accuracy(0.56).ok
    # a percentage as a 0-d tensor or a NumPy scalar, as computed in the notebook
    for percent in (torch.tensor(57.1), np.float32(57.1), np.int64(57), np.float64(57.1)):
        assert cl.check.cat_accuracy(percent).ok, percent
    assert not cl.check.cat_accuracy(np.float32(20.8)).ok
    assert cl.check.smoother_curve(" (C) ").ok


def test_the_answers_agree_with_the_library():
    """The stored answers are what convlib computes, not numbers typed in by hand."""
    net = cifar_net(widths=(32, 64, 128))
    assert net[-1].in_features == 2048
    assert -(-50_000 // 128) == 391
    cm = torch.zeros(10, 10, dtype=torch.int64)
    cm[3] = torch.tensor(CAT_ROW)
    assert cl.check.cat_accuracy(float(cl.cifar.per_class_accuracy(cm)[3])).ok
    assert cl.check.overfit_epoch(int(torch.tensor(TEST_LOSSES).argmin()) + 1).ok
