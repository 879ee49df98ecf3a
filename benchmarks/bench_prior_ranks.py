"""How early signals rank a search's best runs: the training loss against a forest trained on
the finished runs of other searches (the pruner's ``prior``).

Pruning needs the eventual best runs ranked near the top early on. For the ``--top`` best runs of
CORPUS (among its first ``--first`` runs, e.g. 60 for the demo's search) this prints their rank at
each step by

- ``loss``: minus the mean training loss over (t/2, t] (what ``TrialReporter(report="loss")``
  reports, free);
- ``weights``, ``weights+loss``: the prediction of a random forest trained on the prior corpora's
  runs (features at t -> final accuracy), as ``WeightcastPruner(prior=...)`` learns it.

Rank 1 is the best; ties share the best rank. Run from the repository root::

    python benchmarks/bench_prior_ranks.py corpora/digits-seed2 \
        --prior corpora/digits --prior corpora/digits-seed1
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from weightcast.corpus import Corpus

MISSING = -1e9


def loss_signal(corpus: Corpus, t: int) -> pd.Series:
    """Minus the mean training loss over (t/2, t], per run (NaN-free: missing = worst)."""
    curves = corpus.curves()
    window = curves[(curves["step"] > t / 2) & (curves["step"] <= t)]
    loss = window.groupby("run_id")["train_loss"].mean().reindex(corpus.runs().index)
    return (-loss).replace([np.inf, -np.inf], np.nan).fillna(MISSING)


def weight_table(corpus: Corpus, t: int) -> pd.DataFrame:
    """The weight features at t (largest recorded tau <= t), one row per run."""
    tau = max([x for x in corpus.taus if x <= t], default=min(corpus.taus))
    return corpus.features(t, tau).reindex(corpus.runs().index)


def design(corpus: Corpus, t: int, kind: str) -> pd.DataFrame:
    parts = [weight_table(corpus, t)]
    if kind == "weights+loss":
        parts.append(loss_signal(corpus, t).rename("loss").to_frame())
    table = pd.concat(parts, axis=1).astype(float)
    return table.replace([np.inf, -np.inf], np.nan).fillna(MISSING)


def ranks(scores: pd.Series, runs: list[str]) -> list[int]:
    order = scores.rank(ascending=False, method="min")
    return [int(order[r]) for r in runs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--prior", action="append", required=True, help="repeat for several")
    parser.add_argument("--steps", default="10,20,50,100,200", help="feature steps of both")
    parser.add_argument("--first", type=int, default=None, help="only the first N runs")
    parser.add_argument("--top", type=int, default=5, help="how many best runs to follow")
    parser.add_argument("--trees", type=int, default=300)
    args = parser.parse_args()

    test = Corpus(args.corpus)
    priors = [Corpus(p) for p in args.prior]
    final = test.runs()["final_acc"].astype(float)
    pool = list(final.index[: args.first]) if args.first else list(final.index)
    top = list(final[pool].sort_values(ascending=False, kind="stable").index[: args.top])
    n_prior = sum(len(p) for p in priors)
    print(
        f"{test.path}: ranks among {len(pool)} runs of its best {len(top)} "
        f"({', '.join(f'{final[r]:.4f}' for r in top)}); forests trained on {n_prior} runs of "
        f"{', '.join(str(p.path) for p in priors)}"
    )
    print(f"{'step':>5}  {'loss':28s}  {'weights':28s}  {'weights+loss':28s}")
    for t in (int(s) for s in args.steps.split(",")):
        row = [ranks(loss_signal(test, t)[pool], top)]
        for kind in ("weights", "weights+loss"):
            X = pd.concat([design(p, t, kind) for p in priors])
            y = pd.concat([p.runs()["final_acc"].astype(float) for p in priors])
            ok = np.isfinite(y.to_numpy())
            forest = RandomForestRegressor(
                args.trees, max_features=1 / 3, min_samples_leaf=3, n_jobs=-1, random_state=0
            ).fit(X.to_numpy()[ok], y.to_numpy()[ok])
            Xt = design(test, t, kind).reindex(columns=X.columns).fillna(MISSING).loc[pool]
            row.append(ranks(pd.Series(forest.predict(Xt.to_numpy()), index=pool), top))
        print(f"{t:5d}  " + "  ".join(f"{str(r):28s}" for r in row))


if __name__ == "__main__":
    main()
