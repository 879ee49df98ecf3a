"""The CNN builder: every Table 1 hyperparameter value builds and runs; layer order; init; LRN."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from weightcast.search import TABLE1, build_cnn  # noqa: E402
from weightcast.search._model import Abs, WithinChannelLRN  # noqa: E402

BASE = {
    "n_conv": 3,
    "filters": 16,
    "filter_size": 3,
    "activation": "relu",
    "dropout": 0.1,
    "pooling": "max",
    "init_bias": 1e-3,
    "init": "glorot",
    "gaussian_std": 0.01,
}
ARCH = [h for h in TABLE1 if h.name in BASE] + [type(TABLE1[0])("lrn", (True, False))]
CASES = [(h.name, v) for h in ARCH for v in h.values]


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v}" for n, v in CASES])
@pytest.mark.parametrize("in_shape", [(1, 8, 8), (3, 7, 5)])
def test_every_value_builds_and_runs(name: str, value: object, in_shape: tuple) -> None:
    torch.manual_seed(0)
    hp = {**BASE, name: value}
    model = build_cnn(hp, in_shape, n_classes=7)
    model.eval()
    out = model(torch.randn(2, *in_shape))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == hp["n_conv"]
    assert all(c.out_channels == hp["filters"] for c in convs)
    assert all(c.kernel_size == (hp["filter_size"],) * 2 for c in convs)
    assert len([m for m in model if isinstance(m, WithinChannelLRN)]) == (
        hp["n_conv"] if hp.get("lrn", True) else 0
    )


@pytest.mark.parametrize(("hw", "pools"), [((8, 8), 3), ((14, 14), 3), ((28, 28), 4), ((1, 9), 0)])
def test_pooling_only_while_spatial_size_at_least_2(hw: tuple, pools: int) -> None:
    model = build_cnn({**BASE, "n_conv": 6, "pooling": "avg"}, (1, *hw), 10)
    assert len([m for m in model if isinstance(m, torch.nn.AvgPool2d)]) == pools
    assert model(torch.zeros(1, 1, *hw)).shape == (1, 10)


def test_forward_order_is_module_order() -> None:
    model = build_cnn({**BASE, "n_conv": 4}, (1, 8, 8), 10)
    kinds = [type(m).__name__ for m in model]
    assert kinds[:6] == ["Dropout", "Conv2d", "ReLU", "MaxPool2d", "WithinChannelLRN", "Dropout"]
    assert kinds[-2:] == ["Flatten", "Linear"]
    weights = [
        n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear)
    ]
    assert len(weights) == 5 and weights == sorted(weights, key=int)
    assert isinstance(model[-1], torch.nn.Linear) and model[-1].in_features == 16  # 8->4->2->1


def test_dropout_ratio_on_each_conv_input() -> None:
    model = build_cnn({**BASE, "dropout": 0.35}, (1, 8, 8), 10)
    drops = [i for i, m in enumerate(model) if isinstance(m, torch.nn.Dropout)]
    assert all(model[i].p == 0.35 and isinstance(model[i + 1], torch.nn.Conv2d) for i in drops)
    assert drops[0] == 0  # the network input included


def test_glorot_init_and_constant_bias() -> None:
    torch.manual_seed(0)
    model = build_cnn({**BASE, "init_bias": 1e-5}, (1, 8, 8), 10)
    for m in model:
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            fan_in = m.weight[0].numel()
            fan_out = m.weight.shape[0] * m.weight[0, 0].numel()
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert m.weight.abs().max() <= bound
            assert m.weight.abs().max() > 0.8 * bound
            assert torch.all(m.bias == torch.tensor(1e-5))


def test_gaussian_init_std() -> None:
    torch.manual_seed(0)
    hp = {**BASE, "init": "gaussian", "gaussian_std": 0.01, "filters": 64, "filter_size": 5}
    model = build_cnn(hp, (1, 8, 8), 10)
    convs = [m for m in model if isinstance(m, torch.nn.Conv2d)]
    w = convs[1].weight.detach().numpy()  # 64*64*25 weights
    assert abs(w.std() - 0.01) < 5e-4 and abs(w.mean()) < 5e-4


def test_activations() -> None:
    x = torch.tensor([-2.0, 0.5])
    assert torch.equal(Abs()(x), torch.tensor([2.0, 0.5]))
    for name, cls in [("sigmoid", torch.nn.Sigmoid), ("tanh", torch.nn.Tanh), ("abs", Abs)]:
        model = build_cnn({**BASE, "activation": name}, (1, 8, 8), 10)
        assert isinstance(model[2], cls)


def test_within_channel_lrn_matches_caffe_formula() -> None:
    lrn = WithinChannelLRN(size=3, alpha=0.5, beta=0.75)
    x = torch.randn(2, 3, 4, 5)
    padded = np.pad(x.numpy() ** 2, ((0, 0), (0, 0), (1, 1), (1, 1)))
    window = sum(padded[:, :, i : i + 4, j : j + 5] for i in range(3) for j in range(3)) / 9
    expected = x.numpy() / (1 + 0.5 * window) ** 0.75
    np.testing.assert_allclose(lrn(x).numpy(), expected, rtol=1e-5)
    # channels do not mix: within-channel, unlike torch.nn.LocalResponseNorm
    y = x.clone()
    y[:, 1] = 100.0
    torch.testing.assert_close(lrn(y)[:, 0], lrn(x)[:, 0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"activation": "elu"}, "activation"),
        ({"pooling": "sum"}, "pooling"),
        ({"init": "he"}, "init"),
        ({"filter_size": 4}, "filter_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"init": "gaussian", "gaussian_std": 0.0}, "gaussian_std"),
    ],
)
def test_bad_values_fail_early(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_cnn({**BASE, **change}, (1, 8, 8), 10)
    with pytest.raises(ValueError, match="missing"):
        build_cnn({k: v for k, v in BASE.items() if k != "filters"}, (1, 8, 8), 10)
