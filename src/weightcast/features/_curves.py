"""Learning-curve features: the paper's baseline."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["DIVERGED_LOSS", "curve_features"]

#: A training loss that is inf or nan (a diverged run), or larger than this, is recorded
#: as this large finite number, so that a diverged run keeps its features.
DIVERGED_LOSS = 1e6


def curve_features(
    steps: ArrayLike, train_loss: ArrayLike, val_acc: ArrayLike, t: int
) -> dict[str, float]:
    """Learning-curve features at step ``t``: every evaluation at a step <= t.

    ``steps``, ``train_loss`` and ``val_acc`` are equal-length sequences, one entry
    per evaluation (steps increasing integers). Returns ``lc.train_loss@<step>`` for
    every recorded step <= t, then ``lc.val_acc@<step>``. A loss that is nan, inf or
    above :data:`DIVERGED_LOSS` becomes :data:`DIVERGED_LOSS`; validation accuracies
    are taken as given.

    >>> curve_features([0, 10, 20], [2.3, float("nan"), 0.4], [0.1, 0.1, 0.8], t=10)
    {'lc.train_loss@0': 2.3, 'lc.train_loss@10': 1000000.0, 'lc.val_acc@0': 0.1, 'lc.val_acc@10': 0.1}
    """
    s = np.asarray(steps)
    loss = np.asarray(train_loss, dtype=np.float64)
    acc = np.asarray(val_acc, dtype=np.float64)
    if s.ndim != 1 or loss.shape != s.shape or acc.shape != s.shape:
        raise ValueError(
            "steps, train_loss and val_acc must be 1-D and of equal length, got shapes "
            f"{s.shape}, {loss.shape}, {acc.shape}"
        )
    if s.size and (s.dtype.kind not in "iuf" or not np.all(s == np.round(s))):
        raise ValueError(f"steps must be whole numbers, got {s[:5].tolist()}...")
    s = s.astype(np.int64)
    if np.any(np.diff(s) <= 0):
        raise ValueError(f"steps must be strictly increasing, got {s.tolist()}")
    keep = s <= t
    loss = np.where(np.isfinite(loss), np.minimum(loss, DIVERGED_LOSS), DIVERGED_LOSS)[keep]
    kept = s[keep].tolist()
    out = {f"lc.train_loss@{k}": float(v) for k, v in zip(kept, loss.tolist(), strict=True)}
    out.update({f"lc.val_acc@{k}": float(v) for k, v in zip(kept, acc[keep].tolist(), strict=True)})
    return out
