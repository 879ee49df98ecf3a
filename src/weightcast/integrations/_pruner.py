"""WeightcastPruner: an Optuna pruner over :class:`weightcast.policy.PruningPolicy`."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from weightcast._imports import require
from weightcast.integrations._attrs import (
    DIVERGED_KEY,
    EXPLORE_KEY,
    FEATURES_PREFIX,
    PRUNED_KEY,
    RUNG_PREFIX,
    decode_features,
    encode_params,
    rung_key,
    steps_of,
)
from weightcast.policy import (
    DEFAULT_FRACTIONS,
    PRIOR_FRACTIONS,
    Decision,
    FeatureBlock,
    PolicyConfig,
    PruningPolicy,
    TrialRecord,
    decision_steps,
)
from weightcast.policy._policy import default_predictor

optuna = require("optuna")

LATE_RUNG_FRACTIONS: tuple[float, ...] = (0.6, 0.8)
"""Rungs after the last decision step, as fractions of T (rung rule on reported values)."""

PRIOR_RUNG_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4)
"""Rungs after the decision steps of a pruner with a prior (:data:`PRIOR_FRACTIONS`).

With a prior the forest decides at 1 and 2 % of T and the rung rule on the reported values at
these rungs, with ``model_until_rung``. No rungs at 60 and 80 % of T: on the digits searches
the lowest training loss late in training was not the best accuracy, and those rungs stopped
the best run of digits-seed5 in 8 of 10 replayed orders."""

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial

    from weightcast.corpus import Corpus
    from weightcast.policy._policy import IntervalPredictor

_STATES = {
    "RUNNING": "running",
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "failed",
}


def default_rung_steps(
    steps: Sequence[int],
    T: int | None,  # noqa: N803
    late: Sequence[float] = LATE_RUNG_FRACTIONS,
) -> tuple[int, ...]:
    """The steps of the rung rule: every decision step, and the ``late`` fractions of ``T``.

    Late rungs (default 60 % and 80 % of ``T``, when ``T`` is known) count only after the last
    decision step. They need no features (the rung rule ranks reported values), so they stop
    mediocre survivors of the last decision step the way successive halving's last rungs do.

    >>> default_rung_steps((10, 20, 50, 100, 200, 400), 1000)
    (10, 20, 50, 100, 200, 400, 600, 800)
    >>> default_rung_steps((10, 20), 1000, late=PRIOR_RUNG_FRACTIONS)
    (10, 20, 50, 100, 200, 400)
    >>> default_rung_steps((5, 10), None)
    (5, 10)
    """
    rungs = () if T is None else tuple(max(1, round(f * T)) for f in late)
    return tuple(sorted({int(s) for s in steps} | {s for s in rungs if s > max(steps)}))


def prior_default_kwargs(T: int, grid: Sequence[int] | None) -> dict[str, Any]:  # noqa: N803
    """The pruner's defaults with a prior: steps, rungs and ``model_until_rung``.

    The forest decides at :data:`PRIOR_FRACTIONS` of ``T`` (snapped to ``grid``, the steps
    whose features exist), the rung rule at :data:`PRIOR_RUNG_FRACTIONS` after them.

    >>> prior_default_kwargs(1000, [10, 20, 50])
    {'steps': (10, 20), 'rung_steps': (10, 20, 50, 100, 200, 400), 'model_until_rung': True}
    """
    steps = decision_steps(T, PRIOR_FRACTIONS, grid=sorted(grid) if grid else None)
    return {
        "steps": steps,
        "rung_steps": default_rung_steps(steps, T, PRIOR_RUNG_FRACTIONS),
        "model_until_rung": True,
    }


def open_prior_corpora(prior: Any) -> list[Corpus] | None:
    """The prior's corpora, opened once (None when the prior is trial records, or empty)."""
    from weightcast.corpus import Corpus

    single = isinstance(prior, str | os.PathLike) or hasattr(prior, "runs")
    sources = [prior] if single else list(prior)
    if all(isinstance(p, TrialRecord) for p in sources):
        return None
    return [p if isinstance(p, Corpus) else Corpus(p) for p in sources]


