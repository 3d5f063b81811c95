"""Interactive widgets: live in Jupyter and Colab, and still draggable in the
static HTML book with no kernel (see :mod:`convlib.widgets._base`)."""

from convlib.widgets.channels import ChannelsView
from convlib.widgets.kernel_slider import KernelSlider
from convlib.widgets.locality import LocalityView
from convlib.widgets.network import NetworkView
from convlib.widgets.padding_stride import PaddingStrideExplorer
from convlib.widgets.pooling import PoolingView
from convlib.widgets.transposed import TransposedConvView

__all__ = [
    "ChannelsView",
    "KernelSlider",
    "LocalityView",
    "NetworkView",
    "PaddingStrideExplorer",
    "PoolingView",
    "TransposedConvView",
]
