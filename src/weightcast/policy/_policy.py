"""The pruning decision: diverged -> warm-up -> model (interval and rank rules) or rung rule.

How a decision is made for a trial that has reached step ``s`` (``d`` = the latest decision
step at or before ``s``, where the reporter stored the trial's features):

1. a diverged trial (non-finite value or loss, or weights marked diverged) is pruned at once,
   warm-up or not;
2. before ``n_startup_trials`` trials have completed nothing else is pruned (the warm-up);
3. the model: a random forest predicts, from the features stored at ``d``, the trial's value at
   a horizon ``h``: the final value once ``min_train`` finished trials with features at ``d``
   have completed, otherwise the value at the latest later decision step that ``min_train``
   finished trials reached (partial runs as proxy targets: this ends the cold start long
   before enough trials complete). The trial is pruned

   - by the interval rule when the upper end of the ``coverage`` prediction interval (the
     prediction plus a quantile of the out-of-bag residuals of the better half of the
     training trials) lies below the target: the ``top_k``-th best final value (or a fixed
     ``target``); at a partial horizon the value that keeps the top ``1 / reduction_factor``;
   - by the rank rule when its prediction is not in the top ``1 / eta`` of the predictions
     for all the trials that reached ``d`` (successive halving on predicted values);

   but only if the model has learnt to recognise good runs at ``d``: out of bag it must rank
   the best of its training trials among the first ``max(top_k, n / reduction_factor)``;
4. otherwise (no model yet, or one not trusted) the rung rule decides: the trial goes on only
   if its current reported value is in the top ``1 / eta`` of the values that the other trials
   had at that rung (asynchronous successive halving on the reported curve), and only once
   ``n_min_trials`` other trials have a value there. Rungs are the
   decision steps and any later ``rung_steps``; ``eta`` is the spacing to the next rung, at
   most ``reduction_factor`` (rungs twice apart keep half, three times apart a third).

The bias that pruning creates (only survivors get to later steps and to the end, so a model
trained on them sees mostly good runs) is handled in three ways:

- partial horizons: the cold-start models learn from every trial that reached the horizon,
  not only from completed ones;
- ``pseudo_labels``: a pruned trial stays in the training data with a pseudo label: the
  model's prediction if the model pruned it (for that horizon), else the worst true label of
  the training rows (the rung rule pruned it, or it diverged). Pseudo labels count neither
  towards ``min_train`` nor in the residuals that set the interval width;
- ``exploration``: a seeded share of the trials that would be pruned go on to the end instead
  (and are never pruned again unless they diverge); their true values enter the training
  data, repeated ``1 / exploration`` times (importance weight, at most 20) when pseudo labels
  are off.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from weightcast.policy._config import PolicyConfig
from weightcast.policy._curves import LC_COLUMNS
from weightcast.policy._records import FeatureBlock, TrialRecord
from weightcast.policy._rules import explore_draw, kth_best, rung_factors, rung_promotable

MISSING = -1e9
"""Stand-in for a missing feature value in the model's input (forests split it off)."""

_MAX_IMPORTANCE_WEIGHT = 20.0


class IntervalPredictor(Protocol):
    """What the policy needs of a predictor (``weightcast.predict.Predictor`` fits).

    It gets plain float arrays (rows x features, missing values as :data:`MISSING`).
    """

    def fit(self, X: Any, y: Any, *args: Any, **kwargs: Any) -> Any: ...

    def predict(self, X: Any) -> Any: ...

    def predict_interval(self, X: Any, coverage: float = 0.8) -> tuple[Any, Any]: ...


@dataclass(frozen=True)
class Decision:
    """The outcome of :meth:`PruningPolicy.decide`.

    ``reason`` is one of ``"no-step"`` (no decision step reached), ``"diverged"``, ``"warmup"``,
    ``"explore"``, ``"interval"`` and ``"rank"`` (the model's rules), ``"rung"`` (the rung
    rule), ``"veto"`` (the rung rule would stop it, the model's ``model_veto`` keeps it),
    ``"continue"``. ``label`` is the pseudo label to store with a pruned trial (a value
    at ``horizon``, None: the final value); ``rungs`` the rung values to store with the trial;
    ``mean`` / ``upper`` / ``target`` are set when the model decided.
    """

    prune: bool
    reason: str
    step: int | None = None
    label: float = math.nan
    mean: float = math.nan
    upper: float = math.nan
    target: float = math.nan
    rungs: dict[int, float] = field(default_factory=dict)
    explore: bool = False
    horizon: int | None = None


