"""Interactive widgets: live in Jupyter and Colab, and still draggable in the
static HTML book with no kernel (see :mod:`convlib.widgets._base`)."""

from convlib.widgets.kernel_slider import KernelSlider

__all__ = ["KernelSlider"]
