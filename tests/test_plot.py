"""convlib.plot: what the figures show (pixel data handed to matplotlib) and the errors for nothing to show."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import convlib as cl
from convlib.validate import ConvlibInputError


def _shown(fig: object, k: int = 0) -> np.ndarray:
    """The array the ``k``-th image axes hands to matplotlib (colorbars skipped)."""
    shown = [ax for ax in fig.axes if ax.images]  # type: ignore[attr-defined]
    return np.asarray(shown[k].images[0].get_array())


def test_uint8_rgb_is_scaled_to_unit_range() -> None:
    """uint8 RGB used to reach matplotlib as floats 0..255, clipped to 1: a white square."""
    img = torch.tensor([[[0, 255], [128, 64]], [[10, 20], [30, 40]], [[255, 0], [1, 2]]], dtype=torch.uint8)  # (3, 2, 2)
    fig = cl.plot.images([img, img.permute(1, 2, 0)])  # (C, H, W) and (H, W, C)
    expected = img.permute(1, 2, 0).numpy() / 255  # (H, W, 3)
    for k in (0, 1):
        shown = _shown(fig, k)
        assert shown.shape == (2, 2, 3) and shown.dtype == np.float32
        np.testing.assert_allclose(shown, expected, rtol=1e-6)


def test_integer_images_and_maps() -> None:
    gray = torch.tensor([[[0, 51], [102, 255]]], dtype=torch.uint8)  # (1, H, W) uint8: pixels
    rgb = torch.full((3, 2, 2), 51, dtype=torch.int64)  # integer colour: matplotlib's 0..255
    counts = torch.tensor([[1, 2], [2, 4]])  # an int64 map (e.g. input usage): keeps its values
    fig = cl.plot.images([gray, rgb, counts], colorbar=True)
    np.testing.assert_allclose(_shown(fig, 0), [[0.0, 0.2], [0.4, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(_shown(fig, 1), np.full((2, 2, 3), 0.2), rtol=1e-6)
    np.testing.assert_array_equal(_shown(fig, 2), [[1, 2], [2, 4]])
    assert fig.axes[-1].get_ylim() == (1.0, 4.0)  # the map's colorbar in its own units
    floats = torch.rand(3, 4, 4)
    np.testing.assert_array_equal(_shown(cl.plot.images([floats])), floats.permute(1, 2, 0).numpy())


def test_predictions_show_uint8_batches_as_pixels() -> None:
    batch = torch.full((2, 3, 2, 2), 51, dtype=torch.uint8)  # (N, C, H, W)
    batch[1] = 204
    fig = cl.plot.predictions(batch, [0, 1], [0, 0], ["cat", "dog"], n=2)
    np.testing.assert_allclose(_shown(fig, 0), np.full((2, 2, 3), 0.2), rtol=1e-6)
    np.testing.assert_allclose(_shown(fig, 1), np.full((2, 2, 3), 0.8), rtol=1e-6)


def test_images_rejects_an_empty_list() -> None:
    with pytest.raises(ConvlibInputError, match=r"^images: expected at least one image, got an empty sequence\. Fix: "):
        cl.plot.images([])


@pytest.mark.parametrize(("count", "n"), [(3, 0), (3, -1), (0, 12)])
def test_predictions_rejects_nothing_to_show(count: int, n: int) -> None:
    imgs, labels = torch.zeros(count, 1, 4, 4), [0] * count
    with pytest.raises(ConvlibInputError, match=rf"^predictions: expected n >= 1 .* got n={n} with {count} images"):
        cl.plot.predictions(imgs, labels, labels, ["cat"], n=n)


@pytest.mark.parametrize("bad", [None, [1, 2], {"run": None}])
def test_history_refuses_what_is_not_a_history(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^h(\['run'\])?: expected a convlib.History .*Fix: history\(h\)"):
        cl.plot.history(bad)


def test_confusion_matrix_needs_one_class_name_per_row() -> None:
    with pytest.raises(ConvlibInputError, match=r"^cm: expected a square matrix .*\(2 classes\), got shape \(3, 3\)"):
        cl.plot.confusion_matrix(torch.eye(3), ["a", "b"])
    with pytest.raises(ConvlibInputError, match=r"got shape \(2, 3\)"):
        cl.plot.confusion_matrix(torch.ones(2, 3), ["a", "b"])
