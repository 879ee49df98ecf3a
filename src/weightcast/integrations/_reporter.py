"""TrialReporter: the trial side of the pruner, a callback for any PyTorch training loop."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from weightcast._imports import require
from weightcast.integrations._attrs import (
    DIVERGED_KEY,
    diverged_payload,
    encode_features,
    features_key,
)
from weightcast.integrations._names import check_report
from weightcast.policy import loss_signal, loss_summary, val_summary
from weightcast.policy._rules import check_steps

optuna = require("optuna")

if TYPE_CHECKING:
    from optuna.trial import Trial


def _layers(model_or_layers: Any) -> Mapping[str, np.ndarray]:
    if isinstance(model_or_layers, Mapping):
        return model_or_layers
    from weightcast.torch import layer_weights

    return layer_weights(model_or_layers)  # type: ignore[no-any-return]


class TrialReporter:
    """Report a trial's learning curve and weight features so that the pruner can use them.

    A callback object with the hooks of ``weightcast.search.run_trial`` and
    ``weightcast.torch.FeatureRecorder``:

    - ``on_train_step(model, step, loss)`` after optimizer step ``step`` (1-based; call it once
      with ``step=0`` and ``loss=nan`` before training, so that W(0) is known for the weight
      change at the first decision step). At each decision step it stores the weight features
      of W(t) and of W(t) - W(t - tau) (``tau`` the largest of ``taus`` that is ``<= t``), the
      mean training loss over each quarter of ``(0, t]`` and a summary of the validation scores
      reported before ``t`` (:func:`weightcast.policy.curve_summary`) as one user attribute of the
      trial (see :mod:`weightcast.integrations._attrs`), then asks the pruner;
    - ``on_eval(step, val_acc)``: ``trial.report(val_acc, step)``, then asks the pruner.

    ``report="loss"`` is for a search that evaluates nothing during training (validation passes
    cost compute; weights and the training loss do not): at each rung step of the pruner (its
    decision steps and later rungs) the reporter calls ``trial.report`` with
    :func:`weightcast.policy.loss_signal` (minus the mean training loss over the second half of
    the steps so far) and asks the pruner; ``on_eval`` is then ignored (the features carry no
    validation summary, as in the replay and in a prior built with ``val=False``), so evaluate
    once, at the end, and return that score from the objective.

    When the pruner says stop, the hook raises ``optuna.TrialPruned`` (``prune=False``: never
    raises; check :attr:`should_stop` yourself). A non-finite loss or non-finite weights mark the
    trial as diverged (user attribute ``weightcast:diverged``), so the pruner stops it at once.

    ``steps`` default to the decision steps of the study's :class:`WeightcastPruner`; weight
    features are computed only when that pruner uses them (``weights=None``), or always
    (``True``), or never (``False``). ``model_or_layers`` is a ``torch.nn.Module`` (weights taken
    by ``weightcast.torch.layer_weights``) or a mapping ``{layer name: weight array}`` in forward
    order (PyTorch layout).

    >>> import optuna
    >>> from weightcast.integrations.optuna import WeightcastPruner
    >>> study = optuna.create_study(direction="maximize", pruner=WeightcastPruner("lc", steps=[2]))
    >>> trial = study.ask()
    >>> reporter = TrialReporter(trial)
    >>> reporter.on_train_step(None, 1, 2.0); reporter.on_train_step(None, 2, 1.0)
    >>> sorted(trial.user_attrs)
    ['weightcast:f@2']
    >>> reporter.on_eval(2, 0.5)
    >>> trial.study.trials[0].intermediate_values
    {2: 0.5}
    """

    def __init__(
        self,
        trial: Trial,
        steps: Sequence[int] | None = None,
        taus: Sequence[int] = (10,),
        *,
        weights: bool | None = None,
        prune: bool = True,
        report: str = "val",
    ) -> None:
        pruner = getattr(getattr(trial, "study", None), "pruner", None)
        if steps is None:
            steps = getattr(pruner, "decision_steps", None)
            if steps is None:
                raise ValueError(
                    "give the decision steps (steps=[...]): the study's pruner "
                    f"({type(pruner).__name__}) does not define them"
                )
        self.steps = check_steps(steps)
        self.report_mode = check_report(report)
        rung_steps = getattr(getattr(pruner, "config", None), "rung_steps", None)
        self.report_steps = (
            tuple(sorted(set(self.steps) | set(rung_steps or ()))) if report == "loss" else ()
        )
        self.taus = tuple(sorted({int(t) for t in taus}))
        if any(t < 1 for t in self.taus):
            raise ValueError(f"taus must be positive integers, got taus={tuple(taus)!r}")
        if weights is None:
            weights = getattr(pruner, "features", "all") != "lc"
        self.trial = trial
        self.weights = bool(weights)
        self.prune = bool(prune)
        self.should_stop = False
        self.diverged_step: int | None = None
        self._steps = frozenset(self.steps)
        self._report_steps = frozenset(self.report_steps)
        self._last = max(self.steps + self.report_steps)
        self._loss_steps: list[int] = []
        self._losses: list[float] = []
        self._val_steps: list[int] = []
        self._vals: list[float] = []
        self._recorder: Any = None
        if self.weights:
            from weightcast.torch import FeatureRecorder

            self._recorder = FeatureRecorder(
                steps=self.steps, taus=self.taus, eval_every=1, weights=_layers
            )

    # -- hooks ---------------------------------------------------------------------------
    def on_train_step(self, model: Any, step: int, loss: float) -> None:
        """After optimizer step ``step``: record the loss, and features at a decision step."""
        step = int(step)
        loss = float(loss)
        if step > 0 and not math.isfinite(loss):
            self._mark_diverged(step)
        if step > 0 and step <= self._last:
            self._loss_steps.append(step)
            self._losses.append(loss)
        if self._recorder is not None and self.diverged_step is None:
            self._recorder.on_train_step(model, step, loss)
            if self._recorder.diverged_step is not None:
                self._mark_diverged(self._recorder.diverged_step)
        if step in self._steps:
            self.trial.set_user_attr(features_key(step), self._payload(step))
        if step in self._report_steps:
            self.trial.report(loss_signal(self._loss_steps, self._losses, step), step)
        if step in self._steps or step in self._report_steps or self.diverged_step == step:
            self._ask()

    def on_eval(self, step: int, val_acc: float) -> None:
        """A validation score at ``step``: ``trial.report`` it, then ask the pruner.

        With ``report="loss"`` it is ignored: nothing is reported or kept.
        """
        if self.report_mode == "loss":
            return
        if int(step) <= self._last:
            self._val_steps.append(int(step))
            self._vals.append(float(val_acc))
        self.trial.report(float(val_acc), int(step))
        self._ask()

    def report(
        self, model_or_layers: Any, step: int, train_loss: float, val_acc: float | None = None
    ) -> None:
        """``on_train_step`` then, if ``val_acc`` is given, ``on_eval``: one call per step.

        >>> import optuna, numpy as np
        >>> from weightcast.integrations.optuna import WeightcastPruner
        >>> s = optuna.create_study(pruner=WeightcastPruner("lc", steps=[5]))
        >>> r = TrialReporter(s.ask(), prune=False)
        >>> r.report({"fc": np.ones((2, 3))}, 1, float("nan"))
        >>> r.diverged_step, r.should_stop
        (1, True)
        """
        self.on_train_step(model_or_layers, step, train_loss)
        if val_acc is not None:
            self.on_eval(step, val_acc)

    # -- internals -----------------------------------------------------------------------
    def _mark_diverged(self, step: int) -> None:
        if self.diverged_step is None:
            self.diverged_step = int(step)
            self.trial.set_user_attr(DIVERGED_KEY, int(step))

    def _payload(self, t: int) -> dict[str, Any]:
        if self.diverged_step is not None and self.diverged_step <= t:
            return diverged_payload()
        feats: dict[str, float] = {}
        tau = None
        if self._recorder is not None:
            raw = self._recorder.raw
            raw = raw[raw["t"] == t]
            if len(raw):
                feats.update(raw.iloc[0].drop("t").to_dict())
            delta = self._recorder.delta
            delta = delta[(delta["t"] == t) & (delta["tau"] <= t)]
            if len(delta):
                row = delta.sort_values("tau").iloc[-1]
                tau = int(row["tau"])
                feats.update(row.drop(["t", "tau"]).to_dict())
        feats.update(loss_summary(self._loss_steps, self._losses, t))
        before = [i for i, s in enumerate(self._val_steps) if s < t]
        feats.update(
            val_summary([self._val_steps[i] for i in before], [self._vals[i] for i in before], t)
        )
        return encode_features(feats, tau)

    def _ask(self) -> None:
        if self.trial.should_prune():
            self.should_stop = True
            if self.prune:
                raise optuna.TrialPruned(f"pruned by {type(self.trial.study.pruner).__name__}")
