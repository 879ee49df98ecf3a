"""The pruning policy's settings, checked once when they are made."""

from __future__ import annotations

import math
from dataclasses import dataclass

from weightcast.policy._rules import check_steps

FEATURE_SETS: tuple[str, ...] = ("lc", "weights", "weights+lc", "all")
"""Feature sets of the pruner: the learning curve, the weight features, both, both + hyperparameters."""


@dataclass(frozen=True)
class PolicyConfig:
    """Settings of :class:`~weightcast.policy.PruningPolicy`; every value is checked here.

    - ``steps``: the decision steps (training steps at which a trial may be stopped);
    - ``features``: one of :data:`FEATURE_SETS`;
    - ``coverage``: coverage of the prediction interval; a trial is stopped when the upper end is
      below the target;
    - ``top_k``: the target is the ``top_k``-th best final value of the completed trials ...
    - ``target``: ... unless a fixed target value is given (in the objective's own direction);
    - ``n_startup_trials``: nothing is pruned (but diverged trials) before that many trials have
      completed (the warm-up);
    - ``min_train``: rows needed at a decision step before the model decides there; until then
      the rung rule does (the cold start);
    - ``reduction_factor``: the rung rule keeps the top ``1 / eta`` at each rung (ASHA), on the
      reported values until a model exists, on the model's predictions afterwards
      (``model_rung``); ``eta`` is ``reduction_factor`` at rungs that far apart and less at
      denser rungs (:func:`~weightcast.policy.rung_factors`); ``None`` turns the rule off;
    - ``model_rung``: once a model decides at a step, also rank its predictions (else only the
      interval rule prunes there);
    - ``oob_check``: the model prunes at a step only if, out of bag, it ranks the best of its
      training trials among the first ``max(top_k, n / reduction_factor)`` (else it waits for
      more evidence);
    - ``n_min_trials``: the rung rule prunes at a rung only once at least that many other
      trials have reported a value there (as Optuna's ``MedianPruner``); early in an
      asynchronous search a rung has few values, and a late bloomer that is second of two is
      stopped (default 1: successive halving's own rule);
    - ``rung_steps``: the steps at which the rung rule may prune (None: the decision steps);
      they may go beyond the decision steps (the rung rule needs reported values only);
    - ``model_until_rung``: the model decides from the features of its latest decision step
      only until a later rung comes due; from then on the rung rule decides (default False:
      the model keeps deciding at every later rung from its last features). With decision
      steps early (1-2 % of T) and rungs beyond them, the forest judges the start of training
      and the reported values the rest;
    - ``model_veto``: with ``model_until_rung``, a share in [0, 1): the rung rule after the
      model's last decision step does not stop a trial that the model, from the features of
      that step, ranks in the top ``model_veto`` of the trials that reached it (0: no veto).
      A late starter whose weights the forest reads as good is not stopped for its loss;
    - ``pseudo_labels``: pruned trials stay in the training data with a pseudo label;
    - ``exploration``: share of would-be-pruned trials that are let go on to the end (seeded);
    - ``refit_growth``: a model is refitted only when its training trials changed (completed,
      partial and pseudo-labelled ones), and then only once they grew by this fraction since
      the last fit (0: on every change);
    - ``seed``: seed of the exploration draws and of the model.

    >>> PolicyConfig(steps=(10, 50)).features
    'all'
    >>> PolicyConfig(steps=(10,), coverage=1.5)
    Traceback (most recent call last):
    ...
    ValueError: coverage must lie in (0, 1), got coverage=1.5
    """

    steps: tuple[int, ...]
    features: str = "all"
    coverage: float = 0.8
    top_k: int = 3
    target: float | None = None
    n_startup_trials: int = 2
    min_train: int = 20
    reduction_factor: int | None = 3
    model_rung: bool = True
    oob_check: bool = True
    n_min_trials: int = 1
    rung_steps: tuple[int, ...] | None = None
    model_until_rung: bool = False
    model_veto: float = 0.0
    pseudo_labels: bool = True
    exploration: float = 0.0
    refit_growth: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", check_steps(self.steps))
        if self.rung_steps is not None:
            rung = check_steps(self.rung_steps)
            object.__setattr__(self, "rung_steps", rung)
        if self.features not in FEATURE_SETS:
            raise ValueError(
                f"features must be one of {FEATURE_SETS}, got features={self.features!r}"
            )
        if not (isinstance(self.coverage, int | float) and 0 < self.coverage < 1):
            raise ValueError(f"coverage must lie in (0, 1), got coverage={self.coverage!r}")
        _positive_int("top_k", self.top_k)
        if self.target is not None and not (
            isinstance(self.target, int | float) and math.isfinite(self.target)
        ):
            raise ValueError(f"target must be a finite number or None, got target={self.target!r}")
        _positive_int("n_startup_trials", self.n_startup_trials, allow_zero=True)
        _positive_int("min_train", self.min_train)
        _positive_int("n_min_trials", self.n_min_trials)
        if self.min_train < 2:
            raise ValueError(f"min_train must be at least 2, got min_train={self.min_train!r}")
        if self.reduction_factor is not None:
            _positive_int("reduction_factor", self.reduction_factor)
            if self.reduction_factor < 2:
                raise ValueError(
                    f"reduction_factor must be at least 2 or None, "
                    f"got reduction_factor={self.reduction_factor!r}"
                )
        if not (isinstance(self.exploration, int | float) and 0 <= self.exploration < 1):
            raise ValueError(
                f"exploration must lie in [0, 1), got exploration={self.exploration!r}"
            )
        if not (isinstance(self.refit_growth, int | float) and self.refit_growth >= 0):
            raise ValueError(
                f"refit_growth must be non-negative, got refit_growth={self.refit_growth!r}"
            )
        if not isinstance(self.model_until_rung, bool):
            raise ValueError(
                f"model_until_rung must be True or False, got {self.model_until_rung!r}"
            )
        if not (
            isinstance(self.model_veto, int | float)
            and not isinstance(self.model_veto, bool)
            and 0 <= self.model_veto < 1
        ):
            raise ValueError(f"model_veto must lie in [0, 1), got model_veto={self.model_veto!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an int, got seed={self.seed!r}")


def _positive_int(name: str, value: object, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} must be {kind} integer, got {name}={value!r}")
