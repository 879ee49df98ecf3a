"""Dataset assembly on a hand-made corpus: exact columns, values and reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from weightcast.corpus import Corpus, CorpusError
from weightcast.predict import (
    FEATURE_SETS,
    FeatureStore,
    assemble,
    feature_columns,
    relative_update_features,
)
from weightcast.predict._dataset import DIVERGED_LOSS

from .conftest import DELTA, RAW


def test_weights_exact_columns_values_and_missing(tiny_corpus):
    ds = assemble(tiny_corpus, t=10, tau=5, feature_set="weights")
    assert list(ds.X.columns) == [*RAW, *DELTA]
    assert ds.run_ids == ["run-000000", "run-000002"] == list(ds.X.index) == list(ds.y.index)
    assert ds.X.loc["run-000000"].tolist() == [1.5, 3.5, 2.5, 0.375, 4.5, 0.5]
    assert ds.X.loc["run-000002"].tolist() == [0.75, 3.25, 1.25, 0.25, 3.0, 0.125]
    assert ds.y.tolist() == [0.875, 0.5]
    assert list(ds.missing) == ["run-000001"]
    assert "diverged at step 10" in ds.missing["run-000001"]
    assert (ds.t, ds.tau, ds.feature_set) == (10, 5, "weights")


def test_before_divergence_every_run_is_there(tiny_corpus):
    ds = assemble(tiny_corpus, 5, 5, "weights-delta")
    assert list(ds.X.columns) == list(DELTA)
    assert ds.missing == {}
    assert ds.X.loc["run-000001"].tolist() == [4.0, 5.0, 2.0]


def test_raw_only_and_the_sets_are_comparable_on_the_same_runs(tiny_corpus):
    store = FeatureStore(tiny_corpus)
    raw = store.assemble(10, 5, "weights-raw")
    lc = store.assemble(10, 5, "lc")
    assert list(raw.X.columns) == list(RAW)
    assert raw.run_ids == lc.run_ids == ["run-000000", "run-000002"]
    assert set(lc.missing) == {"run-000001"}


def test_learning_curve_up_to_t(tiny_corpus):
    ds = assemble(tiny_corpus, 10, 5, "lc")
    assert list(ds.X.columns) == [
        "lc.train_loss@0",
        "lc.train_loss@5",
        "lc.train_loss@10",
        "lc.val_acc@0",
        "lc.val_acc@5",
        "lc.val_acc@10",
    ]
    assert ds.X.loc["run-000000"].tolist() == [2.0, 1.0, 0.5, 0.125, 0.25, 0.5]


def test_keep_diverged_runs_with_nan_weights(tiny_corpus):
    ds = assemble(tiny_corpus, 10, 5, "weights+lc", diverged="keep")
    assert ds.run_ids == ["run-000000", "run-000001", "run-000002"]
    assert ds.missing == {}
    row = ds.X.loc["run-000001"]
    assert row[list(RAW + DELTA)].isna().all()
    assert row["lc.train_loss@10"] == DIVERGED_LOSS  # diverged loss: large and finite
    assert row["lc.train_loss@5"] == 1.0
    assert ds.y.loc["run-000001"] == 0.125  # the real eventual accuracy


def test_hyperparameters_one_hot(tiny_corpus):
    ds = assemble(tiny_corpus, 5, 5, "hp")
    assert {"hp.act=relu", "hp.act=tanh"} <= set(ds.X.columns)
    assert ds.X["hp.act=relu"].tolist() == [1.0, 0.0, 1.0]
    assert any(c.startswith("hp.lr") for c in ds.X.columns)


def test_relative_update_sizes(tiny_corpus):
    ds = assemble(tiny_corpus, 10, 5, "weights-rel")
    assert ds.X.loc["run-000000", "conv_last.rel.all.std"] == 0.25  # 0.375 / 1.5
    assert ds.X.loc["run-000002", "fc1.rel.all.std"] == pytest.approx(0.1)  # 0.125 / 1.25
    free = assemble(tiny_corpus, 10, 5, "scale-free")
    assert "conv_last.raw.all.kurt" in free.X and "conv_last.delta.all.kurt" in free.X
    assert "conv_last.raw.all.std" not in free.X  # changes when the layer is rescaled


def test_relative_update_features_zero_denominator_is_nan():
    t = pd.DataFrame({"fc1.raw.all.std": [2.0, 0.0], "fc1.delta.all.std": [1.0, 1.0]})
    assert relative_update_features(t)["fc1.rel.all.std"].tolist()[0] == 0.5
    assert np.isnan(relative_update_features(t)["fc1.rel.all.std"].iloc[1])


def test_feature_columns_on_any_table():
    cols = [
        "hp.lr",
        "fc1.raw.all.mean",
        "lc.val_acc@5",
        "fc1.delta.ks_in.max",
        "fc1.delta.all.mean",
    ]
    assert feature_columns(cols, "weights-delta") == ["fc1.delta.ks_in.max", "fc1.delta.all.mean"]
    assert feature_columns(cols, "all") == cols
    assert feature_columns(cols, "lc+hp") == ["hp.lr", "lc.val_acc@5"]
    with pytest.raises(ValueError, match="unknown feature set 'nope'"):
        feature_columns(cols, "nope")
    with pytest.raises(ValueError, match="relative_update_features"):
        feature_columns(cols, "weights-rel")
    assert all(isinstance(v, str) and v for v in FEATURE_SETS.values())
    assert {"lc", "weights", "weights-raw", "weights-delta", "hp", "weights+lc", "all"} <= set(
        FEATURE_SETS
    )


def test_clear_errors(tiny_corpus, tmp_path):
    with pytest.raises(ValueError, match=r"t=7 was never recorded.*recorded steps: \[5, 10\]"):
        assemble(tiny_corpus, 7, 5, "lc")
    with pytest.raises(ValueError, match=r"tau=3 was never recorded.*\[5\]"):
        assemble(tiny_corpus, 10, 3, "weights")
    with pytest.raises(ValueError, match="unknown feature set"):
        assemble(tiny_corpus, 10, 5, "weights+nothing")
    with pytest.raises(CorpusError, match="no corpus at"):
        assemble(tmp_path / "absent", 10, 5, "lc")


def test_assemble_reuses_blocks_of_one_corpus_object(tiny_corpus):
    c = Corpus(tiny_corpus)
    a = assemble(c, 10, 5, "weights")
    b = assemble(c, 10, 5, "weights+lc")
    assert a.X.equals(b.X[a.X.columns])


def test_learning_curve_block_equals_curve_features(tiny_corpus):
    from weightcast.features import curve_features

    c = Corpus(tiny_corpus)
    ds = assemble(c, 10, 5, "lc", diverged="keep")
    for rid in ds.run_ids:
        curve = c.curve(rid)
        expected = curve_features(curve["step"], curve["train_loss"], curve["val_acc"], t=10)
        assert ds.X.loc[rid].to_dict() == expected
