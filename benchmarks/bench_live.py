"""Live searches with a prior, two pruner settings, against the recorded unpruned runs.

The replay measures rules on shuffled orders of recorded runs; a live search (``weightcast
tune``) trains its trials for real, in one order, in worker processes. This runs the demo's
search (the first ``--trials`` configurations, ``report="loss"``, features ``weights+lc``,
two workers) for each ``--seed`` whose recorded search ``corpora/digits[-seedN]`` holds the
same configurations unpruned, with the live setting of ``weightcast tune`` (the forest at 5,
10, 20, 40 % of T) or, with ``--prior-defaults``, the pruner's defaults with a prior (the forest
at 1 and 2 % of T, then the loss rungs to 40 %; once per ``--veto`` share), and prints the
compute saved and the regret against that recorded search. Run from the repository root::

    python benchmarks/bench_live.py --seeds 0,4,5 --prior-defaults --veto 0,0.3333 \
        --prior corpora/digits-seed1 --prior corpora/digits-seed2 --prior corpora/digits-seed3

(each search about 75-100 s on 2 cores). A seed whose search is in the prior is refused.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from weightcast.tuning import tune


def corpus_of(seed: int) -> Path:
    """The recorded digits search of ``seed`` (``corpora/digits`` for seed 0)."""
    return Path("corpora") / ("digits" if seed == 0 else f"digits-seed{seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0", help="comma-separated search seeds")
    parser.add_argument(
        "--veto", default="0", help="comma-separated veto shares (with --prior-defaults)"
    )
    parser.add_argument(
        "--prior-defaults",
        action="store_true",
        help="the pruner's defaults with a prior (forest at 1 and 2 %% of T, loss rungs to "
        "40 %%) instead of the live setting (forest at 5-40 %% of T)",
    )
    parser.add_argument("--prior", action="append", default=[], help="repeat for several")
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    shares: list[float | None] = (
        [float(v) for v in args.veto.split(",")] if args.prior_defaults else [None]
    )
    if not args.prior:
        parser.error("give the prior corpora (--prior DIR, repeated)")
    priors = {Path(p).resolve() for p in args.prior}
    for seed in seeds:
        if corpus_of(seed).resolve() in priors:
            parser.error(f"search seed {seed} is in the prior ({corpus_of(seed)})")
    print(
        "| seed | veto | completed | pruned | compute | unpruned | saving | best | unpruned best | regret (points) | search s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for seed in seeds:
        for share in shares:
            s = tune(
                "digits",
                args.trials,
                workers=args.workers,
                features="weights+lc",
                report="loss",
                seed=seed,
                reference=corpus_of(seed),
                prior=args.prior,
                pruner_kwargs={"fractions": None, "model_veto": share}
                if args.prior_defaults
                else None,
                progress=False,
            )
            ref = s.reference or {}
            regret = 100 * ref["regret"] if "regret" in ref else float("nan")
            print(
                f"| {seed} | {'-' if share is None else f'{share:.2f}'} | {s.completed} | {s.pruned} | {s.cost:,.0f} | "
                f"{s.full_cost:,.0f} | {s.saving:.2f}x | {s.best_value:.4f} | "
                f"{ref.get('best', float('nan')):.4f} | {regret:.2f} | {s.wall_time:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
