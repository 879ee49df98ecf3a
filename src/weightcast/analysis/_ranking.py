"""Beyond the paper: what a pruning decision needs, the rank and the top share of the runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from weightcast.analysis._experiment import as_experiment
from weightcast.predict import split_runs

__all__ = ["top_share"]


def _top_scores(
    pred: pd.DataFrame, y_train_by_repeat: dict[int, np.ndarray], share: float, keep: float
) -> list[dict[str, float]]:
    rows = []
    for _, g in pred.groupby("repeat", sort=True):
        r = int(g["repeat"].iloc[0])
        threshold = float(np.quantile(y_train_by_repeat[r], 1 - share))
        label = (g["y_true"].to_numpy() >= threshold).astype(int)
        score = g["score"].to_numpy(np.float64)
        auc = roc_auc_score(label, score) if 0 < label.sum() < len(label) else float("nan")
        kept = np.argsort(-score, kind="stable")[: max(1, int(round(keep * len(score))))]
        recall = label[kept].sum() / label.sum() if label.sum() else float("nan")
        rows.append({"repeat": r, "auc": float(auc), "top_kept": float(recall)})
    return rows


def top_share(
    source: Any,
    sets: Sequence[str] = ("lc", "weights", "weights+lc"),
    steps: Sequence[int] | None = None,
    *,
    share: float = 0.2,
    keep: float = 0.5,
    classifier: bool = True,
) -> pd.DataFrame:
    """Will the run end in the top ``share`` of the runs? The question a pruner asks.

    For each set and t, over the protocol's repeats: the runs whose eventual accuracy is at
    least the (1 - share) quantile of the *training* runs' are "top". Two scorers rank the
    test runs: the regression forest's predicted accuracy (the same fits as
    :func:`rmse_vs_t`), and, with ``classifier``, a ``RandomForestClassifier`` (the forest's
    settings) trained on the top/not-top labels. Columns: set, t, scorer, auc_mean, auc_std
    (ROC AUC), top_kept_mean, top_kept_std (the share of top runs kept when pruning all but
    the best ``keep`` share by the score), rho_mean (Spearman of prediction and accuracy,
    regression only). The classifier has the forest's number of trees, sqrt of the features
    per split (the classification default) and NaN support.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> top_share(exp, ["weights"], [50])["scorer"].tolist()
    ['regression', 'classifier']
    """
    exp = as_experiment(source)
    if not 0 < share < 1 or not 0 < keep <= 1:
        raise ValueError(f"share is in (0, 1) and keep in (0, 1], got {share}, {keep}")
    steps = list(exp.steps if steps is None else steps)
    forest = exp.models["forest"]
    rows = []
    for name in sets:
        for t in steps:
            try:
                ds = exp.dataset(t, name)
            except ValueError:
                continue
            n_tr = exp.n_train(ds)
            splits = split_runs(ds.run_ids, n_tr, repeats=exp.repeats, seed=exp.seed)
            y_train = {r: ds.y.loc[tr].to_numpy() for r, (tr, _) in enumerate(splits)}
            pred = exp.predictions(ds).assign(score=lambda d: d["y_pred"])
            rho = [
                g["y_true"].corr(g["y_pred"], method="spearman")
                for _, g in pred.groupby("repeat", sort=True)
            ]
            scored = {"regression": (_top_scores(pred, y_train, share, keep), float(np.mean(rho)))}
            if classifier:
                frames = []
                for r, (train, test) in enumerate(splits):
                    threshold = np.quantile(y_train[r], 1 - share)
                    labels = (ds.y.loc[train] >= threshold).astype(int)
                    if labels.nunique() < 2:
                        continue
                    clf = RandomForestClassifier(
                        n_estimators=getattr(forest, "n_estimators", 400),
                        max_features="sqrt",
                        min_samples_leaf=1,
                        random_state=getattr(forest, "random_state", 0),
                        n_jobs=getattr(forest, "n_jobs", -1),
                    )
                    model = clone(clf).fit(_finite(ds.X.loc[train]), labels)
                    proba = model.predict_proba(_finite(ds.X.loc[test]))[:, 1]
                    frames.append(
                        pd.DataFrame(
                            {"repeat": r, "y_true": ds.y.loc[test].to_numpy(), "score": proba}
                        )
                    )
                if frames:
                    scored["classifier"] = (
                        _top_scores(pd.concat(frames), y_train, share, keep),
                        float("nan"),
                    )
            for scorer, (per_repeat, rho_mean) in scored.items():
                frame = pd.DataFrame(per_repeat)
                rows.append(
                    {
                        "set": name,
                        "t": int(t),
                        "scorer": scorer,
                        "share": share,
                        "keep": keep,
                        "auc_mean": float(frame["auc"].mean()),
                        "auc_std": float(frame["auc"].std()),
                        "top_kept_mean": float(frame["top_kept"].mean()),
                        "top_kept_std": float(frame["top_kept"].std()),
                        "rho_mean": rho_mean,
                    }
                )
    return pd.DataFrame(rows)


def _finite(X: pd.DataFrame) -> np.ndarray:
    from weightcast.predict._predictor import CLIP

    return np.clip(X.to_numpy(np.float64), -CLIP, CLIP)
