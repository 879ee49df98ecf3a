"""Replay accounting: recorded runs, the compute a stopped run used, and per-order metrics.

Compute is counted in training iterations plus validation passes in iteration-equivalents: a run
stopped at step ``s`` used ``s`` iterations and ``eval_cost`` for every evaluation at a step
``<= s`` on its recording grid (a completed run: ``T`` iterations and all its evaluations).
Weight features cost nothing (they need no pass over data).

The driving of real Optuna studies lives in ``weightcast.integrations.optuna``; this module is
the pure part that the tests can check by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from weightcast.policy._curves import coarser_grid
from weightcast.policy._records import FeatureBlock

REACH_TOLERANCE = 0.005
""""Reaching the best": the best kept run is within this of the best run (0.5 accuracy points)."""


@dataclass(frozen=True)
class RecordedRun:
    """One recorded run, as the replay feeds it to a study.

    ``steps`` / ``val_acc`` / ``train_loss`` are the curve on the grid of this replay (dense or
    per epoch); ``features`` maps a decision step to what the live reporter would have stored
    there (weight features and the training-loss summary); ``diverged_step`` marks where weights
    became non-finite (no features from then on).

    >>> r = RecordedRun("a", final=0.9, T=100, eval_cost=2.0, steps=np.array([50, 100]),
    ...                 val_acc=np.array([0.8, 0.9]))
    >>> run_cost(r, 50), run_cost(r, None)
    (52.0, 104.0)
    """

    run_id: str
    final: float
    T: int
    eval_cost: float
    steps: np.ndarray
    val_acc: np.ndarray
    train_loss: np.ndarray | None = None
    features: Mapping[int, FeatureBlock] = field(default_factory=dict)
    diverged_step: int | None = None
    hparams: Mapping[str, object] = field(default_factory=dict)

    def on_grid(self, every: float) -> RecordedRun:
        """This run with its curve as recorded every ``every`` steps (e.g. once per epoch).

        >>> r = RecordedRun("a", 0.9, 40, 1.0, np.array([10, 20, 30, 40]), np.array([.1, .2, .3, .4]))
        >>> r.on_grid(20).steps.tolist()
        [20, 40]
        """
        loss = self.train_loss if self.train_loss is not None else np.full(self.steps.size, np.nan)
        s, lo, v = coarser_grid(self.steps, loss, self.val_acc, every)
        return RecordedRun(
            self.run_id,
            self.final,
            self.T,
            self.eval_cost,
            s,
            v,
            lo,
            self.features,
            self.diverged_step,
            self.hparams,
        )


def run_cost(run: RecordedRun, stop_step: int | None, *, curve: bool = True) -> float:
    """Compute a run used when stopped at ``stop_step`` (``None``: it completed).

    Iterations up to the stop plus ``eval_cost`` per evaluation at or before it. ``curve=False``
    is a search that evaluates nothing during training (a policy that decides from weights and
    the training loss, which cost no pass over validation data): a completed run pays one
    evaluation, at the end, to learn its final value; a stopped one pays none.

    >>> r = RecordedRun("a", 0.9, 100, 0.5, np.array([0, 10, 20, 100]), np.zeros(4))
    >>> run_cost(r, 15)    # 15 iterations, evaluations at 0 and 10
    16.0
    >>> run_cost(r, 15, curve=False), run_cost(r, None, curve=False)
    (15.0, 100.5)
    """
    stop = run.T if stop_step is None else min(int(stop_step), run.T)
    if not curve:
        return float(stop + (run.eval_cost if stop_step is None else 0.0))
    n_evals = int(np.count_nonzero(run.steps <= stop))
    return float(stop + n_evals * run.eval_cost)


@dataclass(frozen=True)
class Outcome:
    """What became of one run in one replay: where it stopped (None: completed) and its cost."""

    run_id: str
    stop_step: int | None
    compute: float
    final: float

    @property
    def completed(self) -> bool:
        """Whether the run was trained to the end."""
        return self.stop_step is None


def order_metrics(
    outcomes: Sequence[Outcome], best: float, tolerance: float = REACH_TOLERANCE
) -> dict[str, float]:
    """Metrics of one replayed order: compute, best kept, regret, compute to reach the best.

    ``best`` is the best final value of all runs (what no pruning finds). ``compute_to_reach``
    is the compute spent until the first completed run within ``tolerance`` of ``best`` (that
    run included); infinite if none.

    >>> o = [Outcome("a", 10, 12.0, 0.5), Outcome("b", None, 104.0, 0.9), Outcome("c", None, 104.0, 0.7)]
    >>> m = order_metrics(o, best=0.9)
    >>> m["compute"], m["regret"], m["compute_to_reach"], m["n_completed"]
    (220.0, 0.0, 116.0, 2.0)
    """
    compute = 0.0
    reach = math.inf
    best_kept = -math.inf
    n_completed = 0
    for o in outcomes:
        compute += o.compute
        if o.completed:
            n_completed += 1
            if math.isfinite(o.final):
                best_kept = max(best_kept, o.final)
            if math.isinf(reach) and o.final >= best - tolerance:
                reach = compute
    regret = best - best_kept if math.isfinite(best_kept) else math.inf
    return {
        "compute": compute,
        "best_kept": best_kept,
        "regret": regret,
        "compute_to_reach": reach,
        "n_completed": float(n_completed),
    }


def summarize(
    per_order: Sequence[Mapping[str, float]], baseline: Sequence[Mapping[str, float]]
) -> dict[str, float]:
    """Mean and std over orders of a policy's metrics, with speed-ups against ``baseline``.

    ``speedup`` is baseline compute / compute and ``speedup_to_reach`` baseline compute to reach
    the best / compute to reach it (0 when the policy never got there), both per order.

    >>> base = [{"compute": 100.0, "regret": 0.0, "compute_to_reach": 50.0}]
    >>> pol = [{"compute": 10.0, "regret": 0.01, "compute_to_reach": 25.0}]
    >>> s = summarize(pol, base)
    >>> s["speedup_mean"], s["speedup_to_reach_mean"], s["regret_mean"]
    (10.0, 2.0, 0.01)
    """
    if len(per_order) != len(baseline):
        raise ValueError(f"{len(per_order)} orders against {len(baseline)} baseline orders")
    cols: dict[str, list[float]] = {
        "compute": [m["compute"] for m in per_order],
        "regret": [m["regret"] for m in per_order],
        "speedup": [b["compute"] / m["compute"] for m, b in zip(per_order, baseline, strict=True)],
        "speedup_to_reach": [
            b["compute_to_reach"] / m["compute_to_reach"]
            for m, b in zip(per_order, baseline, strict=True)
        ],
        "n_completed": [m.get("n_completed", math.nan) for m in per_order],
    }
    out: dict[str, float] = {}
    for name, values in cols.items():
        arr = np.asarray(values, dtype=float)
        out[f"{name}_mean"] = float(arr.mean()) if arr.size else math.nan
        out[f"{name}_std"] = float(arr.std()) if arr.size else math.nan
    return out


def epoch_length(n_train: float, batch_size: float) -> float:
    """Training iterations per epoch: ``n_train / batch_size`` (at least 1).

    >>> epoch_length(1437, 32)
    44.90625
    """
    if not (n_train > 0 and batch_size > 0):
        raise ValueError(
            f"n_train and batch_size must be positive, got {n_train!r}, {batch_size!r}"
        )
    return max(1.0, float(n_train) / float(batch_size))
