"""Where a replayed policy stops a search's best runs, order by order.

The replay's table gives each policy's mean regret; this says which of the corpus's ``--top``
best runs were stopped, at which step, and where each stood in the order, for the first
``--orders`` of the replay's seeded orders (the same orders as ``weightcast replay --seed``).
One weightcast policy (``wc-*``) on the dense curve. Run from the repository root::

    python benchmarks/bench_replay_stops.py corpora/digits-seed4 --policy wc-prior \
        --steps 10,20,50,100,200,400 --orders 4 --prior corpora/digits --prior corpora/digits-seed1

prints, per order, the best final value kept and, for each best run, ``run_id: stop step (or
kept) @ position in the order``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import optuna

from weightcast.corpus import Corpus
from weightcast.integrations.optuna import (
    corpus_prior,
    load_runs,
    make_payloads,
    policy_variants,
    replay_order,
    replay_orders,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus")
    parser.add_argument("--policy", default="wc-prior", help="wc-lc, wc-weights, wc-all, ...")
    parser.add_argument("--prior", action="append", default=[], help="repeat for several")
    parser.add_argument("--steps", default=None, help="decision steps (default: the replay's)")
    parser.add_argument("--orders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="seed of the orders")
    parser.add_argument("--top", type=int, default=3)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--rung-steps", default=None, help="rungs of the rung rule")
    parser.add_argument("--model-until-rung", action="store_true")
    args = parser.parse_args()
    if not args.policy.startswith("wc-"):
        parser.error("--policy must be one of weightcast's (wc-...)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    corpus = Corpus(args.corpus)
    T = int(corpus.T)
    steps = None if args.steps is None else [int(s) for s in args.steps.split(",")]
    runs, steps = load_runs(corpus, steps)
    prior = corpus_prior(args.prior, steps, val=False, T=T) if args.policy == "wc-prior" else None
    kwargs: dict[str, object] = {}
    if args.rung_steps:
        kwargs["rung_steps"] = tuple(int(s) for s in args.rung_steps.split(","))
    if args.model_until_rung:
        kwargs["model_until_rung"] = True
    (variant,) = policy_variants(
        args.policy,
        T,
        steps,
        n_estimators=args.trees,
        seed=args.seed,
        prior=prior,
        pruner_kwargs=kwargs,
    )
    payloads = make_payloads(runs, steps, weights=variant.weights, val=variant.curve)
    orders = replay_orders(len(runs), args.orders, args.seed)  # the replay's own orders
    finals = np.array([r.final if math.isfinite(r.final) else -np.inf for r in runs])
    top = np.argsort(-finals, kind="stable")[: args.top]
    print(
        f"{args.corpus}: {args.policy} at steps {list(steps)}; best runs "
        + ", ".join(f"{runs[i].run_id} ({finals[i]:.4f})" for i in top)
    )
    for k, order in enumerate(orders, start=1):
        outcomes = replay_order(runs, order, variant, payloads=payloads)
        by_id = {o.run_id: o for o in outcomes}
        kept = [o.final for o in outcomes if o.stop_step is None and math.isfinite(o.final)]
        marks = []
        for i in top:
            stop = by_id[runs[i].run_id].stop_step
            where = "kept" if stop is None else f"stopped at {stop}"
            marks.append(f"{runs[i].run_id}: {where} @ {order.index(int(i)) + 1}")
        best_kept = f"{max(kept):.4f}" if kept else "none"
        print(f"order {k}: best kept {best_kept}; " + "; ".join(marks), flush=True)


if __name__ == "__main__":
    main()