class WeightcastPruner(optuna.pruners.BasePruner):  # type: ignore[misc,name-defined]
    """Prune trials whose predicted final value cannot reach the top, from early weights.

    At each decision step (``steps``, or ``fractions`` of the training length ``T``: 2, 5,
    10, 20 and 40 %; 1 and 2 % with a ``prior``) a random forest predicts a trial's final
    value from what :class:`TrialReporter` stored at that step (weight features of W(t) and W(t) - W(t - tau),
    training-loss and validation summaries, and for ``"all"`` the hyperparameters) and the
    trial is stopped when the upper end of the ``coverage`` prediction interval is below the
    target (the ``top_k``-th best completed value, or ``target``), or when its prediction is
    not among the best of the predictions for the trials that reached the step. Diverged
    trials (non-finite values, loss or weights) are pruned at once. Nothing else is pruned
    before ``n_startup_trials`` have completed; until the model has ``min_train`` trials to
    learn from at a step, or where it does not yet rank the best run near the top out of bag,
    a rung rule decides (asynchronous successive halving on the reported values, at the
    decision steps and at 60 and 80 % of ``T``, once ``n_min_trials`` other trials have a value
    at the rung; ``rung_steps`` sets those rungs, and ``model_until_rung=True`` hands every
    rung after the last decision step to the rung rule, and ``model_veto=share`` spares from
    it the trials the model ranked in its top ``share`` there). Pruned trials stay in the training
    data with a pseudo label, and ``exploration`` lets a seeded share of would-be-pruned trials
    run to the end. The details are in :mod:`weightcast.policy._policy`.

    ``features``: ``"lc"`` (learning curve only), ``"weights"``, ``"weights+lc"`` or
    ``"all"`` (weights, curve and hyperparameters). ``prior``: the finished runs of earlier
    searches of the same kind (a recorded corpus, a list of them, or complete
    :class:`TrialRecord` objects), learnt
    from by every final-value model, so the model decides from the first trials on instead of
    after ``min_train`` completed ones (features ``"weights"`` or ``"weights+lc"``;
    ``prior_val=False`` when the trials report the training loss, not validation scores).
    With a prior and neither ``steps`` nor ``fractions`` the defaults change to the rule that
    met the goal on two held-out digits searches (replays of 10 orders each): the forest decides at 1 and 2 % of T (snapped to
    the steps the prior corpora recorded) and the rung rule on the reported values at 5, 10, 20
    and 40 % of T, with ``model_until_rung=True`` (:data:`PRIOR_RUNG_FRACTIONS`). Given
    ``steps`` or ``fractions``, the rungs and ``model_until_rung`` are those of the pruner
    without a prior (the decision steps, 60 and 80 % of T; False). In live 60-trial searches
    these defaults lost the best configuration of two of five searches, where
    ``fractions=(0.05, 0.1, 0.2, 0.4)`` (what ``weightcast tune`` passes) lost none at 15-35 %
    more compute (README).
    A model is refitted only when its training trials changed, and then only once they grew by
    ``refit_growth`` (10 %). All state lives in the study's storage, so any number of workers
    and machines can share a study; each process keeps its own cache of models. Without the
    reporter (plain ``trial.report``) the pruner has no features and acts as the rung rule
    alone.

    >>> import optuna
    >>> pruner = WeightcastPruner("lc", T=1000)
    >>> pruner.decision_steps
    (20, 50, 100, 200, 400)
    >>> study = optuna.create_study(direction="maximize", pruner=pruner)
    >>> WeightcastPruner(coverage=2.0, T=1000)
    Traceback (most recent call last):
    ...
    ValueError: coverage must lie in (0, 1), got coverage=2.0
    """

    def __init__(
        self,
        features: str = "all",
        *,
        steps: Sequence[int] | None = None,
        fractions: Sequence[float] | None = None,
        T: int | None = None,  # noqa: N803 - the paper's name for the training length
        coverage: float = 0.8,
        top_k: int = 3,
        target: float | None = None,
        n_startup_trials: int = 2,
        min_train: int = 20,
        reduction_factor: int | None = 3,
        n_min_trials: int = 1,
        rung_steps: Sequence[int] | None = None,
        model_until_rung: bool | None = None,
        model_veto: float = 0.0,
        oob_check: bool = True,
        pseudo_labels: bool = True,
        exploration: float = 0.0,
        refit_growth: float = 0.1,
        n_estimators: int = 400,
        n_jobs: int | None = -1,
        seed: int = 0,
        predictor_factory: Callable[[], IntervalPredictor] | None = None,
        prior: Sequence[TrialRecord]
        | Sequence[str | os.PathLike[str] | Corpus]
        | str
        | os.PathLike[str]
        | Corpus
        | None = None,
        prior_val: bool = True,
    ) -> None:
        if prior is not None and features in ("lc", "all"):
            raise ValueError(
                f"a prior needs features 'weights' or 'weights+lc', got features={features!r} "
                "('all' would need the same hyperparameter encoding in both searches)"
            )
        corpora = None if prior is None else open_prior_corpora(prior)
        # "forest early, loss to 40 %": the default with a prior, unless steps are chosen
        prior_defaults = prior is not None and steps is None and fractions is None
        if fractions is None:
            fractions = PRIOR_FRACTIONS if prior_defaults else DEFAULT_FRACTIONS
        if steps is None:
            if T is None:
                raise ValueError(
                    "give the decision steps (steps=[...]) or the training length T "
                    f"(T=..., with fractions={tuple(fractions)!r}); got steps=None and T=None"
                )
            # with prior corpora, snap to the steps they all recorded: their features exist there
            grid = sorted(set.intersection(*(set(c.steps) for c in corpora))) if corpora else None
            if prior_defaults:
                defaults = prior_default_kwargs(T, grid)
                steps = defaults["steps"]
                rung_steps = defaults["rung_steps"] if rung_steps is None else rung_steps
                if model_until_rung is None:
                    model_until_rung = defaults["model_until_rung"]
            else:
                steps = decision_steps(T, fractions, grid=grid or None)
        if rung_steps is None:
            rung_steps = default_rung_steps(steps, T)
        if model_until_rung is None:
            model_until_rung = False
        self.config = PolicyConfig(
            steps=tuple(steps),
            features=features,
            coverage=coverage,
            top_k=top_k,
            target=target,
            n_startup_trials=n_startup_trials,
            min_train=min_train,
            reduction_factor=reduction_factor,
            n_min_trials=n_min_trials,
            rung_steps=tuple(rung_steps),
            model_until_rung=model_until_rung,
            model_veto=model_veto,
            oob_check=oob_check,
            pseudo_labels=pseudo_labels,
            exploration=exploration,
            refit_growth=refit_growth,
            seed=seed,
        )
        if isinstance(n_estimators, bool) or not isinstance(n_estimators, int) or n_estimators < 1:
            raise ValueError(f"n_estimators must be a positive integer, got {n_estimators=!r}")
        self.n_estimators = n_estimators
        self.n_jobs = n_jobs
        self.predictor_factory = predictor_factory
        if prior is None:
            self.prior: tuple[TrialRecord, ...] = ()
        elif corpora is None:  # trial records
            self.prior = tuple(prior)  # type: ignore[arg-type]
        else:  # one corpus or several
            from weightcast.integrations._prior import corpus_prior

            self.prior = tuple(corpus_prior(corpora, self.config.steps, val=prior_val, T=T))
        self._policies: dict[str, PruningPolicy] = {}
        self._records: dict[tuple[str, int], TrialRecord] = {}
        self.last_decision: Decision | None = None

    @property
    def decision_steps(self) -> tuple[int, ...]:
        """The training steps at which this pruner may stop a trial (the reporter's steps)."""
        return self.config.steps

    @property
    def features(self) -> str:
        """The feature set: ``"lc"``, ``"weights"``, ``"weights+lc"`` or ``"all"``."""
        return self.config.features

    def policy(self, study: Study) -> PruningPolicy:
        """The policy (and its cache of models) this pruner keeps for ``study``."""
        name = study.study_name
        if name not in self._policies:
            self._policies[name] = PruningPolicy(self.config, self._make_predictor, self.prior)
        return self._policies[name]

    def _make_predictor(self) -> IntervalPredictor:
        if self.predictor_factory is not None:
            return self.predictor_factory()
        return default_predictor(self.n_estimators, self.config.seed, self.n_jobs)

    def prune(self, study: Study, trial: FrozenTrial) -> bool:
        """Whether ``trial`` should stop now (called by ``trial.should_prune()``)."""
        if len(study.directions) > 1:
            raise NotImplementedError("WeightcastPruner supports single-objective studies only")
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        name = study.study_name
        others = [
            self._record(name, t, sign)
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and t.state.name in _STATES
        ]
        me = self._record(name, trial, sign)
        decision = self.policy(study).decide(me, others, sign)
        storage = study._storage
        for d, value in decision.rungs.items():
            storage.set_trial_system_attr(trial._trial_id, rung_key(d), value)
        if decision.explore:
            storage.set_trial_system_attr(trial._trial_id, EXPLORE_KEY, decision.step)
        if decision.prune:
            label = decision.label if math.isfinite(decision.label) else None
            storage.set_trial_system_attr(
                trial._trial_id,
                PRUNED_KEY,
                {
                    "step": decision.step,
                    "reason": decision.reason,
                    "label": label,
                    "horizon": decision.horizon,
                },
            )
        self.last_decision = decision
        return decision.prune

    def _record(self, study_name: str, trial: FrozenTrial, sign: float) -> TrialRecord:
        state = _STATES[trial.state.name]
        key = (study_name, trial.number)
        if state in ("complete", "pruned", "failed"):
            cached = self._records.get(key)
            if cached is not None and cached.state == state:
                return cached
        record = _to_record(trial, state, sign, with_hp=self.config.features == "all")
        if state != "running":
            self._records[key] = record
        return record


