"""convlib.plot.heatmaps: one shared colour scale, labelled cells, frames, clear errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch

import convlib as cl


def test_shared_scale_labels_and_frames():
    a, b = torch.zeros(3, 3), torch.arange(25).reshape(5, 5)
    fig = cl.plot.heatmaps([a, b], ["a", "b"], frames=[None, (1, 1, 3, 3)])
    assert not plt.fignum_exists(fig.number)  # returned closed
    ax_a, ax_b = fig.axes
    assert ax_a.images[0].get_clim() == ax_b.images[0].get_clim() == (0.0, 24.0)
    assert [t.get_text() for t in ax_b.texts][:3] == ["0", "1", "2"] and len(ax_b.texts) == 25
    (frame,) = ax_b.patches
    assert (frame.get_x(), frame.get_y(), frame.get_width(), frame.get_height()) == (0.5, 0.5, 3, 3)
    assert not ax_a.patches


def test_usage_counts_render_as_integers():
    fig = cl.plot.heatmaps([cl.input_usage(4, 3)], annotate=True)
    assert sorted({t.get_text() for t in fig.axes[0].texts}) == ["1", "2", "4"]
    assert len(cl.plot.heatmaps([torch.rand(30, 30)]).axes[0].texts) == 0  # too many cells to label


def test_rejects_non_2d_maps():
    with pytest.raises(ValueError, match="expected 2-D maps .*got .*Fix"):
        cl.plot.heatmaps([torch.zeros(1, 1, 3, 3)])
