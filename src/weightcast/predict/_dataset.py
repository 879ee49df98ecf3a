"""Dataset assembly: one row per run, the features of a feature set at (t, tau), final_acc."""

from __future__ import annotations

import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from weightcast.corpus import Corpus
from weightcast.features import DIVERGED_LOSS, hparam_features
from weightcast.predict._sets import _BLOCKS, feature_columns, relative_update_features

__all__ = ["Dataset", "FeatureStore", "assemble", "CorpusLike"]

CorpusLike = Corpus | str | os.PathLike[str]
Diverged = Literal["drop", "keep"]


@dataclass(frozen=True)
class Dataset:
    """The table a predictor learns from: one row per usable run.

    ``X`` (index ``run_id``) holds the feature set's columns, ``y`` the eventual accuracy
    (``final_acc``) of the same runs, ``run_ids`` their ids in row order, and ``missing`` maps
    every corpus run that is *not* a row to the reason why (diverged before ``t``, features not
    recorded, no final accuracy): nothing is dropped silently.
    """

    X: pd.DataFrame
    y: pd.Series
    run_ids: list[str]
    missing: dict[str, str]
    t: int
    tau: int | None
    feature_set: str
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.run_ids)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.feature_set!r}, t={self.t}, tau={self.tau}, runs={len(self)}, "
            f"features={self.X.shape[1]}, missing={len(self.missing)})"
        )


