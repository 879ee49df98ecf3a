"""Learning-curve and hyperparameter features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from weightcast.features import DIVERGED_LOSS, LOG_SCALED, curve_features, hparam_features

pytestmark = pytest.mark.filterwarnings("error")


def test_curve_features_up_to_t():
    steps = [0, 10, 20, 30]
    f = curve_features(steps, [2.3, 1.1, 0.7, 0.5], [0.1, 0.5, 0.7, 0.8], t=20)
    assert f == {
        "lc.train_loss@0": 2.3,
        "lc.train_loss@10": 1.1,
        "lc.train_loss@20": 0.7,
        "lc.val_acc@0": 0.1,
        "lc.val_acc@10": 0.5,
        "lc.val_acc@20": 0.7,
    }
    assert curve_features(steps, [1.0] * 4, [0.0] * 4, t=5) == {
        "lc.train_loss@0": 1.0,
        "lc.val_acc@0": 0.0,
    }
    assert curve_features([10], [1.0], [0.5], t=5) == {}


def test_diverged_loss_is_large_and_finite():
    loss = [np.nan, np.inf, -np.inf, 3e9, 2.0]
    f = curve_features(np.arange(5) * 10, loss, [0.1] * 5, t=40)
    assert [f[f"lc.train_loss@{s}"] for s in range(0, 50, 10)] == [DIVERGED_LOSS] * 4 + [2.0]
    assert all(math.isfinite(v) for v in f.values())


def test_curve_inputs_are_checked():
    with pytest.raises(ValueError, match="equal length"):
        curve_features([0, 10], [1.0], [0.5, 0.6], t=10)
    with pytest.raises(ValueError, match="increasing"):
        curve_features([10, 0], [1.0, 1.0], [0.5, 0.6], t=10)
    with pytest.raises(ValueError, match="whole numbers"):
        curve_features([0.5, 1.0], [1.0, 1.0], [0.5, 0.6], t=10)


def test_hparam_features_numbers_logs_bools_and_categories():
    hp = {
        "lr": 0.001,
        "weight_decay": np.float64(5e-4),
        "momentum": 0.9,
        "batch_size": np.int64(100),
        "dropout_input": False,
        "activation": "relu",
        "gamma": None,
    }
    f = hparam_features(hp)
    assert f["hp.lr"] == pytest.approx(-3.0)
    assert f["hp.weight_decay"] == pytest.approx(np.log10(5e-4))
    assert f["hp.momentum"] == 0.9 and f["hp.batch_size"] == 100.0
    assert f["hp.dropout_input"] == 0.0
    assert f["hp.activation=relu"] == 1.0
    assert math.isnan(f["hp.gamma"])
    assert set(LOG_SCALED) >= {"lr", "weight_decay", "gaussian_std", "init_bias", "gamma"}
    assert hparam_features({"lr": 0.01}, log_scaled=()) == {"hp.lr": 0.01}


def test_hparam_one_hot_over_the_space():
    space = {"activation": ["relu", "sigmoid", "tanh"]}
    assert hparam_features({"activation": "tanh"}, space) == {
        "hp.activation=relu": 0.0,
        "hp.activation=sigmoid": 0.0,
        "hp.activation=tanh": 1.0,
    }
    with pytest.raises(ValueError, match="'activation' = 'elu' is not one of"):
        hparam_features({"activation": "elu"}, space)


@pytest.mark.parametrize("value", [0.0, -0.1, float("inf")])
def test_log_scaled_needs_a_positive_number(value):
    with pytest.raises(ValueError, match="'lr'.*positive"):
        hparam_features({"lr": value})
