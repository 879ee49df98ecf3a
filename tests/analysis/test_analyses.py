"""The paper's analyses on a synthetic corpus whose structure is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from weightcast.analysis import (
    BarDisplay,
    CurveDisplay,
    compare_models,
    feature_importance,
    group_importance,
    history_steps,
    max_correlation,
    rmse_vs_history,
    rmse_vs_n,
    rmse_vs_t,
    rmse_vs_tau,
    samples_needed,
    spearman_columns,
    steps_needed,
    top_share,
)


def test_rmse_vs_t_is_tidy_and_skips_what_cannot_exist(exp):
    df = rmse_vs_t(exp, ["lc", "weights"], [0, 20, 100])
    assert df[["set", "t"]].values.tolist() == [
        ["lc", 0],
        ["lc", 20],
        ["lc", 100],
        ["weights", 20],
        ["weights", 100],
    ]
    assert [s[:2] for s in df.attrs["skipped"]] == [("weights", 0)]
    assert {"rmse_mean", "rmse_std", "r2_mean", "rho_mean", "n_train", "n_test"} <= set(df.columns)
    assert (df["repeats"] == 2).all()
    # cached: a second call reads the same predictions
    pd.testing.assert_frame_equal(df, rmse_vs_t(exp, ["lc", "weights"], [0, 20, 100]))


def test_rmse_vs_n_has_fixed_test_runs_and_reuses_the_largest_n(exp):
    df = rmse_vs_n(exp, 50, ["lc", "weights"])
    ns = sorted(df["n"].unique())
    assert len(ns) >= 4 and ns[-1] == exp.n_train(exp.dataset(50, "lc"))
    assert df["n_test"].nunique() == 1
    top = df[df["n"] == ns[-1]].set_index("set")["rmse_mean"]
    at_t = rmse_vs_t(exp, ["lc", "weights"], [50]).set_index("set")["rmse_mean"]
    assert top.to_dict() == pytest.approx(at_t.to_dict())


def test_samples_and_steps_needed_read_the_curves():
    curve = pd.DataFrame(
        {
            "set": ["lc"] * 3 + ["weights"] * 3,
            "t": 10,
            "n": [10, 20, 40] * 2,
            "rmse_mean": [0.3, 0.25, 0.2, 0.22, 0.18, 0.15],
        }
    )
    sn = samples_needed(curve).set_index("set")
    assert sn.loc["lc", "n_needed"] == 40 and sn.loc["weights", "n_needed"] == pytest.approx(15)
    assert sn.loc["weights", "saving"] == pytest.approx(1 - 15 / 40)
    curve_t = curve.rename(columns={"n": "t_"}).assign(t=lambda d: d["t_"])
    st = steps_needed(curve_t, target=0.23).set_index("set")
    assert st.loc["weights", "t_needed"] == 10 and st.loc["weights", "flag"] == "<="
    assert st.loc["lc", "t_needed"] == pytest.approx(28)  # 0.25 at 20, 0.2 at 40
    assert st.loc["weights", "speedup"] == pytest.approx(2.8)
    assert np.isnan(steps_needed(curve_t, target=0.1).set_index("set").loc["lc", "t_needed"])
    by_set = steps_needed(curve_t, target=("weights", 20)).set_index("set")
    assert by_set.loc["weights", "target_rmse"] == 0.18


def test_the_feature_carrying_the_target_is_most_important(signal_exp):
    imp = feature_importance(signal_exp, 20, "weights", n_repeats=3)
    assert imp["feature"].iloc[0] == "conv_last.delta.all.std"  # = final_acc + noise
    second = imp["importance_mean"].iloc[1]
    assert imp["importance_mean"].iloc[0] > max(5 * second, 0.02)
    by_layer = group_importance(imp, "layer")
    assert by_layer["group"].iloc[0] == "conv_last"
    by_kind = group_importance(imp, "kind").set_index("group")
    assert by_kind.loc["delta", "share"] > 0.8 and by_kind.index[0] == "delta"
    assert imp.attrs["t"] == 20 and imp.attrs["n_test"] > 0


def test_history_and_tau(exp):
    assert history_steps([0, 10, 20, 50, 100], 100) == [100, 50, 20]
    assert history_steps([0, 10, 20, 50, 100], 10) == []
    hist = rmse_vs_history(exp, "weights", [50, 100])
    assert set(hist["variant"]) == {"F(t)", "history"}
    assert hist.loc[hist["t"] == 100, "history"].iloc[0] == "100,50,20"
    tau = rmse_vs_tau(exp, ["weights-delta"], [20])
    assert tau["tau"].tolist() == [5, 10]


def test_spearman_columns_matches_scipy():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(30, 3)), columns=list("abc"))
    X.iloc[3, 2] = np.nan
    y = rng.normal(size=30)
    got = spearman_columns(X, y)
    assert got["a"] == pytest.approx(spearmanr(X["a"], y).statistic)
    ok = X["c"].notna()
    assert got["c"] == pytest.approx(spearmanr(X.loc[ok, "c"], y[ok]).statistic)


def test_max_correlation_finds_the_informative_layer(exp):
    corr = max_correlation(exp, [0, 50])
    at50 = corr[corr["t"] == 50].set_index("group")
    assert at50.loc["delta:conv_last", "max_abs_rho"] > at50.loc["delta:fc1", "max_abs_rho"]
    assert at50.loc["delta", "feature"].startswith("conv_last.delta")
    assert set(corr.loc[corr["t"] == 0, "group"]) >= {"lc", "hp", "raw"}


def test_models_and_top_share(exp):
    models = compare_models(exp, ["lc"], [50])
    assert set(models["model"]) == {"forest", "boosting"}
    top = top_share(exp, ["weights"], [50])
    assert set(top["scorer"]) == {"regression", "classifier"}
    assert top["auc_mean"].between(0, 1).all() and top["top_kept_mean"].between(0, 1).all()
    assert top.set_index("scorer").loc["regression", "auc_mean"] > 0.7


def test_displays_plot_and_return_self(tmp_path):
    df = pd.DataFrame({"set": ["lc", "lc"], "t": [1, 2], "rmse_mean": [0.2, 0.1], "rmse_std": 0.01})
    d = CurveDisplay(df, x="t", y="rmse_mean", err="rmse_std")
    assert d.plot() is d and d.ax_.get_ylabel() == "rmse_mean"
    b = BarDisplay.from_frame(pd.DataFrame({"g": ["a"], "v": [1.0]}), label="g", value="v")
    b.figure_.savefig(tmp_path / "b.png")
    assert (tmp_path / "b.png").stat().st_size > 0
