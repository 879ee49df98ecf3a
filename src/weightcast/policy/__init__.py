"""Pruning decisions from predictions, and the replay accounting (no optuna import here).

The Optuna pruner and the replay driver are thin shells over this in
``weightcast.integrations.optuna``.
"""

from __future__ import annotations

from weightcast.policy._config import FEATURE_SETS, PolicyConfig
from weightcast.policy._curves import (
    LC_COLUMNS,
    coarser_grid,
    curve_summary,
    loss_signal,
    loss_summary,
    val_summary,
    window_loss,
)
from weightcast.policy._policy import Decision, PruningPolicy
from weightcast.policy._records import FeatureBlock, TrialRecord
from weightcast.policy._replay import (
    REACH_TOLERANCE,
    Outcome,
    RecordedRun,
    epoch_length,
    order_metrics,
    run_cost,
    summarize,
)
from weightcast.policy._rules import (
    DEFAULT_FRACTIONS,
    PRIOR_FRACTIONS,
    decision_steps,
    explore_draw,
    kth_best,
    rung_factors,
    rung_promotable,
)

__all__ = [
    "DEFAULT_FRACTIONS",
    "FEATURE_SETS",
    "LC_COLUMNS",
    "PRIOR_FRACTIONS",
    "REACH_TOLERANCE",
    "Decision",
    "FeatureBlock",
    "Outcome",
    "PolicyConfig",
    "PruningPolicy",
    "RecordedRun",
    "TrialRecord",
    "coarser_grid",
    "curve_summary",
    "decision_steps",
    "epoch_length",
    "explore_draw",
    "kth_best",
    "loss_signal",
    "loss_summary",
    "order_metrics",
    "run_cost",
    "rung_factors",
    "rung_promotable",
    "summarize",
    "val_summary",
    "window_loss",
]
