"""Figure 5 of the paper: a history of features (5A) and the weight-change gap tau (5B)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from weightcast.analysis._experiment import as_experiment
from weightcast.analysis._rmse import reference_step
from weightcast.predict import Dataset, score_predictions, summarize
from weightcast.predict._protocol import tagged

__all__ = ["history_steps", "rmse_vs_history", "rmse_vs_tau"]


def history_steps(
    steps: Sequence[int], t: int, depth: int = 2, lag: int | None = None
) -> list[int]:
    """The steps of a history F(t), F(t - a), ..., F(t - depth a), all recorded; [] if not.

    With ``lag=None`` the history is the ``depth`` recorded steps before ``t`` (the paper
    used an even gap, which a recording grid need not have).

    >>> history_steps([0, 10, 20, 50, 100], 50), history_steps([0, 10, 20, 50], 20, lag=10)
    ([50, 20, 10], [20, 10, 0])
    """
    recorded = sorted(set(int(s) for s in steps))
    if t not in recorded:
        return []
    if lag is None:
        i = recorded.index(t)
        return [t, *reversed(recorded[max(0, i - depth) : i])] if i >= depth else []
    out = [t - k * lag for k in range(depth + 1)]
    return out if all(s in recorded for s in out) else []


def _history_dataset(exp: Any, steps: list[int], feature_set: str) -> Dataset:
    """The features of ``steps[0]`` joined with those of the earlier steps (suffix ``@-<k>``).

    Runs are those usable at ``steps[0]`` (a run alive at t was alive before).
    """
    head = exp.dataset(steps[0], feature_set)
    parts = [head.X]
    for k, s in enumerate(steps[1:], start=1):
        earlier = exp.dataset(s, feature_set).X
        missing = [r for r in head.run_ids if r not in earlier.index]
        if missing:
            raise ValueError(
                f"{len(missing)} runs usable at t={steps[0]} lack {feature_set!r} at t={s}, "
                f"e.g. {missing[:3]}"
            )
        parts.append(earlier.loc[head.run_ids].add_suffix(f"@-{k}"))
    X = pd.concat(parts, axis=1)
    return Dataset(
        X=X,
        y=head.y,
        run_ids=head.run_ids,
        missing=head.missing,
        t=head.t,
        tau=head.tau,
        feature_set=f"{feature_set} history",
        meta={**head.meta, "history": steps},
    )


def rmse_vs_history(
    source: Any,
    feature_set: str = "weights",
    steps: Sequence[int] | None = None,
    *,
    depth: int = 2,
    lag: int | None = None,
) -> pd.DataFrame:
    """Fig. 5A: RMSE with a history F(t), F(t - a), F(t - 2a) against F(t) alone.

    For each t in ``steps`` (default: every recorded step with a history) two rows, variant
    ``"F(t)"`` and ``"history"`` (same runs, same splits), with the columns of
    :func:`rmse_vs_t` plus ``history`` (the steps used, e.g. ``"50,20,10"``).

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> rmse_vs_history(exp, "weights", [100])[["variant", "history"]].values.tolist()
    [['F(t)', '100,50,20'], ['history', '100,50,20']]
    """
    exp = as_experiment(source)
    candidates = exp.steps if steps is None else steps
    frames = []
    for t in candidates:
        hist = history_steps(exp.steps, int(t), depth, lag)
        if not hist:
            continue
        try:
            single = exp.dataset(t, feature_set)
            ds = _history_dataset(exp, hist, feature_set)
        except ValueError:
            continue  # e.g. a weight change at an earlier step < tau
        label = ",".join(map(str, hist))
        for variant, d, key in (
            ("F(t)", single, None),
            ("history", ds, ("history", label, feature_set, exp.tau)),
        ):
            scores = score_predictions(exp.predictions(d, key=key))
            frames.append(
                tagged(
                    scores, set=feature_set, t=int(t), tau=exp.tau, variant=variant, history=label
                )
            )
    if not frames:
        raise ValueError(
            f"no step of {list(candidates)} has a recorded history of depth {depth} for "
            f"{feature_set!r}; recorded steps: {exp.steps}"
        )
    return summarize(
        pd.concat(frames, ignore_index=True), by=("set", "t", "tau", "variant", "history")
    )


def rmse_vs_tau(
    source: Any,
    sets: Sequence[str] = ("weights-delta", "weights"),
    steps: Sequence[int] | None = None,
    taus: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Fig. 5B: RMSE against the gap tau of the weight change, at each t in ``steps``
    (default: the median recorded step and the last one).

    One row per (set, t, tau) with tau <= t, columns of :func:`rmse_vs_t`. At each t all
    taus use the same runs and splits.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> from weightcast.analysis import Experiment
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 30), repeats=2,
    ...                  n_estimators=10)
    >>> rmse_vs_tau(exp, ["weights-delta"], [20])[["t", "tau"]].values.tolist()
    [[20, 5], [20, 10]]
    """
    exp = as_experiment(source)
    if steps is None:
        steps = sorted({reference_step(exp.steps), max(exp.steps)})
    taus = list(exp.store.taus if taus is None else taus)
    frames = []
    for t in steps:
        for tau in taus:
            if tau > t:
                continue
            for name in sets:
                scores = exp.scores(t, name, tau=tau)
                frames.append(tagged(scores, set=name, t=int(t), tau=int(tau)))
    if not frames:
        raise ValueError(f"no tau of {taus} is <= a step of {list(steps)}")
    return summarize(pd.concat(frames, ignore_index=True), by=("set", "t", "tau"))
