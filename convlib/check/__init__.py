"""Self-checking exercises: ``cl.check.<name>(answer)`` says right or wrong, with a hint.

One module per chapter; every check returns a :class:`CheckResult`, which is
truthy when the answer is right and shows a short message in a notebook.
"""

from convlib.check._core import CheckResult, same_values, verdict
from convlib.check.cross_correlation import (
    flipped_kernel,
    horizontal_edge_kernel,
    output_shape,
    stacked_receptive_field,
)

__all__ = [
    "CheckResult",
    "flipped_kernel",
    "horizontal_edge_kernel",
    "output_shape",
    "same_values",
    "stacked_receptive_field",
    "verdict",
]
