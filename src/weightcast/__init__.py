"""weightcast: predict a training run's eventual accuracy from its early weights.

The method is Yamada & Morimura, "Weight Features for Predicting Future Model
Performance of Deep Neural Networks" (IJCAI 2016): per-layer statistics of the weights
and of their recent change, a random forest trained on finished runs.

The public API, re-exported here (the core needs numpy, scipy, scikit-learn, pandas and
pyarrow; torch and optuna are optional extras, imported only where used):

>>> import numpy as np
>>> import weightcast
>>> len(weightcast.layer_features(np.random.default_rng(0).normal(size=(8, 4, 3, 3))))
218
"""

from __future__ import annotations

from weightcast.corpus import Corpus, CorpusError, create_corpus, write_run
from weightcast.features import (
    curve_features,
    hparam_features,
    layer_features,
    network_features,
    select_layers,
)
from weightcast.predict import FEATURE_SETS, Predictor, assemble, evaluate, feature_columns

__version__ = "0.1.0"

__all__ = [
    "FEATURE_SETS",
    "Corpus",
    "CorpusError",
    "Predictor",
    "__version__",
    "assemble",
    "create_corpus",
    "curve_features",
    "evaluate",
    "feature_columns",
    "hparam_features",
    "layer_features",
    "network_features",
    "select_layers",
    "write_run",
]
