"""The replay benchmark: recorded runs fed to real Optuna studies, one policy at a time.

For each seeded random order of the runs and each policy, a fresh in-memory study (``ask`` /
``tell``) sees the runs one after the other, as a sequential search would: each run's recorded
learning curve is reported step by step (``trial.report`` / ``trial.should_prune``), and for
weightcast's pruner the features at the decision steps are set as user attributes first,
exactly as :class:`TrialReporter` stores them live (the training-loss summary included, and the
``weightcast:diverged`` mark at the step a run diverged). A run stops when the pruner says so;
its compute is counted by :func:`weightcast.policy.run_cost`.

Optuna's pruners get a fair chance: each is replayed with every value of a small grid of its
main setting, and the best value (highest mean speed-up with a mean regret within the reach
tolerance; the lowest regret if none) is reported, together with the grid. Selecting on the
replayed orders themselves favours Optuna's pruners; weightcast's pruner keeps its defaults.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from weightcast._imports import require
from weightcast.integrations._attrs import (
    DIVERGED_KEY,
    diverged_payload,
    encode_features,
    features_key,
)
from weightcast.integrations._names import DEFAULT_POLICIES, EVAL_FREE, GRIDS, POLICIES
from weightcast.integrations._pruner import (
    WeightcastPruner,
    open_prior_corpora,
    prior_default_kwargs,
)
from weightcast.policy import (
    DEFAULT_FRACTIONS,
    REACH_TOLERANCE,
    FeatureBlock,
    Outcome,
    RecordedRun,
    decision_steps,
    epoch_length,
    loss_signal,
    loss_summary,
    order_metrics,
    run_cost,
    summarize,
    val_summary,
)

optuna = require("optuna")

if TYPE_CHECKING:
    from weightcast.corpus import Corpus

GRID_FRACTIONS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2)
"""Grid of Optuna's settings (``min_resource``, ``n_warmup_steps``) as fractions of T."""

PrunerFactory = Callable[[], Any]

REPLAY_REFIT_GROWTH = 0.25
"""In the replay weightcast's models are refitted once their training rows grew by 25 % (live
default: 10 %), with 100 trees (live: 400), to keep a 300-run replay within minutes."""


@dataclass(frozen=True)
class PolicyVariant:
    """One concrete policy to replay: a name, a setting and a factory of fresh pruners."""

    policy: str
    setting: Mapping[str, Any]
    make: PrunerFactory
    feeds_features: bool = False
    weights: bool = False
    curve: bool = True


def policy_variants(
    policy: str,
    T: int,
    steps: Sequence[int],
    *,
    grid_fractions: Sequence[float] = GRID_FRACTIONS,
    n_estimators: int = 100,
    n_jobs: int | None = -1,
    seed: int = 0,
    pruner_kwargs: Mapping[str, Any] | None = None,
    prior: Sequence[Any] | None = None,
) -> list[PolicyVariant]:
    """The variants of ``policy`` to replay (several for Optuna's pruners: their grid).

    ``prior``: the prior trial records of ``wc-prior`` (:func:`corpus_prior`).

    >>> [v.setting for v in policy_variants("sha", 1000, (20, 50), grid_fractions=(0.02, 0.05))]
    [{'min_resource': 20}, {'min_resource': 50}]
    """
    pruners = optuna.pruners
    grid = sorted({max(1, round(f * T)) for f in grid_fractions})
    if policy == "none":
        return [PolicyVariant("none", {}, pruners.NopPruner)]
    if policy == "median":
        return [
            PolicyVariant(
                "median",
                {"n_warmup_steps": w, "n_startup_trials": 5},
                partial(pruners.MedianPruner, n_startup_trials=5, n_warmup_steps=w),
            )
            for w in grid
        ]
    if policy in ("sha", "sha-loss"):
        return [
            PolicyVariant(
                policy,
                {"min_resource": r},
                partial(pruners.SuccessiveHalvingPruner, min_resource=r, reduction_factor=3),
                curve=policy not in EVAL_FREE,
            )
            for r in grid
        ]
    if policy == "hyperband":
        return [
            PolicyVariant(
                "hyperband",
                {"min_resource": r, "max_resource": T},
                partial(
                    pruners.HyperbandPruner, min_resource=r, max_resource=T, reduction_factor=3
                ),
            )
            for r in grid
            if r < T
        ]
    if policy.startswith("wc-"):
        features = {"wc-free": "all", "wc-prior": "weights+lc"}.get(policy, policy[3:])
        kwargs = {
            "steps": tuple(steps),
            "T": T,
            "n_estimators": n_estimators,
            "n_jobs": n_jobs,
            "seed": seed,
            "refit_growth": REPLAY_REFIT_GROWTH,
            **(pruner_kwargs or {}),
        }
        if policy == "wc-prior":
            if not prior:
                raise ValueError("wc-prior needs the finished runs of a prior corpus (prior=...)")
            kwargs["prior"] = tuple(prior)
        WeightcastPruner(features, **kwargs)  # check the settings once, early
        setting = {
            "features": features,
            **{k: v for k, v in kwargs.items() if k not in ("n_jobs", "prior")},
        }
        if policy == "wc-prior":
            setting["prior_runs"] = len(kwargs["prior"])
        if policy in EVAL_FREE:
            setting["report"] = "loss"
        return [
            PolicyVariant(
                policy,
                setting,
                partial(WeightcastPruner, features, **kwargs),
                feeds_features=True,
                weights=features != "lc",
                curve=policy not in EVAL_FREE,
            )
        ]
    raise ValueError(f"unknown policy {policy!r}; known policies: {POLICIES}")


