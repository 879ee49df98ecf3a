"""Names of the replay's policies and grids (no Optuna import: the CLI reads them too)."""

from __future__ import annotations

POLICIES: tuple[str, ...] = (
    "none",
    "median",
    "sha",
    "hyperband",
    "wc-lc",
    "wc-weights",
    "wc-all",
    "wc-free",
    "sha-loss",
    "wc-prior",
)
"""Policies the replay knows: no pruning, Optuna's three pruners, weightcast's variants, and three
that evaluate nothing during training (``wc-free``: weightcast on weights, training loss and
hyperparameters; ``sha-loss``: successive halving on the training loss, the ablation that tells
how much of ``wc-free``'s saving comes from skipping evaluations alone; ``wc-prior``: weightcast
on weights and training loss with the finished runs of another corpus as prior, which needs
``prior=``)."""

DEFAULT_POLICIES: tuple[str, ...] = POLICIES[:-1]
"""Policies replayed by default (``wc-prior`` only when a prior corpus is given)."""

EVAL_FREE: frozenset[str] = frozenset({"wc-free", "sha-loss", "wc-prior"})
"""Policies fed :func:`~weightcast.policy.loss_signal` instead of the validation curve: they pay
no evaluation but the final one, and their outcome does not depend on the curve grid."""

GRIDS: tuple[str, ...] = ("dense", "epoch")
"""Curve grids: as recorded in the corpus, and once per epoch (as users usually record it)."""

REPORT_MODES: tuple[str, ...] = ("val", "loss")
"""What a trial reports while training: its validation score, or minus its training loss."""


def check_report(report: str) -> str:
    """``report`` if it is one of :data:`REPORT_MODES`, else a ValueError that names them.

    >>> check_report("loss")
    'loss'
    >>> check_report("accuracy")
    Traceback (most recent call last):
    ...
    ValueError: report must be 'val' or 'loss', got report='accuracy'
    """
    if report not in REPORT_MODES:
        raise ValueError(f"report must be 'val' or 'loss', got report={report!r}")
    return report
