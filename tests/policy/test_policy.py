"""PruningPolicy on hand-made trial records, with a stub predictor whose answers are known."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from weightcast.policy import PolicyConfig, PruningPolicy, TrialRecord


class StubPredictor:
    """Predicts 'lc.val_acc.last' * 2 (the synthetic curves below reach half their final value
    at step 10), interval +-0.05; remembers what it was fitted on."""

    fitted: list[tuple[np.ndarray, np.ndarray]] = []

    def fit(self, X: np.ndarray, y: Any) -> StubPredictor:
        StubPredictor.fitted.append((X, np.asarray(y)))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return 2 * X[:, 0]  # the first column is lc.val_acc.last

    def predict_interval(self, X: np.ndarray, coverage: float = 0.8) -> tuple[Any, Any]:
        p = self.predict(X)
        return p - 0.05, p + 0.05


def rec(number: int, state: str, final: float = math.nan, **kw: Any) -> TrialRecord:
    """A trial whose curve is final/2 at step 10 and final at step 100 (up to its last step)."""
    last = kw.pop("last", 100)
    steps = np.array([s for s in (10, 100) if s <= last])
    values = kw.pop("values", None)
    if values is None:
        values = np.array([final / 2, final][: steps.size])
    # what the reporter stored at step 10: the curve summary (here: the value at step 10)
    kw.setdefault("features", {10: (("lc.val_acc.last",), np.array([values[0]]))})
    return TrialRecord(
        number,
        state,  # type: ignore[arg-type]
        final if state == "complete" else math.nan,
        steps,
        np.asarray(values, dtype=float),
        **kw,
    )


def policy(**kw: Any) -> PruningPolicy:
    StubPredictor.fitted = []
    cfg = {
        "steps": (10,),
        "features": "lc",
        "n_startup_trials": 2,
        "min_train": 3,
        "model_rung": False,
        **kw,
    }
    return PruningPolicy(PolicyConfig(**cfg), StubPredictor)


def test_diverged_trials_are_pruned_at_once_even_in_warmup() -> None:
    p = policy(n_startup_trials=10)
    nan_value = rec(0, "running", values=[math.nan], last=10)
    marked = TrialRecord(1, "running", diverged_step=3)
    assert p.decide(nan_value, []).reason == "diverged"
    assert p.decide(marked, []).prune
    assert p.reasons["diverged"] == 2


def test_warmup_never_prunes_but_records_rungs() -> None:
    p = policy(n_startup_trials=2)
    done = [rec(0, "complete", 0.9, rungs={10: 0.45})]
    hopeless = rec(5, "running", values=[0.0], last=10)
    d = p.decide(hopeless, done)
    assert (d.prune, d.reason, d.rungs) == (False, "warmup", {10: 0.0})


def test_rung_rule_decides_until_the_model_has_enough_rows() -> None:
    p = policy(min_train=5)
    done = [rec(i, "complete", f, rungs={10: f / 2}) for i, f in enumerate((0.9, 0.8))]
    low = rec(5, "running", values=[0.1], last=10)
    high = rec(6, "running", values=[0.5], last=10)
    assert p.decide(low, done).reason == "rung"
    assert p.decide(high, done).prune is False
    assert p.n_fits == 0


def test_interval_rule_on_the_final_value() -> None:
    p = policy(min_train=3, top_k=2)
    done = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.3))]
    # predicted 2 * 0.37 = 0.74, upper 0.79 < 2nd best 0.8: pruned
    d = p.decide(rec(5, "running", values=[0.37], last=10), done)
    assert (d.prune, d.reason, d.horizon) == (True, "interval", None)
    assert d.mean == pytest.approx(0.74) and d.upper == pytest.approx(0.79)
    assert d.target == 0.8 and d.label == pytest.approx(0.74)
    # upper 0.83 >= 0.8: goes on
    assert not p.decide(rec(6, "running", values=[0.39], last=10), done).prune
    assert p.n_fits == 1  # the second decision reused the model


def test_rank_rule_on_the_models_predictions() -> None:
    p = policy(min_train=3, top_k=3, model_rung=True)
    done = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.3))]
    # predicted 0.78, upper 0.83 >= 3rd best 0.3; but 3rd of the four predictions 0.9, 0.8, 0.3
    # and 0.78: not in the top third -> pruned by rank
    d = p.decide(rec(6, "running", values=[0.39], last=10), done)
    assert (d.prune, d.reason) == (True, "rank")
    assert not p.decide(rec(7, "running", values=[0.5], last=10), done).prune  # predicted 1.0


def test_fixed_target_and_minimised_objectives() -> None:
    p = policy(min_train=3, target=0.5)
    done = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.3))]
    assert p.decide(rec(5, "running", values=[0.2], last=10), done).prune  # upper 0.45 < 0.5
    assert not p.decide(rec(6, "running", values=[0.24], last=10), done).prune  # 0.53
    # target_sign -1: the values of a minimised objective arrive negated, and so does the target
    assert (
        not policy(min_train=3, target=0.5)
        .decide(rec(7, "running", values=[-0.2], last=10), done, target_sign=-1.0)
        .prune
    )  # predicted 0.4, upper 0.35 (in the objective's terms) < 0.5: goes on
    assert (
        policy(min_train=3, target=0.5)
        .decide(rec(8, "running", values=[-0.3], last=10), done, target_sign=-1.0)
        .prune
    )  # predicted 0.6, at best 0.55 > 0.5


def test_partial_runs_give_a_horizon_before_enough_trials_complete() -> None:
    p = policy(steps=(10, 100), min_train=3, top_k=1, n_startup_trials=1)
    # one completed trial, three pruned ones that reached step 100: horizon 100, not final
    others = [rec(0, "complete", 0.9)]
    others += [rec(i, "pruned", f, last=100) for i, f in ((1, 0.6), (2, 0.5), (3, 0.4))]
    d = p.decide(rec(5, "running", values=[0.3], last=10), others)
    assert d.horizon == 100
    X, y = StubPredictor.fitted[-1]
    assert sorted(y.tolist()) == [0.4, 0.5, 0.6, 0.9]
    # the target at a partial horizon is successive halving's: the value at step 100 that keeps
    # the top third (here the 2nd best of four), or the top_k-th best if that is lower
    assert d.target == 0.6 and d.upper == pytest.approx(0.65) and not d.prune
    strict = policy(
        steps=(10, 100), min_train=3, top_k=1, n_startup_trials=1, reduction_factor=None
    )
    d = strict.decide(rec(5, "running", values=[0.3], last=10), others)
    assert (d.horizon, d.target, d.prune) == (100, 0.9, True)


def test_pseudo_labels_keep_pruned_trials_in_the_training_data() -> None:
    others = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.7))]
    pruned = rec(3, "pruned", last=10, values=[0.1], label=0.25, label_horizon=None)
    on = policy(min_train=3)
    on.decide(rec(5, "running", values=[0.4], last=10), [*others, pruned])
    assert sorted(StubPredictor.fitted[-1][1].tolist()) == [0.25, 0.7, 0.8, 0.9]
    off = policy(min_train=3, pseudo_labels=False)
    off.decide(rec(5, "running", values=[0.4], last=10), [*others, pruned])
    assert sorted(StubPredictor.fitted[-1][1].tolist()) == [0.7, 0.8, 0.9]


def test_diverged_rows_get_the_worst_label() -> None:
    others = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.7))]
    diverged = rec(3, "pruned", last=10, values=[0.2], diverged_step=50)
    p = policy(min_train=3)
    p.decide(rec(5, "running", values=[0.4], last=10), [*others, diverged])
    assert sorted(StubPredictor.fitted[-1][1].tolist()) == [0.7, 0.7, 0.8, 0.9]


def test_refit_only_when_the_training_trials_change() -> None:
    p = policy(min_train=3, refit_growth=0.0)
    others = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.7))]
    for n in range(5, 9):
        p.decide(rec(n, "running", values=[0.1], last=10), others)
    assert p.n_fits == 1
    others.append(rec(3, "complete", 0.95))
    p.decide(rec(9, "running", values=[0.1], last=10), others)
    assert p.n_fits == 2


def test_exploration_lets_a_seeded_share_go_on() -> None:
    others = [rec(i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.7))]
    decisions = [
        policy(min_train=3, exploration=0.3, seed=1).decide(
            rec(n, "running", values=[0.0], last=10), others
        )
        for n in range(200)
    ]
    explored = [d.explore for d in decisions]
    assert 30 < sum(explored) < 90
    assert all(d.prune != d.explore for d in decisions)
    again = [
        policy(min_train=3, exploration=0.3, seed=1)
        .decide(rec(n, "running", values=[0.0], last=10), others)
        .explore
        for n in range(200)
    ]
    assert explored == again
    explored_trial = rec(7, "running", values=[0.0], last=10, explored=True)
    assert policy(min_train=3).decide(explored_trial, others).reason == "explore"


def test_rung_rule_only_at_its_steps() -> None:
    p = policy(steps=(10, 20), rung_steps=(20,), min_train=50)
    done = [rec(i, "complete", f, rungs={10: f / 2}) for i, f in enumerate((0.9, 0.8))]
    low = rec(5, "running", values=[0.1], last=10)
    assert p.decide(low, done).reason == "continue"
    # rung steps may lie beyond the decision steps: the rung rule needs reported values only
    late = policy(steps=(10,), rung_steps=(100,), min_train=50, n_startup_trials=1)
    behind = rec(6, "running", values=[0.1, 0.2], last=100)
    assert late.decide(behind, [rec(0, "complete", 0.9, rungs={100: 0.9})]).reason == "rung"
    with pytest.raises(ValueError, match=r"steps=\(0,\)"):
        PolicyConfig(steps=(10, 20), rung_steps=(0,))


def test_rung_rule_waits_for_n_min_trials_values_at_a_rung() -> None:
    done = [rec(i, "complete", f, rungs={10: f / 2}) for i, f in enumerate((0.9, 0.8))]
    low = rec(5, "running", values=[0.1], last=10)
    assert policy(min_train=50).decide(low, done).reason == "rung"  # default: 1 is enough
    waiting = policy(min_train=50, n_min_trials=3)
    d = waiting.decide(low, done)
    assert (d.prune, d.reason, d.rungs) == (False, "continue", {10: 0.1})
    third = [*done, rec(2, "pruned", rungs={10: 0.2}, last=10, values=[0.2])]
    assert waiting.decide(low, third).reason == "rung"  # 3 values there now: 0.1 is last
    # the wait is per rung: a full first rung does not open a later one
    late = policy(steps=(10,), rung_steps=(10, 100), min_train=50, n_min_trials=3)
    behind = rec(6, "running", values=[0.45, 0.5], last=100)
    few = [
        rec(i, "complete", 0.9, rungs={10: 0.4, 100: 0.9} if i == 0 else {10: 0.4})
        for i in range(3)
    ]
    assert late.decide(behind, few).prune is False  # only one value at step 100
    with pytest.raises(ValueError, match="n_min_trials must be a positive integer"):
        PolicyConfig(steps=(10,), n_min_trials=0)


class OOBStub(StubPredictor):
    """The stub with out-of-bag predictions that miss the best training trial."""

    def fit(self, X: np.ndarray, y: Any) -> OOBStub:
        super().fit(X, y)
        y = np.asarray(y, dtype=float)
        self.oob_prediction_ = np.where(y == y.max(), 0.0, y)  # the best one predicted at 0
        return self


def test_oob_check_keeps_the_model_from_pruning_when_it_missed_the_best() -> None:
    finals = (0.9, 0.8, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3)
    done = [rec(i, "complete", f) for i, f in enumerate(finals)]
    trial = rec(20, "running", values=[0.2], last=10)  # predicted 0.4
    cfg = {"steps": (10,), "features": "lc", "min_train": 3, "top_k": 2, "model_rung": False}
    checked = PruningPolicy(PolicyConfig(**cfg), OOBStub)
    d = checked.decide(trial, done)  # not trusted: the rung rule decides (no rungs recorded)
    assert (d.prune, d.reason) == (False, "continue")
    unchecked = PruningPolicy(PolicyConfig(**cfg, oob_check=False), OOBStub)
    d = unchecked.decide(trial, done)
    assert (d.prune, d.reason) == (True, "interval")
    # residuals out of bag: 0 for nine trials, 0.9 for the best: their 90 % quantile is 0.09
    assert d.upper == pytest.approx(0.4 + 0.09)


def test_prior_runs_let_the_model_decide_before_min_train_trials_complete() -> None:
    # three finished runs of an earlier search: the final-value model exists from the start
    prior = [rec(100 + i, "complete", f) for i, f in enumerate((0.9, 0.8, 0.3))]
    p = PruningPolicy(
        PolicyConfig(steps=(10,), features="lc", n_startup_trials=2, min_train=3, model_rung=False),
        StubPredictor,
        prior,
    )
    StubPredictor.fitted = []
    done = [rec(0, "complete", 0.85), rec(1, "complete", 0.7)]
    # two completed trials only (min_train is 3): without the prior the rung rule would decide
    d = p.decide(rec(5, "running", values=[0.2], last=10), done)
    assert (d.prune, d.reason, d.horizon) == (True, "interval", None)
    assert d.target == 0.7  # 3rd best completed of *this* search (fewer than 3: the worst)
    X, y = StubPredictor.fitted[-1]
    # trained on the prior's three and the search's two finished trials, true final values
    assert sorted(y.tolist()) == [0.3, 0.7, 0.8, 0.85, 0.9]
    assert p.prior[0].number < 0  # kept apart from the study's trial numbers
    with pytest.raises(ValueError, match="complete with a finite value"):
        PruningPolicy(PolicyConfig(steps=(10,)), StubPredictor, [rec(0, "pruned")])


def test_model_until_rung_hands_later_rungs_to_the_rung_rule() -> None:
    # the model reads step 10 (predicts 2 x 0.45 = 0.9: keep); at step 100 the trial has
    # fallen to 0.1 while the finished ones had 0.7-0.9 there
    done = [rec(i, "complete", f, rungs={10: f / 2, 100: f}) for i, f in enumerate((0.9, 0.8, 0.7))]
    fallen = rec(5, "running", values=[0.45, 0.1], last=100, rungs={10: 0.45})
    early = rec(6, "running", values=[0.45], last=10, rungs={10: 0.45})
    kept = policy(rung_steps=(10, 100))
    d = kept.decide(fallen, done)  # default: the model decides on from its step-10 features
    assert (d.prune, d.reason, d.mean) == (False, "continue", 0.9)
    handed = policy(rung_steps=(10, 100), model_until_rung=True)
    d = handed.decide(fallen, done)
    assert (d.prune, d.reason, d.step) == (True, "rung", 100)
    assert handed.decide(early, done).reason == "continue"  # at step 10 the model decides
    assert handed.decide(early, done).mean == pytest.approx(0.9)
    with pytest.raises(ValueError, match="model_until_rung must be True or False"):
        PolicyConfig(steps=(10,), model_until_rung=1)  # type: ignore[arg-type]


def test_model_veto_spares_the_models_top_share_from_later_rungs() -> None:
    # finished trials: half their final at step 10 (the stub predicts the final from it)
    done = [
        rec(i, "complete", f, rungs={10: f / 2, 100: f})
        for i, f in enumerate((0.9, 0.8, 0.7, 0.6, 0.5))
    ]
    # both fall to 0.1 at step 100, where the rung rule stops them; the model, from step 10,
    # predicts 0.92 for the first (the best of six: in the top 20 %) and 0.6 for the second
    starter = rec(7, "running", values=[0.46, 0.1], last=100, rungs={10: 0.46})
    plain = rec(8, "running", values=[0.3, 0.1], last=100, rungs={10: 0.3})
    vetoing = policy(rung_steps=(10, 100), model_until_rung=True, model_veto=0.2)
    d = vetoing.decide(starter, done)
    assert (d.prune, d.reason, d.step) == (False, "veto", 100)
    d = vetoing.decide(plain, done)
    assert (d.prune, d.reason, d.step) == (True, "rung", 100)
    # without the veto (the default) the rung rule stops both
    handed = policy(rung_steps=(10, 100), model_until_rung=True)
    assert handed.decide(starter, done).reason == "rung"
    # a model with too few rows to learn from (min_train) vetoes nothing
    short = policy(rung_steps=(10, 100), model_until_rung=True, model_veto=0.2, min_train=6)
    assert short.decide(starter, done).reason == "rung"
    for bad in (1.0, -0.1, True, "0.2"):
        with pytest.raises(ValueError, match="model_veto must lie in"):
            PolicyConfig(steps=(10,), model_veto=bad)  # type: ignore[arg-type]
