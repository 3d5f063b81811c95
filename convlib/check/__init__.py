"""Self-checking exercises: ``cl.check.<name>(answer)`` says right or wrong, with a hint.

One module per chapter; every check returns a :class:`CheckResult`, which is
truthy when the answer is right and shows a short message in a notebook.
"""

from convlib.check._core import CheckResult, same_values, verdict
from convlib.check.cifar10 import (
    cat_accuracy,
    cifar_flatten_size,
    loop_epoch_hours,
    overfit_epoch,
    smoother_curve,
)
from convlib.check.channels import (
    channel_mean_weight,
    doubling_factors,
    grouped_params,
    kernel_tensor_shape,
    params_for_sizes,
    second_layer_costs,
    stacked_linear_kernel,
)
from convlib.check.cross_correlation import (
    diagonal_edges,
    flipped_kernel,
    horizontal_edge_kernel,
    output_shape,
    stacked_receptive_field,
    third_derivative_kernel,
)
from convlib.check.fc_to_conv import (
    conv_layer_params,
    dense_matrix_nonzeros,
    dense_matrix_shape,
    mlp_photo_weights,
    text_conv_params,
)
from convlib.check.lenet import (
    equal_scores_loss,
    lenet_conv2_params,
    lenet_first_conv_macs,
    lenet_flatten_size,
    zero_grad_resets,
)
from convlib.check.modern_cnns import (
    alexnet_activation_mb,
    alexnet_receptive_field,
    dropout_scale,
    inception_channels,
    nin_extra_1x1_params,
    nin_switch_dataset,
    smallest_inputs,
    two_3x3_params,
    vgg16_19_params,
)
from convlib.check.pooling import (
    downsampling_params,
    max_pool_by_hand,
    min_pool_from_max,
    padded_avg_corner,
    pool_reads,
    pooled_shape,
    relu_max_pool,
)
from convlib.check.padding_stride import (
    corner_usage,
    dilated_output_size,
    padded_output_size,
    same_padding,
    reflect_padding,
    trans_conv_by_hand,
    transposed_output_size,
)
from convlib.check.speedrun import (
    distinct_views,
    padded_dataset_mb,
    smoothed_targets,
    speedrun_steps,
    tta_passes,
)

__all__ = [
    "CheckResult",
    "cat_accuracy",
    "cifar_flatten_size",
    "loop_epoch_hours",
    "overfit_epoch",
    "smoother_curve",
    "channel_mean_weight",
    "kernel_tensor_shape",
    "params_for_sizes",
    "second_layer_costs",
    "doubling_factors",
    "stacked_linear_kernel",
    "grouped_params",
    "downsampling_params",
    "max_pool_by_hand",
    "padded_avg_corner",
    "pooled_shape",
    "pool_reads",
    "min_pool_from_max",
    "relu_max_pool",
    "conv_layer_params",
    "corner_usage",
    "dense_matrix_nonzeros",
    "dense_matrix_shape",
    "dilated_output_size",
    "mlp_photo_weights",
    "padded_output_size",
    "same_padding",
    "trans_conv_by_hand",
    "transposed_output_size",
    "flipped_kernel",
    "horizontal_edge_kernel",
    "output_shape",
    "same_values",
    "stacked_receptive_field",
    "diagonal_edges",
    "third_derivative_kernel",
    "text_conv_params",
    "reflect_padding",
    "verdict",
    "lenet_conv2_params",
    "lenet_first_conv_macs",
    "lenet_flatten_size",
    "zero_grad_resets",
    "equal_scores_loss",
    "alexnet_receptive_field",
    "dropout_scale",
    "inception_channels",
    "nin_switch_dataset",
    "two_3x3_params",
    "vgg16_19_params",
    "nin_extra_1x1_params",
    "smallest_inputs",
    "alexnet_activation_mb",
    "distinct_views",
    "padded_dataset_mb",
    "smoothed_targets",
    "speedrun_steps",
    "tta_passes",
]
