"""The predictor: a random forest of 400 trees (the paper's), any regressor pluggable."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

__all__ = ["Predictor"]

#: feature values are clipped to +-CLIP before fitting: trees only use the order of values,
#: and scikit-learn's trees work in float32, where |x| > 3.4e38 (a fifth central moment of a
#: diverging layer, a diverged loss) would be infinite.
CLIP = 1e30

_NAMED = ("forest", "boosting")


class Predictor(RegressorMixin, BaseEstimator):
    """Predict a run's eventual accuracy from its features: the paper's random forest.

    Parameters
    ----------
    estimator : None, "forest", "boosting" or a scikit-learn regressor
        ``None``/``"forest"``: ``RandomForestRegressor(n_estimators, max_features,
        min_samples_leaf, random_state, n_jobs)``, the paper's predictor. ``"boosting"``:
        ``HistGradientBoostingRegressor(random_state=random_state)`` with scikit-learn's
        defaults. A regressor: cloned and used as given (the tree parameters are then ignored).
    n_estimators : int, default 400
        Trees of the forest (the paper: 400).
    max_features : float, int or str, default 1/3
        Features tried at each split. One third is the classic random-forest regression
        choice, and the default of the MATLAB ``TreeBagger`` the paper used.
    min_samples_leaf : int, default 5
        Smallest leaf (``TreeBagger``'s default for regression).
    random_state : int, default 0
    n_jobs : int, default -1
        Parallel jobs of the forest (all cores).

    Missing and extreme values: feature values are clipped to +-1e30 (infinities included;
    trees only see the order). NaN (a diverged run's weight features, a hyperparameter that
    does not apply) is passed to estimators that handle missing values natively (the forest
    and the boosting model: each split learns on which side NaN goes); for any other
    regressor the predictor puts a median imputer with missing-value indicators in front.

    ``predict_interval``: for an ensemble of trees (any estimator with ``estimators_``), the
    quantiles of the per-tree predictions; this is the spread of the ensemble, not a
    calibrated predictive interval. For other regressors (the boosting model included),
    quantiles of out-of-fold residuals from a 5-fold cross-validation on the training data,
    computed at the first call and added to the prediction. Either way the interval is
    widened, if needed, to contain the point prediction.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3)); y = 0.5 + 0.1 * X[:, 0]
    >>> p = Predictor(n_estimators=50).fit(X, y)
    >>> lo, hi = p.predict_interval(X[:2])
    >>> bool(np.all(lo <= p.predict(X[:2]))) and bool(np.all(p.predict(X[:2]) <= hi))
    True
    """

    def __init__(
        self,
        estimator: Any = None,
        n_estimators: int = 400,
        max_features: float | int | str | None = 1 / 3,
        min_samples_leaf: int = 5,
        random_state: int | None = 0,
        n_jobs: int | None = -1,
    ) -> None:
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.max_features = max_features
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- construction --------------------------------------------------------------------------
    def _make_estimator(self) -> Any:
        est = self.estimator
        if est is None or est == "forest":
            if int(self.n_estimators) < 1:
                raise ValueError(f"n_estimators is >= 1, got {self.n_estimators}")
            return RandomForestRegressor(
                n_estimators=int(self.n_estimators),
                max_features=self.max_features,
                min_samples_leaf=self.min_samples_leaf,
                random_state=self.random_state,
                n_jobs=self.n_jobs,
            )
        if isinstance(est, str):
            if est == "boosting":
                return HistGradientBoostingRegressor(random_state=self.random_state)
            raise ValueError(f"estimator is None, one of {_NAMED} or a regressor; got {est!r}")
        if not hasattr(est, "fit") or not hasattr(est, "predict"):
            raise TypeError(f"estimator needs fit and predict; got {type(est).__name__}")
        est = clone(est)
        if not get_tags(est).input_tags.allow_nan:
            est = make_pipeline(
                SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                est,
            )
        return est

    def _threads(self) -> AbstractContextManager[Any]:
        if isinstance(self.estimator, str) and self.estimator == "boosting":
            return threadpool_limits(limits=1, user_api="openmp")
        return nullcontext()

    def _array(self, X: Any, *, reset: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            names = np.asarray([str(c) for c in X.columns], dtype=object)
            if reset:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                want = list(self.feature_names_in_)
                have = set(names)
                absent = [c for c in want if c not in have]
                if absent:
                    raise ValueError(
                        f"X lacks {len(absent)} of the {len(want)} features the predictor was "
                        f"fitted on, e.g. {absent[:5]}"
                    )
                X = X[want]
            arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            if reset and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
            arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"X is 2-D (runs x features), got shape {arr.shape}")
        if reset:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, the predictor was fitted on {self.n_features_in_}"
            )
        return np.clip(arr, -CLIP, CLIP)

    # -- the estimator contract ------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> Predictor:
        """Fit on ``X`` (runs x features; DataFrame or array, NaN allowed) and ``y``."""
        arr = self._array(X, reset=True)
        target = np.asarray(y, dtype=np.float64).ravel()
        if target.shape[0] != arr.shape[0]:
            raise ValueError(f"X has {arr.shape[0]} runs but y has {target.shape[0]}")
        if not np.all(np.isfinite(target)):
            raise ValueError("y has non-finite values; the eventual accuracy must be known")
        if arr.shape[0] < 2:
            raise ValueError(f"need at least 2 runs to fit, got {arr.shape[0]}")
        with self._threads():
            self.estimator_ = self._make_estimator().fit(arr, target)
        # kept only where predict_interval will need out-of-fold residuals
        trees = hasattr(self.estimator_, "estimators_")
        self._fit_data = None if trees else (arr, target)
        self._residuals: np.ndarray | None = None
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted eventual accuracy, one per row of ``X``."""
        check_is_fitted(self, "estimator_")
        arr = self._array(X, reset=False)
        with self._threads():
            return np.asarray(self.estimator_.predict(arr), dtype=np.float64)

    def predict_trees(self, X: Any) -> np.ndarray:
        """Per-member predictions of a tree ensemble, shape (n_members, n_rows).

        Raises ``TypeError`` when the estimator is not an ensemble with ``estimators_``.
        """
        check_is_fitted(self, "estimator_")
        members = getattr(self.estimator_, "estimators_", None)
        if members is None:
            raise TypeError(f"{type(self.estimator_).__name__} is not an ensemble of trees")
        arr = self._array(X, reset=False)
        if isinstance(self.estimator_, RandomForestRegressor):
            arr = arr.astype(np.float32)  # what the forest itself feeds its trees
        return np.stack([np.asarray(m.predict(arr), dtype=np.float64) for m in members])

    def predict_interval(self, X: Any, coverage: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """A (lo, hi) interval per row, nominally covering ``coverage`` (see the class doc)."""
        if not 0 < coverage < 1:
            raise ValueError(f"coverage is in (0, 1), got {coverage}")
        check_is_fitted(self, "estimator_")
        q = [(1 - coverage) / 2, (1 + coverage) / 2]
        pred = self.predict(X)
        if hasattr(self.estimator_, "estimators_"):
            lo, hi = np.quantile(self.predict_trees(X), q, axis=0)
        else:
            lo_r, hi_r = np.quantile(self._cv_residuals(), q)
            lo, hi = pred + lo_r, pred + hi_r
        return np.minimum(lo, pred), np.maximum(hi, pred)

    def _cv_residuals(self) -> np.ndarray:
        if self._residuals is None:
            assert self._fit_data is not None
            arr, target = self._fit_data
            folds = KFold(n_splits=min(5, len(target)), shuffle=True, random_state=0)
            with self._threads():
                oof = cross_val_predict(self._make_estimator(), arr, target, cv=folds)
            self._residuals = target - oof
        return self._residuals

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
