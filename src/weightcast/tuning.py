"""Live hyperparameter searches with weightcast's pruner: ``weightcast tune`` and ``weightcast demo``.

A search here is an Optuna study over a preset's space. Trial ``i`` trains the ``i``-th
configuration of the preset's seeded sample with the corpus seed of run ``i`` (the same runs a
``weightcast collect`` of that preset and seed records), so a search can be compared run by run
with a recorded corpus of the same preset: the unpruned outcome of every configuration it tried
is known without training it again.

Compute is counted as in the replay benchmark: training iterations plus, for every validation
pass, ``eval_cost`` iteration-equivalents (weight features cost nothing).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightcast._imports import require
from weightcast.corpus import Corpus, CorpusError, run_seed
from weightcast.integrations._names import check_report
from weightcast.search import Preset, get_preset, run_trial

COST_KEY = "weightcast:cost"
"""Trial user attribute: the compute a trial spent (iterations + validation passes)."""
FULL_COST_KEY = "weightcast:full_cost"
"""Trial user attribute: the compute the trial would have spent unpruned."""
INDEX_KEY = "weightcast:index"
"""Trial user attribute: the index of the trial's configuration in the preset's sample."""


@dataclass
class TuneSummary:
    """What a search did: trials by state, the best trial, and the compute it spent.

    ``full_cost`` is what the same trials would have cost run to the end; ``saving`` is
    ``full_cost / cost``. ``reference`` (when a recorded corpus of the same preset and seed was
    found) holds the unpruned best of the same configurations and the regret of the search.
    """

    preset: str
    n_trials: int
    completed: int
    pruned: int
    failed: int
    best_value: float | None
    best_params: dict[str, Any]
    best_trial: int | None
    cost: float
    full_cost: float
    wall_time: float
    storage: str
    study_name: str
    reference: dict[str, Any] | None = field(default=None)

    @property
    def saving(self) -> float:
        """How many times less compute than the same trials unpruned."""
        return self.full_cost / self.cost if self.cost > 0 else math.inf

    def format(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"{self.n_trials} trials of preset {self.preset!r} in {self.wall_time:.0f} s: "
            f"{self.completed} completed, {self.pruned} pruned, {self.failed} failed",
        ]
        if self.best_value is not None:
            lines.append(f"best accuracy {self.best_value:.4f} (trial {self.best_trial})")
            params = ", ".join(f"{k}={v}" for k, v in sorted(self.best_params.items()))
            lines.append(f"best configuration: {params}")
        lines.append(
            f"compute: {self.cost:,.0f} iteration-equivalents against {self.full_cost:,.0f} for "
            f"the same trials unpruned: {self.saving:.2f}x less"
        )
        ref = self.reference
        if ref is not None:
            lines.append(
                f"unpruned, the same {ref['n']} configurations reach {ref['best']:.4f} "
                f"(recorded in {ref['corpus']}): regret {ref['regret'] * 100:.2f} points"
            )
        lines.append(f"study {self.study_name!r} in {self.storage}")
        return "\n".join(lines)


def full_cost(preset: Preset, eval_cost: float, curve: bool = True) -> float:
    """The compute of one unpruned run: ``T`` iterations plus every validation pass.

    ``curve=False``: a run that is evaluated only before and after training (a search that
    prunes on weights and the training loss needs no learning curve; neither does an unpruned
    one).

    >>> from weightcast.search import get_preset
    >>> full_cost(get_preset("digits"), 0.5)  # 1,000 iterations, 101 evaluations
    1050.5
    >>> full_cost(get_preset("digits"), 0.5, curve=False)  # evaluations at 0 and T only
    1001.0
    """
    n_evals = preset.T // preset.eval_every + 1 if curve else 2
    return float(preset.T + n_evals * eval_cost)


class _CostMeter:
    """A run_trial callback that counts iterations and validation passes as they happen."""

    def __init__(self) -> None:
        self.step = 0
        self.evals = 0

    def on_train_step(self, model: object, step: int, loss: float) -> None:
        self.step = max(self.step, int(step))

    def on_eval(self, step: int, val_acc: float) -> None:
        self.evals += 1


def make_objective(
    preset: Preset, seed: int = 0, data: Any = None, report: str = "val"
) -> Callable[[Any], float]:
    """The Optuna objective of a search over ``preset``: trial ``i`` trains configuration ``i``.

    The trial's parameters are set with ``suggest_categorical`` to the sampled values (so that
    Optuna's tables and ``best_params`` show them); its weight features and learning curve go to
    the study's pruner through :class:`weightcast.integrations.optuna.TrialReporter`.
    ``report="loss"``: no validation pass during training (only before it and at ``T``); the
    pruner gets the weights and the training loss (the reporter's ``report="loss"``).

    >>> from weightcast.search import get_preset
    >>> callable(make_objective(get_preset("digits")))
    True
    """
    optuna = require("optuna")
    from weightcast.integrations.optuna import TrialReporter

    curve = check_report(report) == "val"
    run_preset = preset if curve else dataclasses.replace(preset, eval_every=preset.T)

    def objective(trial: Any) -> float:
        index = trial.number
        sampled = preset.sample(index + 1, seed)[index]
        # The study's sampler returns the sampled values; suggesting them records them in
        # Optuna's tables (best_params, dashboards). Values outside the space are kept as given.
        hparams = {
            name: trial.suggest_categorical(name, values) if value in values else value
            for name, value in sampled.items()
            for values in [_values_of(preset, name)]
        }
        meter = _CostMeter()
        callbacks: list[object] = [meter]
        if hasattr(trial.study.pruner, "decision_steps"):  # a weightcast pruner
            callbacks.append(TrialReporter(trial, taus=preset.taus, report=report))
        trial.set_user_attr(INDEX_KEY, index)
        eval_cost = preset.n_val / (3 * int(hparams["batch_size"]))
        trial.set_user_attr(FULL_COST_KEY, full_cost(preset, eval_cost, curve))
        try:
            # the reporter computes the features the pruner needs; the corpus recorder is not run
            result = run_trial(
                run_preset,
                hparams,
                seed=run_seed(seed, index),
                data=data,
                callbacks=callbacks,
                record=False,
            )
        except optuna.TrialPruned:
            trial.set_user_attr(COST_KEY, meter.step + meter.evals * eval_cost)
            raise
        trial.set_user_attr(COST_KEY, meter.step + meter.evals * eval_cost)
        return float(result.final_acc)

    return objective


def _values_of(preset: Preset, name: str) -> tuple[Any, ...]:
    for h in preset.space:
        if h.name == name:
            return tuple(h.values)
    return ()


def _pin_sampler(preset: Preset, seed: int) -> Any:
    """A sampler that returns, for trial ``i``, the ``i``-th configuration of the sample."""
    optuna = require("optuna")

    class PresetSampler(optuna.samplers.BaseSampler):  # type: ignore[misc,name-defined]
        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(
            self, study: Any, trial: Any, search_space: dict[str, Any]
        ) -> dict[str, Any]:
            return {}

        def sample_independent(
            self, study: Any, trial: Any, param_name: str, param_distribution: Any
        ) -> Any:
            return preset.sample(trial.number + 1, seed)[trial.number][param_name]

    return PresetSampler()


def _make_pruner(
    preset: Preset,
    features: str,
    seed: int,
    prior: Sequence[str] = (),
    report: str = "val",
    pruner_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    require("optuna")
    from weightcast.integrations.optuna import WeightcastPruner

    if features == "none":
        import optuna

        return optuna.pruners.NopPruner()
    # A live search starts cold and in a fixed order, unlike the replay's shuffled orders: the
    # rung fallback waits for 10 finished trials and decides from 5 % of T on, where digits
    # curves first separate slow starters from runs that never learn (measured: with the
    # replay-tuned defaults, 2 trials and 1 % of T, the demo pruned its best run at step 5).
    # With a prior too: the pruner's prior defaults (forest at 1 and 2 % of T, then the loss
    # rungs), chosen on replays, lost the best run of 1-2 of 5 live 60-trial searches
    # (benchmarks/bench_live.py, README); this setting lost none, at 15-35 % more compute.
    # pruner_kwargs={"fractions": None} gives the prior defaults.
    kwargs: dict[str, Any] = {
        "T": preset.T,
        "fractions": (0.05, 0.1, 0.2, 0.4),
        "n_startup_trials": 10,
        "n_estimators": 100,  # as in the replay; 400 trees on a 750-run prior take minutes a fit
        "seed": seed,
        "n_jobs": 1,
        "prior": list(prior) or None,
        "prior_val": report == "val",
        **(pruner_kwargs or {}),
    }
    return WeightcastPruner(features, **kwargs)


def _worker(
    preset_name: str,
    storage: str,
    study_name: str,
    n_trials: int,
    features: str,
    report: str,
    seed: int,
    data_path: str | None,
    prior: Sequence[str] = (),
    pruner_kwargs: Mapping[str, Any] | None = None,
) -> None:
    optuna = require("optuna")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    preset = get_preset(preset_name)
    data = preset.load_data(data_path)
    study = optuna.load_study(
        study_name=study_name,
        storage=_storage(storage),
        sampler=_pin_sampler(preset, seed),
        pruner=_make_pruner(preset, features, seed, prior, report, pruner_kwargs),
    )
    stop = optuna.study.MaxTrialsCallback(n_trials, states=None)
    study.optimize(
        make_objective(preset, seed, data, report), callbacks=[stop], catch=(RuntimeError,)
    )


def _storage(url: str) -> Any:
    """An Optuna storage for ``url``: a journal file for ``journal:PATH``, else RDB."""
    optuna = require("optuna")
    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len("journal:") :]))
    return url


def tune(
    preset: str | Preset = "digits",
    n_trials: int = 100,
    *,
    workers: int = 1,
    storage: str | None = None,
    study_name: str | None = None,
    features: str = "all",
    report: str = "val",
    seed: int = 0,
    data_path: str | None = None,
    reference: str | os.PathLike[str] | None = None,
    prior: Sequence[str | os.PathLike[str]] = (),
    pruner_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> TuneSummary:
    """Run a live search of ``n_trials`` trials over ``preset`` with weightcast's pruner.

    ``workers`` processes share one study in ``storage`` (an RDB URL such as
    ``sqlite:///study.db``, or ``journal:PATH`` for Optuna's journal file; default: a journal
    file in a temporary folder); more workers or machines can join the same study with the same
    ``storage`` and ``study_name``. ``features`` is the pruner's feature set (``"lc"``,
    ``"weights"``, ``"weights+lc"``, ``"all"``) or ``"none"`` for no pruning. ``reference``: a
    corpus recorded with the same preset and seed, to report the unpruned best of the same
    configurations and the regret. ``report="loss"``: the trials evaluate nothing during
    training (only at the end); the pruner decides on weights and the training loss, and the
    unpruned compute it is compared with is that of runs without a learning curve too.
    ``prior``: corpora of earlier searches of the same kind (same preset and T), whose finished
    runs the pruner learns from from the first trial on (features ``"weights"`` or
    ``"weights+lc"``; see :class:`~weightcast.integrations.optuna.WeightcastPruner`).
    ``pruner_kwargs``: arguments of
    :class:`~weightcast.integrations.optuna.WeightcastPruner` over the live defaults (10
    finished trials before anything is pruned, decisions at 5, 10, 20 and 40 % of T, with or
    without a prior; ``{"fractions": None}`` with a prior: the pruner's prior defaults).

    >>> tune("digits", n_trials=0, progress=False).n_trials  # doctest: +SKIP
    0
    """
    optuna = require("optuna")
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise ValueError(f"n_trials must be a non-negative integer, got {n_trials!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if features not in ("none", "lc", "weights", "weights+lc", "all"):
        raise ValueError(
            f"features must be one of none, lc, weights, weights+lc, all; got {features!r}"
        )
    if check_report(report) == "loss" and features == "lc":
        raise ValueError(
            "features='lc' needs the validation curve: use report='val', or features "
            "'weights', 'weights+lc' or 'all' with report='loss'"
        )
    prior_paths = [str(p) for p in prior]
    if prior_paths and features not in ("weights", "weights+lc"):
        raise ValueError(
            f"a prior needs features 'weights' or 'weights+lc', got features={features!r}"
        )
    the_preset = get_preset(preset) if isinstance(preset, str) else preset
    if not isinstance(preset, str) and workers > 1:
        raise ValueError("workers > 1 needs a preset name (worker processes look it up)")
    the_preset.load_data(data_path)  # fail early, with the dataset's own message, if missing
    if storage is None:
        folder = tempfile.mkdtemp(prefix="weightcast-tune-")
        storage = f"journal:{Path(folder) / 'study.journal'}"
    study_name = study_name or f"weightcast-{the_preset.name}-seed{seed}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=study_name,
        storage=_storage(storage),
        direction="maximize",
        load_if_exists=True,
        sampler=_pin_sampler(the_preset, seed),
        pruner=_make_pruner(the_preset, features, seed, prior_paths, report, pruner_kwargs),
    )
    start = time.perf_counter()
    procs: list[Any] = []
    ctx = mp.get_context("spawn")
    for _ in range(workers - 1):
        p = ctx.Process(
            target=_worker,
            args=(
                the_preset.name,
                storage,
                study_name,
                n_trials,
                features,
                report,
                seed,
                data_path,
                prior_paths,
                dict(pruner_kwargs or {}),
            ),
        )
        p.start()
        procs.append(p)
    bar = _progress_bar(study, n_trials, progress)
    stop = optuna.study.MaxTrialsCallback(n_trials, states=None)
    callbacks = [stop] if bar is None else [stop, bar]
    try:
        if n_trials > 0:
            study.optimize(
                make_objective(the_preset, seed, the_preset.load_data(data_path), report),
                callbacks=callbacks,
                catch=(RuntimeError,),
            )
        for p in procs:
            p.join()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
        if bar is not None:
            bar.close()
    return _summarize(study, the_preset, storage, study_name, seed, reference, start)


class _Bar:
    """An Optuna callback that drives a tqdm bar: trials done, pruned, best so far."""

    def __init__(self, study: Any, total: int) -> None:
        tqdm = require("tqdm", "cli").tqdm
        self.bar = tqdm(total=total, unit="trial", desc="tune")
        self.done = 0

    def __call__(self, study: Any, trial: Any) -> None:
        trials = study.get_trials(deepcopy=False)
        finished = [t for t in trials if t.state.is_finished()]
        pruned = sum(t.state.name == "PRUNED" for t in finished)
        values = [t.value for t in finished if t.state.name == "COMPLETE" and t.value is not None]
        self.bar.update(min(len(finished), self.bar.total) - self.done)
        self.done = min(len(finished), self.bar.total)
        best = f"{max(values):.3f}" if values else "-"
        self.bar.set_postfix(pruned=pruned, best=best)

    def close(self) -> None:
        self.bar.close()


def _progress_bar(study: Any, total: int, progress: bool) -> _Bar | None:
    return _Bar(study, total) if progress and total > 0 else None


def _summarize(
    study: Any,
    preset: Preset,
    storage: str,
    study_name: str,
    seed: int,
    reference: str | os.PathLike[str] | None,
    start: float,
) -> TuneSummary:
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    states = [t.state.name for t in trials]
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.value is not None]
    best = max(complete, key=lambda t: t.value) if complete else None
    cost = sum(float(t.user_attrs.get(COST_KEY, 0.0)) for t in trials)
    full = sum(float(t.user_attrs.get(FULL_COST_KEY, 0.0)) for t in trials)
    summary = TuneSummary(
        preset=preset.name,
        n_trials=len(trials),
        completed=states.count("COMPLETE"),
        pruned=states.count("PRUNED"),
        failed=states.count("FAIL"),
        best_value=None if best is None else float(best.value),
        best_params={} if best is None else dict(best.params),
        best_trial=None if best is None else best.number,
        cost=cost,
        full_cost=full,
        wall_time=time.perf_counter() - start,
        storage=storage,
        study_name=study_name,
    )
    if reference is not None and trials:
        summary.reference = compare_with_corpus(
            reference,
            preset,
            seed,
            [int(t.user_attrs.get(INDEX_KEY, t.number)) for t in trials],
            summary.best_value,
        )
    return summary


def compare_with_corpus(
    path: str | os.PathLike[str],
    preset: Preset,
    seed: int,
    indices: list[int],
    best_value: float | None,
) -> dict[str, Any] | None:
    """The unpruned best of the configurations ``indices`` as recorded in the corpus at ``path``.

    Returns None when the corpus is missing, of another preset or seed, or lacks some of them.
    """
    try:
        corpus = Corpus(path)
    except CorpusError:
        return None
    if corpus.meta.get("preset") != preset.name or int(corpus.meta.get("seed", -1)) != seed:
        return None
    runs = corpus.runs()
    by_index = dict(zip(runs["index"].tolist(), runs["final_acc"].tolist(), strict=True))
    if any(i not in by_index for i in indices):
        return None
    best = max(by_index[i] for i in indices)
    regret = best - (best_value if best_value is not None else 0.0)
    return {"corpus": str(path), "n": len(indices), "best": float(best), "regret": float(regret)}