class FeatureStore:
    """Assembles datasets from one corpus, caching every block it builds.

    The blocks (raw and delta weight features at ``(t, tau)``, the learning curve up to ``t``,
    the hyperparameters, the derived relative update sizes) are built once and shared by all
    the feature sets and analyses that need them.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> store = FeatureStore(make_synthetic_corpus(tempfile.mkdtemp() + "/c", n_runs=6))
    >>> store.assemble(20, 10, "weights-delta").X.shape[1]
    4
    """

    def __init__(self, corpus: CorpusLike) -> None:
        self.corpus = corpus if isinstance(corpus, Corpus) else Corpus(corpus)
        self._cache: dict[tuple[Any, ...], Any] = {}

    # -- checks --------------------------------------------------------------------------------
    @property
    def steps(self) -> list[int]:
        """The steps t at which the corpus recorded features."""
        return self.corpus.steps

    @property
    def taus(self) -> list[int]:
        """The gaps tau of the corpus' weight-change features."""
        return self.corpus.taus

    def check_t(self, t: int) -> int:
        """``t`` as an int, or a ValueError listing the recorded steps."""
        if int(t) != t or int(t) not in self.steps:
            raise ValueError(
                f"t={t} was never recorded in {self.corpus.path}; recorded steps: {self.steps}"
            )
        return int(t)

    def check_tau(self, t: int, tau: int | None) -> int:
        """``tau`` (default: the corpus' first tau) checked against the recorded gaps."""
        if tau is None:
            if not self.taus:
                raise ValueError(f"{self.corpus.path} records no weight changes (no taus)")
            tau = self.taus[0]
        if int(tau) != tau or int(tau) not in self.taus:
            raise ValueError(
                f"tau={tau} was never recorded in {self.corpus.path}; recorded taus: {self.taus}"
            )
        if tau > t:
            raise ValueError(
                f"the weight change over tau={tau} does not exist at t={t} (it needs t >= tau); "
                f"recorded steps: {self.steps}, taus: {self.taus}"
            )
        return int(tau)

    # -- blocks --------------------------------------------------------------------------------
    def _memo(self, key: tuple[Any, ...], build: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def runs(self) -> pd.DataFrame:
        """The corpus' run table (cached)."""
        return self._memo(("runs",), self.corpus.runs)

    def raw(self, t: int) -> pd.DataFrame:
        """Raw weight features at ``t``, index run_id (runs without them absent)."""

        def build() -> pd.DataFrame:
            raw = self.corpus.raw_features()
            return raw[raw["t"] == t].drop(columns="t").set_index("run_id")

        return self._memo(("raw", t), build)

    def delta(self, t: int, tau: int) -> pd.DataFrame:
        """Weight-change features at ``(t, tau)``, index run_id (runs without them absent)."""

        def build() -> pd.DataFrame:
            d = self.corpus.delta_features()
            d = d[(d["t"] == t) & (d["tau"] == tau)]
            return d.drop(columns=["t", "tau"]).set_index("run_id")

        return self._memo(("delta", t, tau), build)

    def rel(self, t: int, tau: int) -> pd.DataFrame:
        """Relative update sizes at ``(t, tau)`` (see :func:`relative_update_features`)."""

        def build() -> pd.DataFrame:
            both = self.raw(t).join(self.delta(t, tau), how="inner")
            return relative_update_features(both)

        return self._memo(("rel", t, tau), build)

    def lc(self, t: int) -> pd.DataFrame:
        """Learning-curve features up to ``t``: ``lc.train_loss@<step>``, ``lc.val_acc@<step>``.

        The same values as :func:`weightcast.features.curve_features` (a non-finite or larger
        loss becomes ``DIVERGED_LOSS``), built for all runs at once; runs with no curve point
        at or before ``t`` are absent.
        """

        def build() -> pd.DataFrame:
            curves = self.corpus.curves()
            c = curves[curves["step"] <= t]
            if c.empty:
                return pd.DataFrame(index=pd.Index([], name="run_id", dtype="str"))
            loss = c.pivot_table(
                index="run_id", columns="step", values="train_loss", aggfunc="last", dropna=False
            )
            acc = c.pivot_table(
                index="run_id", columns="step", values="val_acc", aggfunc="last", dropna=False
            )
            had_point = loss.index  # runs with some curve point <= t
            lv = loss.to_numpy(dtype=np.float64, copy=True)
            present = c.set_index(["run_id", "step"]).index
            recorded = np.zeros(lv.shape, dtype=bool)
            pos_r = loss.index.get_indexer(present.get_level_values(0))
            pos_c = loss.columns.get_indexer(present.get_level_values(1))
            recorded[pos_r, pos_c] = True
            diverged = recorded & ~(np.isfinite(lv) & (lv <= DIVERGED_LOSS))
            lv[diverged] = DIVERGED_LOSS
            out = pd.DataFrame(
                np.concatenate([lv, acc.reindex(index=had_point).to_numpy(np.float64)], axis=1),
                index=had_point,
                columns=[f"lc.train_loss@{int(s)}" for s in loss.columns]
                + [f"lc.val_acc@{int(s)}" for s in acc.columns],
            )
            out.index.name = "run_id"
            return out

        return self._memo(("lc", t), build)

    def hp(self) -> pd.DataFrame:
        """Hyperparameter features ``hp.<name>`` / ``hp.<name>=<value>`` of every run."""

        def build() -> pd.DataFrame:
            hparams = self.corpus.hparams()
            rows = [
                hparam_features({str(k): v for k, v in row.dropna().items()})
                for _, row in hparams.iterrows()
            ]
            table = pd.DataFrame(rows, index=hparams.index, dtype=np.float64)
            onehot = [c for c in table.columns if "=" in c]
            table[onehot] = table[onehot].fillna(0.0)
            table.index.name = "run_id"
            return table

        return self._memo(("hp",), build)

    # -- datasets ------------------------------------------------------------------------------
    def table(
        self, t: int, tau: int | None, blocks: Sequence[str]
    ) -> tuple[pd.DataFrame, pd.Index, dict[str, list[tuple[str, str]]]]:
        """All rows of the given blocks at ``(t, tau)`` with the reason each absent run lacks.

        Returns the joined table (index: every corpus run id, NaN where a block lacks the run),
        the ids of runs that diverged at or before ``t``, and ``{run_id: [(block, reason), ...]}``
        for runs missing some block.
        """
        t = self.check_t(t)
        need_raw = any(b in ("raw", "raw-inv", "rel") for b in blocks)
        need_delta = any(b in ("delta", "delta-inv", "rel") for b in blocks)
        if need_delta:
            tau = self.check_tau(t, tau)
        runs = self.runs()
        index = runs.index
        parts: list[pd.DataFrame] = []
        lacks: dict[str, list[tuple[str, str]]] = {}

        def add(part: pd.DataFrame, block: str, reason: str) -> None:
            for rid in index.difference(part.index):
                lacks.setdefault(str(rid), []).append((block, reason))
            parts.append(part.reindex(index))

        if need_raw:
            add(self.raw(t), "raw", f"no raw weight features recorded at t={t}")
        if need_delta:
            assert tau is not None
            add(
                self.delta(t, tau),
                "delta",
                f"no weight-change features recorded at (t={t}, tau={tau})",
            )
        if "rel" in blocks:
            assert tau is not None
            parts.append(self.rel(t, tau).reindex(index))
        if "lc" in blocks:
            add(self.lc(t), "lc", f"no learning-curve point at or before t={t}")
        if "hp" in blocks:
            add(self.hp(), "hp", "no hyperparameters")
        table = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=index)
        div_step = runs["diverged_step"]
        diverged = index[(runs["status"] == "diverged") & div_step.notna() & (div_step <= t)]
        return table, diverged, lacks

    def assemble(
        self,
        t: int,
        tau: int | None = None,
        feature_set: str = "weights",
        *,
        diverged: Diverged = "drop",
    ) -> Dataset:
        """See :func:`assemble`."""
        if feature_set not in _BLOCKS:
            feature_columns([], feature_set)  # raises the "unknown set" error
        if diverged not in ("drop", "keep"):
            raise ValueError(f"diverged is 'drop' or 'keep', got {diverged!r}")
        blocks = _BLOCKS[feature_set]
        table, div_ids, lacks = self.table(t, tau, blocks)
        t = int(t)
        needs_delta = any(b in ("delta", "delta-inv", "rel") for b in blocks)
        tau_used = self.check_tau(t, tau) if needs_delta else tau
        runs = self.runs()
        missing: dict[str, str] = {}
        y_all = runs["final_acc"].astype(np.float64)
        for rid in div_ids:
            step = int(runs["diverged_step"].loc[rid])
            if diverged == "drop":
                missing[str(rid)] = (
                    f"diverged at step {step} (<= t={t}): no weight features from then on; "
                    "left out of every feature set at this t (diverged='keep' keeps it with "
                    "NaN weight features)"
                )
        for rid, lacked in lacks.items():
            if rid in div_ids:  # dropped above, or kept with NaN weight features
                lacked = [(b, r) for b, r in lacked if b not in ("raw", "delta")]
            if lacked and rid not in missing:
                missing[rid] = "; ".join(r for _, r in lacked)
        for rid in runs.index[~np.isfinite(y_all.to_numpy())]:
            missing.setdefault(str(rid), "final_acc is missing (NaN)")
        keep = [rid for rid in runs.index if rid not in missing]
        cols = feature_columns(table.columns, feature_set)
        X = table.loc[keep, cols]
        y = y_all.loc[keep].rename("final_acc")
        return Dataset(
            X=X,
            y=y,
            run_ids=[str(r) for r in keep],
            missing=missing,
            t=t,
            tau=tau_used,
            feature_set=feature_set,
            meta={"diverged": diverged, "corpus": str(self.corpus.path)},
        )


