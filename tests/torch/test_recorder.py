"""FeatureRecorder on hand-written training loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from weightcast.features import DIVERGED_LOSS, network_features  # noqa: E402
from weightcast.torch import FeatureRecorder, layer_weights  # noqa: E402


def _toy_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 4 * 4, 5),
    )


def _loop(model, recorder, n_steps: int, eval_every: int, poison_at: int | None = None):  # type: ignore[no-untyped-def]
    """A plain PyTorch loop calling the recorder; returns the weights and losses it saw."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    gen = torch.Generator().manual_seed(0)
    seen = {0: {k: v.copy() for k, v in layer_weights(model).items()}}
    losses = {}
    recorder.on_train_step(model, 0, math.nan)
    recorder.on_eval(0, 0.1)
    for step in range(1, n_steps + 1):
        x, y = torch.randn(8, 1, 4, 4, generator=gen), torch.randint(0, 5, (8,), generator=gen)
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if step == poison_at:
            with torch.no_grad():
                model[2].weight[0, 0, 0, 0] = math.inf
        seen[step] = {k: v.copy() for k, v in layer_weights(model).items()}
        losses[step] = loss.item()
        recorder.on_train_step(model, step, loss.item())
        if step % eval_every == 0:
            recorder.on_eval(step, 0.5)
    return seen, losses


def test_features_at_the_grid_match_network_features() -> None:
    model = _toy_model()
    rec = FeatureRecorder(steps=[2, 4, 6], taus=[1, 2, 5], eval_every=2)
    seen, losses = _loop(model, rec, 6, 2)
    assert rec.diverged_step is None and rec.feature_time > 0

    raw = rec.raw
    assert raw["t"].tolist() == [2, 4, 6]
    assert list(raw.columns[:1]) == ["t"] and all(".raw." in c for c in raw.columns[1:])
    for _, row in raw.iterrows():
        expected = network_features(seen[int(row["t"])])
        assert list(raw.columns[1:]) == list(expected)
        np.testing.assert_allclose(
            row.iloc[1:].to_numpy(float), list(expected.values()), rtol=1e-12
        )

    delta = rec.delta
    # (2, 5) and (4, 5) would need W(-3), W(-1): not recorded
    pairs = list(zip(delta["t"], delta["tau"], strict=True))
    assert pairs == [(2, 1), (2, 2), (4, 1), (4, 2), (6, 1), (6, 2), (6, 5)]
    assert all(".delta." in c for c in delta.columns[2:])
    for _, row in delta.iterrows():
        t, tau = int(row["t"]), int(row["tau"])
        expected = network_features(seen[t], seen[t - tau], parts=("delta",))
        assert list(delta.columns[2:]) == list(expected)
        np.testing.assert_allclose(row.iloc[2:].to_numpy(float), list(expected.values()), rtol=1e-9)

    curve = rec.curve
    assert curve["step"].tolist() == [0, 2, 4, 6]
    assert math.isnan(curve["train_loss"][0])  # no minibatch before step 0
    assert curve["train_loss"][1:].tolist() == pytest.approx(
        [(losses[1] + losses[2]) / 2, (losses[3] + losses[4]) / 2, (losses[5] + losses[6]) / 2]
    )
    assert curve.dtypes.tolist() == [np.int64, np.float64, np.float64]


def test_keeps_only_the_snapshots_still_needed() -> None:
    calls: list[int] = []
    held: list[set[int]] = []

    class Net:
        step = 0

    net = Net()

    def weights(model: Net) -> dict[str, np.ndarray]:
        calls.append(model.step)
        rng = np.random.default_rng(model.step)
        return {"conv": rng.normal(size=(3, 2, 3, 3)), "fc": rng.normal(size=(4, 3))}

    rec = FeatureRecorder(steps=[10, 20, 40], taus=[5, 10], eval_every=10, weights=weights)
    for step in range(0, 41):
        net.step = step
        rec.on_train_step(net, step, 1.0)
        held.append(set(rec._snapshots))
    # weights are read only at the grid steps and the steps t - tau
    assert calls == [0, 5, 10, 15, 20, 30, 35, 40]
    last_use = {0: 10, 5: 10, 10: 20, 15: 20, 30: 40, 35: 40}  # W(s) is needed up to this t
    for step, keys in enumerate(held):
        assert all(s <= step < last_use[s] for s in keys)
    assert held[-1] == set() and max(len(h) for h in held) <= 2
    assert list(zip(rec.delta["t"], rec.delta["tau"], strict=True)) == [
        (10, 5),
        (10, 10),
        (20, 5),
        (20, 10),
        (40, 5),
        (40, 10),
    ]
    # a plain dict of numpy arrays works as the "model" of any framework
    assert {c.split(".")[0] for c in rec.raw.columns[1:]} == {
        "conv_first",
        "conv_second",
        "conv_last",
        "fc1",
    }


