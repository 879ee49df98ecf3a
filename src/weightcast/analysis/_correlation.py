"""Figure 6 of the paper: the best rank correlation with the eventual accuracy, per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from weightcast.analysis._experiment import as_experiment
from weightcast.analysis._importance import group_of

__all__ = ["max_correlation", "spearman_columns"]


def spearman_columns(X: pd.DataFrame, y: pd.Series | np.ndarray) -> pd.Series:
    """Spearman's rho of every column of ``X`` with ``y`` (NaN rows left out per column).

    Constant columns give NaN. Matches ``scipy.stats.spearmanr`` column by column.

    >>> X = pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [4.0, 3, 2, 1], "c": [1.0, 1, 1, 1]})
    >>> spearman_columns(X, np.array([0.1, 0.2, 0.3, 0.5])).tolist()
    [1.0, -1.0, nan]
    """
    yv = np.asarray(y, dtype=np.float64)
    values = X.to_numpy(dtype=np.float64)
    out = np.full(values.shape[1], np.nan)
    complete = ~np.isnan(values).any(axis=0)

    def corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a = a - a.mean(axis=0)
        b = b - b.mean()
        den = np.sqrt((a**2).sum(axis=0) * (b**2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (a * b[:, None]).sum(axis=0) / den
        r[den == 0] = np.nan
        return r

    if complete.any():
        ranks = rankdata(values[:, complete], axis=0)
        out[complete] = corr(ranks, rankdata(yv))
    for j in np.flatnonzero(~complete):
        ok = ~np.isnan(values[:, j])
        if ok.sum() >= 3:
            out[j] = corr(rankdata(values[ok, j])[:, None], rankdata(yv[ok]))[0]
    return pd.Series(out, index=X.columns, name="rho")


def max_correlation(
    source: Any,
    steps: Sequence[int] | None = None,
    feature_set: str = "all",
    by: str = "kind_layer",
) -> pd.DataFrame:
    """Fig. 6: the largest |Spearman rho| with the eventual accuracy within each feature group.

    For each step t (default all recorded) the features of ``feature_set`` (default ``all``:
    raw, delta, learning curve, hyperparameters; at steps where the weight change does not
    exist, ``weights-raw``, ``lc`` and ``hp`` separately) are correlated with the eventual
    accuracy over the usable runs. Groups as in :func:`group_of` (default: kind and layer, e.g.
    ``delta:conv_last``, plus the kinds ``raw``, ``delta``, ``lc``, ``hp`` as a whole).

    One row per (t, group): t, group, max_abs_rho, rho (signed, of the best feature),
    feature, n_features, n_runs.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> corr = max_correlation(exp, [50])
    >>> sorted(corr.loc[corr["group"].isin(["raw", "delta", "lc", "hp"]), "group"])
    ['delta', 'hp', 'lc', 'raw']
    """
    exp = as_experiment(source)
    rows = []
    for t in exp.steps if steps is None else steps:
        frames = []
        try:
            frames.append(exp.dataset(t, feature_set))
        except ValueError:
            for name in ("weights-raw", "lc", "hp"):
                try:
                    frames.append(exp.dataset(t, name))
                except ValueError:
                    continue
        for ds in frames:
            rho = spearman_columns(ds.X, ds.y)
            names = [str(c) for c in ds.X.columns]
            groups = pd.Series([group_of(c, by) for c in names], index=rho.index)
            kinds = pd.Series([group_of(c, "kind") for c in names], index=rho.index)
            labels = [groups] if by == "kind" else [groups, kinds]
            for labelling in labels:
                for group, idx in labelling.groupby(labelling, sort=False).groups.items():
                    r = rho.loc[idx]
                    if r.notna().sum() == 0:
                        continue
                    i = int(np.nanargmax(r.abs().to_numpy()))
                    rows.append(
                        {
                            "t": int(t),
                            "group": group,
                            "max_abs_rho": float(abs(r.iloc[i])),
                            "rho": float(r.iloc[i]),
                            "feature": str(r.index[i]),
                            "n_features": len(idx),
                            "n_runs": len(ds),
                        }
                    )
    out = pd.DataFrame(rows).drop_duplicates(subset=["t", "group"], keep="first")
    return out.reset_index(drop=True)
