"""The paper's analyses (Figs. 3-6) and more, as pure functions returning tidy DataFrames.

Each function takes an :class:`Experiment` (a corpus, the protocol's settings, and a cache of
datasets and held-out predictions shared across analyses) or a corpus:

- :func:`rmse_vs_t` (Fig. 3A), :func:`rmse_vs_n` + :func:`samples_needed` (3B),
  :func:`steps_needed` (3C);
- :func:`importance_by_group` (Fig. 4A raw vs delta, 4B by layer: each group's columns
  shuffled together, :func:`grouped_permutation_importance`), :func:`feature_importance`
  (one feature at a time; :func:`group_importance` sums those per group);
- :func:`rmse_vs_history` (Fig. 5A), :func:`rmse_vs_tau` (5B);
- :func:`max_correlation` (Fig. 6);
- beyond the paper: :func:`compare_models` (forest vs gradient boosting), :func:`top_share`
  (will the run end in the top 20 %? ROC AUC, the share of top runs a pruner keeps).

:class:`CurveDisplay` and :class:`BarDisplay` plot the tables; :func:`build_report` writes all
of it as an HTML page.

>>> import tempfile
>>> from weightcast.corpus.testing import make_synthetic_corpus
>>> from weightcast.analysis import Experiment, rmse_vs_t
>>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 24), repeats=2,
...                  n_estimators=20)
>>> rmse_vs_t(exp, ["lc", "weights"], [20, 50])[["set", "t"]].values.tolist()
[['lc', 20], ['lc', 50], ['weights', 20], ['weights', 50]]
"""

from __future__ import annotations

from weightcast.analysis._correlation import max_correlation, spearman_columns
from weightcast.analysis._display import BarDisplay, CurveDisplay
from weightcast.analysis._experiment import Experiment, as_experiment
from weightcast.analysis._history import history_steps, rmse_vs_history, rmse_vs_tau
from weightcast.analysis._importance import (
    feature_importance,
    group_importance,
    group_of,
    grouped_permutation_importance,
    importance_by_group,
)
from weightcast.analysis._ranking import top_share
from weightcast.analysis._report import ReportConfig, build_report
from weightcast.analysis._rmse import (
    PAPER_SETS,
    compare_models,
    reference_step,
    rmse_vs_n,
    rmse_vs_t,
    samples_needed,
    steps_needed,
)

__all__ = [
    "PAPER_SETS",
    "BarDisplay",
    "CurveDisplay",
    "Experiment",
    "ReportConfig",
    "as_experiment",
    "build_report",
    "compare_models",
    "feature_importance",
    "group_importance",
    "group_of",
    "grouped_permutation_importance",
    "history_steps",
    "importance_by_group",
    "max_correlation",
    "reference_step",
    "rmse_vs_history",
    "rmse_vs_n",
    "rmse_vs_t",
    "rmse_vs_tau",
    "samples_needed",
    "spearman_columns",
    "steps_needed",
    "top_share",
]
