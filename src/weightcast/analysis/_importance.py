"""Figure 4 of the paper: which features the predictor relies on (permutation importance).

Fig. 4A (raw weights vs their change) and 4B (by layer) are *grouped* permutation importances:
all the columns of a group are shuffled together, with one row permutation, so the group's
information is destroyed while the correlations inside it are kept. Permuting one feature at
a time (:func:`feature_importance`) and summing per group does not measure a group: among
hundreds of strongly correlated weight statistics the forest finds each one's information in
its neighbours, so every single-feature importance is at noise level and their sums can come
out negative.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from weightcast.analysis._experiment import as_experiment
from weightcast.analysis._rmse import reference_step
from weightcast.predict import Predictor, feature_kind, feature_layer

__all__ = [
    "feature_importance",
    "group_importance",
    "group_of",
    "grouped_permutation_importance",
    "importance_by_group",
]


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
    model, ds, _, test = exp.fitted(t, feature_set, repeat=repeat)
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
    """The per-feature importances of :func:`feature_importance`, summed per group.

    ``by``: see :func:`group_of`. Columns: group, n_features, total (sum of the features' mean
    importances), max (the group's most important feature's), top_feature, share (total over
    all groups' totals of positive importance). Sorted by total, largest first.

    A summary of the one-at-a-time numbers, not the importance of a group: with correlated
    features each single shuffle costs little, so the sums are at noise level (and may be
    negative). Fig. 4A/4B shuffle each group as a whole: :func:`importance_by_group`.

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


def _rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def grouped_permutation_importance(
    model: Any,
    X: Any,
    y: Any,
    groups: Mapping[str, Sequence[Any]],
    *,
    n_repeats: int = 10,
    random_state: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Permutation importance of groups of columns: the RMSE increase when all of a group's
    columns are shuffled together.

    For each group, the rows of the group's columns are reordered by one permutation (the
    same for all its columns, so the group's values stay together and its internal
    correlations are kept; only its link to ``y`` and to the other columns is broken), the
    fitted ``model`` predicts, and the RMSE against ``y`` is compared with the unpermuted
    RMSE. ``sklearn.inspection.permutation_importance`` permutes one column at a time, which
    among correlated columns measures next to nothing.

    Parameters
    ----------
    model : a fitted regressor (``predict``).
    X : DataFrame or 2-D array, the held-out rows.
    y : the targets of those rows.
    groups : group name -> the group's columns: labels of ``X`` if it is a DataFrame, else
        column positions. An empty group has importance 0.
    n_repeats : permutations per group.
    random_state : seed (or Generator) of ``numpy.random.default_rng``. The ``n_repeats``
        permutations are drawn first, ``rng.permutation(n_rows)`` each, and every group is
        shuffled with the same ones: a group's numbers do not depend on the other groups
        listed, and groups are compared under the same shuffles.

    Returns
    -------
    DataFrame, one row per group, most important first: group, n_features, importance_mean,
    importance_std (over the repeats, ``ddof=0`` as sklearn's), importance_rel
    (importance_mean / base_rmse). ``attrs``: base_rmse, n_repeats, importances (group ->
    the per-repeat RMSE increases). Costs ``1 + len(groups) * n_repeats`` predictions.

    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> rng = np.random.default_rng(0)
    >>> signal = rng.normal(size=(200, 1))
    >>> X = np.hstack([signal + 0.01 * rng.normal(size=(200, 3)), rng.normal(size=(200, 3))])
    >>> y = signal[:, 0]
    >>> model = RandomForestRegressor(50, random_state=0).fit(X[:150], y[:150])
    >>> imp = grouped_permutation_importance(
    ...     model, X[150:], y[150:], {"signal": [0, 1, 2], "noise": [3, 4, 5]}, n_repeats=5)
    >>> imp["group"].tolist(), bool(imp["importance_mean"].iloc[0] > 0.5)
    (['signal', 'noise'], True)
    >>> bool(abs(imp["importance_mean"].iloc[1]) < 0.05)
    True
    """
    if int(n_repeats) < 1:
        raise ValueError(f"n_repeats is at least 1, got {n_repeats}")
    frame = X if isinstance(X, pd.DataFrame) else None
    arr = (
        frame.to_numpy(dtype=np.float64, na_value=np.nan)
        if frame is not None
        else np.asarray(X, dtype=np.float64)
    )
    if arr.ndim != 2:
        raise ValueError(f"X is 2-D (rows x columns), got shape {arr.shape}")
    target = np.asarray(y, dtype=np.float64).ravel()
    if target.shape[0] != arr.shape[0]:
        raise ValueError(f"X has {arr.shape[0]} rows but y has {target.shape[0]}")
    positions = {name: _positions(cols, frame, arr.shape[1], name) for name, cols in groups.items()}

    # a model fitted on a DataFrame checks the column names
    named = frame if frame is not None and not _takes_array(model, frame) else None

    def predict(values: np.ndarray) -> np.ndarray:
        data: Any = values
        if named is not None:
            data = pd.DataFrame(values, index=named.index, columns=named.columns)
        return np.asarray(model.predict(data), dtype=np.float64).ravel()

    rng = np.random.default_rng(random_state)
    perms = [rng.permutation(arr.shape[0]) for _ in range(int(n_repeats))]
    importances: dict[str, np.ndarray] = {}
    with _single_threaded(model):
        base = _rmse(predict(arr), target)
        for name, cols in positions.items():
            scores = np.full(len(perms), base)
            if cols.size:
                work = arr.copy()
                for r, perm in enumerate(perms):
                    work[:, cols] = arr[np.ix_(perm, cols)]
                    scores[r] = _rmse(predict(work), target)
            importances[name] = scores - base
    out = pd.DataFrame(
        {
            "group": [str(g) for g in positions],
            "n_features": [int(c.size) for c in positions.values()],
            "importance_mean": [float(v.mean()) for v in importances.values()],
            "importance_std": [float(v.std()) for v in importances.values()],
        }
    )
    out["importance_rel"] = out["importance_mean"] / base if base > 0 else np.nan
    out = out.sort_values("importance_mean", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs.update(
        base_rmse=base,
        n_repeats=int(n_repeats),
        importances={str(g): [float(x) for x in v] for g, v in importances.items()},
    )
    return out


def _takes_array(model: Any, frame: pd.DataFrame) -> bool:
    """Whether ``model`` is the library's predictor fitted on ``frame``'s columns in this
    order: it then predicts the same from the bare array, without its per-call name check
    (13x faster on ~1,600 columns)."""
    names = [str(c) for c in frame.columns]
    return (
        isinstance(model, Predictor) and list(getattr(model, "feature_names_in_", names)) == names
    )


def _positions(
    cols: Sequence[Any], frame: pd.DataFrame | None, n_columns: int, name: str
) -> np.ndarray:
    if isinstance(cols, str):
        raise TypeError(f"group {name!r}: give a list of columns, not the string {cols!r}")
    if frame is not None:
        index = frame.columns
        absent = [c for c in cols if c not in index]
        if absent:
            raise ValueError(f"group {name!r}: X has no columns {absent[:5]}")
        pos = np.asarray([index.get_loc(c) for c in cols], dtype=np.intp)
    else:
        pos = np.asarray(list(cols), dtype=np.intp)
        if pos.size and (pos.min() < -n_columns or pos.max() >= n_columns):
            raise ValueError(f"group {name!r}: column positions out of range for {n_columns}")
        pos = pos % n_columns if pos.size else pos
    return np.unique(pos)


def importance_by_group(
    source: Any,
    t: int | None = None,
    feature_set: str = "weights",
    by: str = "kind",
    *,
    n_repeats: int = 10,
    repeat: int = 0,
    random_state: int = 0,
) -> pd.DataFrame:
    """Fig. 4A (``by="kind"``: raw vs delta, and lc, hp, rel where the set has them) and 4B
    (``by="layer"``: conv_first, ..., fc1, and lc, hp): grouped permutation importance.

    The predictor of :func:`feature_importance` (fitted on the training runs of split
    ``repeat`` at step ``t``, default the median recorded step) predicts the test runs with
    all the columns of one group shuffled together (:func:`grouped_permutation_importance`,
    ``n_repeats`` seeded shuffles); a group's importance is the RMSE increase. Groups: see
    :func:`group_of` (``by`` may also be ``"kind_layer"``). A group correlated with another
    (the raw weights with their change, say) keeps part of its information there, so the
    numbers measure what the forest loses, not an additive share.

    One row per group, most important first: group, n_features, importance_mean,
    importance_std, importance_rel (over the unpermuted RMSE), share (importance_mean over
    the sum of the positive ones). ``attrs``: t, tau, feature_set, by, n_train, n_test,
    base_rmse, n_repeats, importances (per-repeat RMSE increases per group).

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> imp = importance_by_group(exp, 50, "weights", by="layer", n_repeats=3)
    >>> sorted(imp["group"]), list(imp.columns[:3])
    (['conv_first', 'conv_last', 'fc1'], ['group', 'n_features', 'importance_mean'])
    """
    exp = as_experiment(source)
    t = int(t if t is not None else reference_step(exp.steps))
    model, ds, _, test = exp.fitted(t, feature_set, repeat=repeat)
    X_test = ds.X.loc[test]
    groups: dict[str, list[Any]] = {}
    for column in X_test.columns:
        groups.setdefault(group_of(str(column), by), []).append(column)
    out = grouped_permutation_importance(
        model, X_test, ds.y.loc[test], groups, n_repeats=n_repeats, random_state=random_state
    )
    positive = float(out["importance_mean"].clip(lower=0).sum())
    out["share"] = out["importance_mean"].clip(lower=0) / positive if positive > 0 else np.nan
    out.attrs.update(
        t=t,
        tau=ds.tau,
        feature_set=feature_set,
        by=by,
        n_train=len(ds) - len(test),
        n_test=len(test),
    )
    return out
