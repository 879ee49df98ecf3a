"""The paper's hyperparameter searches: spaces, presets, datasets, the CNN, training, one run.

Spaces, presets and datasets are plain numpy; the CNN, the trainer and :func:`run_trial` need
the ``torch`` extra (imported on first use).

>>> from weightcast.search import get_preset
>>> preset = get_preset("digits")
>>> len(preset.sample(10, seed=0, design="one-at-a-time"))
10
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weightcast.search._data import (
    Data,
    load_data,
    load_digits,
    load_fashion_mnist,
    load_idx_folder,
    read_idx,
)
from weightcast.search._presets import PRESETS, Preset, get_preset
from weightcast.search._spaces import (
    TABLE1,
    TABLE2,
    Hyperparameter,
    SearchSpace,
    block_size,
    replace_values,
    sample,
)
from weightcast.search._trial import HPARAMS, TrialResult, run_trial

if TYPE_CHECKING:
    from weightcast.search._model import build_cnn
    from weightcast.search._train import TrainOutcome, accuracy, learning_rate, train

# names whose modules import torch: loaded on first access (PEP 562)
_LAZY = {
    "build_cnn": "weightcast.search._model",
    "train": "weightcast.search._train",
    "TrainOutcome": "weightcast.search._train",
    "accuracy": "weightcast.search._train",
    "learning_rate": "weightcast.search._train",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "HPARAMS",
    "PRESETS",
    "TABLE1",
    "TABLE2",
    "Data",
    "Hyperparameter",
    "Preset",
    "SearchSpace",
    "TrainOutcome",
    "TrialResult",
    "accuracy",
    "block_size",
    "build_cnn",
    "get_preset",
    "learning_rate",
    "load_data",
    "load_digits",
    "load_fashion_mnist",
    "load_idx_folder",
    "read_idx",
    "replace_values",
    "run_trial",
    "sample",
    "train",
]
