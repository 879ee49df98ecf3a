"""WeightcastPruner and TrialReporter in real Optuna studies (in memory, SQLite, journal)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest

from tests.integrations._objective import T, layers, objective
from weightcast.integrations.optuna import (
    DIVERGED_KEY,
    TrialReporter,
    WeightcastPruner,
    decode_features,
    encode_features,
    features_key,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)
ROOT = Path(__file__).resolve().parents[2]
XS = [0.5, 0.6, 0.7, *np.random.default_rng(0).random(26).round(3).tolist()]
XS.insert(20, 0.99)


def make_pruner(**kw: object) -> WeightcastPruner:
    args: dict = {
        "steps": [5, 10, 20],
        "n_startup_trials": 3,
        "min_train": 4,
        "n_estimators": 10,
        "n_jobs": 1,
        **kw,
    }
    return WeightcastPruner(args.pop("features", "lc"), **args)


def run_study(
    storage: str | None, xs: list[float] = XS, diverge_below: float = -1.0, **kw: object
) -> optuna.Study:
    study = optuna.create_study(direction="maximize", storage=storage, pruner=make_pruner(**kw))
    for x in xs:
        study.enqueue_trial({"x": x})
    study.optimize(lambda t: objective(t, diverge_below=diverge_below), n_trials=len(xs))
    return study


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.trials]


def test_tiny_objective_is_pruned_as_expected(tmp_path: Path) -> None:
    memory = run_study(None)
    got = states(memory)
    assert got[:3] == ["COMPLETE"] * 3  # the warm-up
    for t in memory.trials[3:]:
        if t.params["x"] < 0.3:  # hopeless: stopped at the first rung (step 20) at the latest
            assert t.state.name == "PRUNED", t.params
            assert t.system_attrs["weightcast:pruned"]["step"] <= 20
    assert memory.best_params == {"x": 0.99}
    assert 10 < got.count("PRUNED") < len(XS) - 5
    # the same decisions with SQLite (the first 8 trials, to keep the test short): all the
    # pruner needs lives in the storage
    sqlite = run_study(f"sqlite:///{tmp_path / 'study.db'}", XS[:8])
    assert states(sqlite) == got[:8]


def test_never_prunes_before_warmup() -> None:
    rng = np.random.default_rng(3)
    xs = rng.random(12).round(3).tolist()
    study = run_study(None, xs, n_startup_trials=6)
    completed = 0
    for t in study.trials:
        if t.state.name == "PRUNED":
            assert completed >= 6, "pruned during the warm-up"
        completed += t.state.name == "COMPLETE"
    assert states(study)[:6] == ["COMPLETE"] * 6


def test_diverged_trial_is_pruned_at_once_and_marked() -> None:
    study = run_study(None, [0.9, 0.01], diverge_below=0.5)
    bad = study.trials[1]
    assert bad.state.name == "PRUNED"
    assert bad.user_attrs[DIVERGED_KEY] == 3
    assert max(bad.intermediate_values, default=0) < 5  # before its first evaluation
    assert study.trials[0].state.name == "COMPLETE"


def test_reporter_stores_one_compact_attribute_per_decision_step() -> None:
    study = run_study(None, [0.9])
    attrs = study.trials[0].user_attrs
    assert sorted(attrs) == [features_key(s) for s in (10, 20, 5)]
    names, values = decode_features(attrs[features_key(20)])
    summary = dict(zip(names, values, strict=True))
    # loss 2 - 0.9 s / 60 over steps 1..5 (first quarter of (0, 20])
    assert summary["lc.train_loss.q1"] == pytest.approx(2 - 0.9 * 3 / T, rel=1e-6)


def test_features_attribute_fits_every_storage() -> None:
    layers = ("conv_first", "conv_second", "conv_last", "fc1")
    stats = [
        f"{g}.{s}.{st}"
        for g in ("in", "out", "kernel")
        for s in "mean median std max min".split()
        for st in range(13)
    ]
    names = [
        f"{layer}.{kind}.{stat}" for layer in layers for kind in ("raw", "delta") for stat in stats
    ]
    values = np.random.default_rng(0).standard_normal(len(names))
    payload = encode_features(dict(zip(names, values, strict=True)), tau=10)
    import json

    size = len(json.dumps(payload))
    assert len(names) > 1500 and size < 20_000  # a MySQL TEXT column holds 65,535 bytes
    back_names, back = decode_features(payload)
    assert list(back_names) == names
    np.testing.assert_allclose(back, values, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"features": "curve"}, "features='curve'"),
        ({"coverage": 0.0}, "coverage=0.0"),
        ({"top_k": 0}, "top_k=0"),
        ({"n_startup_trials": -2}, "n_startup_trials=-2"),
        ({"min_train": 0}, "min_train=0"),
        ({"reduction_factor": 1}, "reduction_factor=1"),
        ({"n_min_trials": 0}, "n_min_trials=0"),
        ({"exploration": -0.1}, "exploration=-0.1"),
        ({"n_estimators": 0}, "n_estimators=0"),
        ({"steps": [0, 5]}, "steps=(0, 5)"),
        ({"steps": None}, "steps=None and T=None"),
        ({"steps": None, "T": 100, "fractions": (2.0,)}, "fractions=(2.0,)"),
    ],
)
def test_bad_settings_fail_in_init_naming_the_value(kwargs: dict, needle: str) -> None:
    import re

    with pytest.raises(ValueError, match=re.escape(needle)):
        make_pruner(**kwargs)


def test_reporter_needs_steps_without_a_weightcast_pruner() -> None:
    study = optuna.create_study()
    with pytest.raises(ValueError, match="decision steps"):
        TrialReporter(study.ask())
    assert TrialReporter(study.ask(), steps=[5], weights=False).steps == (5,)


def test_two_workers_on_one_journal_lose_no_trial_and_no_features(tmp_path: Path) -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = str(tmp_path / "journal.log")
    storage = JournalStorage(JournalFileBackend(path))
    optuna.create_study(study_name="s", storage=storage, direction="maximize")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.integrations._objective", path, "s", "8", str(seed)],
            cwd=ROOT,
            env=env,
        )
        for seed in (1, 2)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    study = optuna.load_study(study_name="s", storage=JournalStorage(JournalFileBackend(path)))
    trials = study.get_trials()
    assert len(trials) == 16
    assert {t.state.name for t in trials} <= {"COMPLETE", "PRUNED"}
    assert sum(t.state.name == "COMPLETE" for t in trials) >= 2
    for t in trials:
        pruned = t.system_attrs.get("weightcast:pruned")
        reached = pruned["step"] if t.state.name == "PRUNED" else T
        for step in (5, 10, 20):
            if step <= reached:
                assert decode_features(t.user_attrs[features_key(step)]) is not None
    assert not math.isnan(study.best_value)


def test_reporter_weight_features_match_the_feature_recorder() -> None:
    from tests.integrations._objective import layers
    from weightcast.torch import FeatureRecorder

    study = optuna.create_study(direction="maximize", pruner=make_pruner(features="all"))
    reporter = TrialReporter(study.ask(), taus=(5,))
    recorder = FeatureRecorder(steps=[5, 10, 20], taus=[5], eval_every=5, weights=lambda m: m)
    for step in range(0, 21):
        w = layers(0.5, step)
        reporter.on_train_step(w, step, math.nan if step == 0 else 1.0)
        recorder.on_train_step(w, step, 1.0)
    attrs = study.trials[0].user_attrs
    for t in (5, 10, 20):
        names, values = decode_features(attrs[features_key(t)])
        got = dict(zip(names, values, strict=True))
        raw = recorder.raw.set_index("t").loc[t]
        delta = recorder.delta.set_index(["t", "tau"]).loc[(t, 5)]
        want = {**raw.to_dict(), **delta.to_dict()}
        assert len(want) > 700 and set(want) < set(got)
        np.testing.assert_allclose(
            [got[k] for k in want], list(want.values()), rtol=1e-5, atol=1e-6
        )
        assert attrs[features_key(t)]["tau"] == 5


def test_minimised_objective_and_plain_reports_without_the_reporter() -> None:
    """Without the reporter the pruner has no features: it falls back to the rung rule (ASHA at
    the decision steps) on the reported values; minimisation flips every comparison."""

    def loss_objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(5, T + 1, 5):
            trial.report(1.0 - x * step / T, step)  # a loss: lower is better
            if trial.should_prune():
                raise optuna.TrialPruned()
        return 1.0 - x

    study = optuna.create_study(direction="minimize", pruner=make_pruner(n_startup_trials=2))
    for x in (0.9, 0.8, 0.1, 0.95, 0.05, 0.85):
        study.enqueue_trial({"x": x})
    study.optimize(loss_objective, n_trials=6)
    assert states(study) == ["COMPLETE", "COMPLETE", "PRUNED", "COMPLETE", "PRUNED", "PRUNED"]
    assert study.best_params == {"x": 0.95}
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert {t.system_attrs["weightcast:pruned"]["reason"] for t in pruned} == {"rung"}


def test_reporter_in_loss_mode_reports_the_training_loss_at_the_rung_steps() -> None:
    pruner = make_pruner(features="weights+lc", n_startup_trials=100, T=T)  # late rungs 36, 48
    assert pruner.config.rung_steps == (5, 10, 20, 36, 48)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial = study.ask()
    reporter = TrialReporter(trial, taus=(5,), report="loss")
    losses = [3.0 - 0.01 * s for s in range(1, T + 1)]
    reporter.on_train_step(layers(0.5, 0), 0, math.nan)
    for step, loss in enumerate(losses, start=1):
        reporter.on_train_step(layers(0.5, step), step, loss)
        if step % 5 == 0:
            reporter.on_eval(step, 0.3)  # ignored in loss mode
    got = study.trials[0].intermediate_values
    assert sorted(got) == [5, 10, 20, 36, 48]
    names, values = decode_features(study.trials[0].user_attrs[features_key(20)])
    row = dict(zip(names, values, strict=True))
    assert math.isnan(row["lc.val_acc.last"])  # the evaluations were not kept either
    for t, value in got.items():
        # step s stands for (s - 1, s]: its weight is its overlap with (t / 2, t]
        weights = [max(0.0, min(s, t) - max(s - 1, t / 2)) for s in range(1, T + 1)]
        assert value == pytest.approx(-np.average(losses, weights=weights))
    with pytest.raises(ValueError, match="report must be"):
        TrialReporter(study.ask(), report="accuracy")


def test_loss_mode_study_prunes_a_flat_loss_on_the_rung_rule() -> None:
    """No evaluation at all: trials whose loss does not fall are stopped by the rung rule."""
    study = optuna.create_study(
        direction="maximize", pruner=make_pruner(features="weights+lc", n_startup_trials=3)
    )
    xs = [0.9, 0.8, 0.7, 0.0, 0.0, 0.95]
    for x in xs:
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        reporter = TrialReporter(trial, taus=(5,), report="loss")
        try:
            for step in range(0, T + 1):
                loss = math.nan if step == 0 else 2.0 - x * step / T
                reporter.on_train_step(layers(x, step), step, loss)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        study.tell(trial, x)
    assert states(study) == ["COMPLETE"] * 3 + ["PRUNED"] * 2 + ["COMPLETE"]
    assert all(t.intermediate_values[5] < 0 for t in study.trials)  # minus a loss


def test_loss_reports_drive_optunas_own_successive_halving() -> None:
    """The reporter's loss mode works with any pruner: here Optuna's SuccessiveHalvingPruner."""
    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=5, reduction_factor=3)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    for x in [0.9, 0.1, 0.05, 0.95]:
        trial = study.ask()
        reporter = TrialReporter(trial, steps=[5, 15, 45], report="loss", weights=False)
        assert reporter._recorder is None  # no weight features computed
        try:
            for step in range(1, T + 1):
                reporter.on_train_step(None, step, 2.0 - x * step / T)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        study.tell(trial, x)
    # the loss falls faster for a larger x: the slow learners lose their rung at step 5, the
    # fastest is promoted at every rung
    assert states(study) == ["COMPLETE", "PRUNED", "PRUNED", "COMPLETE"]
    assert max(study.trials[1].intermediate_values) == 5
    assert set(study.trials[0].intermediate_values) == {5, 15, 45}
