"""weightcast: predict a training run's eventual accuracy from its early weights.

The method is Yamada & Morimura, "Weight Features for Predicting Future Model
Performance of Deep Neural Networks" (IJCAI 2016).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
