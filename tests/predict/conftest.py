"""Corpora for the predict and analysis tests: a hand-made one with known values, a synthetic one."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from weightcast.corpus import create_corpus, write_run
from weightcast.corpus.testing import SyntheticResult, make_synthetic_corpus

RAW = ("conv_last.raw.all.std", "conv_last.raw.all.kurt", "fc1.raw.all.std")
DELTA = ("conv_last.delta.all.std", "conv_last.delta.all.kurt", "fc1.delta.all.std")


def _run(acc: float, hp: dict, raw: dict, delta: dict, diverged_step: int | None = None):
    steps = [0, 5, 10, 15, 20]
    loss = [2.0, 1.0, 0.5, 0.25, 0.125]
    val = [0.125, 0.25, 0.5, 0.75, acc]
    if diverged_step is not None:
        loss = [math.nan if s >= diverged_step else v for s, v in zip(steps, loss, strict=True)]
    return SyntheticResult(
        hparams=hp,
        seed=0,
        final_acc=acc,
        status="ok" if diverged_step is None else "diverged",
        diverged_step=diverged_step,
        wall_time=1.0,
        feature_time=0.1,
        T=20,
        eval_cost=1.0,
        curve=pd.DataFrame({"step": steps, "train_loss": loss, "val_acc": val}),
        raw=pd.DataFrame([{"t": t, **dict(zip(RAW, v, strict=True))} for t, v in raw.items()]),
        delta=pd.DataFrame(
            [
                {"t": t, "tau": tau, **dict(zip(DELTA, v, strict=True))}
                for (t, tau), v in delta.items()
            ]
        ),
    )


def make_tiny_corpus(path: Path) -> Path:
    """Three runs, steps [5, 10], tau 5; run 1 diverges at step 10. Values exact in float32."""
    meta = dict(preset="tiny", T=20, eval_every=5, steps=[5, 10], taus=[5], design="random", seed=0)
    root = create_corpus(path, meta)
    runs = [
        _run(
            0.875,
            {"lr": 0.01, "act": "relu"},
            {5: (1.0, 3.0, 2.0), 10: (1.5, 3.5, 2.5)},
            {(5, 5): (0.5, 4.0, 0.25), (10, 5): (0.375, 4.5, 0.5)},
        ),
        _run(
            0.125,
            {"lr": 0.1, "act": "tanh"},
            {5: (8.0, 9.0, 16.0)},
            {(5, 5): (4.0, 5.0, 2.0)},
            diverged_step=10,
        ),
        _run(
            0.5,
            {"lr": 0.001, "act": "relu"},
            {5: (0.5, 3.0, 1.0), 10: (0.75, 3.25, 1.25)},
            {(5, 5): (0.125, 3.0, 0.0625), (10, 5): (0.25, 3.0, 0.125)},
        ),
    ]
    for i, result in enumerate(runs):
        write_run(root, f"run-{i:06d}", i, result)
    return root


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    return make_tiny_corpus(tmp_path / "tiny")


@pytest.fixture(scope="session")
def synthetic_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 synthetic runs (weightcast.corpus.testing), low noise: the structure is known."""
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("syn") / "c", n_runs=40, seed=0, noise=0.002
    )
