"""Small synthetic corpora with a known structure, for the tests of the modules that read corpora.

``make_synthetic_corpus(path, n_runs, seed)`` writes a valid schema-1 corpus in well under a
second, without torch. Run ``i`` is drawn from ``numpy.random.default_rng([seed, i])`` (so a
corpus of 20 runs is the first 20 runs of one of 40 with the same seed):

hyperparameters (``Corpus.hparams()``)
    ``lr = 10**u`` with ``u ~ U(-5, -1)``; ``momentum`` in {0.0, 0.5, 0.9}; ``activation`` in
    {"relu", "tanh", "sigmoid"}; ``batch_size`` in {20, 50, 100}.

quality and eventual accuracy (:func:`synthetic_final_acc`)
    ``q = exp(-(log10(lr) + 2.5)**2 / 2) * (0.8 if activation == "sigmoid" else 1.0)``;
    ``final_acc = 0.1 + 0.89 * q`` for runs with status "ok"; 0.1 (chance) for diverged runs.

divergence
    each run diverges with probability ``diverged_share`` (status "diverged"), at a
    ``diverged_step`` drawn uniformly from ``steps[1:]``: it has features only at ``t <
    diverged_step``, and from that step on its curve has ``train_loss = nan``, ``val_acc = 0.1``.

features at each recorded ``t`` (raw) and ``(t, tau)`` with ``tau <= t`` (delta), plus
Gaussian noise of standard deviation ``noise``:

    ================================  ===================================
    ``conv_last.raw.all.mean``        ``q * t / T``        (informative)
    ``conv_last.raw.all.std``         ``0.1``              (noise only)
    ``conv_first.raw.all.mean``       ``0.5 * q * t / T``
    ``fc1.raw.all.mean``              ``0``                (noise only)
    ``conv_last.delta.all.std``       ``q * tau / T``      (the most informative)
    ``conv_last.delta.all.mean``      ``0``                (noise only)
    ``conv_first.delta.all.std``      ``0.5 * q * tau / T``
    ``fc1.delta.all.std``             ``0``                (noise only)
    ================================  ===================================

curve, at steps ``0, eval_every, ..., T``: ``val_acc = final_acc * (1 - exp(-3 step / T))``,
``train_loss = 2.3 * (1 - 0.9 q (1 - exp(-3 step / T)))``, each plus noise (val_acc clipped
to [0, 1]).

Also in run.json: ``seed = seed * 100003 + i``, ``wall_time = 1 + i / 100``,
``feature_time = 0.1``, ``eval_cost = 1000 / (3 * batch_size)``, ``T = T``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from weightcast.corpus._schema import run_id_for
from weightcast.corpus._writer import create_corpus, write_run

__all__ = [
    "FakePreset",
    "SyntheticResult",
    "fake_run",
    "make_synthetic_corpus",
    "synthetic_final_acc",
    "synthetic_result",
]


@dataclass
class SyntheticResult:
    """A run result with the fields of ``weightcast.search.TrialResult``."""

    hparams: dict[str, Any]
    seed: int
    final_acc: float
    status: str
    diverged_step: int | None
    wall_time: float
    feature_time: float
    T: int
    eval_cost: float
    curve: pd.DataFrame = field(repr=False)
    raw: pd.DataFrame = field(repr=False)
    delta: pd.DataFrame = field(repr=False)


def synthetic_quality(hparams: Mapping[str, Any]) -> float:
    """The latent quality q in [0, 1] of a synthetic run (see the module docstring)."""
    q = math.exp(-((math.log10(float(hparams["lr"])) + 2.5) ** 2) / 2)
    return q * (0.8 if hparams.get("activation") == "sigmoid" else 1.0)


def synthetic_final_acc(hparams: Mapping[str, Any], status: str = "ok") -> float:
    """The eventual accuracy of a synthetic run: ``0.1 + 0.89 q``, or 0.1 if it diverged.

    >>> round(synthetic_final_acc({"lr": 10**-2.5, "activation": "relu"}), 6)
    0.99
    >>> synthetic_final_acc({"lr": 1e-3}, status="diverged")
    0.1
    """
    return 0.1 if status == "diverged" else 0.1 + 0.89 * synthetic_quality(hparams)


def synthetic_hparams(rng: np.random.Generator) -> dict[str, Any]:
    """Draw one synthetic configuration."""
    return {
        "lr": float(10 ** rng.uniform(-5, -1)),
        "momentum": float(rng.choice([0.0, 0.5, 0.9])),
        "activation": str(rng.choice(["relu", "tanh", "sigmoid"])),
        "batch_size": int(rng.choice([20, 50, 100])),
    }


def synthetic_result(
    steps: Sequence[int] = (0, 10, 20, 50, 100),
    taus: Sequence[int] = (5, 10),
    T: int = 200,  # noqa: N803 - the paper's name
    *,
    eval_every: int = 10,
    hparams: Mapping[str, Any] | None = None,
    diverged_step: int | None = None,
    seed: int = 0,
    noise: float = 0.01,
    rng: np.random.Generator | None = None,
) -> SyntheticResult:
    """One synthetic run (see the module docstring for its structure).

    >>> r = synthetic_result(steps=[0, 10], taus=[5], T=100, diverged_step=10)
    >>> r.status, r.raw["t"].tolist(), len(r.delta)
    ('diverged', [0], 0)
    """
    rng = rng if rng is not None else np.random.default_rng(seed)
    hp = dict(hparams) if hparams is not None else synthetic_hparams(rng)
    status = "ok" if diverged_step is None else "diverged"
    q = synthetic_quality(hp)
    acc = synthetic_final_acc(hp, status)
    end = math.inf if diverged_step is None else diverged_step

    def noisy(value: float) -> float:
        return value + noise * float(rng.standard_normal())

    curve_steps = list(range(0, T + 1, eval_every))
    val_acc, train_loss = [], []
    for s in curve_steps:
        progress = 1 - math.exp(-3 * s / T)
        if s >= end:
            val_acc.append(0.1)
            train_loss.append(math.nan)
        else:
            val_acc.append(min(max(noisy(acc * progress), 0.0), 1.0))
            train_loss.append(noisy(2.3 * (1 - 0.9 * q * progress)))
    curve = pd.DataFrame({"step": curve_steps, "train_loss": train_loss, "val_acc": val_acc})

    raw_means: dict[str, Callable[[int], float]] = {
        "conv_last.raw.all.mean": lambda t: q * t / T,
        "conv_last.raw.all.std": lambda t: 0.1,
        "conv_first.raw.all.mean": lambda t: 0.5 * q * t / T,
        "fc1.raw.all.mean": lambda t: 0.0,
    }
    delta_means: dict[str, Callable[[int], float]] = {
        "conv_last.delta.all.std": lambda tau: q * tau / T,
        "conv_last.delta.all.mean": lambda tau: 0.0,
        "conv_first.delta.all.std": lambda tau: 0.5 * q * tau / T,
        "fc1.delta.all.std": lambda tau: 0.0,
    }
    raw_rows = [
        {"t": t, **{c: noisy(f(t)) for c, f in raw_means.items()}} for t in steps if t < end
    ]
    delta_rows = [
        {"t": t, "tau": tau, **{c: noisy(f(tau)) for c, f in delta_means.items()}}
        for t in steps
        if t < end
        for tau in taus
        if tau <= t
    ]
    return SyntheticResult(
        hparams=hp,
        seed=seed,
        final_acc=acc,
        status=status,
        diverged_step=diverged_step,
        wall_time=1.0,
        feature_time=0.1,
        T=T,
        eval_cost=1000 / (3 * int(hp.get("batch_size", 100))),
        curve=curve,
        raw=pd.DataFrame(raw_rows, columns=["t", *raw_means]),
        delta=pd.DataFrame(delta_rows, columns=["t", "tau", *delta_means]),
    )


def make_synthetic_corpus(
    path: str | os.PathLike[str],
    n_runs: int = 40,
    seed: int = 0,
    *,
    steps: Sequence[int] = (0, 10, 20, 50, 100),
    taus: Sequence[int] = (5, 10),
    T: int = 200,  # noqa: N803 - the paper's name
    eval_every: int = 10,
    diverged_share: float = 0.2,
    noise: float = 0.01,
) -> Path:
    """Write a synthetic corpus of ``n_runs`` runs at ``path`` and return ``path``.

    Its corpus.json has ``preset="synthetic"``, ``design="random"``; the structure of the runs
    is described in the module docstring of :mod:`weightcast.corpus.testing`.

    >>> import tempfile
    >>> from weightcast.corpus import Corpus
    >>> c = Corpus(make_synthetic_corpus(tempfile.mkdtemp() + "/c", n_runs=10, seed=1))
    >>> len(c), sorted(c.runs()["status"].unique())
    (10, ['diverged', 'ok'])
    """
    if n_runs < 0:
        raise ValueError(f"n_runs is >= 0, got {n_runs}")
    if not 0 <= diverged_share <= 1:
        raise ValueError(f"diverged_share is in [0, 1], got {diverged_share}")
    steps = sorted(int(s) for s in steps)
    meta = {
        "preset": "synthetic",
        "T": T,
        "eval_every": eval_every,
        "steps": steps,
        "taus": [int(t) for t in taus],
        "design": "random",
        "seed": seed,
        "n_runs": n_runs,
    }
    root = create_corpus(path, meta)
    for i in range(n_runs):
        rng = np.random.default_rng([seed, i])
        hp = synthetic_hparams(rng)
        diverges = rng.random() < diverged_share and len(steps) > 1
        diverged_step = int(rng.choice(steps[1:])) if diverges else None
        result = synthetic_result(
            steps,
            taus,
            T,
            eval_every=eval_every,
            hparams=hp,
            diverged_step=diverged_step,
            seed=seed * 100003 + i,
            noise=noise,
            rng=rng,
        )
        result.wall_time = 1.0 + i / 100
        write_run(root, run_id_for(i), i, result)
    return root


@dataclass(frozen=True)
class FakePreset:
    """A stand-in for ``weightcast.search.Preset`` that trains nothing: with :func:`fake_run` it
    drives ``weightcast.corpus.collect`` in milliseconds per run.

    >>> FakePreset().sample(2, seed=0, design="random") == FakePreset().sample(3, 0, "random")[:2]
    True
    """

    name: str = "fake"
    T: int = 100  # noqa: N815 - the paper's name
    eval_every: int = 10
    steps: tuple[int, ...] = (0, 10, 20, 50)
    taus: tuple[int, ...] = (5, 10)

    def sample(self, n: int, seed: int, design: str = "random") -> list[dict[str, Any]]:
        """``n`` synthetic configurations, prefix-stable in ``n`` (``design`` is not used)."""
        return [synthetic_hparams(np.random.default_rng([seed, i])) for i in range(n)]


def fake_run(
    preset: FakePreset, hparams: Mapping[str, Any], seed: int, data: Any = None
) -> SyntheticResult:
    """A run function with the signature of ``weightcast.search.run_trial``: the synthetic run
    of ``hparams`` on ``preset``'s grid, without noise; runs with ``lr > 0.05`` diverge at
    ``preset.steps[-1]``.

    >>> fake_run(FakePreset(), {"lr": 0.1, "activation": "relu"}, seed=1).status
    'diverged'
    """
    diverged = float(hparams["lr"]) > 0.05 and len(preset.steps) > 1
    return synthetic_result(
        preset.steps,
        preset.taus,
        preset.T,
        eval_every=preset.eval_every,
        hparams=hparams,
        diverged_step=preset.steps[-1] if diverged else None,
        seed=seed,
        noise=0.0,
    )