# -- recorded runs -------------------------------------------------------------------------
def load_runs(
    corpus: Corpus, steps: Sequence[int] | None = None, taus: Sequence[int] | None = None
) -> tuple[list[RecordedRun], tuple[int, ...]]:
    """The corpus's runs with their dense curves and the features at the decision steps.

    ``steps`` default to :data:`~weightcast.policy.DEFAULT_FRACTIONS` of T snapped to the
    corpus's feature steps; at each step the weight change over the largest tau ``<= t`` is
    used (``taus``: default the corpus's), as the live reporter does.
    """
    T = int(corpus.T)
    if steps is None:
        steps = decision_steps(T, DEFAULT_FRACTIONS, grid=corpus.steps)
    steps = tuple(int(s) for s in steps)
    missing = sorted(set(steps) - set(corpus.steps))
    if missing:
        raise ValueError(
            f"decision steps {missing} are not feature steps of the corpus ({corpus.steps})"
        )
    taus = tuple(sorted(taus if taus is not None else corpus.taus))
    runs_table = corpus.runs()
    hparams = corpus.hparams()
    curves = {str(rid): frame for rid, frame in corpus.curves().groupby("run_id", sort=False)}
    blocks: dict[str, dict[int, FeatureBlock]] = {str(rid): {} for rid in runs_table.index}
    for t in steps:
        usable = [tau for tau in taus if tau <= t]
        if usable:
            feats = corpus.features(t, usable[-1])
        else:
            raw = corpus.raw_features()
            feats = raw[raw["t"] == t].set_index("run_id").drop(columns="t")
        weight_cols = [c for c in feats.columns if ".raw." in c or ".delta." in c]
        values = feats[weight_cols].to_numpy(dtype=np.float64)
        names = tuple(weight_cols)
        for rid, row in zip(feats.index, values, strict=True):
            blocks[str(rid)][t] = (names, row)
    runs: list[RecordedRun] = []
    for index, info in runs_table.iterrows():
        rid = str(index)
        curve = curves.get(rid)
        if curve is None:
            steps_arr = np.zeros(0, dtype=np.int64)
            loss = val = np.zeros(0)
        else:
            curve = curve.sort_values("step")
            steps_arr = curve["step"].to_numpy(dtype=np.int64)
            loss = curve["train_loss"].to_numpy(dtype=np.float64)
            val = curve["val_acc"].to_numpy(dtype=np.float64)
        div = info.get("diverged_step")
        diverged = None if div is None or pd.isna(div) else int(div)
        feats_run: dict[int, FeatureBlock] = {}
        for t in steps:
            lsum = loss_summary(steps_arr, loss, t)
            lnames = tuple(lsum)
            lvals = np.fromiter(lsum.values(), dtype=np.float64, count=len(lsum))
            w = blocks[rid].get(t)
            if w is None:
                feats_run[t] = (lnames, lvals)  # no weight features (e.g. diverged): loss only
            else:
                feats_run[t] = (w[0] + lnames, np.concatenate([w[1], lvals]))
        hp: dict[str, object] = {}
        if rid in hparams.index:
            for name, value in hparams.loc[rid].items():
                hp[str(name)] = _plain(value)
        runs.append(
            RecordedRun(
                run_id=rid,
                final=float(info["final_acc"]),
                T=int(info["T"]) if "T" in info and not _isnan(info["T"]) else T,
                eval_cost=float(info["eval_cost"]),
                steps=steps_arr,
                val_acc=val,
                train_loss=loss,
                features=feats_run,
                diverged_step=diverged,
                hparams=hp,
            )
        )
    return runs, steps


