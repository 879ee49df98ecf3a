"""layer_weights and load_state_dict_weights on small real models."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from weightcast.features import layer_features, network_features  # noqa: E402
from weightcast.torch import layer_weights, load_state_dict_weights  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Conv2d(4, 6, 3, groups=2),
        torch.nn.Flatten(),
        torch.nn.Linear(6 * 4 * 4, 10),
    )


class _Nested(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Conv1d(3, 5, 4), torch.nn.ReLU())
        self.head = torch.nn.ModuleDict({"out": torch.nn.Linear(5, 2, bias=False)})
        self.embed = torch.nn.Embedding(7, 3)


def test_conv_and_linear_weights_in_module_order():
    model = _model()
    weights = layer_weights(model)
    assert {k: v.shape for k, v in weights.items()} == {
        "0": (4, 1, 3, 3),
        "3": (6, 2, 3, 3),  # grouped: (C_out, C_in / groups, kh, kw)
        "5": (10, 96),
    }
    for name, w in weights.items():
        assert w.dtype == np.float32
        np.testing.assert_array_equal(w, dict(model.named_modules())[name].weight.detach().numpy())
    assert len(network_features(weights)) == 3 * 218 + 153


def test_conv1d_is_a_k_by_1_convolution_and_names_are_qualified():
    model = _Nested()
    weights = layer_weights(model)
    assert list(weights) == ["encoder.0", "head.out"]  # the embedding is not a layer here
    assert weights["encoder.0"].shape == (5, 3, 4, 1)
    conv = model.encoder[0].weight.detach().numpy()
    assert layer_features(weights["encoder.0"]) == layer_features(conv[..., None])


def test_no_copy_by_default_and_a_snapshot_with_copy():
    model = _model()
    shared, snapshot = layer_weights(model), layer_weights(model, copy=True)
    with torch.no_grad():
        model[0].weight.add_(1.0)
    np.testing.assert_array_equal(shared["0"], model[0].weight.detach().numpy())
    assert not np.array_equal(snapshot["0"], shared["0"])


def test_bfloat16_and_grad_weights_convert():
    model = _model().to(torch.bfloat16)
    weights = layer_weights(model)
    assert weights["0"].dtype == np.float32
    np.testing.assert_array_equal(weights["0"], model[0].weight.detach().float().numpy())


def test_not_a_module_or_a_lazy_module():
    with pytest.raises(TypeError, match="torch.nn.Module"):
        layer_weights({"w": np.ones((2, 2))})
    with pytest.raises(ValueError, match="forward pass"):
        layer_weights(torch.nn.Sequential(torch.nn.LazyLinear(3)))


@pytest.mark.parametrize("wrap", [None, "state_dict", "model_state_dict"])
def test_load_state_dict_weights(tmp_path, wrap):
    model = _model()
    state = model.state_dict()
    path = tmp_path / "model.pt"
    torch.save(state if wrap is None else {wrap: state, "epoch": 3}, path)
    loaded = load_state_dict_weights(path)
    expected = layer_weights(model)
    assert list(loaded) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(loaded[name], expected[name])


def test_load_state_dict_conv1d_like_layer_weights(tmp_path):
    path = tmp_path / "nested.pth"
    model = _Nested()
    torch.save(model.state_dict(), path)
    loaded = load_state_dict_weights(path)
    assert loaded["encoder.0"].shape == (5, 3, 4, 1)
    assert loaded["embed"].shape == (7, 3)  # a state_dict cannot tell an embedding apart


def test_docstring_examples():
    import doctest

    import weightcast.torch._weights

    result = doctest.testmod(weightcast.torch._weights)
    assert result.attempted > 0 and result.failed == 0


def test_load_state_dict_errors_say_what_was_expected(tmp_path):
    whole = tmp_path / "whole.pt"
    torch.save(_model(), whole)
    with pytest.raises(ValueError, match=r"whole model.*state_dict\(\)"):
        load_state_dict_weights(whole)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_state_dict_weights(junk)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.ones(3), tensor)
    with pytest.raises(ValueError, match="holds a Tensor"):
        load_state_dict_weights(tensor)
    biases = tmp_path / "biases.pt"
    torch.save({"fc.bias": torch.ones(3)}, biases)
    with pytest.raises(ValueError, match=r"no 2-D, 3-D or 4-D '\*\.weight'"):
        load_state_dict_weights(biases)
