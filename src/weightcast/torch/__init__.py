"""weightcast.torch: PyTorch adapters (the ``torch`` extra)."""

from weightcast.torch._recorder import FeatureRecorder
from weightcast.torch._weights import layer_weights, load_state_dict_weights

__all__ = ["FeatureRecorder", "layer_weights", "load_state_dict_weights"]