def _isnan(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def _plain(value: Any) -> object:
    if value is None or _isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def epoch_runs(
    runs: Sequence[RecordedRun],
    n_train: float,
    batch_size: float | None = None,
) -> list[RecordedRun]:
    """The runs with their curves recorded once per epoch (``n_train / batch_size`` steps).

    ``batch_size`` defaults to each run's ``batch_size`` hyperparameter.
    """
    out = []
    for run in runs:
        bs = batch_size if batch_size is not None else run.hparams.get("batch_size")
        if not isinstance(bs, int | float) or isinstance(bs, bool):
            raise ValueError(
                f"run {run.run_id} has no batch_size hyperparameter; give batch_size=..."
            )
        out.append(run.on_grid(epoch_length(n_train, bs)))
    return out


# -- one replay ------------------------------------------------------------------------------
def _distributions(runs: Sequence[RecordedRun]) -> dict[str, Any]:
    values: dict[str, set[Any]] = {}
    for run in runs:
        for name, value in run.hparams.items():
            values.setdefault(name, set()).add(value)
    dists = {}
    for name, vals in values.items():
        numbers = sorted(v for v in vals if isinstance(v, int | float) and not isinstance(v, bool))
        others = sorted((v for v in vals if v not in numbers), key=repr)
        dists[name] = optuna.distributions.CategoricalDistribution(numbers + others)
    return dists


def replay_orders(n_runs: int, orders: int, seed: int = 0) -> list[list[int]]:
    """The seeded random orders of ``n_runs`` runs that :func:`replay` replays.

    >>> replay_orders(4, 2, seed=0) == replay_orders(4, 2, seed=0)
    True
    """
    rng = np.random.default_rng(seed)
    return [rng.permutation(n_runs).tolist() for _ in range(orders)]


def replay_order(
    runs: Sequence[RecordedRun],
    order: Sequence[int],
    variant: PolicyVariant,
    *,
    payloads: Mapping[tuple[int, int], Mapping[str, Any]] | None = None,
    distributions: Mapping[str, Any] | None = None,
) -> list[Outcome]:
    """Replay the runs in ``order`` through a fresh in-memory study with ``variant``'s pruner.

    ``payloads[(i, t)]`` is the features attribute of run ``i`` at decision step ``t`` (built
    by :func:`make_payloads`; needed when the variant feeds features); ``distributions`` the
    hyperparameters' distributions (given: each trial gets its run's hyperparameters).
    """
    pruner = variant.make()
    study = optuna.create_study(direction="maximize", pruner=pruner)
    steps: tuple[int, ...] = getattr(pruner, "decision_steps", ())
    signal_steps: tuple[int, ...] | None = None
    if not variant.curve:
        config = getattr(pruner, "config", None)
        signal_steps = getattr(config, "rung_steps", None) or steps or None
    outcomes = []
    for i in order:
        run = runs[i]
        if distributions:
            params = {k: v for k, v in run.hparams.items() if k in distributions}
            study.enqueue_trial(params)
            trial = study.ask({k: distributions[k] for k in params})
        else:
            trial = study.ask()
        stop = _feed(
            trial,
            run,
            i,
            steps if variant.feeds_features else (),
            payloads,
            signal_steps=signal_steps,
            curve=variant.curve,
        )
        if stop is not None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif math.isfinite(run.final):
            study.tell(trial, run.final)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        outcomes.append(
            Outcome(run.run_id, stop, run_cost(run, stop, curve=variant.curve), run.final)
        )
    return outcomes


def _feed(
    trial: Any,
    run: RecordedRun,
    index: int,
    steps: Sequence[int],
    payloads: Mapping[tuple[int, int], Mapping[str, Any]] | None,
    *,
    signal_steps: Sequence[int] | None = None,
    curve: bool = True,
) -> int | None:
    """Feed one run to a trial; the step at which it was pruned, or None.

    ``curve=False``: instead of the validation curve, :func:`~weightcast.policy.loss_signal`
    is reported at ``signal_steps`` (default: every point of the run's curve) before ``T``.
    """
    events: list[tuple[int, int, float]] = []  # (step, kind, value); kind 0 features, 1 eval
    for t in steps:
        if t < run.T:
            events.append((t, 0, math.nan))
    div = run.diverged_step
    if steps and div is not None and div not in steps:
        events.append((div, 0, math.nan))
    if curve:
        events.extend((int(s), 1, float(v)) for s, v in zip(run.steps, run.val_acc, strict=True))
    else:
        loss = run.train_loss if run.train_loss is not None else np.full(run.steps.size, np.nan)
        at = run.steps if signal_steps is None else signal_steps
        events.extend(
            (int(t), 1, loss_signal(run.steps, loss, int(t))) for t in at if 0 < int(t) < run.T
        )
    events.sort(key=lambda e: (e[0], e[1]))
    marked = False
    for step, kind, value in events:
        if kind == 0:
            if div is not None and step >= div and not marked:
                trial.set_user_attr(DIVERGED_KEY, int(div))
                marked = True
            if step in steps:
                assert payloads is not None
                trial.set_user_attr(features_key(step), payloads[(index, step)])
        else:
            trial.report(value, step)
        if trial.should_prune():
            return step
    return None


def make_payloads(
    runs: Sequence[RecordedRun], steps: Sequence[int], weights: bool, val: bool = True
) -> dict[tuple[int, int], dict[str, Any]]:
    """The features attribute of each run at each decision step, as the reporter stores it.

    The weight features and the training-loss summary come from ``run.features``; the
    validation summary from the run's curve on this replay's grid, points before the step only
    (the live reporter stores the attribute after training step ``t``, before evaluating at
    ``t``). ``weights=False``: no weight features (what the reporter of an ``"lc"`` pruner
    stores); ``val=False``: no validation summary (a search that evaluates nothing during
    training). A run diverged at or before a step gets the diverged mark there.
    """
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for i, run in enumerate(runs):
        for t in steps:
            if run.diverged_step is not None and run.diverged_step <= t:
                out[(i, t)] = diverged_payload()
                continue
            names, values = run.features.get(t, ((), np.zeros(0)))
            if not weights:
                keep = [j for j, n in enumerate(names) if n.startswith("lc.")]
                names, values = tuple(names[j] for j in keep), values[keep]
            before = (run.steps < t) if val else np.zeros(run.steps.size, dtype=bool)
            vsum = val_summary(run.steps[before], run.val_acc[before], t)
            names = tuple(names) + tuple(vsum)
            values = np.concatenate([values, np.fromiter(vsum.values(), dtype=float)])
            out[(i, t)] = encode_features((names, values))
    return out


# -- the benchmark -----------------------------------------------------------------------------
def _prior_name(prior: Any) -> str:
    """The prior corpus (or corpora, comma-separated) as text for the result."""
    if isinstance(prior, list | tuple):
        return ",".join(_prior_name(p) for p in prior)
    return str(getattr(prior, "path", prior))


def replay(
    corpus: Corpus | str | os.PathLike[str],
    policies: Sequence[str] = DEFAULT_POLICIES,
    *,
    orders: int = 5,
    seed: int = 0,
    grids: Sequence[str] = GRIDS,
    n_train: float | None = None,
    batch_size: float | None = None,
    steps: Sequence[int] | None = None,
    grid_fractions: Sequence[float] = GRID_FRACTIONS,
    n_estimators: int = 100,
    n_jobs: int | None = -1,
    pruner_kwargs: Mapping[str, Any] | None = None,
    prior: Corpus
    | str
    | os.PathLike[str]
    | Sequence[Corpus | str | os.PathLike[str]]
    | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Replay ``orders`` seeded random orders of the corpus's runs with each policy.

    Returns a JSON-ready dict: ``{"corpus", "n_runs", "T", "best", "orders", "seed",
    "decision_steps", "n_estimators", "grid_fractions", "grids": {grid: {"epoch_length"?,
    "policies": {policy: {"setting", "candidates": [...], <metric>_mean/_std ...}}}}}`` with the
    metrics of :func:`weightcast.policy.summarize` (compute, regret, speed-up, speed-up to reach
    the best within 0.5 points, completed runs). ``n_train`` (training examples, for the epoch
    grid) defaults to the corpus's ``n_train`` meta value.

    weightcast's pruners are replayed with ``n_estimators`` trees (100 by default, to fit the
    time budget; live default 400). ``prior``: a corpus of another search with the same T, or a
    list of them, whose finished runs ``wc-prior`` learns from (see :class:`WeightcastPruner`).
    Without ``steps``, ``wc-prior`` gets the pruner's defaults with a prior (the forest at 1
    and 2 % of T on the steps the corpus and the prior recorded, the rung rule at 5-40 % of T,
    ``model_until_rung``; ``"prior_decision_steps"`` and ``"prior_rung_steps"`` in the result),
    the other policies theirs (``"decision_steps"``); ``pruner_kwargs`` override both.
    """
    from weightcast.corpus import Corpus

    if not isinstance(corpus, Corpus):
        corpus = Corpus(corpus)
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; known policies: {POLICIES}")
    if "wc-prior" in policies and prior is None:
        raise ValueError("the wc-prior policy needs a prior corpus (prior=..., --prior)")
    bad_grids = [g for g in grids if g not in GRIDS]
    if bad_grids:
        raise ValueError(f"unknown grids {bad_grids}; known grids: {GRIDS}")
    if isinstance(orders, bool) or not isinstance(orders, int) or orders < 1:
        raise ValueError(f"orders must be a positive integer, got orders={orders!r}")
    if "epoch" in grids and n_train is None:
        n_train = corpus_n_train(corpus)
    if "none" not in policies:
        policies = ("none", *policies)
    say = progress or (lambda _msg: None)
    T = int(corpus.T)
    dec_steps = tuple(
        int(s)
        for s in (
            steps if steps is not None else decision_steps(T, DEFAULT_FRACTIONS, corpus.steps)
        )
    )
    prior_corpora = None if prior is None else open_prior_corpora(prior)
    # wc-prior without --steps: the pruner's defaults with a prior, on the steps both recorded
    prior_kwargs: dict[str, Any] = {}
    if prior_corpora and steps is None and "wc-prior" in policies:
        shared = set(corpus.steps).intersection(*(c.steps for c in prior_corpora))
        prior_kwargs = prior_default_kwargs(T, sorted(shared))
    dense, loaded = load_runs(corpus, sorted(set(dec_steps) | set(prior_kwargs.get("steps", ()))))
    if not dense:
        raise ValueError(f"the corpus at {corpus.path} has no runs")
    best = max((r.final for r in dense if math.isfinite(r.final)), default=math.nan)
    order_list = replay_orders(len(dense), orders, seed)
    dists = _distributions(dense)
    prior_records = None
    if prior_corpora:
        from weightcast.integrations._prior import corpus_prior

        prior_records = corpus_prior(prior_corpora, loaded, val=False, T=T)
    result: dict[str, Any] = {
        "corpus": str(getattr(corpus, "path", "")),
        "n_runs": len(dense),
        "T": T,
        "best": best,
        "orders": orders,
        "seed": seed,
        "decision_steps": list(dec_steps),
        "prior_decision_steps": list(prior_kwargs["steps"]) if prior_kwargs else None,
        "prior_rung_steps": list(prior_kwargs["rung_steps"]) if prior_kwargs else None,
        "n_estimators": n_estimators,
        "grid_fractions": list(grid_fractions),
        "reach_tolerance": REACH_TOLERANCE,
        "prior": None if prior is None else _prior_name(prior),
        "grids": {},
    }
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)
    free_payloads = make_payloads(dense, loaded, weights=True, val=False)
    # eval-free policies do not see the curve: their outcomes are the same on every grid
    free_metrics: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        for grid in grids:
            runs = dense if grid == "dense" else epoch_runs(dense, float(n_train), batch_size)  # type: ignore[arg-type]
            payloads = {w: make_payloads(runs, loaded, weights=w) for w in (False, True)}
            entry: dict[str, Any] = {"policies": {}}
            if grid == "epoch":
                entry["n_train"] = n_train
            base_metrics: list[dict[str, float]] = []
            for policy in policies:
                variants = policy_variants(
                    policy,
                    T,
                    dec_steps,
                    grid_fractions=grid_fractions,
                    n_estimators=n_estimators,
                    n_jobs=n_jobs,
                    seed=seed,
                    pruner_kwargs={**prior_kwargs, **(pruner_kwargs or {})}
                    if policy == "wc-prior"
                    else pruner_kwargs,
                    prior=prior_records,
                )
                candidates = []
                for v_index, variant in enumerate(variants):
                    start = time.perf_counter()
                    metrics = free_metrics.get((policy, v_index), [])
                    for order in order_list if not metrics else ():
                        outcomes = replay_order(
                            runs if variant.curve else dense,
                            order,
                            variant,
                            payloads=payloads[variant.weights] if variant.curve else free_payloads,
                            distributions=dists
                            if variant.setting.get("features") == "all"
                            else None,
                        )
                        metrics.append(order_metrics(outcomes, best))
                    if not variant.curve:
                        free_metrics[(policy, v_index)] = metrics
                    if policy == "none":
                        base_metrics = metrics
                    summary = summarize(metrics, base_metrics)
                    summary["seconds"] = time.perf_counter() - start
                    candidates.append({"setting": dict(variant.setting), **summary})
                    say(
                        f"{grid:5s} {policy:10s} {_fmt_setting(variant.setting):28s} "
                        f"speed-up {summary['speedup_mean']:6.2f}x  regret "
                        f"{summary['regret_mean']:.4f}  ({summary['seconds']:.0f} s)"
                    )
                chosen = choose(candidates)
                entry["policies"][policy] = {
                    **chosen,
                    "candidates": candidates if len(candidates) > 1 else [],
                }
            add_vs_optuna(entry)
            result["grids"][grid] = entry
    finally:
        optuna.logging.set_verbosity(verbosity)
    return result


def corpus_n_train(corpus: Corpus) -> float:
    """Training examples of the corpus's runs: its meta ``n_train``, else its preset's data.

    Raises ValueError when neither tells (give ``n_train=`` to :func:`replay` then).
    """
    n_train = corpus.meta.get("n_train")
    if n_train is not None:
        return float(n_train)
    preset = corpus.meta.get("preset")
    try:
        from weightcast.search import get_preset

        return float(len(get_preset(str(preset)).load_data().y_train))
    except Exception as exc:  # unknown preset, data not available offline, no torch ...
        raise ValueError(
            "the epoch grid needs the number of training examples: the corpus meta has no "
            f"n_train and the data of preset {preset!r} could not be loaded ({exc}); give "
            "n_train=... (--n-train; 1297 for the digits preset)"
        ) from exc


OPTUNA_POLICIES: tuple[str, ...] = ("median", "sha", "hyperband")
"""Optuna's pruners as users run them (fed the validation curve): the bar of issue 5."""


