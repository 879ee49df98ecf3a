"""A tiny objective for the pruner tests: a curve that rises to ``x``; run as a worker script.

``python -m tests.integrations._objective STORAGE STUDY N_TRIALS SEED`` joins the study in the
journal file STORAGE and runs N_TRIALS trials.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import optuna

from weightcast.integrations.optuna import TrialReporter

T = 60


def layers(x: float, step: int) -> dict[str, np.ndarray]:
    """Weights that move with ``x`` (for the weights variants)."""
    rng = np.random.default_rng(step)
    return {
        "conv": (1 + x * step / T) * rng.standard_normal((4, 2, 3, 3)),
        "fc": (0.5 + x * step / T) * rng.standard_normal((3, 8)),
    }


def objective(trial: optuna.Trial, *, diverge_below: float = -1.0, weights: bool = False) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    reporter = TrialReporter(trial, taus=(5,))
    reporter.on_train_step(layers(x, 0) if weights else None, 0, math.nan)
    for step in range(1, T + 1):
        loss = math.nan if x < diverge_below and step >= 3 else 2.0 - x * step / T
        reporter.on_train_step(layers(x, step) if weights else None, step, loss)
        if step % 5 == 0:
            reporter.on_eval(step, x * step / T)
    return x


def main() -> None:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from weightcast.integrations.optuna import WeightcastPruner

    path, name, n_trials, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(path))
    pruner = WeightcastPruner(
        "lc", steps=[5, 10, 20], n_startup_trials=2, min_train=4, n_estimators=10, n_jobs=1
    )
    study = optuna.load_study(
        study_name=name,
        storage=storage,
        pruner=pruner,
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    study.optimize(objective, n_trials=n_trials)


if __name__ == "__main__":
    main()
