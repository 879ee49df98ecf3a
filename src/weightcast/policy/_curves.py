"""Learning-curve helpers: a grid-independent curve summary, windows and coarser grids.

A curve is a list of points ``(step, train_loss, val_acc)``: ``train_loss`` is the mean minibatch
loss over the steps since the previous point, ``val_acc`` the validation score at ``step`` (NaN
for a loss-only point, e.g. the partial window at a decision step between two evaluations).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from weightcast.features import DIVERGED_LOSS

LC_COLUMNS: tuple[str, ...] = (
    "lc.val_acc.last",
    "lc.val_acc.max",
    "lc.val_acc.half",
    "lc.train_loss.q1",
    "lc.train_loss.q2",
    "lc.train_loss.q3",
    "lc.train_loss.q4",
)
"""The learning-curve summary the pruner uses (see :func:`curve_summary`)."""

VAL_COLUMNS = LC_COLUMNS[:3]
LOSS_COLUMNS = LC_COLUMNS[3:]


def _arrays(steps: npt.ArrayLike, values: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if s.shape != v.shape:
        raise ValueError(f"steps and values differ in length: {s.shape} vs {v.shape}")
    return s, v


def window_loss(steps: npt.ArrayLike, train_loss: npt.ArrayLike, a: float, b: float) -> float:
    """Mean training loss over the steps ``(a, b]`` from curve points.

    The point at ``steps[i]`` stands for the steps ``(steps[i-1], steps[i]]`` (from 0 for the
    first); each contributes in proportion to its overlap with ``(a, b]``. NaN when no point with
    a finite loss overlaps. Non-finite losses count as, and losses are capped at, the features'
    ``DIVERGED_LOSS`` (a diverged loss is a large finite number, not dropped).

    >>> window_loss([10, 20, 30], [3.0, 2.0, 1.0], 10, 30)
    1.5
    >>> window_loss([10, 20], [3.0, 1.0], 5, 15)
    2.0
    """
    s, v = _arrays(steps, train_loss)
    if b <= a or s.size == 0:
        return math.nan
    lo = np.concatenate(([0.0], s[:-1]))
    overlap = np.clip(np.minimum(s, b) - np.maximum(lo, a), 0.0, None)
    ok = (overlap > 0) & ~np.isnan(v)
    if not ok.any():
        return math.nan
    vals = np.minimum(np.where(np.isfinite(v), v, DIVERGED_LOSS), DIVERGED_LOSS)[ok]
    return float(np.average(vals, weights=overlap[ok]))


def loss_signal(steps: npt.ArrayLike, train_loss: npt.ArrayLike, t: int) -> float:
    """The value a study reports at step ``t`` when it evaluates nothing during training.

    Minus the mean training loss over the second half of the steps, ``(t / 2, t]`` (higher is
    better, like an accuracy): the training loss costs no pass over validation data, and half of
    the steps so far smooth the minibatch noise. A diverged loss counts as ``DIVERGED_LOSS``.

    >>> loss_signal([2, 4, 6, 8], [4.0, 3.0, 2.0, 1.0], 8)
    -1.5
    """
    value = window_loss(steps, train_loss, t / 2, t)
    return -value if math.isfinite(value) else -float(DIVERGED_LOSS)


def val_summary(steps: npt.ArrayLike, val_acc: npt.ArrayLike, t: int) -> dict[str, float]:
    """The validation curve up to step ``t``: its last value, its best, its last at ``t / 2``.

    Points with a NaN score are skipped; missing values are NaN (no evaluation yet, say).

    >>> val_summary([10, 20, 30, 40], [0.3, 0.5, 0.6, 0.55], 40)
    {'lc.val_acc.last': 0.55, 'lc.val_acc.max': 0.6, 'lc.val_acc.half': 0.5}
    """
    s, v = _arrays(steps, val_acc)
    keep = (s <= t) & ~np.isnan(v)
    vals = np.where(np.isfinite(v[keep]), v[keep], math.nan)
    half = s[keep] <= t / 2
    return {
        "lc.val_acc.last": float(vals[-1]) if vals.size else math.nan,
        "lc.val_acc.max": float(np.nanmax(vals)) if np.isfinite(vals).any() else math.nan,
        "lc.val_acc.half": float(vals[half][-1]) if half.any() else math.nan,
    }


def loss_summary(steps: npt.ArrayLike, train_loss: npt.ArrayLike, t: int) -> dict[str, float]:
    """The mean training loss over each quarter of the steps ``(0, t]``: ``lc.train_loss.q1..q4``.

    ``steps`` / ``train_loss`` may be per minibatch (the live reporter: exact) or per curve point
    (a recorded corpus: each point is the mean since the previous one, see :func:`window_loss`).

    >>> loss_summary([1, 2, 3, 4], [4.0, 3.0, 2.0, 1.0], 4)
    {'lc.train_loss.q1': 4.0, 'lc.train_loss.q2': 3.0, 'lc.train_loss.q3': 2.0, 'lc.train_loss.q4': 1.0}
    """
    return {
        f"lc.train_loss.q{q + 1}": window_loss(steps, train_loss, q * t / 4, (q + 1) * t / 4)
        for q in range(4)
    }


def curve_summary(
    steps: npt.ArrayLike,
    train_loss: npt.ArrayLike,
    val_acc: npt.ArrayLike,
    t: int,
) -> dict[str, float]:
    """The learning curve up to step ``t`` as the few numbers the pruner uses (:data:`LC_COLUMNS`).

    :func:`val_summary` and :func:`loss_summary` together. The summary does not depend on how often
    the curve was recorded beyond what the recording allows, so a study that evaluates every 10
    steps and one that evaluates once per epoch get the same columns.

    >>> s = curve_summary([10, 20, 30, 40], [2.0, 1.5, 1.2, 1.0], [0.3, 0.5, 0.6, 0.55], 40)
    >>> s["lc.val_acc.max"], s["lc.train_loss.q4"]
    (0.6, 1.0)
    """
    return {**val_summary(steps, val_acc, t), **loss_summary(steps, train_loss, t)}


def coarser_grid(
    steps: npt.ArrayLike,
    train_loss: npt.ArrayLike,
    val_acc: npt.ArrayLike,
    every: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The curve as recorded every ``every`` steps instead (e.g. once per epoch).

    Keeps the first recorded step at or after each multiple of ``every`` and the last step (the
    end of training); the training loss of a kept point is the mean over all steps since the
    previous kept point. A point at step 0 (an evaluation before training) is kept.

    >>> s, l, v = coarser_grid([0, 10, 20, 30, 40], [np.nan, 4, 3, 2, 1], [.1, .2, .3, .4, .5], 20)
    >>> s.tolist(), l.tolist(), v.tolist()
    ([0, 20, 40], [nan, 3.5, 1.5], [0.1, 0.3, 0.5])
    """
    if not every > 0:
        raise ValueError(f"every must be positive, got every={every!r}")
    s = np.asarray(steps, dtype=np.int64)
    loss = np.asarray(train_loss, dtype=float)
    val = np.asarray(val_acc, dtype=float)
    if s.size == 0:
        return s, loss, val
    keep: list[int] = [0] if s[0] == 0 else []
    k = 1
    for i, step in enumerate(s):
        if step >= k * every:
            keep.append(i)
            k = int(step // every) + 1
    if keep[-1] != s.size - 1:
        keep.append(s.size - 1)
    idx = np.asarray(sorted(set(keep)))
    new_s = s[idx]
    new_l = np.empty(idx.size)
    prev = 0.0
    for j, step in enumerate(new_s):
        new_l[j] = window_loss(s, loss, prev, float(step)) if step > 0 else loss[idx[j]]
        prev = float(step)
    return new_s, new_l, val[idx]
