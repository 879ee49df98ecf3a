"""The replay on a tiny hand-made corpus: compute and regret computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from optuna.pruners import ThresholdPruner

from weightcast.corpus import Corpus, create_corpus, write_run
from weightcast.corpus.testing import SyntheticResult
from weightcast.integrations.optuna import (
    PolicyVariant,
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
