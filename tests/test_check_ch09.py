"""Self-checks of chapter 9 (CIFAR-10 in seconds): right, wrong and unanswered."""

from __future__ import annotations

import pytest
import torch

import convlib as cl
from convlib.speedrun import DeviceLoader, Recipe, tta_logits
from tests.exercise_checks import assert_right_wrong_none

CASES = [
    # (check, a right answer, wrong answers)
    (cl.check.distinct_views, 50, [25, 10, 100, 51, "50 views"]),
    (cl.check.smoothed_targets, (0.82, 0.02), [(0.8, 0.02), (0.82, 0.2), (0.8, 0.2 / 9), 0.82, (0.02, 0.82)]),
    (cl.check.speedrun_steps, 576, [588, 586, 48, 12, 600]),
    (cl.check.padded_dataset_mb, 388.8, [777.6, 370.8, 307.2, 0.3888, "MB"]),
    (cl.check.tta_passes, 6, [2, 3, 4, 12]),
]


@pytest.mark.parametrize("check, right, wrongs", CASES, ids=[c[0].__name__ for c in CASES])
def test_right_wrong_and_none(check, right, wrongs):
    assert_right_wrong_none(check, right, wrongs)


def test_the_checked_answers_match_the_code():
    """The numbers the checks expect are what convlib.speedrun actually does."""
    images = torch.zeros(3000, 3, 32, 32, dtype=torch.uint8)
    loader = DeviceLoader(images, torch.zeros(3000, dtype=torch.long), batch_size=1024, dtype=torch.bfloat16)
    assert len(loader) == 3000 // 1024  # drop_last: only full batches, as in the exercise
    assert (Recipe().epochs, Recipe().batch_size) == (12, 1024)
    per_image_bytes = loader.padded[0].numel() * loader.padded.element_size()
    assert per_image_bytes * 50_000 / 1e6 == pytest.approx(388.8)
    calls = []

    def counting(x):
        calls.append(len(x))
        return torch.zeros(len(x), 10)

    tta_logits(counting, torch.zeros(2, 3, 32, 32), level=2)
    assert len(calls) == 6
    smoothed = torch.nn.functional.cross_entropy(torch.zeros(1, 10), torch.tensor([0]), label_smoothing=0.2)
    target = torch.full((10,), 0.02)
    target[0] = 0.82
    assert smoothed.item() == pytest.approx(-(target * torch.log_softmax(torch.zeros(10), 0)).sum().item())
    assert Recipe().translate == 2 and Recipe().flip != "none"
