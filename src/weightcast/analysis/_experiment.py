"""An experiment: a corpus, the protocol's settings, and a cache of what repeats across analyses."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from weightcast.predict import (
    Dataset,
    FeatureStore,
    Predictor,
    cross_predict,
    resolve_n,
    score_predictions,
    split_runs,
    store_for,
)
from weightcast.predict._dataset import CorpusLike

__all__ = ["Experiment", "as_experiment"]


class Experiment:
    """A corpus with the protocol's settings; caches datasets and held-out predictions.

    Every analysis of :mod:`weightcast.analysis` takes an ``Experiment`` (or a corpus, which
    gets one with default settings). Analyses that need the same (t, tau, set, n, model)
    predictions share them: the RMSE-vs-t curve, the RMSE-vs-n curve at its largest n, the
    top-share scores and the summary all read one set of fits.

    Parameters
    ----------
    corpus : Corpus, path or FeatureStore
    n : int, float or None
        Training runs per split (None: two thirds of the usable runs at each t).
    repeats : int
        Seeded random splits per evaluation.
    seed : int
        Seed of the splits.
    n_estimators, max_features : forest settings of the default predictor.
    predictor : a regressor replacing the default forest (model ``"forest"``).
    tau : the weight-change gap (default: the corpus' first).

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> exp = Experiment(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 20), n_estimators=20)
    >>> s = exp.scores(50, "weights")
    >>> list(s.columns[:3]), len(s) == exp.repeats
    (['repeat', 'n_train', 'n_test'], True)
    """

    def __init__(
        self,
        corpus: CorpusLike | FeatureStore,
        *,
        n: int | float | None = None,
        repeats: int = 5,
        seed: int = 0,
        n_estimators: int = 400,
        max_features: float | int | str | None = 1 / 3,
        predictor: Any = None,
        tau: int | None = None,
        random_state: int = 0,
        n_jobs: int | None = -1,
    ) -> None:
        self.store = store_for(corpus)
        self.n = n
        self.repeats = int(repeats)
        self.seed = int(seed)
        self.n_estimators = int(n_estimators)
        self.max_features = max_features
        forest = Predictor(
            n_estimators=n_estimators,
            max_features=max_features,
            random_state=random_state,
            n_jobs=n_jobs,
        )
        self.models: dict[str, Any] = {
            "forest": forest if predictor is None else predictor,
            "boosting": Predictor(estimator="boosting", random_state=random_state),
        }
        taus = self.store.taus
        self.tau = int(tau) if tau is not None else (taus[0] if taus else None)
        self._datasets: dict[tuple[Any, ...], Dataset] = {}
        self._predictions: dict[tuple[Any, ...], pd.DataFrame] = {}
        self._fitted: dict[tuple[Any, ...], tuple[Any, Dataset, list[str], list[str]]] = {}

    @property
    def corpus(self) -> Any:
        """The corpus read."""
        return self.store.corpus

    @property
    def steps(self) -> list[int]:
        """The recorded steps t."""
        return self.store.steps

    def dataset(self, t: int, feature_set: str, tau: int | None = None) -> Dataset:
        """The (cached) dataset of ``feature_set`` at ``(t, tau)`` (tau: the experiment's)."""
        tau = self.tau if tau is None else tau
        key = (int(t), tau, feature_set)
        if key not in self._datasets:
            self._datasets[key] = self.store.assemble(t, tau, feature_set)
        return self._datasets[key]

    def n_train(self, dataset: Dataset, n: int | float | None = None) -> int:
        """The number of training runs for ``dataset`` under this experiment's ``n``."""
        return resolve_n(self.n if n is None else n, len(dataset))

    def predictions(
        self,
        dataset: Dataset,
        *,
        n: int | float | None = None,
        n_test: int | None = None,
        model: str = "forest",
        key: Any = None,
        interval: float | None = None,
    ) -> pd.DataFrame:
        """Held-out predictions (see :func:`~weightcast.predict.cross_predict`), cached.

        ``key`` names a dataset that is not one of :meth:`dataset` (e.g. a history of
        features); by default the dataset's (t, tau, feature_set).
        """
        n_tr = resolve_n(self.n if n is None else n, len(dataset), n_test=n_test)
        n_te = len(dataset) - n_tr if n_test is None else int(n_test)
        ident = key if key is not None else (dataset.t, dataset.tau, dataset.feature_set)
        cache_key = (ident, n_tr, n_te, model, interval)
        if cache_key not in self._predictions:
            self._predictions[cache_key] = cross_predict(
                dataset,
                n_tr,
                repeats=self.repeats,
                seed=self.seed,
                predictor=self.models[model],
                n_test=n_te,
                interval=interval,
            )
        return self._predictions[cache_key]

    def scores(
        self,
        t: int,
        feature_set: str,
        *,
        tau: int | None = None,
        n: int | float | None = None,
        model: str = "forest",
    ) -> pd.DataFrame:
        """Per-repeat rmse, mae, r2, rho of ``feature_set`` at ``(t, tau)``."""
        ds = self.dataset(t, feature_set, tau)
        return score_predictions(self.predictions(ds, n=n, model=model))

    def fitted(
        self, t: int, feature_set: str, *, tau: int | None = None, repeat: int = 0
    ) -> tuple[Any, Dataset, list[str], list[str]]:
        """A predictor fitted on the training runs of split ``repeat``: (model, dataset, train,
        test), cached."""
        ds = self.dataset(t, feature_set, tau)
        key = (ds.t, ds.tau, feature_set, repeat)
        if key not in self._fitted:
            n_tr = self.n_train(ds)
            train, test = split_runs(ds.run_ids, n_tr, repeats=repeat + 1, seed=self.seed)[repeat]
            model = clone(self.models["forest"]).fit(ds.X.loc[train], ds.y.loc[train])
            self._fitted[key] = (model, ds, train, test)
        return self._fitted[key]

    def usable_runs(self, steps: Any = None) -> pd.DataFrame:
        """Per step t: usable runs, runs left out because they diverged at or before t, and
        runs left out for another reason (features or final accuracy not recorded)."""
        runs = self.store.runs()
        rows = []
        for t in self.steps if steps is None else steps:
            ds = self.dataset(int(t), "lc")
            left = runs.loc[list(ds.missing)]
            diverged = int(
                ((left["status"] == "diverged") & (left["diverged_step"] <= int(t))).sum()
            )
            rows.append(
                {
                    "t": int(t),
                    "usable": len(ds),
                    "diverged_by_t": diverged,
                    "other_missing": len(ds.missing) - diverged,
                }
            )
        return pd.DataFrame(rows)

    def describe(self) -> dict[str, Any]:
        """The settings, as plain values (for reports)."""
        forest = self.models["forest"]
        return {
            "n": self.n,
            "repeats": self.repeats,
            "seed": self.seed,
            "tau": self.tau,
            "predictor": type(forest).__name__,
            "n_estimators": getattr(forest, "n_estimators", None),
            "max_features": _plain(getattr(forest, "max_features", None)),
            "min_samples_leaf": getattr(forest, "min_samples_leaf", None),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return round(float(value), 4)
    return value


def as_experiment(source: Any) -> Experiment:
    """``source`` if it is an :class:`Experiment`, else one with default settings on it."""
    return source if isinstance(source, Experiment) else Experiment(source)