_STORES: weakref.WeakKeyDictionary[Corpus, FeatureStore] = weakref.WeakKeyDictionary()


def store_for(corpus: CorpusLike | FeatureStore) -> FeatureStore:
    """The (cached) :class:`FeatureStore` of a corpus, a path, or a store itself.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> c = Corpus(make_synthetic_corpus(tempfile.mkdtemp() + "/c", 3))
    >>> store_for(c) is store_for(c)
    True
    """
    if isinstance(corpus, FeatureStore):
        return corpus
    if not isinstance(corpus, Corpus):
        return FeatureStore(Corpus(corpus))
    store = _STORES.get(corpus)
    if store is None:
        store = _STORES[corpus] = FeatureStore(corpus)
    return store


def assemble(
    corpus: CorpusLike | FeatureStore,
    t: int,
    tau: int | None = None,
    feature_set: str = "weights",
    *,
    diverged: Diverged = "drop",
) -> Dataset:
    """The dataset of ``feature_set`` at step ``t`` (weight change over ``tau``).

    ``corpus`` is a :class:`~weightcast.corpus.Corpus`, its path, or a :class:`FeatureStore`
    (blocks are cached per corpus object, so repeated calls are cheap). ``tau`` defaults to the
    corpus' first recorded gap and is ignored by sets without weight changes.

    A run that diverged at or before ``t`` has no weight features there: with
    ``diverged="drop"`` (default) it is left out of *every* feature set at this ``t``, so the
    sets are compared on the same runs, and listed in ``missing`` with the step; with
    ``diverged="keep"`` it stays, with NaN weight features (which :class:`Predictor` accepts).
    Runs lacking a block for another reason, or a final accuracy, are in ``missing`` too.
    ``t`` or ``tau`` never recorded -> ``ValueError`` listing the recorded ones.

    >>> import tempfile
    >>> from weightcast.corpus.testing import make_synthetic_corpus
    >>> path = make_synthetic_corpus(tempfile.mkdtemp() + "/c", n_runs=8, seed=0)
    >>> ds = assemble(path, t=20, tau=10, feature_set="weights")
    >>> ds.X.shape[1], len(ds) + len(ds.missing)
    (8, 8)
    """
    return store_for(corpus).assemble(t, tau, feature_set, diverged=diverged)
