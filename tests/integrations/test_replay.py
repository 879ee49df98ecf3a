"""The replay on a tiny hand-made corpus: compute and regret computed by hand."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.pruners import ThresholdPruner

from weightcast.corpus import Corpus, create_corpus, write_run
from weightcast.corpus.testing import SyntheticResult
from weightcast.integrations.optuna import (
    PolicyVariant,
    WeightcastPruner,
    corpus_prior,
    format_replay,
    load_runs,
    make_payloads,
    replay,
    replay_order,
)
from weightcast.policy import order_metrics

STEPS = [0, 25, 50, 75, 100]
RUNS = {  # name: (final, val curve at STEPS, diverged step)
    "A": (0.90, [0.1, 0.5, 0.7, 0.8, 0.9], None),
    "B": (0.60, [0.1, 0.3, 0.4, 0.5, 0.6], None),
    "C": (0.10, [0.1, 0.2, 0.1, 0.1, 0.1], 30),
    "D": (0.95, [0.1, 0.4, 0.6, 0.8, 0.95], None),
}
EVAL_COST = 2.0
FULL = 100 + 5 * EVAL_COST  # a completed run: T iterations and five evaluations


def result(final: float, val: list[float], diverged: int | None, seed: int) -> SyntheticResult:
    ts = [t for t in (10, 20, 50) if diverged is None or t < diverged]
    raw = pd.DataFrame({"t": ts, "conv_last.raw.all.mean": [final * t for t in ts]})
    delta = pd.DataFrame(
        {"t": ts, "tau": [10] * len(ts), "conv_last.delta.all.std": [final / 10] * len(ts)}
    )
    loss = [
        np.nan if diverged is not None and s >= diverged else 2 - v
        for s, v in zip(STEPS, val, strict=True)
    ]
    curve = pd.DataFrame({"step": STEPS, "train_loss": loss, "val_acc": val})
    return SyntheticResult(
        hparams={"lr": 0.1 * (seed + 1), "batch_size": 10},
        seed=seed,
        final_acc=final,
        status="ok" if diverged is None else "diverged",
        diverged_step=diverged,
        wall_time=1.0,
        feature_time=0.0,
        T=100,
        eval_cost=EVAL_COST,
        curve=curve,
        raw=raw,
        delta=delta,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    path = tmp_path_factory.mktemp("replay") / "corpus"
    meta = {
        "preset": "hand",
        "T": 100,
        "eval_every": 25,
        "steps": [10, 20, 50],
        "taus": [10],
        "design": "random",
        "seed": 0,
        "n_train": 250,
    }
    create_corpus(path, meta)
    for i, (final, val, div) in enumerate(RUNS.values()):
        write_run(path, f"run-{i:06d}", i, result(final, val, div, i))
    return Corpus(path)


def test_no_pruning_and_diverged_pruning_by_hand(corpus: Corpus) -> None:
    out = replay(
        corpus,
        ["none", "wc-lc"],
        orders=3,
        grids=["dense"],
        pruner_kwargs={"n_startup_trials": 10},  # no pruning but of the diverged run
    )
    none = out["grids"]["dense"]["policies"]["none"]
    assert out["best"] == 0.95 and out["decision_steps"] == [10, 20, 50]
    assert none["compute_mean"] == 4 * FULL and none["compute_std"] == 0
    assert none["regret_mean"] == 0 and none["speedup_mean"] == 1
    wc = out["grids"]["dense"]["policies"]["wc-lc"]
    # C diverges at step 30: stopped there, after 30 iterations and evaluations at 0 and 25
    diverged_cost = 30 + 2 * EVAL_COST
    assert wc["compute_mean"] == 3 * FULL + diverged_cost
    assert wc["speedup_mean"] == pytest.approx(4 * FULL / (3 * FULL + diverged_cost))
    assert wc["regret_mean"] == 0 and wc["n_completed_mean"] == 3


def test_threshold_pruner_by_hand(corpus: Corpus) -> None:
    runs, _ = load_runs(corpus)
    variant = PolicyVariant("threshold", {}, lambda: ThresholdPruner(lower=0.35, n_warmup_steps=1))
    # order D, B, C, A: B (0.3) and C (0.2) fall below 0.35 at step 25
    outcomes = replay_order(runs, [3, 1, 2, 0], variant)
    assert [o.stop_step for o in outcomes] == [None, 25, 25, None]
    at_25 = 25 + 2 * EVAL_COST
    m = order_metrics(outcomes, best=0.95)
    assert m["compute"] == 2 * FULL + 2 * at_25
    assert m["compute_to_reach"] == FULL  # D first
    assert m["regret"] == 0
    # order A, B, C, D: the best run comes last
    m = order_metrics(replay_order(runs, [0, 1, 2, 3], variant), best=0.95)
    assert m["compute_to_reach"] == 2 * FULL + 2 * at_25


def test_epoch_grid_and_features_payloads(corpus: Corpus) -> None:
    runs, steps = load_runs(corpus)
    assert steps == (10, 20, 50)
    a = runs[0]
    assert a.features[10][0][:2] == ("conv_last.raw.all.mean", "conv_last.delta.all.std")
    payloads = make_payloads(runs, steps, weights=True)
    assert payloads[(2, 50)] == {"v": 1, "diverged": True}  # C diverged at 30
    out = replay(corpus, ["none", "sha"], orders=2, grids=["epoch"], grid_fractions=(0.25,))
    entry = out["grids"]["epoch"]
    assert entry["n_train"] == 250  # from the corpus meta: 25 steps an epoch at batch size 10
    assert entry["policies"]["none"]["compute_mean"] == 4 * FULL
    assert entry["policies"]["sha"]["setting"] == {"min_resource": 25}


def test_eval_free_policies_pay_only_the_final_evaluation(corpus: Corpus) -> None:
    runs, _ = load_runs(corpus)
    # fed minus the mean training loss over (t/2, t] at every curve point; the loss at a point
    # is 2 - val there, so at step 25 the signals are A -1.5, B -1.7, C -1.8, D -1.6
    variant = PolicyVariant(
        "threshold", {}, lambda: ThresholdPruner(lower=-1.65, n_warmup_steps=1), curve=False
    )
    outcomes = replay_order(runs, [3, 1, 2, 0], variant)
    assert [o.stop_step for o in outcomes] == [None, 25, 25, None]
    m = order_metrics(outcomes, best=0.95)
    assert m["compute"] == 2 * (100 + EVAL_COST) + 2 * 25  # no evaluation before the end
    out = replay(
        corpus,
        ["none", "sha", "wc-free", "sha-loss"],
        orders=2,
        grids=["dense", "epoch"],
        grid_fractions=(0.25,),
        pruner_kwargs={"n_startup_trials": 10},  # wc-free prunes nothing but the diverged run
    )
    for grid in ("dense", "epoch"):
        wc = out["grids"][grid]["policies"]["wc-free"]
        assert wc["setting"]["report"] == "loss"
        # C diverged at step 30 (the diverged mark comes at its first event after 30): 30
        # iterations, no evaluation; the three others complete with one evaluation each
        assert wc["compute_mean"] == 3 * (100 + EVAL_COST) + 30
    # the same outcomes on both grids (nothing depends on the curve), against each grid's baseline
    dense, epoch = (out["grids"][g]["policies"] for g in ("dense", "epoch"))
    assert dense["sha-loss"]["compute_mean"] == epoch["sha-loss"]["compute_mean"]
    for grid in ("dense", "epoch"):
        rows = out["grids"][grid]["policies"]
        if rows["sha"]["regret_mean"] <= 0.005:  # the only Optuna pruner replayed here
            assert out["grids"][grid]["best_optuna"] == "sha"
            assert rows["wc-free"]["vs_optuna"] == pytest.approx(
                rows["sha"]["compute_mean"] / rows["wc-free"]["compute_mean"]
            )
        else:  # over the regret bar: no Optuna pruner to compare with
            assert "best_optuna" not in out["grids"][grid]
            assert "vs_optuna" not in rows["wc-free"]


def test_corpus_prior_holds_what_the_reporter_would_store(corpus: Corpus) -> None:
    records = corpus_prior(corpus, [10, 20], val=False)
    assert [r.value for r in records] == [0.90, 0.60, 0.10, 0.95]
    assert all(r.state == "complete" for r in records)
    names, values = records[0].features[20]
    row = dict(zip(names, values, strict=True))
    assert row["conv_last.raw.all.mean"] == pytest.approx(0.9 * 20, rel=1e-6)  # float32 storage
    assert math.isnan(row["lc.val_acc.last"])  # val=False: no validation summary
    # the loss point at 25 is 2 - 0.5 and stands for steps 1..25: the mean over (15, 20]
    assert row["lc.train_loss.q4"] == pytest.approx(1.5)
    with_val = dict(zip(*corpus_prior(corpus, [20])[0].features[20], strict=True))
    assert with_val["lc.val_acc.last"] == pytest.approx(0.1)  # the evaluation at step 0
    with pytest.raises(ValueError, match="T=100"):
        corpus_prior(corpus, [10], T=1000)
    with pytest.raises(ValueError, match="not feature steps"):
        corpus_prior(corpus, [15])


def test_corpus_prior_of_several_corpora_concatenates_their_runs(corpus: Corpus) -> None:
    one = corpus_prior(corpus, [10, 20], val=False)
    two = corpus_prior([corpus, corpus.path], [10, 20], val=False)
    assert [r.value for r in two] == [r.value for r in one] * 2
    assert two[4].features[20][0] == one[0].features[20][0]
    np.testing.assert_array_equal(two[4].features[20][1], one[0].features[20][1])
    with pytest.raises(ValueError, match="no prior corpus"):
        corpus_prior([], [10])
    with pytest.raises(ValueError, match="T=100"):  # each corpus is checked
        corpus_prior([corpus, corpus], [10], T=1000)
    pruner = WeightcastPruner("weights", steps=[10, 20], T=100, prior=[corpus.path, corpus])
    assert len(pruner.prior) == 8
    policy = pruner.policy(optuna.create_study(direction="maximize"))
    assert sorted(r.number for r in policy.prior) == list(range(-8, 0))  # no clashes


def test_pruner_with_a_prior_corpus_and_the_wc_prior_replay(corpus: Corpus) -> None:
    pruner = WeightcastPruner("weights+lc", steps=[10, 20], T=100, prior=corpus.path)
    assert len(pruner.prior) == 4
    # without steps, with a prior: the forest at 1 and 2 % of T (1, 2), snapped to the prior's
    # feature steps (10); the rung rule at 5-40 % of T (5, 10, 20, 40), after step 10 alone
    snapped = WeightcastPruner("weights+lc", T=100, prior=[corpus.path, corpus])
    assert snapped.decision_steps == (10,) and len(snapped.prior) == 8
    assert snapped.config.rung_steps == (10, 20, 40) and snapped.config.model_until_rung
    # given fractions: the defaults without a prior (rungs at 60 and 80 % of T too)
    chosen = WeightcastPruner(
        "weights+lc", T=100, prior=corpus.path, fractions=(0.02, 0.05, 0.1, 0.2, 0.4)
    )
    assert chosen.decision_steps == (10, 20, 50)
    assert chosen.config.rung_steps == (10, 20, 50, 60, 80)
    assert not chosen.config.model_until_rung
    cold = WeightcastPruner("weights+lc", T=100)
    assert cold.decision_steps == (2, 5, 10, 20, 40) and not cold.config.model_until_rung
    assert cold.config.rung_steps == (2, 5, 10, 20, 40, 60, 80)
    with pytest.raises(ValueError, match="prior needs features"):
        WeightcastPruner("all", steps=[10], T=100, prior=corpus.path)
    with pytest.raises(ValueError, match="needs a prior corpus"):
        replay(corpus, ["wc-prior"], orders=1, grids=["dense"])
    out = replay(
        corpus,
        ["wc-prior"],
        orders=2,
        grids=["dense"],
        prior=corpus.path,
        pruner_kwargs={"n_startup_trials": 10},  # nothing but the diverged run is pruned
    )
    row = out["grids"]["dense"]["policies"]["wc-prior"]
    assert row["setting"]["prior_runs"] == 4 and row["setting"]["features"] == "weights+lc"
    assert row["compute_mean"] == 3 * (100 + EVAL_COST) + 30
    # wc-prior replays the pruner's defaults with a prior, the others keep theirs
    assert out["decision_steps"] == [10, 20, 50]
    assert (out["prior_decision_steps"], out["prior_rung_steps"]) == ([10], [10, 20, 40])
    setting = row["setting"]
    assert setting["steps"] == (10,) and setting["rung_steps"] == (10, 20, 40)
    assert setting["model_until_rung"] is True
    assert "forest at steps 10, then the rung rule on the training loss at 20 40" in (
        format_replay(out)
    )
    # given steps (or pruner_kwargs) win over the prior defaults
    given = replay(corpus, ["wc-prior"], orders=1, grids=["dense"], prior=corpus, steps=[10, 20])
    assert given["prior_decision_steps"] is None
    setting = given["grids"]["dense"]["policies"]["wc-prior"]["setting"]
    assert setting["steps"] == (10, 20) and "model_until_rung" not in setting
    kw = replay(
        corpus,
        ["wc-prior"],
        orders=1,
        grids=["dense"],
        prior=corpus,
        pruner_kwargs={"rung_steps": (10, 50)},
    )
    setting = kw["grids"]["dense"]["policies"]["wc-prior"]["setting"]
    assert setting["steps"] == (10,) and setting["rung_steps"] == (10, 50)
