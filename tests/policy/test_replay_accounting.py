"""Replay accounting: compute of stopped and completed runs, per-order metrics, summaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weightcast.policy import Outcome, RecordedRun, epoch_length, order_metrics, run_cost, summarize


def run(final: float = 0.9, eval_cost: float = 2.0) -> RecordedRun:
    steps = np.array([0, 10, 20, 30, 40])
    return RecordedRun("r", final, 40, eval_cost, steps, steps / 40)


def test_run_cost_counts_iterations_and_evaluations_up_to_the_stop() -> None:
    r = run()
    assert run_cost(r, None) == 40 + 5 * 2.0
    assert run_cost(r, 10) == 10 + 2 * 2.0  # evaluations at 0 and 10
    assert run_cost(r, 15) == 15 + 2 * 2.0
    assert run_cost(r, 5) == 5 + 1 * 2.0
    assert run_cost(r, 400) == run_cost(r, None)


def test_order_metrics_by_hand() -> None:
    outcomes = [
        Outcome("a", None, 50.0, 0.80),
        Outcome("b", 10, 14.0, 0.99),  # the best run, pruned
        Outcome("c", None, 50.0, 0.986),  # within 0.005 of 0.99: reached here
        Outcome("d", None, 50.0, 0.70),
    ]
    m = order_metrics(outcomes, best=0.99)
    assert m["compute"] == 164.0
    assert m["best_kept"] == 0.986
    assert m["regret"] == pytest.approx(0.004)
    assert m["compute_to_reach"] == 114.0
    assert m["n_completed"] == 3
    never = order_metrics([Outcome("a", 5, 7.0, 0.99)], best=0.99)
    assert never["regret"] == math.inf and never["compute_to_reach"] == math.inf


def test_summarize_means_and_speedups_per_order() -> None:
    base = [
        {"compute": 100.0, "regret": 0.0, "compute_to_reach": 60.0},
        {"compute": 100.0, "regret": 0.0, "compute_to_reach": 20.0},
    ]
    pol = [
        {"compute": 10.0, "regret": 0.0, "compute_to_reach": 6.0},
        {"compute": 20.0, "regret": 0.02, "compute_to_reach": math.inf},
    ]
    s = summarize(pol, base)
    assert s["speedup_mean"] == pytest.approx(7.5)
    assert s["speedup_std"] == pytest.approx(2.5)
    assert s["speedup_to_reach_mean"] == pytest.approx(5.0)  # 10x and 0 (never reached)
    assert s["regret_mean"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="orders"):
        summarize(pol, base[:1])


def test_epoch_grid() -> None:
    assert epoch_length(1000, 100) == 10
    assert epoch_length(10, 100) == 1
    with pytest.raises(ValueError, match="positive"):
        epoch_length(0, 10)
    coarse = run().on_grid(epoch_length(200, 10))  # 20 steps an epoch
    assert coarse.steps.tolist() == [0, 20, 40]
    assert run_cost(coarse, None) == 40 + 3 * 2.0


def test_run_cost_without_a_curve_pays_one_evaluation_when_completed() -> None:
    r = run(eval_cost=3.0)
    assert run_cost(r, None, curve=False) == 40 + 3.0  # the final evaluation only
    assert run_cost(r, 10, curve=False) == 10  # stopped: no evaluation at all
    assert run_cost(r, 400, curve=False) == 40  # a stop past T is a stop at T, not completion
    coarse = r.on_grid(20)
    assert run_cost(coarse, None, curve=False) == run_cost(r, None, curve=False)