def _to_record(trial: FrozenTrial, state: str, sign: float, with_hp: bool) -> TrialRecord:
    """A FrozenTrial as the policy sees it (values multiplied by ``sign``)."""
    items = sorted(trial.intermediate_values.items())
    steps = np.fromiter((s for s, _ in items), dtype=np.int64, count=len(items))
    values = np.fromiter((sign * float(v) for _, v in items), dtype=float, count=len(items))
    features: dict[int, FeatureBlock] = {}
    diverged: int | None = None
    marked = trial.user_attrs.get(DIVERGED_KEY)
    if isinstance(marked, int | float) and math.isfinite(marked):
        diverged = int(marked)
    for step, payload in steps_of(trial.user_attrs, FEATURES_PREFIX).items():
        try:
            block = decode_features(payload)
        except (ValueError, KeyError, TypeError):
            continue
        if block is None:
            diverged = step if diverged is None else min(diverged, step)
        else:
            features[step] = block
    system = trial.system_attrs
    pruned: Any = system.get(PRUNED_KEY)
    label = math.nan
    horizon = None
    if isinstance(pruned, dict) and isinstance(pruned.get("label"), int | float):
        label = float(pruned["label"])
        if isinstance(pruned.get("horizon"), int):
            horizon = int(pruned["horizon"])
    value = math.nan
    if state == "complete" and trial.value is not None:
        value = sign * float(trial.value)
    rungs = {s: float(v) for s, v in steps_of(system, RUNG_PREFIX).items()}
    return TrialRecord(
        number=trial.number,
        state=state,  # type: ignore[arg-type]
        value=value,
        steps=steps,
        values=values,
        features=features,
        diverged_step=diverged,
        hp=encode_params(trial.params, trial.distributions) if with_hp else {},
        label=label,
        label_horizon=horizon,
        explored=EXPLORE_KEY in system,
        rungs=rungs,
    )
