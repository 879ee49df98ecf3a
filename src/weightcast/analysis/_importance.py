"""Figure 4 of the paper: which features the predictor relies on (permutation importance)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from weightcast.analysis._experiment import as_experiment
from weightcast.analysis._rmse import reference_step
from weightcast.predict import feature_kind, feature_layer

__all__ = ["feature_importance", "group_importance", "group_of"]


class _UsedColumns:
    """Wraps a fitted predictor so that only the columns its trees split on are permuted.

    A feature no tree splits on cannot change a prediction: its permutation importance is
    exactly 0, so it is not computed.
    """

    def __init__(self, model: Any, used: np.ndarray, n_features: int) -> None:
        self.model, self.used, self.n_features = model, used, n_features

    def fit(self, X: Any, y: Any) -> _UsedColumns:  # pragma: no cover - never refitted
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        full = np.zeros((X.shape[0], self.n_features))
        full[:, self.used] = X
        return np.asarray(self.model.predict(full))


@contextmanager
def _single_threaded(model: Any) -> Iterator[None]:
    """Predict on one thread meanwhile: thousands of predictions of ~100 rows each cost
    more in thread start-up than they gain (benchmarks/bench_report.py: 118 s -> 37 s)."""
    inner: Any = getattr(model, "estimator_", None)
    before = getattr(inner, "n_jobs", None)
    if inner is None or before is None:
        yield
        return
    inner.n_jobs = 1
    try:
        yield
    finally:
        inner.n_jobs = before


def _neg_rmse(estimator: Any, X: np.ndarray, y: np.ndarray) -> float:
    return -float(np.sqrt(np.mean((estimator.predict(X) - y) ** 2)))


def _used_features(model: Any, n_features: int) -> np.ndarray:
    trees = getattr(getattr(model, "estimator_", None), "estimators_", None)
    if trees is None:
        return np.arange(n_features)
    used = np.concatenate([tree.tree_.feature[tree.tree_.feature >= 0] for tree in trees])
    return np.unique(used)


def group_of(name: str, by: str = "kind") -> str:
    """The group of a feature: by ``kind`` (raw, delta, rel, lc, hp), ``layer`` (conv_last,
    fc1, ..., lc, hp), or ``kind_layer`` (e.g. ``delta:conv_last``).

    >>> group_of("conv_last.delta.all.std", "kind_layer")
    'delta:conv_last'
    """
    if by == "kind":
        return feature_kind(name)
    if by == "layer":
        return feature_layer(name)
    if by == "kind_layer":
        kind, layer = feature_kind(name), feature_layer(name)
        return kind if kind == layer else f"{kind}:{layer}"
    raise ValueError(f"by is 'kind', 'layer' or 'kind_layer', got {by!r}")


def feature_importance(
    source: Any,
    t: int | None = None,
    feature_set: str = "weights",
    *,
    n_repeats: int = 5,
    repeat: int = 0,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Fig. 4: permutation importance of every feature for the held-out prediction.

    A predictor is fitted on the training runs of split ``repeat`` at step ``t`` (default:
    the median recorded step); ``sklearn.inspection.permutation_importance`` then measures,
    on the test runs, how much the RMSE grows when one feature's values are shuffled
    (``n_repeats`` shuffles). Features no tree splits on get exactly 0 without being shuffled.

    One row per feature, most important first: feature, kind, layer, importance_mean,
    importance_std (RMSE increase), rank. ``attrs``: t, tau, feature_set, n_train, n_test,
    base_rmse, permuted (features permuted).

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> imp = feature_importance(exp, 50, "weights-delta", n_repeats=2)
    >>> list(imp.columns), len(imp)
    (['feature', 'kind', 'layer', 'importance_mean', 'importance_std', 'rank'], 4)
    """
    exp = as_experiment(source)
    t = int(t if t is not None else reference_step(exp.steps))
    model, ds, _, test = exp.fitted(t, feature_set)
    X_test = ds.X.loc[test].to_numpy(np.float64)
    y_test = ds.y.loc[test].to_numpy(np.float64)
    n_features = X_test.shape[1]
    used = _used_features(model, n_features)
    mean = np.zeros(n_features)
    std = np.zeros(n_features)
    if used.size:
        with _single_threaded(model):
            result = permutation_importance(
                _UsedColumns(model, used, n_features),
                X_test[:, used],
                y_test,
                scoring=_neg_rmse,
                n_repeats=n_repeats,
                random_state=random_state,
                n_jobs=n_jobs,
            )
        mean[used] = result.importances_mean
        std[used] = result.importances_std
    names = [str(c) for c in ds.X.columns]
    out = pd.DataFrame(
        {
            "feature": names,
            "kind": [feature_kind(c) for c in names],
            "layer": [feature_layer(c) for c in names],
            "importance_mean": mean,
            "importance_std": std,
        }
    )
    out = out.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out.attrs.update(
        t=t,
        tau=ds.tau,
        feature_set=feature_set,
        n_train=len(ds) - len(test),
        n_test=len(test),
        base_rmse=-_neg_rmse(model, X_test, y_test),
        permuted=int(used.size),
    )
    return out


def group_importance(importance: pd.DataFrame, by: str = "kind") -> pd.DataFrame:
    """Fig. 4A (``by="kind"``: raw vs delta) and 4B (``by="layer"``): importance per group.

    Columns: group, n_features, total (sum of the features' mean importances), max (the
    group's most important feature's), top_feature, share (total over all groups' totals of
    positive importance). Sorted by total, largest first.

    >>> imp = pd.DataFrame({"feature": ["a.raw.x", "a.delta.x", "b.delta.y"],
    ...                     "importance_mean": [0.01, 0.03, 0.02]})
    >>> group_importance(imp)[["group", "total"]].values.tolist()
    [['delta', 0.05], ['raw', 0.01]]
    """
    groups = importance["feature"].map(lambda c: group_of(c, by))
    frame = importance.assign(group=groups)
    rows = []
    for _, g in frame.groupby("group", sort=False):
        best = g.iloc[int(np.argmax(g["importance_mean"].to_numpy()))]
        rows.append(
            {
                "group": g["group"].iloc[0],
                "n_features": len(g),
                "total": float(g["importance_mean"].sum()),
                "max": float(best["importance_mean"]),
                "top_feature": best["feature"],
            }
        )
    out = pd.DataFrame(rows)
    positive = float(out["total"].clip(lower=0).sum())
    out["share"] = out["total"].clip(lower=0) / positive if positive > 0 else np.nan
    out = out.sort_values("total", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update({str(k): v for k, v in importance.attrs.items()}, by=by)
    return out