@pytest.mark.parametrize("poison_at", [3, 4])
def test_non_finite_weights_mark_divergence_and_never_raise(poison_at: int) -> None:
    rec = FeatureRecorder(steps=[2, 4, 6], taus=[1, 2, 5], eval_every=2)
    _loop(_toy_model(), rec, 6, 2, poison_at=poison_at)
    # 3 is a snapshot step (W(4 - 1)), 4 a grid step: divergence is seen at once
    assert rec.diverged_step == poison_at
    assert rec.raw["t"].tolist() == [2] + ([] if poison_at == 3 else [])
    assert rec.delta["t"].max() == 2
    assert rec._snapshots == {}
    # the curve goes on; the loss after the poisoned step is inf or nan -> DIVERGED_LOSS
    assert rec.curve["step"].tolist() == [0, 2, 4, 6]
    assert rec.curve["train_loss"].iloc[-1] == DIVERGED_LOSS


def test_non_finite_loss_marks_divergence() -> None:
    rec = FeatureRecorder(steps=[2, 4], taus=[1], eval_every=2, weights=lambda m: m)
    w = {"fc": np.ones((2, 3))}
    rec.on_train_step(w, 0, math.nan)  # unknown initial loss: not a divergence
    assert rec.diverged_step is None
    rec.on_train_step(w, 1, 1.0)
    rec.on_train_step(w, 2, 3.0)
    rec.on_eval(2, 0.4)
    rec.on_train_step(w, 3, math.inf)
    rec.on_train_step(w, 4, 2.0)
    rec.on_eval(4, 0.3)
    rec.on_train_step(w, 5, 2.0)
    rec.on_eval(5, 0.3)
    assert rec.diverged_step == 3 and rec._snapshots == {}
    assert rec.raw["t"].tolist() == [2]
    assert rec.curve["train_loss"].tolist() == [2.0, DIVERGED_LOSS, 2.0]


def test_huge_finite_losses_are_capped_like_curve_features() -> None:
    rec = FeatureRecorder(steps=[9], taus=[1], eval_every=1, weights=lambda m: m)
    rec.on_train_step({}, 1, 1e300)
    rec.on_train_step({}, 2, 1e308)  # the sum overflows
    rec.on_eval(2, 0.1)
    assert rec.curve["train_loss"].tolist() == [DIVERGED_LOSS] and rec.diverged_step is None


def test_empty_results_have_their_key_columns() -> None:
    rec = FeatureRecorder(steps=[5], taus=[1], eval_every=1, weights=lambda m: m)
    assert list(rec.raw.columns) == ["t"] and list(rec.delta.columns) == ["t", "tau"]
    assert list(rec.curve.columns) == ["step", "train_loss", "val_acc"]
    assert isinstance(rec.curve, pd.DataFrame) and len(rec.curve) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"steps": [], "taus": [1], "eval_every": 1}, "steps must not be empty"),
        ({"steps": [-1], "taus": [1], "eval_every": 1}, "steps must be integers >= 0"),
        ({"steps": [2], "taus": [0], "eval_every": 1}, "taus must be integers >= 1"),
        ({"steps": [2.5], "taus": [1], "eval_every": 1}, "steps"),
        ({"steps": [2], "taus": [1], "eval_every": 0}, "eval_every"),
    ],
)
def test_bad_arguments_fail_early(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FeatureRecorder(**kwargs)
