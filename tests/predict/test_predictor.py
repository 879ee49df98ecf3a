"""The Predictor: scikit-learn contract, NaN handling, intervals, pluggable regressors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV

from weightcast.predict import Predictor


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=["a", "b", "c", "d"])
    y = 0.5 + 0.2 * np.tanh(X["a"]) + 0.01 * rng.normal(size=80)
    return X, y


def test_estimator_contract(data):
    X, y = data
    p = Predictor(n_estimators=20, n_jobs=1)
    assert p.get_params()["n_estimators"] == 20
    assert not hasattr(p, "estimator_")
    with pytest.raises(NotFittedError):
        p.predict(X)
    assert p.fit(X, y) is p
    assert list(p.feature_names_in_) == ["a", "b", "c", "d"] and p.n_features_in_ == 4
    c = clone(p)
    assert c.get_params() == p.get_params() and not hasattr(c, "estimator_")
    assert p.predict(X).shape == (80,)
    assert p.score(X, y) > 0.5  # RegressorMixin: R^2
    search = GridSearchCV(Predictor(n_jobs=1), {"n_estimators": [5, 10]}, cv=2).fit(X, y)
    assert search.best_params_["n_estimators"] in (5, 10)


def test_defaults_are_the_papers_forest():
    est = Predictor()._make_estimator()
    assert type(est).__name__ == "RandomForestRegressor"
    assert est.n_estimators == 400 and est.max_features == pytest.approx(1 / 3)


def test_columns_are_matched_by_name(data):
    X, y = data
    p = Predictor(n_estimators=20, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(p.predict(X[["d", "c", "b", "a"]]), p.predict(X))
    with pytest.raises(ValueError, match="lacks 1 of the 4 features"):
        p.predict(X[["a", "b", "c"]])


def test_nan_and_inf_are_accepted(data):
    X, y = data
    Xn = X.copy()
    Xn.iloc[:10, 1:] = np.nan  # e.g. diverged runs: no weight features
    for est in (None, "boosting", Ridge()):  # Ridge: median imputation + indicators
        p = Predictor(estimator=est, n_estimators=20, n_jobs=1).fit(Xn, y)
        assert np.isfinite(p.predict(Xn)).all()
    Xn.iloc[10, 0] = np.inf  # clipped to 1e30: trees only see the order
    for est in (None, "boosting"):
        p = Predictor(estimator=est, n_estimators=20, n_jobs=1).fit(Xn, y)
        assert np.isfinite(p.predict(Xn)).all()


@pytest.mark.parametrize("est", [None, "boosting", Ridge()])
def test_interval_contains_prediction_and_widens_with_coverage(data, est):
    X, y = data
    p = Predictor(estimator=est, n_estimators=50, n_jobs=1).fit(X, y)
    pred = p.predict(X)
    lo, hi = p.predict_interval(X, coverage=0.8)
    assert (lo <= pred).all() and (pred <= hi).all() and (lo <= hi).all()
    lo2, hi2 = p.predict_interval(X, coverage=0.95)
    assert (lo2 <= lo + 1e-12).all() and (hi2 >= hi - 1e-12).all()
    with pytest.raises(ValueError, match="coverage"):
        p.predict_interval(X, coverage=1.5)


def test_interval_is_the_spread_across_trees(data):
    X, y = data
    p = Predictor(n_estimators=40, n_jobs=1).fit(X, y)
    trees = p.predict_trees(X[:5])
    assert trees.shape == (40, 5)
    np.testing.assert_allclose(trees.mean(axis=0), p.predict(X[:5]))


def test_bad_arguments(data):
    X, y = data
    with pytest.raises(ValueError, match="estimator is None"):
        Predictor(estimator="svm").fit(X, y)
    with pytest.raises(ValueError, match="non-finite"):
        Predictor(n_estimators=5).fit(X, np.full(len(y), np.nan))
    with pytest.raises(ValueError, match="3 features"):
        Predictor(n_estimators=5).fit(X.to_numpy(), y).predict(X.to_numpy()[:, :3])
