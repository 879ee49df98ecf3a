"""The evaluation protocol: seeded, disjoint, reproducible splits; scores against scipy/sklearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import mean_squared_error, r2_score

from weightcast.predict import (
    Predictor,
    assemble,
    cross_predict,
    evaluate,
    evaluate_sets,
    resolve_n,
    score_predictions,
    split_runs,
    summarize,
)

IDS = [f"run-{i:06d}" for i in range(30)]


def test_splits_disjoint_complete_and_seeded():
    splits = split_runs(IDS, 20, repeats=4, seed=3)
    for train, test in splits:
        assert len(train) == 20 and len(test) == 10
        assert set(train).isdisjoint(test) and set(train) | set(test) == set(IDS)
    assert split_runs(IDS, 20, repeats=4, seed=3) == splits  # reproducible
    assert split_runs(list(reversed(IDS)), 20, repeats=4, seed=3) == splits  # order-free
    assert split_runs(IDS, 20, repeats=4, seed=4) != splits
    assert len({tuple(sorted(tr)) for tr, _ in splits}) == 4  # repeats differ


def test_splits_are_nested_across_pools_and_n():
    ((train, _),) = split_runs(IDS, 10, repeats=1, seed=0)
    sub = [r for r in IDS if r not in IDS[:5]]  # runs diverged before a later t
    ((train_sub, _),) = split_runs(sub, 10, repeats=1, seed=0)
    kept = [r for r in train if r in sub]
    assert train_sub[: len(kept)] == kept
    ((t5, test5),) = split_runs(IDS, 5, repeats=1, seed=0, n_test=10)
    ((t10, test10),) = split_runs(IDS, 10, repeats=1, seed=0, n_test=10)
    assert test5 == test10 and set(t5) <= set(t10)


def test_too_few_runs_is_a_clear_error():
    with pytest.raises(ValueError, match="too few runs: training on n=29"):
        split_runs(IDS, 29)
    with pytest.raises(ValueError, match="too few runs"):
        resolve_n(1, 30)
    assert resolve_n(None, 30) == 20 and resolve_n(0.5, 30) == 15


def test_scores_match_scipy_and_sklearn():
    rng = np.random.default_rng(0)
    yt, yp = rng.random(20), rng.random(20)
    preds = pd.DataFrame({"repeat": 0, "y_true": yt, "y_pred": yp, "n_train": 5})
    s = score_predictions(preds).iloc[0]
    assert s["rmse"] == pytest.approx(mean_squared_error(yt, yp) ** 0.5)
    assert s["r2"] == pytest.approx(r2_score(yt, yp))
    assert s["rho"] == pytest.approx(spearmanr(yt, yp).statistic)


def test_evaluate_and_summarize(synthetic_corpus):
    ds = assemble(synthetic_corpus, 50, 10, "weights")
    p = Predictor(n_estimators=20, n_jobs=1)
    scores = evaluate(ds, n=15, repeats=3, seed=1, predictor=p)
    assert list(scores["repeat"]) == [0, 1, 2] and (scores["n_train"] == 15).all()
    assert (scores["n_test"] == len(ds) - 15).all()
    again = evaluate(ds, n=15, repeats=3, seed=1, predictor=p)
    pd.testing.assert_frame_equal(scores, again)  # seeded end to end
    preds = cross_predict(ds, 15, repeats=1, predictor=p, interval=0.8)
    assert (preds["lo"] <= preds["y_pred"]).all() and (preds["y_pred"] <= preds["hi"]).all()
    table = evaluate_sets(
        synthetic_corpus, [20, 50], 10, ["lc", "weights"], n=15, repeats=2, predictor=p
    )
    summary = summarize(table)
    assert summary[["set", "t"]].values.tolist() == [
        ["lc", 20],
        ["weights", 20],
        ["lc", 50],
        ["weights", 50],
    ]
    assert {"rmse_mean", "rmse_std", "r2_mean", "rho_mean"} <= set(summary.columns)
    assert (summary["repeats"] == 2).all()


def test_weights_predict_the_synthetic_target(synthetic_corpus):
    ds = assemble(synthetic_corpus, 100, 10, "weights")
    scores = evaluate(ds, n=20, repeats=2, predictor=Predictor(n_estimators=50, n_jobs=1))
    assert scores["rho"].mean() > 0.7