@dataclass
class _Fit:
    completed: frozenset[int]
    n_rows: int
    columns: tuple[str, ...]
    model: Any
    version: int
    residuals: np.ndarray | None
    oob: np.ndarray | None = None  # out-of-bag predictions of the true-labelled rows
    y_true: np.ndarray | None = None  # their labels

    def missed_best(self, keep: int) -> bool:
        """Whether, out of bag, the model ranks its best training trial below place ``keep``.

        A forest cannot predict above the labels it has seen, so the best trial's out-of-bag
        prediction is compared by rank with the other trials' (not by value with the target):
        if the model does not even put the best run among the first ``keep`` it has not learned
        to recognise good runs at this step yet, and is not trusted to prune there.
        """
        if self.oob is None or self.y_true is None or self.y_true.size < 2:
            return False
        ok = np.isfinite(self.oob)
        best = int(np.argmax(self.y_true))
        if not ok[best]:
            return False
        return int((self.oob[ok] > self.oob[best]).sum()) >= keep


def default_predictor(
    n_estimators: int = 400, seed: int = 0, n_jobs: int | None = -1
) -> IntervalPredictor:
    """The pruner's model: ``weightcast.predict.Predictor`` with a random forest that keeps
    out-of-bag predictions (``oob_score=True``), whose residuals give the prediction interval.

    >>> default_predictor(n_estimators=10).estimator.oob_score
    True
    """
    from sklearn.ensemble import RandomForestRegressor

    from weightcast.predict import Predictor

    forest = RandomForestRegressor(
        n_estimators=n_estimators,
        max_features=1 / 3,
        min_samples_leaf=3,
        oob_score=True,
        random_state=seed,
        n_jobs=n_jobs,
    )
    return Predictor(estimator=forest)  # type: ignore[no-any-return]


def _predict_in_one_thread(model: Any) -> None:
    """Predicting a row or a few in parallel costs more than it saves (thread pool start-up)."""
    forest = getattr(model, "estimator_", model)
    if hasattr(forest, "n_jobs") and hasattr(forest, "estimators_"):
        forest.n_jobs = 1


def _oob_residuals(model: Any, y: np.ndarray) -> np.ndarray | None:
    """Out-of-bag residuals ``y - oob prediction`` of a fitted forest (None if it has none)."""
    forest = getattr(model, "estimator_", model)
    oob = getattr(forest, "oob_prediction_", None)
    if oob is None:
        return None
    oob = np.asarray(oob, dtype=float).ravel()
    ok = np.isfinite(oob)
    if oob.shape != y.shape or ok.sum() < 2:
        return None
    return np.where(ok, y - np.where(ok, oob, 0.0), np.nan)


