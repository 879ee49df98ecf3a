"""Grouped permutation importance (Fig. 4A/4B): a group's columns are shuffled together."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance

from weightcast.analysis import (
    grouped_permutation_importance,
    importance_by_group,
)
from weightcast.analysis._report import ReportConfig, _importance_finding, _summarize
from weightcast.predict import Predictor

SIGNAL = [f"s{i}" for i in range(6)]
NOISE = [f"n{i}" for i in range(6)]


def _forest() -> RandomForestRegressor:
    return RandomForestRegressor(60, max_features=1 / 3, random_state=0, n_jobs=1)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    """Six noisy copies of the target (one group) beside six noise columns (another)."""
    rng = np.random.default_rng(0)
    n = 300
    signal = rng.normal(size=n)
    X = pd.DataFrame(
        np.hstack([signal[:, None] + 0.1 * rng.normal(size=(n, 6)), rng.normal(size=(n, 6))]),
        columns=SIGNAL + NOISE,
    )
    y = signal + 0.05 * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def problem(data) -> tuple[RandomForestRegressor, pd.DataFrame, np.ndarray]:
    """A forest fitted on the first 200 rows (a DataFrame); the last 100 held out."""
    X, y = data
    return _forest().fit(X.iloc[:200], y[:200]), X.iloc[200:], y[200:]


def _rmse(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def _brute_force(model, X: np.ndarray, y, groups, n_repeats: int, seed: int) -> dict:
    """The documented procedure, column by column: the same n_repeats permutations
    (drawn first from default_rng(seed)) for every group."""
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(X.shape[0]) for _ in range(n_repeats)]
    base = _rmse(model.predict(X), y)
    out = {}
    for name, cols in groups.items():
        increases = []
        for perm in perms:
            shuffled = X.copy()
            for c in cols:
                shuffled[:, c] = X[perm, c]
            increases.append(_rmse(model.predict(shuffled), y) - base)
        out[name] = increases
    return out


def test_the_group_carrying_the_target_matters_and_the_noise_does_not(problem):
    model, X, y = problem
    imp = grouped_permutation_importance(
        model, X, y, {"noise": NOISE, "signal": SIGNAL}, n_repeats=10
    ).set_index("group")
    base = imp.attrs["base_rmse"]
    assert imp.index[0] == "signal"  # sorted, most important first
    assert imp.loc["signal", "importance_mean"] > 0.8  # y has std 1
    assert imp.loc["signal", "importance_mean"] > 10 * imp.loc["signal", "importance_std"]
    assert abs(imp.loc["noise", "importance_mean"]) < 0.02
    assert imp.loc["signal", "importance_rel"] == pytest.approx(
        imp.loc["signal", "importance_mean"] / base
    )
    assert imp["n_features"].tolist() == [6, 6]
    # one column at a time, the copies stand in for each other: each single number is a
    # small fraction of what the group carries
    single = permutation_importance(
        model,
        X,
        y,
        scoring=lambda est, A, b: -_rmse(est.predict(A), b),
        n_repeats=5,
        random_state=0,
    ).importances_mean[: len(SIGNAL)]
    assert single.max() < 0.3 * imp.loc["signal", "importance_mean"]


def test_matches_a_brute_force_loop_exactly(data, problem):
    on_frame, X, y = problem
    model = _forest().fit(data[0].iloc[:200].to_numpy(), data[1][:200])  # the same trees
    arr = X.to_numpy()
    groups = {"signal": [0, 1, 2, 3, 4, 5], "noise": [6, 7, 8, 9, 10, 11], "mixed": [0, 7]}
    want = _brute_force(model, arr, y, groups, n_repeats=4, seed=3)
    got = grouped_permutation_importance(model, arr, y, groups, n_repeats=4, random_state=3)
    assert got.attrs["importances"] == want
    rows = got.set_index("group")
    for name, increases in want.items():
        assert rows.loc[name, "importance_mean"] == np.mean(increases)
        assert rows.loc[name, "importance_std"] == np.std(increases)
    assert got.attrs["base_rmse"] == _rmse(model.predict(arr), y)
    # the same columns named on a DataFrame: the same numbers
    named = {"signal": SIGNAL, "noise": NOISE, "mixed": ["s0", "n1"]}
    by_name = grouped_permutation_importance(on_frame, X, y, named, n_repeats=4, random_state=3)
    assert by_name.attrs["importances"] == want


def test_deterministic_under_the_seed_and_independent_of_the_other_groups(problem):
    model, X, y = problem
    groups = {"signal": SIGNAL, "noise": NOISE}
    a = grouped_permutation_importance(model, X, y, groups, n_repeats=3, random_state=7)
    b = grouped_permutation_importance(model, X, y, groups, n_repeats=3, random_state=7)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs == b.attrs
    c = grouped_permutation_importance(model, X, y, groups, n_repeats=3, random_state=8)
    assert a.attrs["importances"]["signal"] != c.attrs["importances"]["signal"]
    # every group is shuffled with the same permutations: listing it alone changes nothing
    alone = grouped_permutation_importance(
        model, X, y, {"signal": SIGNAL}, n_repeats=3, random_state=7
    )
    assert alone.attrs["importances"]["signal"] == a.attrs["importances"]["signal"]


def test_a_library_predictor_on_a_frame_and_the_edge_cases(problem):
    _, X, y = problem
    model = Predictor(n_estimators=20, random_state=0, n_jobs=-1).fit(X, y)
    imp = grouped_permutation_importance(
        model, X, y, {"signal": SIGNAL, "none": []}, n_repeats=2, random_state=0
    ).set_index("group")
    assert imp.loc["signal", "importance_mean"] > 0.5
    assert imp.loc["none", "importance_mean"] == 0 and imp.loc["none", "n_features"] == 0
    assert model.estimator_.n_jobs == -1  # restored after the single-threaded predictions
    # the predictor's fitted columns: predicted from the bare array, the same numbers as by
    # position; columns in another order go through its name check, the same numbers again
    kw = dict(n_repeats=2, random_state=0)
    named = grouped_permutation_importance(model, X, y, {"signal": SIGNAL}, **kw)
    by_pos = grouped_permutation_importance(model, X.to_numpy(), y, {"signal": range(6)}, **kw)
    shuffled = X[NOISE + SIGNAL]
    reordered = grouped_permutation_importance(model, shuffled, y, {"signal": SIGNAL}, **kw)
    assert named.attrs == by_pos.attrs == reordered.attrs
    with pytest.raises(ValueError, match="no columns"):
        grouped_permutation_importance(model, X, y, {"g": ["absent"]})
    with pytest.raises(ValueError, match="n_repeats"):
        grouped_permutation_importance(model, X, y, {"g": SIGNAL}, n_repeats=0)
    with pytest.raises(ValueError, match="rows but y"):
        grouped_permutation_importance(model, X, y[:-1], {"g": SIGNAL})
    with pytest.raises(TypeError, match="list of columns"):
        grouped_permutation_importance(model, X, y, {"g": "s0"})
    with pytest.raises(ValueError, match="out of range"):
        grouped_permutation_importance(model, X.to_numpy(), y, {"g": [12]})


def test_fig4_by_kind_and_by_layer_on_a_corpus(signal_exp):
    # only conv_last.delta.all.std carries the eventual accuracy (tests/analysis/conftest.py)
    by_layer = importance_by_group(signal_exp, 20, "weights", "layer", n_repeats=5)
    assert by_layer["group"].iloc[0] == "conv_last"
    top = by_layer.set_index("group")
    assert top.loc["conv_last", "importance_mean"] > 0.03
    assert top.loc["conv_last", "importance_rel"] > 0.15  # of the unpermuted RMSE
    assert (
        top.drop("conv_last")["importance_mean"].abs().max()
        < 0.2 * top.loc["conv_last", "importance_mean"]
    )
    assert top.loc["conv_last", "share"] > 0.8
    by_kind = importance_by_group(signal_exp, 20, "weights+lc", "kind", n_repeats=5)
    assert set(by_kind["group"]) >= {"raw", "delta", "lc"}
    assert by_kind.attrs["t"] == 20 and by_kind.attrs["by"] == "kind"
    assert by_kind.attrs["n_test"] > 0 and by_kind.attrs["feature_set"] == "weights+lc"
    # the same fitted predictor as feature_importance: its unpermuted RMSE
    again = importance_by_group(signal_exp, 20, "weights+lc", "layer", n_repeats=2)
    assert again.attrs["base_rmse"] == by_kind.attrs["base_rmse"]
    assert "lc" in set(again["group"])
    with pytest.raises(ValueError, match="by is"):
        importance_by_group(signal_exp, 20, "weights", "depth")


def test_the_report_shows_the_grouped_numbers(signal_exp):
    groups = pd.concat(
        [
            importance_by_group(signal_exp, 20, "weights", by, n_repeats=3).assign(by=by)
            for by in ("kind", "layer")
        ],
        ignore_index=True,
    )
    groups.attrs = {"t": 20, "tau": 10, "feature_set": "weights", "n_train": 26, "n_test": 14}
    groups.attrs.update(base_rmse=0.1, n_repeats=3)
    R = {"importance_groups": groups}
    s = _summarize(signal_exp, ReportConfig(), R, 20, [20])
    imp = s["importance"]
    assert imp["group_repeats"] == 3 and "shuffled together" in imp["group_method"]
    assert imp["by_layer"]["group"].iloc[0] == "conv_last"
    assert {"importance_mean", "importance_std", "importance_rel", "share"} <= set(
        imp["by_kind"].columns
    )
    text = _importance_finding(imp)
    assert "shuffling the weight changes raises the RMSE by +" in text
    assert "the raw weights by " in text and "by layer, conv_last +" in text
