"""The CNN family of the paper's MNIST/CIFAR-10 searches (Table 1), built from a config dict.

Each convolution block is, in forward (= module) order::

    Dropout(dropout) -> Conv2d(same padding) -> activation -> pooling 2x2/2 -> LRN

pooling only while the spatial size is at least 2 (so small inputs can take many convolutions);
then ``Flatten -> Linear`` (the single fully connected output layer, whose outputs are the
logits of the softmax cross-entropy: the searched activation is applied to the convolutions,
the fc layer's input being the last convolution's activated output).

Local response normalisation "within channels" follows Caffe's ``WITHIN_CHANNEL`` mode (the
paper ran Caffe): ``x / (1 + alpha * mean_{k x k window}(x**2)) ** beta`` with zero padding,
here with Caffe's CIFAR-10 example values ``k = 3, alpha = 5e-5, beta = 0.75``.
``torch.nn.LocalResponseNorm`` normalises *across* channels, which is a different layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from weightcast._imports import require

require("torch")  # an ImportError naming the "torch" extra when it is missing

import torch  # noqa: E402
from torch import nn  # noqa: E402

#: Caffe's cifar10_full values for the within-channel normalisation.
LRN_SIZE = 3
LRN_ALPHA = 5e-5
LRN_BETA = 0.75

_REQUIRED = (
    "n_conv",
    "filters",
    "filter_size",
    "activation",
    "dropout",
    "pooling",
    "init_bias",
    "init",
    "gaussian_std",
)


class Abs(nn.Module):
    """The absolute-value activation ``|x|``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.abs()


class WithinChannelLRN(nn.Module):
    """Caffe's local response normalisation over a ``size x size`` window within each channel.

    >>> WithinChannelLRN()(torch.zeros(1, 2, 4, 4)).shape
    torch.Size([1, 2, 4, 4])
    """

    def __init__(self, size: int = LRN_SIZE, alpha: float = LRN_ALPHA, beta: float = LRN_BETA):
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise ValueError(f"LRN size must be a positive odd integer, got {size}")
        self.size, self.alpha, self.beta = size, alpha, beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        # the window mean as a depthwise convolution with a constant kernel (not a Conv2d
        # module, so no weights to record): on CPU 5x faster than a stride-1 avg_pool2d
        channels = x.shape[1]
        kernel = x.new_full((channels, 1, self.size, self.size), 1.0 / self.size**2)
        mean_sq = nn.functional.conv2d(x * x, kernel, padding=self.size // 2, groups=channels)
        # (1 + a m) ** -beta as exp(-beta log1p(a m)): exact, and 3x faster than pow on CPU
        return x * torch.exp(-self.beta * torch.log1p(self.alpha * mean_sq))

    def extra_repr(self) -> str:  # noqa: D102
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}"


_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "abs": Abs}
_POOLING = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def build_cnn(
    hparams: Mapping[str, Any], in_shape: tuple[int, int, int], n_classes: int
) -> torch.nn.Sequential:
    """The paper's CNN for one configuration (keys of :data:`TABLE1`; ``lrn`` defaults to True).

    ``in_shape`` is ``(channels, height, width)``. Weights are initialised Glorot-uniform
    (``init="glorot"``) or Gaussian(0, ``gaussian_std``); every bias is the constant ``init_bias``.

    >>> hp = {"n_conv": 3, "filters": 8, "filter_size": 3, "activation": "relu",
    ...       "dropout": 0.1, "pooling": "max", "init_bias": 1e-3, "init": "glorot",
    ...       "gaussian_std": 0.01}
    >>> build_cnn(hp, (1, 8, 8), 10)(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    """
    missing = [k for k in _REQUIRED if k not in hparams]
    if missing:
        raise ValueError(f"build_cnn: missing hyperparameters {missing}")
    n_conv = int(hparams["n_conv"])
    filters = int(hparams["filters"])
    size = int(hparams["filter_size"])
    dropout = float(hparams["dropout"])
    activation = _choice(hparams, "activation", _ACTIVATIONS)
    pooling = _choice(hparams, "pooling", _POOLING)
    lrn = bool(hparams.get("lrn", True))
    if n_conv < 0 or filters < 1 or size < 1 or size % 2 == 0:
        raise ValueError(
            f"build_cnn: need n_conv >= 0, filters >= 1 and an odd filter_size, got "
            f"n_conv={n_conv}, filters={filters}, filter_size={size}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"build_cnn: dropout must be in [0, 1), got {dropout}")
    channels, height, width = in_shape

    layers: list[torch.nn.Module] = []
    for _ in range(n_conv):
        layers.append(nn.Dropout(dropout))
        layers.append(nn.Conv2d(channels, filters, size, padding=size // 2))
        layers.append(activation())
        if min(height, width) >= 2:
            layers.append(pooling(2, stride=2))
            height, width = height // 2, width // 2
        if lrn:
            layers.append(WithinChannelLRN())
        channels = filters
    layers.append(nn.Flatten())
    layers.append(nn.Linear(channels * height * width, n_classes))
    model = nn.Sequential(*layers)
    _initialise(model, hparams)
    return model


def _choice(hparams: Mapping[str, Any], key: str, options: Mapping[str, type]) -> type:
    value = hparams[key]
    if value not in options:
        raise ValueError(f"build_cnn: {key}={value!r} is not one of {sorted(options)}")
    return options[value]


def _initialise(model: torch.nn.Module, hparams: Mapping[str, Any]) -> None:
    init = hparams["init"]
    std = float(hparams["gaussian_std"])
    bias = float(hparams["init_bias"])
    if init not in ("glorot", "gaussian"):
        raise ValueError(f"build_cnn: init={init!r} is not one of ['gaussian', 'glorot']")
    if init == "gaussian" and not (std > 0 and math.isfinite(std)):
        raise ValueError(f"build_cnn: gaussian_std must be positive, got {std}")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                if init == "glorot":
                    nn.init.xavier_uniform_(module.weight)
                else:
                    nn.init.normal_(module.weight, 0.0, std)
                if module.bias is not None:
                    nn.init.constant_(module.bias, bias)
