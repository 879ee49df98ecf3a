"""Figure 3 of the paper: RMSE against t (3A), against n (3B), and the t needed (3C)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from weightcast.analysis._experiment import as_experiment
from weightcast.predict import FEATURE_SETS, feature_columns, score_predictions, summarize
from weightcast.predict._protocol import tagged

__all__ = [
    "PAPER_SETS",
    "compare_models",
    "rmse_vs_n",
    "rmse_vs_t",
    "samples_needed",
    "steps_needed",
]

#: the feature sets of the paper's figures.
PAPER_SETS = ("lc", "weights", "weights-raw", "weights-delta")


def _usable(exp: Any, t: int, feature_set: str) -> str | None:
    """None if the set can be assembled at t, else why not (e.g. tau > t)."""
    try:
        exp.dataset(t, feature_set)
    except ValueError as exc:
        return str(exc)
    return None


def rmse_vs_t(
    source: Any,
    sets: Sequence[str] = PAPER_SETS,
    steps: Sequence[int] | None = None,
    *,
    model: str = "forest",
) -> pd.DataFrame:
    """Fig. 3A: held-out RMSE (and R^2, rho) of each feature set at each step t.

    ``source`` is an :class:`Experiment` or a corpus. One row per (set, t): set, t, tau,
    model, repeats, n_train, n_test, then mean and std over repeats of rmse, mae, r2, rho.
    Pairs (set, t) that cannot be assembled (a weight change at t < tau) are skipped and
    listed in ``result.attrs["skipped"]`` as (set, t, reason); an unknown set raises.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 24), repeats=2,
    ...                  n_estimators=20)
    >>> df = rmse_vs_t(exp, ["lc", "weights"], [0, 20])
    >>> df[["set", "t"]].values.tolist(), df.attrs["skipped"][0][:2]
    ([['lc', 0], ['lc', 20], ['weights', 20]], ('weights', 0))
    """
    exp = as_experiment(source)
    for name in sets:
        if name not in FEATURE_SETS:
            feature_columns([], name)  # raises the "unknown feature set" error
    steps = list(exp.steps if steps is None else steps)
    frames, skipped = [], []
    for name in sets:
        for t in steps:
            why = _usable(exp, t, name)
            if why is not None:
                skipped.append((name, int(t), why))
                continue
            scores = exp.scores(t, name, model=model)
            frames.append(tagged(scores, set=name, t=int(t), tau=exp.tau, model=model))
    if not frames:
        out = pd.DataFrame(columns=["set", "t", "tau", "model", "repeats", "rmse_mean"])
    else:
        out = summarize(pd.concat(frames, ignore_index=True), by=("set", "t", "tau", "model"))
    out.attrs["skipped"] = skipped
    return out


def compare_models(
    source: Any,
    sets: Sequence[str] = ("lc", "weights", "weights+lc"),
    steps: Sequence[int] | None = None,
    models: Sequence[str] = ("forest", "boosting"),
) -> pd.DataFrame:
    """The random forest beside gradient boosting: :func:`rmse_vs_t` per model, stacked.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> compare_models(exp, ["lc"], [50])["model"].tolist()
    ['forest', 'boosting']
    """
    frames = [rmse_vs_t(source, sets, steps, model=m) for m in models]
    out = pd.concat(frames, ignore_index=True)
    out.attrs["skipped"] = [s for f in frames for s in f.attrs.get("skipped", [])]
    return out


def rmse_vs_n(
    source: Any,
    t: int | None = None,
    sets: Sequence[str] = ("lc", "weights"),
    n_values: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Fig. 3B: held-out RMSE against the number n of training runs, at step ``t``.

    The test runs of each repeat are fixed (the runs left over at the largest n), and the
    training runs are nested, so the curve shows the effect of n alone. ``n_values``
    defaults to 6 values from a tenth of the largest n up to it; the largest n is the
    experiment's n. One row per (set, n) with the columns of :func:`rmse_vs_t`.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> rmse_vs_n(exp, 50, ["lc", "weights"], n_values=[5, 10])[["set", "n"]].values.tolist()
    [['lc', 5], ['lc', 10], ['weights', 5], ['weights', 10]]
    """
    exp = as_experiment(source)
    t = int(t if t is not None else reference_step(exp.steps))
    ref = exp.dataset(t, sets[0])
    n_max = exp.n_train(ref)
    n_test = len(ref) - n_max
    if n_values is None:
        grid = np.unique(np.round(n_max * np.array([0.1, 0.2, 0.35, 0.5, 0.75, 1.0])))
        n_values = [int(v) for v in grid if v >= 2]
    frames = []
    for name in sets:
        ds = exp.dataset(t, name)
        if len(ds) != len(ref):
            raise ValueError(f"sets {sets[0]!r} and {name!r} have different runs at t={t}")
        for n in n_values:
            preds = exp.predictions(ds, n=int(n), n_test=n_test)
            scores = score_predictions(preds)
            frames.append(tagged(scores, set=name, t=t, tau=exp.tau, n=int(n)))
    return summarize(pd.concat(frames, ignore_index=True), by=("set", "t", "tau", "n"))