class PruningPolicy:
    """Pure pruning logic over :class:`TrialRecord` objects, with a cache of fitted models.

    ``predictor_factory`` makes an unfitted predictor with ``fit``, ``predict`` and
    ``predict_interval(X, coverage)`` (default: ``weightcast.predict.Predictor``).

    ``prior``: finished runs of an earlier search (complete records with features at the
    decision steps, e.g. from a recorded corpus), added with their true final values to the
    training rows of every final-value model. They end the cold start: the model can decide
    from the first trials on, the way the paper's forest, trained on finished runs, predicts
    new ones. They never enter the targets, the warm-up count or the rank rule's field.

    >>> policy = PruningPolicy(PolicyConfig(steps=(10,), n_startup_trials=1))
    >>> done = TrialRecord(0, "complete", 0.9, np.array([10]), np.array([0.8]), rungs={10: 0.8})
    >>> bad = TrialRecord(1, "running", steps=np.array([10]), values=np.array([np.nan]))
    >>> policy.decide(bad, [done]).reason
    'diverged'
    >>> slow = TrialRecord(2, "running", steps=np.array([10]), values=np.array([0.1]))
    >>> policy.decide(slow, [done]).reason   # the rung rule: the best so far had 0.8 at step 10
    'rung'
    """

    def __init__(
        self,
        config: PolicyConfig,
        predictor_factory: Callable[[], IntervalPredictor] | None = None,
        prior: Sequence[TrialRecord] = (),
    ) -> None:
        self.config = config
        self.predictor_factory = predictor_factory
        bad = [r.number for r in prior if r.state != "complete" or not math.isfinite(r.value)]
        if bad:
            raise ValueError(
                f"prior runs must be complete with a finite value; runs {bad[:5]} are not"
            )
        # negative numbers: their rows are cached apart from the study's trials
        self.prior = tuple(replace(r, number=-1 - i) for i, r in enumerate(prior))
        self._fits: dict[tuple[int, int | None], _Fit] = {}
        self._rows: dict[tuple[int, int], FeatureBlock | None] = {}
        self._preds: dict[tuple[int, int, int, int], tuple[float, float]] = {}
        self._version = 0
        self.n_fits = 0
        self._rung_steps = config.rung_steps if config.rung_steps is not None else config.steps
        self._rung_factors = (
            rung_factors(self._rung_steps, config.reduction_factor)
            if config.reduction_factor is not None
            else {}
        )
        self.reasons: Counter[str] = Counter()
        """How many prunes each rule made (``"diverged"``, ``"interval"``, ``"rank"``, ``"rung"``)."""

    # -- public ---------------------------------------------------------------------------
    def decide(
        self, trial: TrialRecord, others: Sequence[TrialRecord], target_sign: float = 1.0
    ) -> Decision:
        """Decide whether ``trial`` stops now, given the other trials of the study.

        ``others`` must not contain ``trial``. ``target_sign`` multiplies a fixed
        ``config.target`` (pass -1 for a minimised objective, whose values the caller negated).
        """
        cfg = self.config
        current = trial.last_step
        if trial.is_diverged():
            self.reasons["diverged"] += 1
            return Decision(True, "diverged", current)
        if current is None:
            return Decision(False, "no-step")
        due = [s for s in cfg.steps if s <= current]
        rung_due = [s for s in self._rung_steps if s <= current]
        if not due and not rung_due:
            return Decision(False, "no-step")
        d = max(due + rung_due)
        rungs = self._rung_values(trial, rung_due)
        completed = [o for o in others if o.state == "complete"]
        if len(completed) < cfg.n_startup_trials:
            return Decision(False, "warmup", d, rungs=rungs)
        if trial.explored:
            return Decision(False, "explore", d, rungs=rungs)

        decision = None
        model_here = bool(due) and (not cfg.model_until_rung or due[-1] >= max(rung_due or due))
        if completed and model_here:
            decision = self._model_decision(trial, others, completed, due[-1], target_sign)
        if decision is None or decision.reason == "unsafe":
            # no model here yet, or one that has not learnt to recognise good runs: the rung rule
            decision = self._rung_decision(trial, others, rungs)
            if decision.prune and due and not model_here and self._vetoed(trial, others, due[-1]):
                decision = Decision(False, "veto", d)
        decision = Decision(**{**decision.__dict__, "rungs": rungs})
        if decision.prune and cfg.exploration > 0:
            if explore_draw(cfg.seed, trial.number, d) < cfg.exploration:
                return Decision(False, "explore", d, rungs=rungs, explore=True)
        if decision.prune:
            self.reasons[decision.reason] += 1
        return decision

    # -- rung rule ------------------------------------------------------------------------
    def _rung_values(self, trial: TrialRecord, due: Sequence[int]) -> dict[int, float]:
        """Rung values to record: the current value for each due rung not yet recorded."""
        value = trial.last_value
        if not trial.values.size or math.isnan(value):
            return {}
        reported = int(trial.steps[-1])
        return {d: value for d in due if d <= reported and d not in trial.rungs}

    def _rung_decision(
        self, trial: TrialRecord, others: Sequence[TrialRecord], rungs: dict[int, float]
    ) -> Decision:
        eta = self.config.reduction_factor
        if eta is None or not rungs:
            return Decision(False, "continue", max(rungs) if rungs else None)
        factors = self._rung_factors
        for d, value in sorted(rungs.items()):
            competing = [o.rungs[d] for o in others if d in o.rungs]
            if len(competing) < self.config.n_min_trials:
                continue  # too few values at this rung to judge by
            if not rung_promotable(value, competing, factors.get(d, eta)):
                return Decision(True, "rung", d, label=value, horizon=d)
        return Decision(False, "continue", max(rungs))

    def _vetoed(self, trial: TrialRecord, others: Sequence[TrialRecord], d: int) -> bool:
        """Whether the model (final value, features at ``d``) ranks ``trial`` in its top share.

        Only a trusted model vetoes: one with ``min_train`` true rows at ``d`` that passes the
        out-of-bag check.
        """
        cfg = self.config
        if not cfg.model_veto:
            return False
        row = self._cached_row(trial, d)
        if row is None:
            return False
        ts = self._training_set(others, d, None)
        if sum(ts.true) < cfg.min_train:
            return False
        fit = self._fit((d, None), ts)
        if self._untrusted(fit):
            return False
        mean, _ = self._predict(fit, trial, row, d)
        return rung_promotable(mean, self._scores(fit, others, d), 1.0 / cfg.model_veto)

    def _untrusted(self, fit: _Fit) -> bool:
        """The out-of-bag check: the model ranks its best training trial too low to decide."""
        cfg = self.config
        if not cfg.oob_check or fit.y_true is None:
            return False
        return fit.missed_best(
            max(cfg.top_k, math.ceil(fit.y_true.size / (cfg.reduction_factor or 1)))
        )

    # -- model ----------------------------------------------------------------------------
    def _row(self, trial: TrialRecord, d: int) -> FeatureBlock | None:
        """The model input of ``trial`` at decision step ``d`` (None if it has none).

        Everything comes from what the reporter stored at ``d`` (a snapshot as of that step:
        weights, training-loss and validation summaries), plus the hyperparameters; so a
        finished trial's row is exactly what the model saw when that trial was at ``d``.
        """
        fs = self.config.features
        stored = trial.features.get(d)
        if stored is None:
            return None
        w_idx, l_idx = _split_columns(stored[0])
        names: list[str] = []
        parts: list[np.ndarray] = []
        values = np.asarray(stored[1], dtype=float)
        if fs != "lc":
            if not w_idx:
                return None
            names.extend(stored[0][i] for i in w_idx)
            parts.append(values[list(w_idx)])
        if fs != "weights":
            summary = dict.fromkeys(LC_COLUMNS, math.nan)
            for i in l_idx:
                summary[stored[0][i]] = float(values[i])
            names.extend(summary)
            parts.append(np.fromiter(summary.values(), dtype=float, count=len(summary)))
        if fs == "all" and trial.hp:
            names.extend(f"hp.{k}" for k in trial.hp)
            parts.append(np.fromiter(trial.hp.values(), dtype=float, count=len(trial.hp)))
        return tuple(names), np.concatenate(parts)

    def _cached_row(self, trial: TrialRecord, d: int) -> FeatureBlock | None:
        if trial.state == "running":
            return self._row(trial, d)
        key = (trial.number, d)
        if key not in self._rows:
            self._rows[key] = self._row(trial, d)
        return self._rows[key]

    def _training_set(self, others: Sequence[TrialRecord], d: int, h: int | None) -> _TrainingSet:
        """Training rows at decision step ``d`` for the horizon ``h`` (None: the final value).

        True labels: the value at ``h`` of the finished trials that got there. With pseudo
        labels, a trial pruned before ``h`` gets the model's prediction if the model pruned it
        for this horizon, else (the rung rule pruned it, or it diverged) the worst true label.
        """
        cfg = self.config
        ts = _TrainingSet()
        floored: list[FeatureBlock] = []
        if h is None:
            for p in self.prior:
                row = self._cached_row(p, d)
                if row is not None:
                    ts.add(row, p.value, True, 1)
        for o in others:
            if o.state not in ("complete", "pruned"):
                continue
            y = _value_at(o, h)
            true = y is not None and math.isfinite(y)
            if not true and not (o.state == "pruned" and cfg.pseudo_labels):
                continue
            row = self._cached_row(o, d)
            if row is None:
                continue
            if not true:
                if o.label_horizon == h and math.isfinite(o.label) and not o.is_diverged():
                    ts.add(row, o.label, False, 1)
                else:
                    floored.append(row)
                continue
            rep = 1
            if o.explored and not cfg.pseudo_labels and cfg.exploration > 0:
                rep = round(min(1.0 / cfg.exploration, _MAX_IMPORTANCE_WEIGHT))
            ts.add(row, float(y), True, rep)  # type: ignore[arg-type]
            if o.state == "complete":
                ts.completed.add(o.number)
        if any(ts.true) and floored:
            floor = min(y for y, t in zip(ts.ys, ts.true, strict=True) if t)
            for row in floored:
                ts.add(row, floor, False, 1)
        return ts

    def _fit(self, key: tuple[int, int | None], ts: _TrainingSet) -> _Fit:
        old = self._fits.get(key)
        completed = frozenset(ts.completed)
        n = len(ts.rows)
        if old is not None:
            if old.completed == completed and n == old.n_rows:
                return old  # nothing changed
            if n < old.n_rows * (1 + self.config.refit_growth):
                return old  # not enough new rows yet
        columns: dict[str, None] = {}
        for names, _ in ts.rows:
            columns.update(dict.fromkeys(names))
        cols = tuple(columns)
        X = _matrix(ts.rows, cols)
        y = np.asarray(ts.ys)
        true = np.asarray(ts.true)
        reps = np.asarray(ts.reps)
        if (reps != 1).any():
            idx = np.repeat(np.arange(n), reps)
            X, y, true = X[idx], y[idx], true[idx]
        model = self._new_predictor()
        with warnings.catch_warnings():
            # a small forest leaves some rows without out-of-bag predictions: handled below
            warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
            model.fit(X, y)
        _predict_in_one_thread(model)
        residuals = _oob_residuals(model, y)
        oob = y_true = None
        if residuals is not None:
            y_true = y[true]
            oob = (y - residuals)[true]
            # the upper end protects good runs: calibrate it on the better half of the runs
            # (the many hopeless runs are easy to predict and would make it far too narrow)
            keep = true & np.isfinite(residuals)
            if true.any():
                upper_half = keep & (y >= np.median(y[true]))
                keep = upper_half if upper_half.sum() >= 2 else keep
            residuals = residuals[keep]
        self._version += 1
        self.n_fits += 1
        fit = _Fit(completed, n, cols, model, self._version, residuals, oob, y_true)
        self._fits[key] = fit
        return fit

    def _new_predictor(self) -> IntervalPredictor:
        if self.predictor_factory is not None:
            return self.predictor_factory()
        return default_predictor(seed=self.config.seed)

    def _predict(
        self, fit: _Fit, trial: TrialRecord, row: FeatureBlock, d: int
    ) -> tuple[float, float]:
        """Predicted value and upper end of the interval, cached per model, trial and input."""
        key = (d, fit.version, trial.number, hash(row[1].tobytes()))
        if key not in self._preds or math.isnan(self._preds[key][1]):
            frame = _matrix([row], fit.columns)
            mean = float(np.asarray(fit.model.predict(frame))[0])
            self._preds[key] = (mean, self._upper(fit, frame, mean))
        return self._preds[key]

    def _upper(self, fit: _Fit, frame: np.ndarray, mean: float) -> float:
        coverage = self.config.coverage
        if fit.residuals is not None and fit.residuals.size >= 2:
            return mean + max(float(np.quantile(fit.residuals, (1 + coverage) / 2)), 0.0)
        _, his = fit.model.predict_interval(frame, coverage=coverage)
        return float(np.asarray(his)[0])

    def _scores(self, fit: _Fit, others: Sequence[TrialRecord], d: int) -> list[float]:
        """Predicted values of every other trial that reached ``d`` (the rank rule's field)."""
        todo: list[tuple[tuple[int, int, int, int], FeatureBlock]] = []
        keys = []
        for o in others:
            row = self._cached_row(o, d)
            if row is None:
                continue
            key = (d, fit.version, o.number, hash(row[1].tobytes()))
            keys.append(key)
            if key not in self._preds:
                todo.append((key, row))
        if todo:
            frame = _matrix([r for _, r in todo], fit.columns)
            means = np.asarray(fit.model.predict(frame), dtype=float)
            for (key, _), mean in zip(todo, means, strict=True):
                self._preds[key] = (float(mean), math.nan)
        return [self._preds[k][0] for k in keys]

    def _model_decision(
        self,
        trial: TrialRecord,
        others: Sequence[TrialRecord],
        completed: Sequence[TrialRecord],
        d: int,
        target_sign: float,
    ) -> Decision | None:
        """The interval rule at ``d`` for the furthest horizon with enough training rows."""
        cfg = self.config
        row = self._cached_row(trial, d)
        if row is None:
            return None
        horizons: list[int | None] = [None, *(s for s in reversed(cfg.steps) if s > d)]
        for h in horizons:
            ts = self._training_set(others, d, h)
            if sum(ts.true) < cfg.min_train:
                continue
            fit = self._fit((d, h), ts)
            mean, upper = self._predict(fit, trial, row, d)
            if h is None and cfg.target is not None:
                target = cfg.target * target_sign
            elif h is None:
                target = kth_best((o.value for o in completed), cfg.top_k)
            else:
                at_h = [v for v in (_value_at(o, h) for o in others) if v is not None]
                k = cfg.top_k
                if cfg.reduction_factor is not None:
                    k = max(k, math.ceil(len(at_h) / cfg.reduction_factor))
                target = kth_best(at_h, k)
            reason = "interval" if upper < target else "continue"
            eta = cfg.reduction_factor
            rank_here = cfg.rung_steps is None or d in cfg.rung_steps
            if reason == "continue" and cfg.model_rung and eta is not None and rank_here:
                scores = self._scores(fit, others, d)
                if not rung_promotable(mean, scores, self._rung_factors.get(d, eta)):
                    reason = "rank"
            if reason != "continue" and self._untrusted(fit):
                reason = "unsafe"
            prune = reason not in ("continue", "unsafe")
            return Decision(
                prune,
                reason,
                d,
                label=min(mean, upper),
                mean=mean,
                upper=upper,
                target=target,
                horizon=h,
            )
        return None


