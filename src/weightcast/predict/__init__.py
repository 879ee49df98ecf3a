"""Predict a run's eventual accuracy from its early features (the paper's random forest).

- :func:`assemble` builds a :class:`Dataset` (X, y, run_ids, missing) of a feature set at
  (t, tau) from a corpus; :data:`FEATURE_SETS` lists the sets, :func:`feature_columns` picks a
  set's columns from any table of named features.
- :class:`Predictor` is a scikit-learn regressor: a 400-tree random forest by default, any
  regressor pluggable, ``predict_interval`` from the spread across trees, NaN accepted.
- :func:`evaluate` / :func:`evaluate_sets` run the protocol: repeated seeded splits, n runs to
  train, RMSE, R^2 and Spearman's rho on the rest.

>>> import tempfile
>>> from weightcast.corpus.testing import make_synthetic_corpus
>>> from weightcast.predict import assemble, evaluate, Predictor
>>> ds = assemble(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), t=50, tau=10)
>>> scores = evaluate(ds, n=15, repeats=2, predictor=Predictor(n_estimators=30))
>>> len(scores), bool((scores["rmse"] > 0).all())
(2, True)
"""

from __future__ import annotations

from weightcast.predict._dataset import Dataset, FeatureStore, assemble, store_for
from weightcast.predict._predictor import Predictor
from weightcast.predict._protocol import (
    cross_predict,
    evaluate,
    evaluate_sets,
    resolve_n,
    score_predictions,
    split_runs,
    summarize,
)
from weightcast.predict._sets import (
    FEATURE_SETS,
    feature_columns,
    feature_kind,
    feature_layer,
    relative_update_features,
)

__all__ = [
    "FEATURE_SETS",
    "Dataset",
    "FeatureStore",
    "Predictor",
    "assemble",
    "cross_predict",
    "evaluate",
    "evaluate_sets",
    "feature_columns",
    "feature_kind",
    "feature_layer",
    "relative_update_features",
    "resolve_n",
    "score_predictions",
    "split_runs",
    "store_for",
    "summarize",
]
