"""The trainer (schedule, callbacks, divergence) and run_trial on the digits preset."""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from weightcast.features import DIVERGED_LOSS  # noqa: E402
from weightcast.search import (  # noqa: E402
    TrialResult,
    accuracy,
    build_cnn,
    get_preset,
    learning_rate,
    run_trial,
    train,
)
from weightcast.search import _train as train_module  # noqa: E402

HP = {
    "lr": 0.05,
    "schedule": "fixed",
    "gamma": 1e-3,
    "p": 0.75,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "batch_size": 50,
    "n_conv": 3,
    "filters": 8,
    "filter_size": 3,
    "activation": "relu",
    "dropout": 0.0,
    "pooling": "max",
    "init_bias": 1e-3,
    "init": "glorot",
    "gaussian_std": 0.01,
}


@pytest.fixture(autouse=True)
def one_thread():  # type: ignore[no-untyped-def]
    """train() is called directly here: one thread, as run_trial does (the machine is shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny():  # type: ignore[no-untyped-def]
    """digits with a short run and a grid that exercises t - tau < 0."""
    return dataclasses.replace(
        get_preset("digits"), T=40, eval_every=10, steps=(2, 4, 10, 20), taus=(3, 5)
    )


@pytest.fixture(scope="module")
def data(tiny):  # type: ignore[no-untyped-def]
    return tiny.load_data()


class Log:
    def __init__(self) -> None:
        self.steps: list[tuple[int, float]] = []
        self.evals: list[tuple[int, float]] = []

    def on_train_step(self, model: object, step: int, loss: float) -> None:
        self.steps.append((step, loss))

    def on_eval(self, step: int, val_acc: float) -> None:
        self.evals.append((step, val_acc))


@pytest.mark.parametrize("t", [0, 1, 10, 999, 1000, 5000])
@pytest.mark.parametrize(("gamma", "p"), [(1e-3, 1.0), (5e-4, 0.75), (5e-5, 0.5)])
def test_inv_schedule_matches_the_formula(t: int, gamma: float, p: float) -> None:
    hp = {"lr": 0.01, "schedule": "inv", "gamma": gamma, "p": p}
    assert learning_rate(hp, t) == pytest.approx(0.01 * (1 + gamma * t) ** (-p), rel=1e-12)
    assert learning_rate({**hp, "schedule": "fixed"}, t) == 0.01
    with pytest.raises(ValueError, match="schedule"):
        learning_rate({**hp, "schedule": "step"}, t)


def test_trainer_uses_the_schedule_of_iteration_t_minus_1(
    data, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    seen: list[float] = []
    real_step = torch.optim.SGD.step

    def spy(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", spy)
    hp = {**HP, "schedule": "inv", "gamma": 0.1, "p": 0.5}
    torch.manual_seed(0)
    train(build_cnn(hp, data.in_shape, 10), data, hp, T=6, eval_every=3, seed=0)
    assert seen == pytest.approx([0.05 * (1 + 0.1 * k) ** -0.5 for k in range(6)])


def test_callbacks_see_every_step_and_evaluation(data) -> None:  # type: ignore[no-untyped-def]
    log = Log()
    torch.manual_seed(0)
    out = train(
        build_cnn(HP, data.in_shape, 10), data, HP, T=25, eval_every=10, seed=0, callbacks=[log]
    )
    assert [s for s, _ in log.steps] == list(range(26))
    assert all(math.isfinite(loss) for _, loss in log.steps)  # step 0: the initial loss
    assert [s for s, _ in log.evals] == [0, 10, 20, 25]
    assert out.diverged_step is None and 0 <= out.final_acc <= 1
    assert out.final_val_acc == log.evals[-1][1]


def test_training_is_seeded(tiny, data) -> None:  # type: ignore[no-untyped-def]
    a = run_trial(tiny, {**HP, "dropout": 0.2}, seed=3, data=data)
    b = run_trial(tiny, {**HP, "dropout": 0.2}, seed=3, data=data)
    c = run_trial(tiny, {**HP, "dropout": 0.2}, seed=4, data=data)
    pd_testing = pytest.importorskip("pandas.testing")
    pd_testing.assert_frame_equal(a.curve, b.curve)
    pd_testing.assert_frame_equal(a.raw, b.raw)
    assert a.final_acc == b.final_acc
    assert not a.curve["train_loss"].equals(c.curve["train_loss"])
    # without the recorder: the same run (recording does not touch the RNG), empty tables
    quiet = run_trial(tiny, {**HP, "dropout": 0.2}, seed=3, data=data, record=False)
    assert quiet.final_acc == a.final_acc
    assert quiet.raw.empty and quiet.curve.empty and quiet.feature_time == 0


class Stop(Exception):
    pass


class Stopper:
    def on_eval(self, step: int, val_acc: float) -> None:
        if step == 10:
            raise Stop


def test_a_callback_can_stop_the_run(tiny, data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Stop):
        run_trial(tiny, HP, seed=0, data=data, callbacks=[Stopper()])
    optuna = pytest.importorskip("optuna")

    class Pruner:
        def on_train_step(self, model: object, step: int, loss: float) -> None:
            if step == 3:
                raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned):
        run_trial(tiny, HP, seed=0, data=data, callbacks=[Pruner()])


def test_accuracy_counts_non_finite_logits_as_wrong() -> None:
    class Fixed(torch.nn.Module):
        def forward(self, x):  # type: ignore[no-untyped-def]
            logits = torch.zeros(len(x), 3)
            logits[:, 1] = 1.0
            logits[0, 2] = math.nan  # argmax would pick the NaN
            logits[1, 0] = math.inf
            return logits

    y = np.array([2, 0, 1, 1])
    assert accuracy(Fixed(), np.zeros((4, 1)), y) == 0.5


def test_real_digits_run(tiny, data) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[int, int]] = []
    result = run_trial(tiny, HP, seed=0, data=data, progress=lambda s, T: seen.append((s, T)))
    assert isinstance(result, TrialResult)
    assert result.status == "ok" and result.diverged_step is None
    assert result.T == 40 and result.seed == 0 and result.hparams == HP
    assert 0 <= result.final_acc <= 1
    assert result.eval_cost == pytest.approx(200 / (3 * 50))
    assert 0 < result.feature_time < result.wall_time
    assert seen == [(0, 40), (10, 40), (20, 40), (30, 40), (40, 40)]

    curve = result.curve
    assert list(curve.columns) == ["step", "train_loss", "val_acc"]
    assert curve["step"].tolist() == [0, 10, 20, 30, 40]  # covers 0..T
    assert np.isfinite(curve[["train_loss", "val_acc"]].to_numpy()).all()

    raw, delta = result.raw, result.delta
    assert raw["t"].tolist() == [2, 4, 10, 20]
    # (t, tau) with t - tau < 0 are not recorded
    assert list(zip(delta["t"], delta["tau"], strict=True)) == [
        (4, 3),
        (10, 3),
        (10, 5),
        (20, 3),
        (20, 5),
    ]
    raw_cols, delta_cols = list(raw.columns[1:]), list(delta.columns[2:])
    for cols, part in ((raw_cols, "raw"), (delta_cols, "delta")):
        layers = {c.split(".")[0] for c in cols}
        assert layers == {"conv_first", "conv_second", "conv_last", "fc1"}
        assert all(re.fullmatch(rf"(conv_(first|second|last)|fc1)\.{part}\.\S+", c) for c in cols)
    assert len(raw_cols) == len(delta_cols) == 3 * 218 + 153  # features.md's count
    assert (raw.dtypes.iloc[1:] == np.float64).all() and raw["t"].dtype == np.int64


@pytest.mark.parametrize("how", ["huge lr", "nan weights"])
def test_divergence_is_recorded_not_raised(tiny, data, how: str) -> None:  # type: ignore[no-untyped-def]
    class Poison:
        def on_train_step(self, model, step: int, loss: float) -> None:  # type: ignore[no-untyped-def]
            if step == 7:
                with torch.no_grad():
                    next(model.parameters()).fill_(math.nan)

    hp = {**HP, "lr": 1e6, "momentum": 0.9, "activation": "abs"} if how == "huge lr" else HP
    callbacks = [Poison()] if how == "nan weights" else []
    result = run_trial(tiny, hp, seed=0, data=data, callbacks=callbacks)
    assert result.status == "diverged"
    if how == "nan weights":
        assert result.diverged_step == 8  # the next step's loss is NaN
    d = result.diverged_step
    assert d is not None and 1 <= d <= tiny.T
    curve = result.curve
    assert curve["step"].tolist() == [0, 10, 20, 30, 40]
    assert np.isfinite(curve["train_loss"]).all() and np.isfinite(curve["val_acc"]).all()
    assert (curve.loc[curve["step"] >= d, "train_loss"] == DIVERGED_LOSS).all()
    assert 0 <= result.final_acc <= 1
    assert (result.raw["t"] < d).all() and (result.delta["t"] < d).all()


def test_run_trial_checks_hyperparameters(tiny, data) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"missing \['lr'\]"):
        run_trial(tiny, {k: v for k, v in HP.items() if k != "lr"}, seed=0, data=data)
    with pytest.raises(ValueError, match=r"unknown \['lrr'\]"):
        run_trial(tiny, {**HP, "lrr": 1}, seed=0, data=data)


def test_run_trial_restores_threads_and_rng(tiny, data) -> None:  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    run_trial(tiny, HP, seed=0, data=data, num_threads=2)
    assert torch.rand(1) == expected and torch.get_num_threads() == before


def test_train_module_exports() -> None:
    assert train_module.EVAL_BATCH >= 100