def add_vs_optuna(entry: dict[str, Any]) -> None:
    """Mark the best Optuna pruner of a grid and each policy's compute ratio against it.

    The best is the Optuna pruner (fed the validation curve) with the least mean compute among
    those whose mean regret is within the reach tolerance; ``vs_optuna`` of a policy is that
    compute over the policy's (above 1: the policy needs less). Nothing is added when no Optuna
    pruner was replayed within the tolerance.

    >>> e = {"policies": {"sha": {"compute_mean": 30.0, "regret_mean": 0.0},
    ...                   "wc-free": {"compute_mean": 20.0, "regret_mean": 0.001}}}
    >>> add_vs_optuna(e); e["best_optuna"], e["policies"]["wc-free"]["vs_optuna"]
    ('sha', 1.5)
    """
    rows = entry["policies"]
    ok = [
        p
        for p in OPTUNA_POLICIES
        if p in rows and rows[p]["regret_mean"] <= REACH_TOLERANCE and rows[p]["compute_mean"] > 0
    ]
    if not ok:
        return
    best = min(ok, key=lambda p: rows[p]["compute_mean"])
    entry["best_optuna"] = best
    for row in rows.values():
        row["vs_optuna"] = rows[best]["compute_mean"] / row["compute_mean"]


def choose(candidates: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The best candidate: highest mean speed-up with mean regret within the tolerance.

    If no candidate is within the tolerance, the one with the lowest mean regret.

    >>> choose([{"speedup_mean": 9, "regret_mean": 0.02}, {"speedup_mean": 5, "regret_mean": 0.0}])
    {'speedup_mean': 5, 'regret_mean': 0.0}
    """
    ok = [c for c in candidates if c["regret_mean"] <= REACH_TOLERANCE]
    if ok:
        return dict(max(ok, key=lambda c: c["speedup_mean"]))
    return dict(min(candidates, key=lambda c: (c["regret_mean"], -c["speedup_mean"])))


def _fmt_setting(setting: Mapping[str, Any]) -> str:
    keys = ("min_resource", "n_warmup_steps", "features")
    return " ".join(f"{k}={setting[k]}" for k in keys if k in setting)


def format_replay(result: Mapping[str, Any]) -> str:
    """The replay result as the text table ``weightcast replay`` prints.

    Regret is in accuracy points (0.5 = 0.005); "to reach" is the speed-up in compute until the
    best kept run is within 0.5 points of the best run.
    """
    lines = [
        f"replay of {result['corpus']}: {result['n_runs']} runs, T={result['T']}, best final "
        f"{result['best']:.4f}; {result['orders']} orders (seed {result['seed']}); decision "
        f"steps {' '.join(map(str, result['decision_steps']))}; weightcast forests of "
        f"{result['n_estimators']} trees refitted at {REPLAY_REFIT_GROWTH:.0%} more rows",
    ]
    if result.get("prior_decision_steps"):
        last = max(result["prior_decision_steps"])
        later = [s for s in result.get("prior_rung_steps") or [] if s > last]
        lines.append(
            f"wc-prior (its defaults with a prior): forest at steps "
            f"{' '.join(map(str, result['prior_decision_steps']))}, then the rung rule on the "
            f"training loss at {' '.join(map(str, later))}"
        )
    header = (
        f"{'policy':11s} {'setting':24s} {'compute':>17s} {'speed-up':>9s} "
        f"{'regret (pts)':>13s} {'to reach':>9s} {'completed':>9s} {'vs Optuna':>9s}"
    )
    for grid, entry in result["grids"].items():
        title = (
            "curve as recorded in the corpus"
            if grid == "dense"
            else (f"curve once per epoch (n_train={entry.get('n_train')})")
        )
        lines += ["", f"[{grid}] {title}", header]
        tried = []
        for policy, row in entry["policies"].items():
            lines.append(
                f"{policy:11s} {_fmt_setting(row['setting']):24s} "
                f"{row['compute_mean']:>9.0f} ± {row['compute_std']:<5.0f} "
                f"{row['speedup_mean']:>8.2f}x "
                f"{100 * row['regret_mean']:>6.2f} ± {100 * row['regret_std']:<4.2f} "
                f"{row['speedup_to_reach_mean']:>8.2f}x {row['n_completed_mean']:>9.1f} "
                f"{_fmt_ratio(row.get('vs_optuna'))}"
            )
            if row.get("candidates"):
                cells = [
                    f"{_fmt_setting(c['setting'])}: {c['speedup_mean']:.2f}x, "
                    f"{100 * c['regret_mean']:.2f} pts"
                    for c in row["candidates"]
                ]
                tried.append(f"  {policy} grid: " + "; ".join(cells))
        if entry.get("best_optuna"):
            lines.append(
                f"vs Optuna: compute of the best Optuna pruner within 0.5 points of regret "
                f"({entry['best_optuna']}) over the policy's"
            )
        if tried:
            lines += ["grids tried (chosen: best speed-up with regret <= 0.5 pts):", *tried]
    return "\n".join(lines)


def _fmt_ratio(value: float | None) -> str:
    return f"{value:>8.2f}x" if value is not None and math.isfinite(value) else f"{'-':>9s}"


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None and tuples as lists, for strict JSON.

    >>> jsonable({"a": float("inf"), "b": (1, 2.5)})
    {'a': None, 'b': [1, 2.5]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
