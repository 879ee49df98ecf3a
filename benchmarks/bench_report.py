"""Time ``weightcast report`` on a synthetic corpus of realistic width.

The corpus mimics the ``digits`` preset: T = 500, evaluations every 5 steps, features at
t in (5, 10, 15, 20, 25, 50, 100, 150, 200) and tau in (5, 10), three convolutions and one
fully connected layer: 2 x (3 x 218 + 153) = 1,614 weight features per (t, tau). Each
weight feature is a noisy linear function of the run's latent quality (its loading and
noise drawn once per feature; weight changes carry more signal than raw weights, the last
convolution most), so the analyses have something to find; the learning curve is that of
``weightcast.corpus.testing``.

    python benchmarks/bench_report.py [--runs 300] [--out /tmp/bench-report] [--quick]

prints the corpus build time and the report's total and per-analysis times.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from weightcast.analysis import ReportConfig, build_report
from weightcast.corpus import Corpus, create_corpus, run_id_for, write_run
from weightcast.corpus.testing import (
    SyntheticResult,
    synthetic_final_acc,
    synthetic_hparams,
    synthetic_quality,
)
from weightcast.features import layer_feature_names

T, EVERY = 500, 5
STEPS = (5, 10, 15, 20, 25, 50, 100, 150, 200)
TAUS = (5, 10)
LAYERS = (("conv_first", True), ("conv_second", True), ("conv_last", True), ("fc1", False))


def _names(kind: str) -> list[str]:
    return [f"{layer}.{kind}.{f}" for layer, conv in LAYERS for f in layer_feature_names(conv)]


def build_corpus(path: Path, n_runs: int, seed: int = 0) -> Path:
    """Write the benchmark corpus (skips if it is already there with enough runs)."""
    if (path / "corpus.json").exists() and len(Corpus(path)) >= n_runs:
        return path
    raw_names, delta_names = _names("raw"), _names("delta")
    rng = np.random.default_rng(seed)

    # per feature: loading on the quality, noise level; stronger for changes and conv_last
    def loadings(names: list[str], scale: float) -> tuple[np.ndarray, np.ndarray]:
        boost = np.array([2.0 if n.startswith("conv_last") else 1.0 for n in names])
        load = rng.normal(size=len(names)) * scale * boost * (rng.random(len(names)) < 0.3)
        return load, rng.uniform(0.5, 2.0, size=len(names))

    raw_load, raw_noise = loadings(raw_names, 0.5)
    delta_load, delta_noise = loadings(delta_names, 1.0)
    meta = dict(
        preset="bench-digits",
        T=T,
        eval_every=EVERY,
        steps=list(STEPS),
        taus=list(TAUS),
        design="random",
        seed=seed,
    )
    root = create_corpus(path, meta)
    for i in range(n_runs):
        r = np.random.default_rng([seed, i])
        hp = synthetic_hparams(r)
        q = synthetic_quality(hp)
        diverged = r.random() < 0.1
        div_step = int(r.choice(STEPS[1:])) if diverged else None
        end = math.inf if div_step is None else div_step
        acc = synthetic_final_acc(hp, "diverged" if diverged else "ok")
        curve_steps = np.arange(0, T + 1, EVERY)
        progress = 1 - np.exp(-3 * curve_steps / T)
        val = np.clip(acc * progress + 0.03 * r.normal(size=len(curve_steps)), 0, 1)
        loss = 2.3 * (1 - 0.9 * q * progress) + 0.05 * r.normal(size=len(curve_steps))
        loss[curve_steps >= end] = np.nan
        val[curve_steps >= end] = 0.1
        raw_rows, delta_rows = [], []
        for t in STEPS:
            if t >= end:
                continue
            g = math.sqrt(t / T)
            raw = raw_load * q * g + raw_noise * r.normal(size=len(raw_names))
            raw_rows.append([t, *raw.astype(np.float32)])
            for tau in TAUS:
                if tau <= t:
                    d = delta_load * q * g + delta_noise * r.normal(size=len(delta_names))
                    delta_rows.append([t, tau, *d.astype(np.float32)])
        result = SyntheticResult(
            hparams=hp,
            seed=i,
            final_acc=acc,
            status="diverged" if diverged else "ok",
            diverged_step=div_step,
            wall_time=1.0,
            feature_time=0.1,
            T=T,
            eval_cost=1.0,
            curve=pd.DataFrame({"step": curve_steps, "train_loss": loss, "val_acc": val}),
            raw=pd.DataFrame(raw_rows, columns=["t", *raw_names]),
            delta=pd.DataFrame(delta_rows, columns=["t", "tau", *delta_names]),
        )
        write_run(root, run_id_for(i), i, result)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/bench-corpus"))
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench-report"))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    path = build_corpus(args.corpus, args.runs)
    print(f"corpus: {args.runs} runs at {path} ({time.perf_counter() - t0:.1f} s)")
    cfg = ReportConfig.quick_config() if args.quick else ReportConfig()
    t0 = time.perf_counter()
    summary = build_report(path, args.out, cfg)
    total = time.perf_counter() - t0
    print(f"report: {total:.1f} s total (n_estimators={cfg.n_estimators}, repeats={cfg.repeats})")
    for name, secs in summary["timings_s"].items():
        print(f"  {name:12s} {secs:7.1f} s")
    print(f"  (figures, page, summary.json: {total - sum(summary['timings_s'].values()):.1f} s)")
    for key, why in summary["errors"].items():
        print(f"  error in {key}: {why}")


if __name__ == "__main__":
    main()