@dataclass
class _TrainingSet:
    rows: list[FeatureBlock] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    true: list[bool] = field(default_factory=list)
    reps: list[int] = field(default_factory=list)
    completed: set[int] = field(default_factory=set)

    def add(self, row: FeatureBlock, y: float, true: bool, rep: int) -> None:
        self.rows.append(row)
        self.ys.append(float(y))
        self.true.append(true)
        self.reps.append(rep)


@lru_cache(maxsize=32)
def _split_columns(names: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Indices of the weight columns and of the learning-curve summary columns."""
    weights = tuple(i for i, n in enumerate(names) if ".raw." in n or ".delta." in n)
    curve = tuple(i for i, n in enumerate(names) if n in LC_COLUMNS)
    return weights, curve


def _value_at(o: TrialRecord, h: int | None) -> float | None:
    """The value of ``o`` at horizon ``h``: its final value (None), else its last value at or
    before ``h`` provided it got to ``h``; None if unknown."""
    if h is None:
        return o.value if o.state == "complete" else None
    last = o.last_step
    if not o.steps.size or last is None or (o.state != "complete" and last < h):
        return None
    i = int(np.searchsorted(o.steps, h, side="right")) - 1
    return float(o.values[i]) if i >= 0 else None


def _matrix(rows: Sequence[FeatureBlock], columns: tuple[str, ...]) -> np.ndarray:
    """Stack feature blocks into a matrix with ``columns``; missing values become MISSING."""
    X = np.full((len(rows), len(columns)), MISSING, dtype=float)
    index: dict[str, int] | None = None
    for i, (names, values) in enumerate(rows):
        if names == columns:
            X[i] = values
            continue
        if index is None:
            index = {c: j for j, c in enumerate(columns)}
        for name, v in zip(names, values, strict=True):
            j = index.get(name)
            if j is not None:
                X[i, j] = v
    X[~np.isfinite(X)] = MISSING
    return X
