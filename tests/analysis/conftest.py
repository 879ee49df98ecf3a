"""A synthetic corpus and a small, fast experiment over it for the analysis tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from weightcast.analysis import Experiment
from weightcast.corpus.testing import make_synthetic_corpus


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 runs (weightcast.corpus.testing): conv_last carries the quality q, fc1 only noise."""
    return make_synthetic_corpus(
        tmp_path_factory.mktemp("an") / "c", n_runs=40, seed=0, noise=0.002
    )


@pytest.fixture(scope="session")
def exp(corpus_path: Path) -> Experiment:
    return Experiment(corpus_path, repeats=2, n_estimators=25, n_jobs=1)


def make_signal_corpus(path: Path, n_runs: int = 40, seed: int = 0) -> Path:
    """Runs where only ``conv_last.delta.all.std`` carries the eventual accuracy; the other
    weight features are independent noise."""
    import numpy as np
    import pandas as pd

    from weightcast.corpus import create_corpus, write_run
    from weightcast.corpus.testing import synthetic_result

    rng = np.random.default_rng(seed)
    meta = dict(
        preset="signal", T=100, eval_every=10, steps=[10, 20], taus=[10], design="random", seed=seed
    )
    root = create_corpus(path, meta)
    noise_cols = ("conv_first.delta.all.std", "fc1.delta.all.std", "conv_last.delta.all.mean")
    for i in range(n_runs):
        r = synthetic_result(
            [10, 20], [10], 100, eval_every=10, seed=i, hparams={"lr": 1e-3, "activation": "relu"}
        )
        acc = float(rng.uniform(0.1, 0.99))
        r.final_acc = acc
        r.delta = pd.DataFrame(
            [
                {
                    "t": t,
                    "tau": 10,
                    "conv_last.delta.all.std": acc + 0.01 * rng.normal(),
                    **{c: float(rng.normal()) for c in noise_cols},
                }
                for t in (10, 20)
            ]
        )
        write_run(root, f"run-{i:06d}", i, r)
    return root


@pytest.fixture(scope="session")
def signal_exp(tmp_path_factory: pytest.TempPathFactory) -> Experiment:
    path = make_signal_corpus(tmp_path_factory.mktemp("sig") / "c")
    return Experiment(path, repeats=2, n_estimators=25, n_jobs=1)
