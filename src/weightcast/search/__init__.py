"""The paper's hyperparameter searches: spaces, presets, datasets, the CNN, training, one run.

Spaces, presets and datasets are plain numpy; the CNN needs
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

if TYPE_CHECKING:
    from weightcast.search._model import build_cnn

# names whose modules import torch: loaded on first access (PEP 562)
_LAZY = {
    "build_cnn": "weightcast.search._model",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "TABLE1",
    "TABLE2",
    "Data",
    "Hyperparameter",
    "Preset",
    "SearchSpace",
    "block_size",
    "build_cnn",
    "get_preset",
    "load_data",
    "load_digits",
    "load_fashion_mnist",
    "load_idx_folder",
    "read_idx",
    "replace_values",
    "sample",
]
