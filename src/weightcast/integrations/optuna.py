"""Optuna integration: the pruner, the trial-side reporter, and the replay benchmark.

Use it in an objective like this (``run_trial`` of :mod:`weightcast.search` takes the reporter
as a callback; any PyTorch loop can call its two hooks)::

    import optuna
    from weightcast.integrations.optuna import TrialReporter, WeightcastPruner

    def objective(trial):
        hparams = {"lr": trial.suggest_float("lr", 1e-5, 0.1, log=True)}
        reporter = TrialReporter(trial, taus=(10,))
        result = run_trial(preset, hparams, seed=trial.number, callbacks=[reporter])
        return result.final_acc

    study = optuna.create_study(direction="maximize", pruner=WeightcastPruner("all", T=preset.T))
    study.optimize(objective, n_trials=200)

:func:`replay` replays a recorded corpus with Optuna's pruners and weightcast's (the
``weightcast replay`` command).
"""

from __future__ import annotations

from weightcast.integrations._attrs import (
    DIVERGED_KEY,
    decode_features,
    encode_features,
    features_key,
)
from weightcast.integrations._prior import corpus_prior
from weightcast.integrations._pruner import WeightcastPruner
from weightcast.integrations._replay import (
    GRID_FRACTIONS,
    GRIDS,
    POLICIES,
    PolicyVariant,
    choose,
    epoch_runs,
    format_replay,
    jsonable,
    load_runs,
    make_payloads,
    policy_variants,
    replay,
    replay_order,
    replay_orders,
)
from weightcast.integrations._reporter import TrialReporter

__all__ = [
    "DIVERGED_KEY",
    "GRIDS",
    "GRID_FRACTIONS",
    "POLICIES",
    "PolicyVariant",
    "TrialReporter",
    "WeightcastPruner",
    "choose",
    "corpus_prior",
    "decode_features",
    "encode_features",
    "epoch_runs",
    "format_replay",
    "jsonable",
    "features_key",
    "load_runs",
    "make_payloads",
    "policy_variants",
    "replay",
    "replay_order",
    "replay_orders",
]