def _first_crossing(x: np.ndarray, y: np.ndarray, target: float) -> tuple[float, str]:
    """The first x where y <= target, linearly interpolated; with a flag '', '<=' or '>'."""
    below = np.flatnonzero(y <= target)
    if below.size == 0:
        return float("nan"), ">"
    i = int(below[0])
    if i == 0:
        return float(x[0]), "<="
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    frac = (y0 - target) / (y0 - y1) if y0 != y1 else 1.0
    return float(x0 + frac * (x1 - x0)), ""


def samples_needed(curve: pd.DataFrame, reference: str = "lc") -> pd.DataFrame:
    """Fig. 3B's reading: the n each set needs to reach the reference's RMSE at its largest n.

    ``curve`` is :func:`rmse_vs_n` output. One row per set: set, t, target_rmse, n_reference
    (the reference's largest n), n_needed (interpolated between the n values; NaN when never
    reached), flag ('<=' reached already at the smallest n, '>' never reached), saving
    (1 - n_needed / n_reference).

    >>> c = pd.DataFrame({"set": ["lc"] * 2 + ["weights"] * 2, "t": 10, "n": [10, 20] * 2,
    ...                   "rmse_mean": [0.3, 0.2, 0.25, 0.15]})
    >>> samples_needed(c)[["set", "n_needed", "saving"]].values.tolist()
    [['lc', 20.0, 0.0], ['weights', 15.0, 0.25]]
    """
    ref = curve[curve["set"] == reference].sort_values("n")
    if ref.empty:
        raise ValueError(f"no reference set {reference!r} in the curve")
    n_ref = float(ref["n"].iloc[-1])
    target = float(ref["rmse_mean"].iloc[-1])
    rows = []
    for _, g in curve.groupby("set", sort=False):
        g = g.sort_values("n")
        name = str(g["set"].iloc[0])
        n_needed, flag = _first_crossing(g["n"].to_numpy(float), g["rmse_mean"].to_numpy(), target)
        rows.append(
            {
                "set": name,
                "t": int(g["t"].iloc[0]),
                "target_rmse": target,
                "n_reference": n_ref,
                "n_needed": n_needed,
                "flag": flag,
                "saving": 1 - n_needed / n_ref if np.isfinite(n_needed) else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def steps_needed(
    curve: pd.DataFrame,
    target: float | tuple[str, int] | None = None,
    reference: str = "lc",
) -> pd.DataFrame:
    """Fig. 3C: the step t each set needs to reach a target RMSE.

    ``curve`` is :func:`rmse_vs_t` output. ``target``: an RMSE; or ``(set, t)``, that set's
    RMSE at step t (the paper: the weight features' RMSE at t = 200 on CIFAR-10); default the
    reference set's RMSE at its largest t. One row per set: set, target_rmse, t_needed
    (interpolated between recorded steps; NaN when never reached), flag ('<=' reached at the
    first step, '>' never), speedup (the reference's t_needed / the set's).

    >>> c = pd.DataFrame({"set": ["lc"] * 3 + ["weights"] * 3, "t": [10, 20, 40] * 2,
    ...                   "rmse_mean": [0.3, 0.25, 0.2, 0.24, 0.16, 0.15]})
    >>> steps_needed(c).round(2)[["set", "t_needed", "speedup"]].values.tolist()
    [['lc', 40.0, 1.0], ['weights', 15.0, 2.67]]
    """
    if target is None:
        ref = curve[curve["set"] == reference].sort_values("t")
        if ref.empty:
            raise ValueError(f"no reference set {reference!r} in the curve")
        target_rmse = float(ref["rmse_mean"].iloc[-1])
    elif isinstance(target, tuple):
        name, t = target
        row = curve[(curve["set"] == name) & (curve["t"] == t)]
        if row.empty:
            raise ValueError(f"no RMSE of set {name!r} at t={t} in the curve")
        target_rmse = float(row["rmse_mean"].iloc[0])
    else:
        target_rmse = float(target)
    rows = []
    for _, g in curve.groupby("set", sort=False):
        g = g.sort_values("t")
        name = str(g["set"].iloc[0])
        t_needed, flag = _first_crossing(
            g["t"].to_numpy(float), g["rmse_mean"].to_numpy(), target_rmse
        )
        rows.append({"set": name, "target_rmse": target_rmse, "t_needed": t_needed, "flag": flag})
    out = pd.DataFrame(rows)
    ref_t = out.loc[out["set"] == reference, "t_needed"]
    ref_value = float(ref_t.iloc[0]) if len(ref_t) else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["speedup"] = ref_value / out["t_needed"].to_numpy(float)
    out.loc[~np.isfinite(out["speedup"]), "speedup"] = np.nan
    return out


def reference_step(steps: Sequence[int]) -> int:
    """The default step of the single-t analyses: the median of the positive recorded steps.

    >>> reference_step([0, 10, 20, 50, 100])
    20
    """
    positive = sorted(s for s in steps if s > 0) or sorted(steps)
    return int(positive[(len(positive) - 1) // 2])
