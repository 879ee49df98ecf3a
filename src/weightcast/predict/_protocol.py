"""The evaluation protocol: repeated seeded splits, n runs to train, scores on the rest."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import clone

from weightcast.predict._dataset import CorpusLike, Dataset, FeatureStore, store_for
from weightcast.predict._predictor import Predictor

__all__ = [
    "cross_predict",
    "evaluate",
    "evaluate_sets",
    "resolve_n",
    "score_predictions",
    "split_runs",
    "summarize",
]

#: default share of the usable runs the predictor trains on when ``n`` is not given.
DEFAULT_TRAIN_SHARE = 2 / 3
MIN_TEST = 2


def _key(seed: int, repeat: int, run_id: str) -> int:
    digest = hashlib.blake2b(f"{seed}/{repeat}/{run_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def resolve_n(n: int | float | None, n_runs: int, *, n_test: int | None = None) -> int:
    """The number of training runs: ``n`` itself, a share of ``n_runs`` when ``0 < n < 1``,
    or two thirds of them when ``None``. Raises ``ValueError`` when the split is impossible.

    >>> resolve_n(None, 30), resolve_n(0.5, 30), resolve_n(10, 30)
    (20, 15, 10)
    """
    if n is None:
        n = DEFAULT_TRAIN_SHARE
    if isinstance(n, float) and 0 < n < 1:
        n_train = int(round(n * n_runs))
    elif float(n) == int(n) and n >= 1:
        n_train = int(n)
    else:
        raise ValueError(f"n is a number of runs >= 2 or a share in (0, 1), got {n!r}")
    need_test = MIN_TEST if n_test is None else n_test
    if n_train < 2 or n_train + need_test > n_runs:
        raise ValueError(
            f"too few runs: training on n={n_train} runs and testing on at least {need_test} "
            f"needs {max(n_train, 2) + need_test} usable runs, this dataset has {n_runs}; "
            "use a smaller n or collect more runs"
        )
    return n_train


def split_runs(
    run_ids: Sequence[str],
    n: int,
    *,
    repeats: int = 5,
    seed: int = 0,
    n_test: int | None = None,
) -> list[tuple[list[str], list[str]]]:
    """Seeded random (train, test) splits of ``run_ids``: ``n`` runs to train, the rest to test.

    Each repeat orders the runs by a hash of ``(seed, repeat, run_id)``: the first ``n`` train
    and the rest test (or only the last ``n_test``, so that test sets stay the same while ``n``
    varies). The order of a run does not depend on which other runs are present, so splits
    are reproducible across processes and nested across pools (the runs alive at a later step
    keep their places). Train and test are disjoint.

    >>> ids = [f"run-{i}" for i in range(6)]
    >>> (train, test), = split_runs(ids, 4, repeats=1, seed=1)
    >>> len(train), len(test), set(train).isdisjoint(test)
    (4, 2, True)
    >>> split_runs(ids, 4, repeats=1, seed=1) == [(train, test)]
    True
    """
    ids = [str(r) for r in run_ids]
    if len(set(ids)) != len(ids):
        raise ValueError("run_ids has duplicates")
    n = resolve_n(n, len(ids), n_test=n_test)
    if repeats < 1:
        raise ValueError(f"repeats is >= 1, got {repeats}")
    out = []
    for r in range(repeats):
        keys = {rid: _key(seed, r, rid) for rid in ids}
        order = sorted(ids, key=keys.__getitem__)
        test = order[n:] if n_test is None else order[len(order) - n_test :]
        out.append((order[:n], test))
    return out


def cross_predict(
    dataset: Dataset,
    n: int | float | None = None,
    *,
    repeats: int = 5,
    seed: int = 0,
    predictor: Any = None,
    n_test: int | None = None,
    interval: float | None = None,
) -> pd.DataFrame:
    """Held-out predictions of the protocol: one row per (repeat, test run).

    Columns: repeat, run_id, y_true, y_pred, n_train, and with ``interval`` (a coverage) also
    lo, hi from ``predict_interval``. ``predictor`` (default :class:`Predictor()`) is cloned
    for every repeat.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.predict import assemble
    >>> ds = assemble(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 20), 20, 10, "weights")
    >>> p = cross_predict(ds, 10, repeats=2, predictor=Predictor(n_estimators=10), interval=0.8)
    >>> list(p.columns), p["repeat"].unique().tolist()
    (['repeat', 'run_id', 'y_true', 'y_pred', 'n_train', 'lo', 'hi'], [0, 1])
    """
    base = Predictor() if predictor is None else predictor
    n_train = resolve_n(n, len(dataset), n_test=n_test)
    frames = []
    for r, (train, test) in enumerate(
        split_runs(dataset.run_ids, n_train, repeats=repeats, seed=seed, n_test=n_test)
    ):
        model = clone(base).fit(dataset.X.loc[train], dataset.y.loc[train])
        X_test = dataset.X.loc[test]
        frame = pd.DataFrame(
            {
                "repeat": r,
                "run_id": test,
                "y_true": dataset.y.loc[test].to_numpy(np.float64),
                "y_pred": model.predict(X_test),
                "n_train": n_train,
            }
        )
        if interval is not None:
            frame["lo"], frame["hi"] = model.predict_interval(X_test, coverage=interval)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def score_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per-repeat scores of :func:`cross_predict` output: rmse, mae, r2, rho (Spearman).

    >>> p = pd.DataFrame({"repeat": 0, "y_true": [0.1, 0.5, 0.9], "y_pred": [0.2, 0.5, 0.8],
    ...                   "n_train": 10})
    >>> score_predictions(p)[["rmse", "rho"]].round(4).values.tolist()
    [[0.0816, 1.0]]
    """
    rows = []
    for _, g in predictions.groupby("repeat", sort=True):
        yt, yp = g["y_true"].to_numpy(np.float64), g["y_pred"].to_numpy(np.float64)
        err = yp - yt
        ss_tot = float(np.sum((yt - yt.mean()) ** 2))
        rows.append(
            {
                "repeat": int(g["repeat"].iloc[0]),
                "n_train": int(g["n_train"].iloc[0]),
                "n_test": len(g),
                "rmse": float(np.sqrt(np.mean(err**2))),
                "mae": float(np.mean(np.abs(err))),
                "r2": 1 - float(np.sum(err**2)) / ss_tot if ss_tot > 0 else float("nan"),
                "rho": _spearman(yt, yp),
            }
        )
    return pd.DataFrame(rows)


