"""network_features and select_layers: the spec's layers, raw and delta, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import weightcast.features._network as network_module
from weightcast.features import (
    NonFiniteWeightsError,
    conv_feature_names,
    fc_feature_names,
    layer_features,
    load_npz_weights,
    network_features,
    select_layers,
)

pytestmark = pytest.mark.filterwarnings("error")


def _net(n_conv: int, n_fc: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    layers: dict[str, np.ndarray] = {}
    c_in = 1
    for k in range(n_conv):
        layers[f"features.{k}.weight"] = rng.normal(size=(4 + k, c_in, 3, 3)).astype(np.float32)
        layers[f"features.{k}.bias"] = np.zeros(4 + k, dtype=np.float32)
        c_in = 4 + k
    width = 12
    for k in range(n_fc):
        layers[f"classifier.{k}"] = rng.normal(size=(width - k, width - k + 1)).astype(np.float32)
    return layers


@pytest.mark.parametrize(
    ("n_conv", "expected_convs"),
    [
        (0, {}),
        (1, {"conv_first": 0, "conv_second": 0, "conv_last": 0}),
        (2, {"conv_first": 0, "conv_second": 1, "conv_last": 1}),
        (3, {"conv_first": 0, "conv_second": 1, "conv_last": 2}),
        (5, {"conv_first": 0, "conv_second": 1, "conv_last": 4}),
    ],
)
def test_select_layers(n_conv, expected_convs):
    selected = select_layers(_net(n_conv, 2))
    expected = {k: f"features.{v}.weight" for k, v in expected_convs.items()}
    expected |= {"fc1": "classifier.0", "fc2": "classifier.1"}
    assert selected == expected
    assert list(selected) == list(expected)  # canonical order


def test_paper_mnist_network_has_1614_features_named_by_the_spec():
    now, before = _net(3, 1, seed=1), _net(3, 1, seed=2)
    f = network_features(now, before)
    assert len(f) == 2 * (3 * 218 + 153) == 1614
    names = [
        f"{layer}.{part}.{feature}"
        for part in ("raw", "delta")
        for layer in ("conv_first", "conv_second", "conv_last")
        for feature in conv_feature_names()
    ]
    names += [
        f"fc1.{part}.{feature}" for part in ("raw", "delta") for feature in fc_feature_names()
    ]
    assert set(f) == set(names)
    assert all(isinstance(v, float) and np.isfinite(v) for v in f.values())


def test_raw_and_delta_are_layer_features_of_w_and_of_the_change():
    now, before = _net(2, 2, seed=3), _net(2, 2, seed=4)
    f = network_features(now, before)
    conv = now["features.1.weight"]
    change = conv.astype(np.float64) - before["features.1.weight"].astype(np.float64)
    for name, value in layer_features(conv).items():
        assert f[f"conv_last.raw.{name}"] == value
        assert f[f"conv_second.raw.{name}"] == value
    for name, value in layer_features(change).items():
        assert f[f"conv_last.delta.{name}"] == value
    fc_change = now["classifier.1"].astype(np.float64) - before["classifier.1"]
    assert f["fc2.delta.ks_in.mean"] == layer_features(fc_change)["ks_in.mean"]


def test_parts_split_raw_and_delta():
    now, before = _net(3, 1, seed=5), _net(3, 1, seed=6)
    both = network_features(now, before)
    raw = network_features(now, parts=("raw",))
    delta = network_features(now, before, parts=("delta",))
    assert raw == network_features(now)
    assert {**raw, **delta} == both
    assert all(".raw." in k for k in raw) and all(".delta." in k for k in delta)
    with pytest.raises(ValueError, match="previous"):
        network_features(now, parts=("delta",))
    with pytest.raises(ValueError, match="parts"):
        network_features(now, before, parts=("raw", "grad"))


def test_a_layer_used_under_several_names_is_computed_once(monkeypatch):
    calls = []
    real = network_module._layer_vector
    monkeypatch.setattr(network_module, "_layer_vector", lambda W: calls.append(W.shape) or real(W))
    network_features(_net(1, 1), _net(1, 1, seed=9))
    assert len(calls) == 4  # conv and fc, raw and delta: not conv x3


def test_missing_or_mismatched_previous_layer_is_named():
    now = _net(2, 1)
    before = dict(now)
    del before["features.1.weight"]
    with pytest.raises(ValueError, match=r"'features\.1\.weight' is missing from previous"):
        network_features(now, before)
    before["features.1.weight"] = np.zeros((5, 4, 5, 5))
    with pytest.raises(ValueError, match=r"'features\.1\.weight' has shape \(5, 4, 3, 3\)"):
        network_features(now, before)


def test_non_finite_weights_name_the_layer():
    now, before = _net(3, 1), _net(3, 1, seed=1)
    now["classifier.0"] = now["classifier.0"].copy()
    now["classifier.0"][0, 0] = np.nan
    with pytest.raises(NonFiniteWeightsError, match=r"layer 'classifier\.0'"):
        network_features(now)
    now, before["features.2.weight"] = _net(3, 1), np.full((6, 5, 3, 3), np.inf)
    with pytest.raises(NonFiniteWeightsError, match=r"layer 'features\.2\.weight \(previous\)'"):
        network_features(now, before)


def test_no_layers_at_all_is_an_error():
    with pytest.raises(ValueError, match="no convolution"):
        network_features({"bias": np.zeros(3)})


def test_load_npz_weights(tmp_path):
    path = tmp_path / "w.npz"
    np.savez(path, a=np.ones((4, 2, 3, 3)), b=np.ones(4), c=np.ones((4, 2, 5)), d=np.ones((3, 8)))
    layers = load_npz_weights(path)
    assert {k: v.shape for k, v in layers.items()} == {
        "a": (4, 2, 3, 3),
        "c": (4, 2, 5, 1),
        "d": (3, 8),
    }
    np.save(tmp_path / "one.npy", np.ones(3))
    (tmp_path / "one.npz").write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(ValueError, match="single array"):
        load_npz_weights(tmp_path / "one.npz")
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        load_npz_weights(tmp_path / "junk.npz")
