"""Pure rules: decision steps, the rung rule (against Optuna's ASHA), targets, settings."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from weightcast.features import DIVERGED_LOSS
from weightcast.policy import (
    PolicyConfig,
    coarser_grid,
    curve_summary,
    decision_steps,
    explore_draw,
    kth_best,
    loss_signal,
    rung_promotable,
    window_loss,
)


def test_decision_steps_from_fractions_and_grid() -> None:
    assert decision_steps(1000) == (20, 50, 100, 200, 400)
    grid = (5, 10, 15, 20, 25, 50, 100, 150, 200)
    assert decision_steps(500, grid=grid) == (10, 25, 50, 100, 200)
    assert decision_steps(500, (0.02, 0.05, 0.1), grid=grid) == (10, 25, 50)
    assert decision_steps(10, (0.01, 0.02)) == (1,)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"T": 0}, "T=0"),
        ({"T": 100, "fractions": (0.0,)}, "fractions=(0.0,)"),
        ({"T": 100, "fractions": (1.5,)}, "fractions=(1.5,)"),
        ({"T": 100, "fractions": ()}, "fractions must not be empty"),
        ({"T": 100, "grid": (100, 200)}, "grid=(100, 200)"),
    ],
)
def test_decision_steps_errors_name_the_value(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=re.escape(needle)):
        decision_steps(**kwargs)


def test_rung_rule_matches_optuna_asha() -> None:
    from optuna.pruners._successive_halving import _is_trial_promotable_to_next_rung
    from optuna.study import StudyDirection

    rng = np.random.default_rng(0)
    for _ in range(300):
        competing = rng.random(rng.integers(0, 12)).round(2).tolist()
        value = round(float(rng.random()), 2)
        for eta in (2, 3, 4):
            ours = rung_promotable(value, competing, eta)
            theirs = _is_trial_promotable_to_next_rung(
                value, [*competing, value], eta, StudyDirection.MAXIMIZE
            )
            assert ours == theirs
    assert not rung_promotable(math.nan, [], 3)


def test_kth_best_and_explore_draw() -> None:
    assert kth_best([0.2, 0.9, math.nan, 0.5], 2) == 0.5
    assert kth_best([0.2], 3) == 0.2
    assert math.isnan(kth_best([math.inf, math.nan], 1))
    draws = [explore_draw(7, n, 10) for n in range(2000)]
    assert draws == [explore_draw(7, n, 10) for n in range(2000)]
    assert 0.45 < float(np.mean(draws)) < 0.55


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"features": "curve"}, "features='curve'"),
        ({"coverage": 1.0}, "coverage=1.0"),
        ({"top_k": 0}, "top_k=0"),
        ({"target": math.nan}, "target=nan"),
        ({"n_startup_trials": -1}, "n_startup_trials=-1"),
        ({"min_train": 1}, "min_train=1"),
        ({"reduction_factor": 1}, "reduction_factor=1"),
        ({"exploration": 1.0}, "exploration=1.0"),
        ({"refit_growth": -0.1}, "refit_growth=-0.1"),
        ({"seed": 1.5}, "seed=1.5"),
        ({"steps": (0, 10)}, "steps=(0, 10)"),
        ({"steps": ()}, "steps must not be empty"),
    ],
)
def test_config_errors_name_the_value(kwargs: dict, needle: str) -> None:
    args = {"steps": (10, 20), **kwargs}
    with pytest.raises(ValueError, match=re.escape(needle)):
        PolicyConfig(**args)


def test_window_loss_weights_points_by_overlap() -> None:
    # points stand for (0, 10], (10, 20], (20, 30]
    assert window_loss([10, 20, 30], [3.0, 2.0, 1.0], 0, 30) == pytest.approx(2.0)
    assert window_loss([10, 20, 30], [3.0, 2.0, 1.0], 5, 15) == pytest.approx(2.5)
    assert window_loss([10, 20], [np.inf, 1.0], 0, 20) == pytest.approx((1e6 + 1) / 2)
    assert math.isnan(window_loss([10], [1.0], 10, 20))


def test_curve_summary_uses_only_steps_up_to_t() -> None:
    s = curve_summary([10, 20, 30, 40], [4.0, 3.0, 2.0, 1.0], [0.1, 0.4, 0.3, 0.9], 30)
    assert s["lc.val_acc.last"] == 0.3
    assert s["lc.val_acc.max"] == 0.4
    assert s["lc.val_acc.half"] == 0.1
    assert s["lc.train_loss.q1"] == pytest.approx(4.0)
    assert s["lc.train_loss.q4"] == pytest.approx(2.0)
    empty = curve_summary([], [], [], 30)
    assert all(math.isnan(v) for v in empty.values())


def test_coarser_grid_keeps_epoch_points_and_averages_loss() -> None:
    steps = np.arange(0, 101, 10)
    loss = np.r_[np.nan, np.arange(10, 0, -1.0)]
    val = steps / 100
    s, lo, v = coarser_grid(steps, loss, val, every=33.3)
    assert s.tolist() == [0, 40, 70, 100]
    assert v.tolist() == [0.0, 0.4, 0.7, 1.0]
    assert lo[1:].tolist() == pytest.approx([8.5, 5.0, 2.0])


@given(
    st.lists(st.floats(0.01, 10.0), min_size=1, max_size=40),
    st.integers(1, 20),
)
def test_loss_signal_is_minus_the_brute_force_mean_of_the_second_half(
    losses: list[float], half: int
) -> None:
    """Per-step losses: the signal at an even t is minus the plain mean of the steps > t/2."""
    steps = list(range(1, len(losses) + 1))
    t = min(2 * half, len(losses) - len(losses) % 2) or 2
    if t > len(losses):
        return
    window = [x for s, x in zip(steps, losses, strict=True) if t / 2 < s <= t]
    assert loss_signal(steps, losses, t) == pytest.approx(-sum(window) / len(window))


def test_loss_signal_of_a_diverged_or_empty_window_is_the_worst_value() -> None:
    assert loss_signal([1, 2, 3, 4], [9.0, 9.0, 1.0, np.nan], 4) == -1.0  # NaN points skipped
    assert loss_signal([1, 2], [1.0, np.inf], 2) == -DIVERGED_LOSS
    assert loss_signal([], [], 10) == -DIVERGED_LOSS