def evaluate(
    dataset: Dataset,
    n: int | float | None = None,
    *,
    repeats: int = 5,
    seed: int = 0,
    predictor: Any = None,
) -> pd.DataFrame:
    """The protocol on one dataset: per-repeat rmse, mae, r2 and rho on the held-out runs.

    ``n`` runs (default: two thirds of the usable runs) train a clone of ``predictor``
    (default: :class:`Predictor`), the rest test; ``repeats`` seeded splits (:func:`split_runs`).

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.predict import assemble
    >>> ds = assemble(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 20), 20, 10, "weights")
    >>> scores = evaluate(ds, n=10, repeats=2, predictor=Predictor(n_estimators=20))
    >>> list(scores.columns)
    ['repeat', 'n_train', 'n_test', 'rmse', 'mae', 'r2', 'rho']
    """
    preds = cross_predict(dataset, n, repeats=repeats, seed=seed, predictor=predictor)
    return score_predictions(preds)


def summarize(scores: pd.DataFrame, by: Iterable[str] = ("set", "t", "tau")) -> pd.DataFrame:
    """Mean and standard deviation over repeats of per-repeat scores, grouped by ``by``.

    Columns: the ``by`` columns, repeats, n_train, n_test, then ``<metric>_mean`` and
    ``<metric>_std`` for rmse, mae, r2, rho (std with ddof = 1; NaN for one repeat).

    >>> s = pd.DataFrame({"set": "lc", "t": 10, "repeat": [0, 1], "n_train": 5, "n_test": 3,
    ...                   "rmse": [0.1, 0.3]})
    >>> summarize(s)[["set", "repeats", "rmse_mean"]].values.tolist()
    [['lc', 2, 0.2]]
    """
    keys = [k for k in by if k in scores.columns]
    metrics = [m for m in ("rmse", "mae", "r2", "rho") if m in scores.columns]
    agg: dict[str, Any] = {"repeats": ("repeat", "nunique")}
    agg["n_train"] = ("n_train", "first")
    agg["n_test"] = ("n_test", "first")
    for m in metrics:
        agg[f"{m}_mean"] = (m, "mean")
        agg[f"{m}_std"] = (m, "std")
    grouped = (
        scores.groupby(keys, sort=False, dropna=False)
        if keys
        else scores.groupby(np.zeros(len(scores)))
    )
    out = grouped.agg(**agg).reset_index(drop=not keys)
    return out


def tagged(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """``frame`` with constant ``columns`` put first (labels of per-repeat scores).

    >>> tagged(pd.DataFrame({"rmse": [0.1]}), set="lc", t=5).columns.tolist()
    ['set', 't', 'rmse']
    """
    return frame.assign(**columns)[[*columns, *[c for c in frame.columns if c not in columns]]]


def evaluate_sets(
    corpus: CorpusLike | FeatureStore,
    t: int | Sequence[int],
    tau: int | None = None,
    sets: Sequence[str] = ("lc", "weights"),
    *,
    n: int | float | None = None,
    repeats: int = 5,
    seed: int = 0,
    predictor: Any = None,
) -> pd.DataFrame:
    """Per-repeat scores of several feature sets at one or more steps ``t``.

    Tidy: one row per (set, t, repeat) with columns set, t, tau, repeat, n_train, n_test,
    rmse, mae, r2, rho. At each ``t`` all sets use the same runs and the same splits, so their
    scores are paired. Pass the result to :func:`summarize` for mean and std over repeats.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> path = make_synthetic_corpus(tempfile.mkdtemp() + "/c", 20)
    >>> s = evaluate_sets(path, [20, 50], 10, ["lc", "weights"], n=10, repeats=2,
    ...                   predictor=Predictor(n_estimators=20))
    >>> summarize(s)[["set", "t", "repeats"]].values.tolist()
    [['lc', 20, 2], ['weights', 20, 2], ['lc', 50, 2], ['weights', 50, 2]]
    """
    store = store_for(corpus)
    steps = [t] if isinstance(t, int | np.integer) else list(t)
    if tau is None and store.taus:
        tau = store.taus[0]
    frames = []
    for step in steps:
        for name in sets:
            ds = store.assemble(int(step), tau, name)
            scores = evaluate(ds, n, repeats=repeats, seed=seed, predictor=predictor)
            frames.append(tagged(scores, set=name, t=ds.t, tau=tau))
    return pd.concat(frames, ignore_index=True)
