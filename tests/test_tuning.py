"""The live search (weightcast tune / demo) on a tiny digits preset."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("torch")
pytest.importorskip("optuna")

from weightcast.search import get_preset, run_trial  # noqa: E402
from weightcast.tuning import full_cost, tune  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    base = get_preset("digits")
    return dataclasses.replace(base, T=40, eval_every=5, steps=(4, 8, 12, 16), taus=(4,))


def test_full_cost_counts_every_validation_pass(tiny) -> None:
    # 40 iterations and evaluations at 0, 5, ..., 40 (9 of them)
    assert full_cost(tiny, 0.5) == 40 + 9 * 0.5


def test_unpruned_search_costs_the_full_runs_and_matches_run_trial(tiny, tmp_path) -> None:
    summary = tune(tiny, 3, features="none", storage=f"sqlite:///{tmp_path}/s.db", progress=False)
    assert (summary.n_trials, summary.completed, summary.pruned) == (3, 3, 0)
    eval_costs = [tiny.n_val / (3 * h["batch_size"]) for h in tiny.sample(3, 0)]
    assert summary.full_cost == pytest.approx(sum(full_cost(tiny, c) for c in eval_costs))
    assert summary.cost == pytest.approx(summary.full_cost)
    assert summary.saving == pytest.approx(1.0)
    # trial i is configuration i with the corpus seed of run i: the same run as run_trial's
    finals = [run_trial(tiny, h, seed=i).final_acc for i, h in enumerate(tiny.sample(3, 0))]
    assert summary.best_value == pytest.approx(max(finals))
    assert summary.best_params == tiny.sample(3, 0)[finals.index(max(finals))]


def test_pruned_search_spends_less_and_keeps_features_in_storage(tiny, tmp_path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path}/s.db"
    summary = tune(tiny, 8, features="lc", storage=storage, progress=False)
    assert summary.n_trials == 8
    assert summary.completed + summary.pruned == 8
    assert summary.cost <= summary.full_cost
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert all("weightcast:cost" in t.user_attrs for t in study.trials)


def test_bad_arguments_fail_early(tiny) -> None:
    with pytest.raises(ValueError, match="n_trials"):
        tune(tiny, -1, progress=False)
    with pytest.raises(ValueError, match="workers"):
        tune(tiny, 1, workers=0, progress=False)
    with pytest.raises(ValueError, match="features"):
        tune(tiny, 1, features="magic", progress=False)
    with pytest.raises(ValueError, match="preset name"):
        tune(tiny, 1, workers=2, progress=False)


def test_loss_mode_search_evaluates_only_before_and_after_training(tiny, tmp_path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path}/s.db"
    summary = tune(tiny, 4, features="none", report="loss", storage=storage, progress=False)
    eval_costs = [tiny.n_val / (3 * h["batch_size"]) for h in tiny.sample(4, 0)]
    assert summary.cost == pytest.approx(sum(40 + 2 * c for c in eval_costs))  # at 0 and T
    assert summary.full_cost == pytest.approx(summary.cost)
    assert full_cost(tiny, 0.5, curve=False) == 40 + 2 * 0.5
    # the same runs as with a curve: evaluating less does not change training
    finals = [run_trial(tiny, h, seed=i).final_acc for i, h in enumerate(tiny.sample(4, 0))]
    assert summary.best_value == pytest.approx(max(finals))
    pruned = tune(
        tiny, 6, features="all", report="loss", storage=storage, study_name="p", progress=False
    )
    study = optuna.load_study(study_name="p", storage=storage)
    for t in study.trials:  # intermediate values are minus training losses at the rung steps
        assert all(v < 0 for v in t.intermediate_values.values())
        # the live pruner decides at 5, 10, 20, 40 % of T, with late rungs at 60 and 80 %
        assert set(t.intermediate_values) <= {2, 4, 8, 16, 24, 32}
        if t.state.name == "COMPLETE":
            assert set(t.intermediate_values) == {2, 4, 8, 16, 24, 32}
    assert pruned.cost <= pruned.full_cost


def test_loss_mode_needs_weight_features(tiny) -> None:
    with pytest.raises(ValueError, match="validation curve"):
        tune(tiny, 1, features="lc", report="loss", progress=False)
    with pytest.raises(ValueError, match="report must be"):
        tune(tiny, 1, report="accuracy", progress=False)


def test_a_prior_corpus_feeds_the_live_pruner(tiny, tmp_path) -> None:
    import optuna

    from weightcast.corpus import collect

    # the live pruner decides at 5, 10, 20, 40 % of T: the prior needs features there
    live = dataclasses.replace(tiny, steps=(2, 4, 8, 16))
    prior = tmp_path / "prior"
    collect(live, 3, prior, seed=1, progress=False)
    storage = f"sqlite:///{tmp_path}/s.db"
    summary = tune(
        live,
        3,
        features="weights+lc",
        report="loss",
        prior=[prior],
        storage=storage,
        progress=False,
    )
    assert summary.n_trials == 3 and summary.completed + summary.pruned == 3
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert all(s.name in ("COMPLETE", "PRUNED") for s in (t.state for t in study.trials))
    # the live setting with a prior too: rungs at 5-40 % of T and late rungs at 60 and 80 %
    for t in study.trials:
        assert set(t.intermediate_values) <= {2, 4, 8, 16, 24, 32}
        if t.state.name == "COMPLETE":
            assert set(t.intermediate_values) == {2, 4, 8, 16, 24, 32}
    with pytest.raises(ValueError, match="prior needs features"):
        tune(live, 1, features="all", prior=[prior], progress=False)
    with pytest.raises(ValueError, match="T=40"):  # a prior of another training length
        tune(dataclasses.replace(live, T=80), 1, features="weights", prior=[prior], progress=False)


def test_the_live_pruner_decides_from_5_percent_unless_told_otherwise(tiny, tmp_path) -> None:
    from weightcast.corpus import collect
    from weightcast.tuning import _make_pruner

    live = dataclasses.replace(tiny, steps=(2, 4, 8, 16))
    prior = tmp_path / "prior"
    collect(live, 2, prior, seed=1, progress=False)
    # with or without a prior: the forest at 5, 10, 20, 40 % of T, late rungs at 60 and 80 %
    for given in ([str(prior)], []):
        p = _make_pruner(live, "weights+lc", 0, given, "loss")
        assert p.decision_steps == (2, 4, 8, 16)
        assert p.config.rung_steps == (2, 4, 8, 16, 24, 32)
        assert p.config.model_until_rung is False and p.config.n_startup_trials == 10
    # fractions=None: the pruner's prior defaults, the forest at 1 and 2 % of T (0.4 and 0.8
    # steps, snapped to the prior's first step 2), the loss rungs at 5-40 % of T alone
    new = _make_pruner(live, "weights+lc", 0, [str(prior)], "loss", {"fractions": None})
    assert new.decision_steps == (2,) and new.config.rung_steps == (2, 4, 8, 16)
    assert new.config.model_until_rung is True and new.config.n_startup_trials == 10
    veto = _make_pruner(live, "weights+lc", 0, [str(prior)], "loss", {"model_veto": 0.25})
    assert veto.config.model_veto == 0.25
    with pytest.raises(ValueError, match="model_veto must lie in"):
        tune(
            live,
            1,
            features="weights",
            prior=[prior],
            pruner_kwargs={"model_veto": 1.5},
            progress=False,
        )
