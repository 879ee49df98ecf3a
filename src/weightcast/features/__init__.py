"""The paper's features, in pure numpy (the contract is ``shared/spec/features.md``).

- :func:`layer_features`: the 218 (convolution) or 153 (fully connected) features of
  one layer's weights;
- :func:`network_features`: those of the first, second and last convolution and of
  every fully connected layer, of W(t) (``raw``) and of W(t) - W(t - tau) (``delta``);
- :func:`curve_features`, :func:`hparam_features`: the learning-curve baseline and
  the run's hyperparameters.
"""

from __future__ import annotations

from weightcast.features._curves import DIVERGED_LOSS, curve_features
from weightcast.features._hparams import LOG_SCALED, hparam_features
from weightcast.features._layer import (
    KS_MAX_UNITS,
    KS_SAMPLE_PAIRS,
    KS_SEED,
    MAX_ABS_WEIGHT,
    NonFiniteWeightsError,
    check_weights,
    conv_feature_names,
    fc_feature_names,
    layer_feature_names,
    layer_features,
    unit_pairs,
)
from weightcast.features._network import PARTS, load_npz_weights, network_features, select_layers
from weightcast.features._stats import N_BINS, STATS, SUMMARIES, ks_distances, row_stats, summarize

__all__ = [
    "DIVERGED_LOSS",
    "KS_MAX_UNITS",
    "KS_SAMPLE_PAIRS",
    "KS_SEED",
    "LOG_SCALED",
    "MAX_ABS_WEIGHT",
    "N_BINS",
    "PARTS",
    "STATS",
    "SUMMARIES",
    "NonFiniteWeightsError",
    "check_weights",
    "conv_feature_names",
    "curve_features",
    "fc_feature_names",
    "hparam_features",
    "ks_distances",
    "layer_feature_names",
    "layer_features",
    "load_npz_weights",
    "network_features",
    "row_stats",
    "select_layers",
    "summarize",
    "unit_pairs",
]
